#include "common.hpp"

#include <atomic>
#include <cstdio>
#include <unistd.h>

namespace twin::kafka::detail {

namespace {
// librdkafka's own log lines (internal threads) go to stderr with our prefix.
extern "C" void log_cb(const rd_kafka_t* rk, int level, const char* fac, const char* buf) {
  std::fprintf(stderr, "kafka: [%d] %s %s: %s\n", level, rk ? rd_kafka_name(rk) : "-", fac, buf);
}
} // namespace

expected<conf_ptr> make_conf(const settings& defaults, const settings& extra) {
  conf_ptr conf{rd_kafka_conf_new()};
  rd_kafka_conf_set_log_cb(conf.get(), log_cb);
  char errstr[512];
  for (const auto* list : {&defaults, &extra}) {
    for (const auto& [key, value] : *list) {
      errstr[0] = '\0';
      if (rd_kafka_conf_set(conf.get(), key.c_str(), value.c_str(), errstr, sizeof errstr) !=
          RD_KAFKA_CONF_OK)
        return make_error(errc::bad_request,
                          "kafka: setting '" + key + "' rejected: " + errstr, "kafka.setting",
                          key);
    }
  }
  return conf;
}

expected<handle_ptr> make_handle(rd_kafka_type_t type, conf_ptr& conf, const char* what) {
  char errstr[512];
  errstr[0] = '\0';
  rd_kafka_t* rk = rd_kafka_new(type, conf.get(), errstr, sizeof errstr);
  if (!rk)
    return make_error(errc::bad_request,
                      std::string("kafka: creating the ") + what + " failed: " + errstr);
  conf.release(); // owned by rk now
  return handle_ptr{rk};
}

errc to_errc(rd_kafka_resp_err_t err) noexcept {
  switch (err) {
  case RD_KAFKA_RESP_ERR_NO_ERROR:
    return errc::internal;
  case RD_KAFKA_RESP_ERR__INVALID_ARG:
  case RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE:
  case RD_KAFKA_RESP_ERR_TOPIC_EXCEPTION:
  case RD_KAFKA_RESP_ERR__INVALID_TYPE:
    return errc::bad_request;
  case RD_KAFKA_RESP_ERR__UNKNOWN_TOPIC:
  case RD_KAFKA_RESP_ERR__UNKNOWN_PARTITION:
  case RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART:
    return errc::not_found;
  case RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED:
  case RD_KAFKA_RESP_ERR_GROUP_AUTHORIZATION_FAILED:
  case RD_KAFKA_RESP_ERR_CLUSTER_AUTHORIZATION_FAILED:
  case RD_KAFKA_RESP_ERR_TRANSACTIONAL_ID_AUTHORIZATION_FAILED:
    return errc::forbidden;
  case RD_KAFKA_RESP_ERR__AUTHENTICATION:
  case RD_KAFKA_RESP_ERR_SASL_AUTHENTICATION_FAILED:
    return errc::unauthorized;
  case RD_KAFKA_RESP_ERR__BAD_MSG:
  case RD_KAFKA_RESP_ERR_INVALID_MSG:
    return errc::corruption;
  default:
    return errc::unavailable;
  }
}

error make_kafka_error(rd_kafka_resp_err_t err, const std::string& context) {
  return make_error(to_errc(err), "kafka: " + context + ": " + rd_kafka_err2str(err) + " (" +
                                      rd_kafka_err2name(err) + ")");
}

std::string private_group_id(const char* kind) {
  static std::atomic<unsigned long> counter{0};
  return std::string("twin.") + kind + "." + std::to_string(::getpid()) + "." +
         std::to_string(counter.fetch_add(1));
}

void log_stderr(const std::string& text) {
  std::fprintf(stderr, "kafka: %s\n", text.c_str());
  std::fflush(stderr);
}

record to_record(const rd_kafka_message_t* m) {
  record r;
  r.topic = rd_kafka_topic_name(m->rkt);
  r.partition = m->partition;
  r.offset = m->offset;
  if (m->key)
    r.key.assign(static_cast<const char*>(m->key), m->key_len);
  if (m->payload)
    r.value.assign(static_cast<const char*>(m->payload), m->len);
  rd_kafka_timestamp_type_t type;
  std::int64_t ts = rd_kafka_message_timestamp(m, &type);
  r.timestamp_ms = ts < 0 ? 0 : ts;
  return r;
}

} // namespace twin::kafka::detail
