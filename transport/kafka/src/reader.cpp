// reader and tailer: group-less, assign-based consumers. librdkafka needs a
// group.id even for assign(), so each gets a private one that never joins a
// group and never commits.
#include "common.hpp"

#include <atomic>
#include <thread>

namespace twin::kafka {

using namespace detail;

namespace {

extern "C" void plain_error_cb(rd_kafka_t*, int err, const char* reason, void* opaque) {
  auto code = static_cast<rd_kafka_resp_err_t>(err);
  log_stderr(std::string(static_cast<const char*>(opaque)) + " error: " + reason + " (" +
             rd_kafka_err2name(code) + ")");
}

expected<handle_ptr> make_plain_consumer(const std::string& bootstrap, const settings& extra,
                                         const char* kind, bool eof) {
  settings defaults{
      {"bootstrap.servers", bootstrap},
      {"group.id", private_group_id(kind)},
      {"enable.auto.commit", "false"},
      {"enable.auto.offset.store", "false"},
      {"auto.offset.reset", "earliest"},
      {"enable.partition.eof", eof ? "true" : "false"},
  };
  auto conf = make_conf(defaults, extra);
  if (!conf)
    return std::move(conf).error();
  rd_kafka_conf_set_opaque(conf->get(), const_cast<char*>(kind));
  rd_kafka_conf_set_error_cb(conf->get(), plain_error_cb);
  auto rk = make_handle(RD_KAFKA_CONSUMER, *conf, kind);
  if (!rk)
    return rk;
  if (auto err = rd_kafka_poll_set_consumer(rk->get()); err != RD_KAFKA_RESP_ERR_NO_ERROR)
    return make_kafka_error(err, std::string(kind) + ": poll_set_consumer failed");
  return rk;
}

std::string where(const std::string& topic, std::int32_t partition) {
  return topic + "[" + std::to_string(partition) + "]";
}

int remaining_ms(std::chrono::steady_clock::time_point deadline) {
  auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                  deadline - std::chrono::steady_clock::now())
                  .count();
  return left < 0 ? 0 : static_cast<int>(left);
}

} // namespace

// ---------------------------------------------------------------- reader

struct reader::impl {
  handle_ptr rk;
};

reader::reader(std::unique_ptr<impl> p) : impl_(std::move(p)) {}

reader::~reader() {
  if (impl_ && impl_->rk)
    rd_kafka_consumer_close(impl_->rk.get());
}

expected<std::unique_ptr<reader>> reader::create(const std::string& bootstrap,
                                                 const settings& extra) {
  auto rk = make_plain_consumer(bootstrap, extra, "reader", /*eof=*/true);
  if (!rk)
    return std::move(rk).error();
  auto p = std::make_unique<impl>();
  p->rk = std::move(*rk);
  return std::unique_ptr<reader>(new reader(std::move(p)));
}

expected<std::pair<std::int64_t, std::int64_t>> reader::watermarks(
    const std::string& topic, std::int32_t partition, std::chrono::milliseconds timeout) {
  std::int64_t low = 0, high = 0;
  if (auto err = rd_kafka_query_watermark_offsets(impl_->rk.get(), topic.c_str(), partition, &low,
                                                  &high, static_cast<int>(timeout.count()));
      err != RD_KAFKA_RESP_ERR_NO_ERROR)
    return make_kafka_error(err, "reader: watermarks of " + where(topic, partition));
  return std::pair{low, high};
}

