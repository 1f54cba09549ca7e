#pragma once
// twin_kafka: the fabric's Kafka client layer over the librdkafka C API.
//
// - producer: keyed produce with delivery reports on an internal poll thread
//   (Java-compatible murmur2 partitioning, optionally idempotent);
// - group_consumer: one member of a consumer group on one topic, with manual
//   offset commits, pause/resume and lag;
// - reader: reads one partition to its high watermark without a group
//   (shard restore from a changelog, the cluster topic);
// - tailer: follows every partition of a topic without a group;
// - offset_tracker: pure bookkeeping of out-of-order completion -> the offset
//   safe to commit.
//
// librdkafka stays private to this library: nothing here includes rdkafka.h.

#include <twin/error.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace twin::kafka {

/// librdkafka configuration properties, passed through to rd_kafka_conf_set
/// after our defaults, so users override anything (SASL_SSL etc.). An unknown
/// key or a bad value gives an error naming the key.
using settings = std::vector<std::pair<std::string, std::string>>;

/// Java-compatible murmur2 partition of a key:
/// (murmur2(key) & 0x7fffffff) % partitions, exactly what librdkafka's
/// murmur2_random partitioner computes for non-empty keys. 0 if partitions<=0.
std::int32_t partition_for(std::string_view key, std::int32_t partitions) noexcept;

/// Kafka's murmur2 hash (seed 0x9747b28c), as org.apache.kafka.common.utils
/// .Utils.murmur2 computes it (returned here as the same 32 bits, unsigned).
std::uint32_t murmur2(std::string_view key) noexcept;

struct delivery {
  status result = ok();
  std::int32_t partition = -1;
  std::int64_t offset = -1;
};
using delivery_fn = std::function<void(const delivery&)>;

class producer {
public:
  /// bootstrap "host:port,..."; idempotent sets enable.idempotence=true
  /// (acks=all). Default partitioner murmur2_random. Starts an internal
  /// thread that polls delivery reports; delivery_fn runs on that thread
  /// (must not block).
  static expected<std::unique_ptr<producer>> create(const std::string& bootstrap,
                                                    const settings& extra,
                                                    bool idempotent);
  /// Flushes up to 10 s, then purges what is left (those deliveries report
  /// an error), then stops the poll thread.
  ~producer();
  producer(const producer&) = delete;
  producer& operator=(const producer&) = delete;

  /// Copies key and value. An empty key is sent as a null key (randomly
  /// partitioned). partition -1: by the partitioner. Queue full -> waits up
  /// to 5 s then reports the error through done. Exactly one done call per
  /// produce (an immediate error calls done on the calling thread).
  void produce(const std::string& topic, std::string_view key, std::string_view value,
               delivery_fn done, std::int32_t partition = -1);
  /// Waits until every produced message is delivered (or failed) and its
  /// done has run; error (unavailable) on timeout.
  status flush(std::chrono::milliseconds timeout);
  /// rd_kafka_outq_len: queued + in flight + reports not yet handled.
  std::size_t in_flight() const;

  struct impl;
private:
  explicit producer(std::unique_ptr<impl> p);
  std::unique_ptr<impl> impl_;
};

struct record {
  std::string topic;
  std::int32_t partition = 0;
  std::int64_t offset = 0;
  std::string key;
  std::string value;
  std::int64_t timestamp_ms = 0;
};

/// A member of a consumer group on ONE topic, manual offset commits
/// (enable.auto.commit=false, enable.auto.offset.store=false),
/// auto.offset.reset=earliest, partition.assignment.strategy range (eager).
/// Runs its own poll thread.
class group_consumer {
public:
  struct callbacks {
    /// Partitions newly assigned; runs on the poll thread inside the
    /// rebalance callback, after the assignment (so pause() works here) and
    /// before any record of them is delivered. They start unpaused.
    std::function<void(std::vector<std::int32_t>)> on_assigned;
    /// Runs on the poll thread inside the rebalance callback; when it
    /// returns, commits queued so far are sent synchronously and the
    /// partitions are given up (so it may block to flush and commit).
    std::function<void(std::vector<std::int32_t>)> on_revoked;
    /// Poll thread.
    std::function<void(record&&)> on_record;
    /// Fatal/important errors; may be empty (then they go to stderr).
    std::function<void(const error&)> on_error;
  };
  static expected<std::unique_ptr<group_consumer>> create(const std::string& bootstrap,
                                                          const std::string& group_id,
                                                          const std::string& topic,
                                                          const settings& extra,
                                                          callbacks cb);
  /// close().
  ~group_consumer();
  group_consumer(const group_consumer&) = delete;
  group_consumer& operator=(const group_consumer&) = delete;

