#pragma once
// Private helpers shared by the twin_kafka sources: RAII handles and the
// configuration builder. Only this library includes librdkafka.

#include <twin/error.hpp>
#include <twin/kafka/kafka.hpp>

#include <librdkafka/rdkafka.h>

#include <memory>
#include <string>

namespace twin::kafka::detail {

struct handle_deleter {
  void operator()(rd_kafka_t* rk) const noexcept { rd_kafka_destroy(rk); }
};
struct conf_deleter {
  void operator()(rd_kafka_conf_t* c) const noexcept { rd_kafka_conf_destroy(c); }
};
struct list_deleter {
  void operator()(rd_kafka_topic_partition_list_t* l) const noexcept {
    rd_kafka_topic_partition_list_destroy(l);
  }
};
struct message_deleter {
  void operator()(rd_kafka_message_t* m) const noexcept { rd_kafka_message_destroy(m); }
};
struct queue_deleter {
  void operator()(rd_kafka_queue_t* q) const noexcept { rd_kafka_queue_destroy(q); }
};
struct error_deleter {
  void operator()(rd_kafka_error_t* e) const noexcept { rd_kafka_error_destroy(e); }
};

using handle_ptr = std::unique_ptr<rd_kafka_t, handle_deleter>;
using conf_ptr = std::unique_ptr<rd_kafka_conf_t, conf_deleter>;
using list_ptr = std::unique_ptr<rd_kafka_topic_partition_list_t, list_deleter>;
using message_ptr = std::unique_ptr<rd_kafka_message_t, message_deleter>;
using queue_ptr = std::unique_ptr<rd_kafka_queue_t, queue_deleter>;
using error_ptr = std::unique_ptr<rd_kafka_error_t, error_deleter>;

/// A fresh configuration with `defaults` then `extra` applied (so extra wins).
/// Error (bad_request) naming the key that librdkafka rejected.
expected<conf_ptr> make_conf(const settings& defaults, const settings& extra);

/// rd_kafka_new; takes the configuration on success. `what` names the client
/// in the error ("producer", "consumer").
expected<handle_ptr> make_handle(rd_kafka_type_t type, conf_ptr& conf, const char* what);

/// The errc for a librdkafka error code (unavailable for transient ones).
errc to_errc(rd_kafka_resp_err_t err) noexcept;

/// "kafka: <context>: <librdkafka message> (<code name>)".
error make_kafka_error(rd_kafka_resp_err_t err, const std::string& context);

/// A group.id unique in this process, for group-less (assign-based) clients:
/// librdkafka needs one for assign() even when it never joins a group.
std::string private_group_id(const char* kind);

/// Writes "kafka: <text>" to stderr (one line).
void log_stderr(const std::string& text);

/// Converts a consumed message into a record.
record to_record(const rd_kafka_message_t* m);

} // namespace twin::kafka::detail