expected<std::int64_t> reader::read_to_end(const std::string& topic, std::int32_t partition,
                                           std::int64_t from,
                                           const std::function<void(const record&)>& fn,
                                           std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  auto wm = watermarks(topic, partition, timeout);
  if (!wm)
    return std::move(wm).error();
  const auto [low, high] = *wm;
  if (from > high)
    return make_error(errc::bad_request, "kafka: reader: offset " + std::to_string(from) +
                                             " is beyond the high watermark " +
                                             std::to_string(high) + " of " +
                                             where(topic, partition));
  const std::int64_t start = from < low ? low : from;
  if (start >= high)
    return high;

  rd_kafka_t* rk = impl_->rk.get();
  list_ptr l{rd_kafka_topic_partition_list_new(1)};
  rd_kafka_topic_partition_list_add(l.get(), topic.c_str(), partition)->offset = start;
  if (auto err = rd_kafka_assign(rk, l.get()); err != RD_KAFKA_RESP_ERR_NO_ERROR)
    return make_kafka_error(err, "reader: assign " + where(topic, partition));
  struct unassign_guard {
    rd_kafka_t* rk;
    ~unassign_guard() { rd_kafka_assign(rk, nullptr); }
  } guard{rk};

  std::int64_t next = start;
  while (next < high) {
    int left = remaining_ms(deadline);
    if (left == 0)
      return make_error(errc::unavailable,
                        "kafka: reader: reading " + where(topic, partition) + " from " +
                            std::to_string(start) + " reached only offset " +
                            std::to_string(next) + " of " + std::to_string(high) + " within " +
                            std::to_string(timeout.count()) + " ms");
    message_ptr m{rd_kafka_consumer_poll(rk, left < 100 ? left : 100)};
    if (!m)
      continue;
    const bool ours = m->rkt && m->partition == partition && topic == rd_kafka_topic_name(m->rkt);
    if (m->err) {
      if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
        if (ours && m->offset >= high)
          next = high; // control records (transaction markers) end the log
        continue;
      }
      auto e = make_kafka_error(m->err, "reader: " + (ours ? where(topic, partition)
                                                              : std::string("consume")) +
                                            ": " + rd_kafka_message_errstr(m.get()));
      if (m->err == RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART ||
          m->err == RD_KAFKA_RESP_ERR__UNKNOWN_PARTITION ||
          m->err == RD_KAFKA_RESP_ERR__UNKNOWN_TOPIC ||
          m->err == RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED)
        return e;
      log_stderr(e.message.substr(7));
      continue;
    }
    if (!ours || m->offset < next)
      continue; // stale (an earlier assignment) or already seen
    if (m->offset >= high) {
      next = high;
      break;
    }
    record r = to_record(m.get());
    fn(r);
    next = m->offset + 1;
  }
  return high;
}

// ---------------------------------------------------------------- tailer

struct tailer::impl {
  handle_ptr rk;
  std::function<void(record&&)> fn;
  std::atomic<bool> stop{false};
  std::thread poller;

  void run() {
    while (!stop.load(std::memory_order_acquire)) {
      message_ptr m{rd_kafka_consumer_poll(rk.get(), 100)};
      if (!m)
        continue;
      if (m->err) {
        if (m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF)
          log_stderr(std::string("tailer: ") +
                     (m->rkt ? where(rd_kafka_topic_name(m->rkt), m->partition) + ": "
                             : std::string()) +
                     rd_kafka_message_errstr(m.get()) + " (" + rd_kafka_err2name(m->err) + ")");
        continue;
      }
      try {
        fn(to_record(m.get()));
      } catch (const std::exception& e) {
        log_stderr(std::string("tailer: callback threw: ") + e.what());
      } catch (...) {
        log_stderr("tailer: callback threw");
      }
    }
  }
};

tailer::tailer(std::unique_ptr<impl> p) : impl_(std::move(p)) {}

tailer::~tailer() {
  if (!impl_)
    return;
  impl_->stop.store(true, std::memory_order_release);
  if (impl_->poller.joinable())
    impl_->poller.join();
  rd_kafka_consumer_close(impl_->rk.get());
}

expected<std::unique_ptr<tailer>> tailer::create(const std::string& bootstrap,
                                                 const std::string& topic,
                                                 std::int32_t partitions, start from,
                                                 const settings& extra,
                                                 std::function<void(record&&)> fn) {
  if (partitions <= 0)
    return make_error(errc::bad_request, "kafka: tailer: " + topic + ": partitions must be > 0");
  auto rk = make_plain_consumer(bootstrap, extra, "tailer", /*eof=*/false);
  if (!rk)
    return std::move(rk).error();
  list_ptr l{rd_kafka_topic_partition_list_new(partitions)};
  for (std::int32_t p = 0; p < partitions; ++p) {
    std::int64_t offset = RD_KAFKA_OFFSET_BEGINNING;
    if (from == start::end) {
      // Resolve "end" now, so that everything produced after create() is seen.
      std::int64_t low = 0, high = 0;
      if (auto err = rd_kafka_query_watermark_offsets(rk->get(), topic.c_str(), p, &low, &high,
                                                      10000);
          err != RD_KAFKA_RESP_ERR_NO_ERROR) {
        rd_kafka_consumer_close(rk->get());
        return make_kafka_error(err, "tailer: watermarks of " + where(topic, p));
      }
      offset = high;
    }
    rd_kafka_topic_partition_list_add(l.get(), topic.c_str(), p)->offset = offset;
  }
  if (auto err = rd_kafka_assign(rk->get(), l.get()); err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    rd_kafka_consumer_close(rk->get());
    return make_kafka_error(err, "tailer: assign " + topic);
  }
  auto p = std::make_unique<impl>();
  p->rk = std::move(*rk);
  p->fn = std::move(fn);
  impl* raw = p.get();
  p->poller = std::thread([raw] { raw->run(); });
  return std::unique_ptr<tailer>(new tailer(std::move(p)));
}

} // namespace twin::kafka
