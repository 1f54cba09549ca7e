// producer: librdkafka in event mode, so delivery reports are only ever
// handled by our poll thread (rd_kafka_flush then just waits for them).
#include "common.hpp"

#include <atomic>
#include <thread>

namespace twin::kafka {

using namespace detail;

struct producer::impl {
  handle_ptr rk;
  queue_ptr main_queue;
  std::atomic<bool> stop{false};
  std::thread poller;

  // Calls and frees the delivery_fn carried as the message's opaque.
  static void report(const rd_kafka_message_t* m) {
    std::unique_ptr<delivery_fn> done{static_cast<delivery_fn*>(m->_private)};
    if (!done)
      return;
    delivery d;
    d.partition = m->partition;
    if (m->err) {
      d.result = make_kafka_error(
          m->err, std::string("delivery to ") + rd_kafka_topic_name(m->rkt) + " failed");
    } else {
      d.offset = m->offset;
    }
    if (*done) {
      try {
        (*done)(d);
      } catch (const std::exception& e) {
        log_stderr(std::string("delivery callback threw: ") + e.what());
      } catch (...) {
        log_stderr("delivery callback threw");
      }
    }
  }

  void serve(rd_kafka_event_t* ev) {
    switch (rd_kafka_event_type(ev)) {
    case RD_KAFKA_EVENT_DR:
      while (const rd_kafka_message_t* m = rd_kafka_event_message_next(ev))
        report(m);
      break;
    case RD_KAFKA_EVENT_ERROR: {
      rd_kafka_resp_err_t err = rd_kafka_event_error(ev);
      std::string text = std::string("producer ") +
                         (rd_kafka_event_error_is_fatal(ev) ? "FATAL error: " : "error: ") +
                         rd_kafka_event_error_string(ev) + " (" + rd_kafka_err2name(err) + ")";
      if (err == RD_KAFKA_RESP_ERR__FATAL) {
        char buf[512];
        rd_kafka_resp_err_t orig = rd_kafka_fatal_error(rk.get(), buf, sizeof buf);
        text += std::string(" - ") + buf + " (" + rd_kafka_err2name(orig) + ")";
      }
      log_stderr(text);
      break;
    }
    default:
      break;
    }
    rd_kafka_event_destroy(ev);
  }

  void run() {
    while (!stop.load(std::memory_order_acquire)) {
      if (rd_kafka_event_t* ev = rd_kafka_queue_poll(main_queue.get(), 100))
        serve(ev);
    }
  }

  void drain_now() {
    while (rd_kafka_event_t* ev = rd_kafka_queue_poll(main_queue.get(), 0))
      serve(ev);
  }
};

producer::producer(std::unique_ptr<impl> p) : impl_(std::move(p)) {}

expected<std::unique_ptr<producer>> producer::create(const std::string& bootstrap,
                                                     const settings& extra, bool idempotent) {
  settings defaults{
      {"bootstrap.servers", bootstrap},
      {"partitioner", "murmur2_random"},
      {"enable.idempotence", idempotent ? "true" : "false"},
  };
  if (idempotent)
    defaults.emplace_back("acks", "all");
  auto conf = make_conf(defaults, extra);
  if (!conf)
    return std::move(conf).error();
  rd_kafka_conf_set_events(conf->get(), RD_KAFKA_EVENT_DR | RD_KAFKA_EVENT_ERROR);
  auto rk = make_handle(RD_KAFKA_PRODUCER, *conf, "producer");
  if (!rk)
    return std::move(rk).error();
  auto p = std::make_unique<impl>();
  p->rk = std::move(*rk);
  p->main_queue.reset(rd_kafka_queue_get_main(p->rk.get()));
  impl* raw = p.get();
  p->poller = std::thread([raw] { raw->run(); });
  return std::unique_ptr<producer>(new producer(std::move(p)));
}

producer::~producer() {
  if (!impl_)
    return;
  rd_kafka_t* rk = impl_->rk.get();
  if (rd_kafka_flush(rk, 10000) != RD_KAFKA_RESP_ERR_NO_ERROR) {
    log_stderr("producer: " + std::to_string(rd_kafka_outq_len(rk)) +
               " messages not delivered within 10 s at shutdown; purging them");
    rd_kafka_purge(rk, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
    (void)rd_kafka_flush(rk, 2000); // the purged reports reach the poll thread
  }
  impl_->stop.store(true, std::memory_order_release);
  impl_->poller.join();
  impl_->drain_now(); // anything left: exactly one report per produce
  impl_->main_queue.reset();
  impl_->rk.reset();
}

void producer::produce(const std::string& topic, std::string_view key, std::string_view value,
                       delivery_fn done, std::int32_t partition) {
  auto opaque = std::make_unique<delivery_fn>(std::move(done));
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  rd_kafka_resp_err_t err;
  for (;;) {
    err = rd_kafka_producev(
        impl_->rk.get(), RD_KAFKA_V_TOPIC(topic.c_str()),
        RD_KAFKA_V_PARTITION(partition < 0 ? RD_KAFKA_PARTITION_UA : partition),
        RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
        RD_KAFKA_V_KEY(key.empty() ? nullptr : const_cast<char*>(key.data()), key.size()),
        RD_KAFKA_V_VALUE(const_cast<char*>(value.data()), value.size()),
        RD_KAFKA_V_OPAQUE(opaque.get()), RD_KAFKA_V_END);
    if (err != RD_KAFKA_RESP_ERR__QUEUE_FULL || std::chrono::steady_clock::now() >= deadline)
      break;
    std::this_thread::sleep_for(std::chrono::milliseconds(5)); // the poll thread drains
  }
  if (err == RD_KAFKA_RESP_ERR_NO_ERROR) {
    opaque.release(); // owned by the message until its delivery report
    return;
  }
  delivery d;
  d.partition = partition;
  d.result = make_kafka_error(err, "produce to " + topic + " failed" +
                                       (err == RD_KAFKA_RESP_ERR__QUEUE_FULL
                                            ? std::string(" (queue full for 5 s)")
                                            : std::string()));
  if (*opaque)
    (*opaque)(d);
}

status producer::flush(std::chrono::milliseconds timeout) {
  rd_kafka_resp_err_t err = rd_kafka_flush(impl_->rk.get(), static_cast<int>(timeout.count()));
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR)
    return make_kafka_error(err, "flush: " + std::to_string(rd_kafka_outq_len(impl_->rk.get())) +
                                     " messages still in flight after " +
                                     std::to_string(timeout.count()) + " ms");
  return ok();
}

std::size_t producer::in_flight() const {
  return static_cast<std::size_t>(rd_kafka_outq_len(impl_->rk.get()));
}

} // namespace twin::kafka