  /// Leaves the group gracefully (the revocation callback runs on the poll
  /// thread), then stops the poll thread. Idempotent. Called from a callback
  /// it only requests the close.
  void close();
  /// Commits next_offset (the offset of the next record to consume) for
  /// partition, asynchronously (queued to the poll thread); thread-safe.
  /// Commits are for the group's topic.
  void commit(std::int32_t partition, std::int64_t next_offset);
  /// Stops / resumes fetching these partitions (backpressure). Thread-safe.
  void pause(const std::vector<std::int32_t>& partitions);
  void resume(const std::vector<std::int32_t>& partitions);

  /// The committed offset of each assigned partition (-1 if none is
  /// committed) and its high watermark: {partition, committed, high}.
  /// Thread-safe, may block up to timeout.
  struct lag_info {
    std::int32_t partition;
    std::int64_t committed;
    std::int64_t high;
  };
  expected<std::vector<lag_info>> lag(std::chrono::milliseconds timeout);

  /// The partitions currently assigned (a snapshot). Thread-safe.
  std::vector<std::int32_t> assignment() const;

  struct impl;
private:
  explicit group_consumer(std::unique_ptr<impl> p);
  std::unique_ptr<impl> impl_;
};

/// Reads single partitions without a group (assign-based): used to restore a
/// shard from the changelog and to read the cluster topic.
class reader {
public:
  static expected<std::unique_ptr<reader>> create(const std::string& bootstrap,
                                                  const settings& extra);
  ~reader();
  reader(const reader&) = delete;
  reader& operator=(const reader&) = delete;

  /// Low and high watermarks.
  expected<std::pair<std::int64_t, std::int64_t>> watermarks(const std::string& topic,
                                                             std::int32_t partition,
                                                             std::chrono::milliseconds timeout);
  /// Reads records with from <= offset < the high watermark as of the call
  /// (from below the low watermark starts at the low watermark), calling fn
  /// for each in order; returns the high watermark reached (the next offset).
  /// Errors if it cannot reach it within timeout, or if from is beyond the
  /// high watermark. Not thread-safe per instance.
  expected<std::int64_t> read_to_end(const std::string& topic, std::int32_t partition,
                                     std::int64_t from,
                                     const std::function<void(const record&)>& fn,
                                     std::chrono::milliseconds timeout);

  struct impl;
private:
  explicit reader(std::unique_ptr<impl> p);
  std::unique_ptr<impl> impl_;
};

/// Follows every partition of a topic (no group) from the beginning or from
/// the end, delivering records to fn on its own thread until destroyed.
/// start::end means the high watermarks as of create() (queried there), so
/// every record produced after create() returns is delivered.
class tailer {
public:
  enum class start { beginning, end };
  static expected<std::unique_ptr<tailer>> create(const std::string& bootstrap,
                                                  const std::string& topic,
                                                  std::int32_t partitions, start from,
                                                  const settings& extra,
                                                  std::function<void(record&&)> fn);
  ~tailer();
  tailer(const tailer&) = delete;
  tailer& operator=(const tailer&) = delete;

  struct impl;
private:
  explicit tailer(std::unique_ptr<impl> p);
  std::unique_ptr<impl> impl_;
};

/// Tracks which offsets of one partition are done (records complete out of
/// order) and gives the offset safe to commit: the lowest offset not yet
/// done. Pure, no librdkafka, not thread-safe.
class offset_tracker {
public:
  /// Offsets given in increasing order (gaps allowed); others are ignored.
  void started(std::int64_t offset);
  /// Unknown or repeated offsets are ignored.
  void done(std::int64_t offset);
  /// Next offset to commit (all before it are done); -1 if nothing started.
  std::int64_t committable() const;
  std::size_t in_flight() const;

private:
  std::set<std::int64_t> pending_;
  std::int64_t last_started_ = -1;
};

} // namespace twin::kafka
