// Sparkplug B load through a real broker (Paho MQTT C++), for
// bench/run_e2e_mqtt.sh. The same fleet and payloads as bench_sparkplug
// (bench/sparkplug_fleet.hpp).
//
//   bench_mqtt_blast tagmap [--edge-nodes N --devices N] --out FILE
//   bench_mqtt_blast twins  [--edge-nodes N --devices N]        (ids, one a line)
//   bench_mqtt_blast pub --url tcp://127.0.0.1:PORT [--edge-nodes N --devices N]
//        [--births-only | --no-births] [--duration S] [--qos 0|1] [--window N]
//        [--rate MSG_PER_S]
//   bench_mqtt_blast sub --url tcp://127.0.0.1:PORT [--mqtt-version 3|5]
//        [--idle S] [--max-wait S] [--durable DIR]
//
// pub: births (NBIRTH + DBIRTHs) at QoS 1, each waited for, then DDATA at
// full speed (or --rate) for --duration seconds, cycling through a
// pre-encoded set whose seq per edge node wraps seamlessly (timestamps are
// rewritten per cycle so they keep increasing). At most --window publishes
// outstanding in Paho (QoS 0 completes when written to the socket). Prints
// `sent messages=N metrics=N seconds=S rate=N` on stdout.
//
// sub: a plain Paho subscriber like twin-node's host (MQTT 5, clean start,
// no persistence, spBv1.0/# at QoS 1, message callback), counting DDATA
// messages and their metrics (10 per DDATA of this fleet; births are not
// counted). Prints `subscribed` once ready; exits after --idle seconds
// without a message once data has started (or on SIGINT/SIGTERM, or after
// --max-wait), printing `received messages=N metrics=N first_to_last=S
// rate_metrics=N cpu_s=S cpu_us_per_message=U` (the process's CPU: what
// Paho alone costs per message).
//
// sub --durable DIR: the same subscriber, and every received DDATA is also
// made durable in a fresh RocksDB at DIR, the least any durable ingest must
// do: the callback queues the raw payload, one writer thread puts each
// (key: a counter) into a WriteBatch holding all that queued since its last
// commit and writes it with sync. It decodes nothing. Its rate and CPU are
// a floor for twin-node, which also decodes, validates, journals an event
// and keeps history. `received` then counts what is durable.

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <deque>
#include <fstream>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <sys/resource.h>

#include <mqtt/async_client.h>
#include <rocksdb/db.h>
#include <rocksdb/write_batch.h>

#include "sparkplug_fleet.hpp"
#include "twin/sparkplug/mqtt_host.hpp"

namespace spb = twin::bench::spb;
using clock_type = std::chrono::steady_clock;

namespace {

const char* opt(int argc, char** argv, const char* name, const char* def) {
  for (int i = 2; i + 1 < argc; ++i)
    if (std::strcmp(argv[i], name) == 0)
      return argv[i + 1];
  return def;
}
long num(int argc, char** argv, const char* name, long def) {
  const char* v = opt(argc, argv, name, nullptr);
  return v ? std::atol(v) : def;
}
double real(int argc, char** argv, const char* name, double def) {
  const char* v = opt(argc, argv, name, nullptr);
  return v ? std::atof(v) : def;
}
bool has(int argc, char** argv, const char* name) {
  for (int i = 2; i < argc; ++i)
    if (std::strcmp(argv[i], name) == 0)
      return true;
  return false;
}

std::uint64_t wall_ms() {
  return static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                      std::chrono::system_clock::now().time_since_epoch())
                                      .count());
}

std::atomic<bool> stop_requested{false};
extern "C" void on_signal(int) {
  stop_requested = true;
}

int pub(int argc, char** argv, const spb::fleet& f) {
  std::string url = opt(argc, argv, "--url", "tcp://127.0.0.1:1883");
  double duration = real(argc, argv, "--duration", 10);
  int qos = static_cast<int>(num(argc, argv, "--qos", 0));
  std::size_t window = static_cast<std::size_t>(num(argc, argv, "--window", 1024));
  double rate = real(argc, argv, "--rate", 0);
  bool births_only = has(argc, argv, "--births-only");
  bool no_births = has(argc, argv, "--no-births");

  // Paho counts queued publishes against max_buffered_messages even while
  // connected: room for the whole window.
  mqtt::create_options cr(MQTTVERSION_3_1_1);
  cr.set_max_buffered_messages(static_cast<int>(window) + 16);
  mqtt::async_client client(url, "bench-blast-" + std::to_string(::getpid()), cr, nullptr);
  auto co = mqtt::connect_options_builder()
              .mqtt_version(MQTTVERSION_3_1_1)
              .clean_session(true)
              .keep_alive_interval(std::chrono::seconds(30))
              .finalize();
  try {
    client.connect(co)->wait();
  } catch (const mqtt::exception& e) {
    std::fprintf(stderr, "pub: connect %s: %s\n", url.c_str(), e.what());
    return 1;
  }
  // Births with a fixed time base (an hour ago) so that a later --no-births
  // run continues the same series.
  std::uint64_t t0 = wall_ms() - 3'600'000;
  if (!no_births) {
    for (const auto& m : f.births(t0))
      client.publish(m.topic, m.payload.data(), m.payload.size(), 1, false)->wait();
    std::printf("births published: %d NBIRTH + %d DBIRTH\n", f.edge_nodes, f.twins());
    std::fflush(stdout);
    if (births_only) {
      client.disconnect()->wait();
      return 0;
    }
  }

  long cycle = f.seamless_cycle();
  std::uint64_t step_ms = 100;
  auto data = f.ddata(cycle, t0, step_ms);
  std::uint64_t cycle_span_ms = static_cast<std::uint64_t>(cycle / f.twins()) * step_ms;
  std::fprintf(stderr, "pub: %ld DDATA per cycle (%zu B each), QoS %d, window %zu\n", cycle,
               data.front().payload.size(), qos, window);

  std::deque<mqtt::delivery_token_ptr> outstanding;
  long sent = 0, metrics = 0;
  auto start = clock_type::now();
  auto deadline = start + std::chrono::duration<double>(duration);
  std::uint64_t shift = 0;
  for (long cyc = 0; !stop_requested; ++cyc) {
    if (cyc > 0) {
      shift += cycle_span_ms;
      for (long i = 0; i < cycle; ++i)
        spb::fleet::patch_timestamp(data[static_cast<std::size_t>(i)].payload,
                                    t0 + static_cast<std::uint64_t>(i / f.twins() + 1) * step_ms
                                      + shift);
    }
    bool done = false;
    for (const auto& m : data) {
      if ((sent & 255) == 0 && clock_type::now() >= deadline) {
        done = true;
        break;
      }
      if (rate > 0) {
        auto due = start + std::chrono::duration<double>(static_cast<double>(sent) / rate);
        std::this_thread::sleep_until(due);
      }
      if (outstanding.size() >= window) {
        outstanding.front()->wait();
        outstanding.pop_front();
      }
      try {
        outstanding.push_back(
          client.publish(m.topic, m.payload.data(), m.payload.size(), qos, false));
      } catch (const mqtt::exception& e) {
        std::fprintf(stderr, "pub: publish: %s\n", e.what());
        return 1;
      }
      ++sent;
      metrics += m.metrics;
    }
    if (done)
      break;
  }
  for (auto& t : outstanding)
    t->wait();
  double secs = std::chrono::duration<double>(clock_type::now() - start).count();
  client.disconnect()->wait();
  std::printf("sent messages=%ld metrics=%ld seconds=%.3f rate_messages=%.0f rate_metrics=%.0f\n",
              sent, metrics, secs, sent / secs, metrics / secs);
  return 0;
}

// sub --durable: the payloads the callback queued, group-committed by one
// thread with sync writes. A failed write ends the run with an error.
class durable_sink {
public:
  explicit durable_sink(const std::string& dir) {
    rocksdb::Options o;
    o.create_if_missing = true;
    o.error_if_exists = true;
    rocksdb::DB* raw = nullptr;
    auto st = rocksdb::DB::Open(o, dir, &raw);
    if (!st.ok())
      throw std::runtime_error("durable: " + dir + ": " + st.ToString());
    db_.reset(raw);
    writer_ = std::thread{[this] { run(); }};
  }
  ~durable_sink() { stop(); }
  void push(std::string payload) {
    {
      std::lock_guard lk{mutex_};
      if (stopping_)
        return; // stopped, or a write failed: reported by stop()'s caller
      queue_.push_back(std::move(payload));
    }
    cv_.notify_one();
  }
  // Drains what is queued, then joins the writer.
  void stop() {
    {
      std::lock_guard lk{mutex_};
      stopping_ = true;
    }
    cv_.notify_one();
    if (writer_.joinable()) // also after a failed write ended the writer
      writer_.join();
  }
  long durable() const { return durable_.load(); }
  long commits() const { return commits_.load(); }
  std::int64_t last_ns() const { return last_ns_.load(); }
  const std::string& error() const { return error_; }

private:
  void run() {
    std::vector<std::string> taken;
    rocksdb::WriteBatch batch;
    rocksdb::WriteOptions wo;
    wo.sync = true;
    char key[8];
    std::uint64_t next = 0;
    for (;;) {
      {
        std::unique_lock lk{mutex_};
        cv_.wait(lk, [&] { return stopping_ || !queue_.empty(); });
        if (queue_.empty())
          return;
        taken.swap(queue_);
      }
      batch.Clear();
      rocksdb::Status st;
      for (const auto& p : taken) {
        std::uint64_t k = next++;
        for (int i = 7; i >= 0; --i, k >>= 8)
          key[i] = static_cast<char>(k & 0xff);
        if (st = batch.Put(rocksdb::Slice{key, 8}, p); !st.ok())
          break;
      }
      if (st.ok())
        st = db_->Write(wo, &batch);
      if (!st.ok()) {
        error_ = st.ToString();
        std::lock_guard lk{mutex_};
        stopping_ = true;
        queue_.clear();
        return;
      }
      durable_.fetch_add(static_cast<long>(taken.size()));
      commits_.fetch_add(1);
      last_ns_.store(clock_type::now().time_since_epoch().count());
      taken.clear();
    }
  }
  std::unique_ptr<rocksdb::DB> db_;
  std::thread writer_;
  std::mutex mutex_;
  std::condition_variable cv_;
  std::vector<std::string> queue_;
  bool stopping_ = false;
  std::atomic<long> durable_{0}, commits_{0};
  std::atomic<std::int64_t> last_ns_{0};
  std::string error_;
};

int sub(int argc, char** argv) {
  std::string url = opt(argc, argv, "--url", "tcp://127.0.0.1:1883");
  int version = static_cast<int>(num(argc, argv, "--mqtt-version", 5));
  double idle = real(argc, argv, "--idle", 2);
  double max_wait = real(argc, argv, "--max-wait", 600);
  long per_message = num(argc, argv, "--metrics-per-message",
                         static_cast<long>(spb::metric_names().size()));

  const std::string durable_dir = opt(argc, argv, "--durable", "");
  std::unique_ptr<durable_sink> durable;
  try {
    if (!durable_dir.empty())
      durable = std::make_unique<durable_sink>(durable_dir);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "sub: %s\n", e.what());
    return 1;
  }

  mqtt::create_options cr(version == 5 ? MQTTVERSION_5 : MQTTVERSION_3_1_1);
  mqtt::async_client client(url, "bench-sub-" + std::to_string(::getpid()), cr, nullptr);
  std::atomic<long> count{0};
  std::atomic<long> births{0};
  std::atomic<std::int64_t> first_ns{0}, last_ns{0};
  client.set_message_callback([&](mqtt::const_message_ptr m) {
    auto now = clock_type::now().time_since_epoch().count();
    const auto& t = m->get_topic();
    if (t.find("/DDATA/") != std::string::npos) {
      if (count.fetch_add(1, std::memory_order_relaxed) == 0)
        first_ns = now;
      last_ns.store(now, std::memory_order_relaxed);
      if (durable)
        durable->push(m->get_payload_str());
    } else {
      births.fetch_add(1, std::memory_order_relaxed);
    }
  });
  auto b = mqtt::connect_options_builder();
  if (version == 5)
    b.mqtt_version(MQTTVERSION_5).clean_start(true);
  else
    b.mqtt_version(MQTTVERSION_3_1_1).clean_session(true);
  b.keep_alive_interval(std::chrono::seconds(30));
  try {
    client.connect(b.finalize())->wait();
    client.subscribe("spBv1.0/#", 1)->wait();
  } catch (const mqtt::exception& e) {
    std::fprintf(stderr, "sub: %s: %s\n", url.c_str(), e.what());
    return 1;
  }
  std::printf("subscribed\n");
  std::fflush(stdout);
  auto start = clock_type::now();
  while (!stop_requested) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    auto now = clock_type::now();
    if (std::chrono::duration<double>(now - start).count() > max_wait)
      break;
    if (count.load() > 0) {
      auto last = clock_type::time_point(clock_type::duration(last_ns.load()));
      if (std::chrono::duration<double>(now - last).count() > idle)
        break;
    }
  }
  try {
    client.disconnect()->wait();
  } catch (const mqtt::exception&) {
  }
  long n = count.load();
  std::int64_t last = last_ns.load();
  if (durable) {
    // What counts is what became durable, and when the last of it did.
    durable->stop();
    if (!durable->error().empty()) {
      std::fprintf(stderr, "sub: durable write failed: %s\n", durable->error().c_str());
      return 1;
    }
    n = durable->durable();
    last = durable->last_ns();
    std::printf("durable commits=%ld per_commit=%.1f\n", durable->commits(),
                durable->commits() ? double(n) / double(durable->commits()) : 0.0);
  }
  double span = n > 1 ? static_cast<double>(last - first_ns.load()) / 1e9 : 0.0;
  // The process's CPU (Paho's threads and ours, which only count): what
  // receiving costs a Paho client that does nothing with the messages.
  rusage ru{};
  ::getrusage(RUSAGE_SELF, &ru);
  const double cpu = static_cast<double>(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec)
                     + static_cast<double>(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
  std::printf("received messages=%ld metrics=%ld births=%ld first_to_last=%.3f "
              "rate_messages=%.0f rate_metrics=%.0f cpu_s=%.2f cpu_us_per_message=%.1f\n",
              n, n * per_message, births.load(), span, span > 0 ? n / span : 0.0,
              span > 0 ? n * per_message / span : 0.0, cpu,
              n > 0 ? 1e6 * cpu / static_cast<double>(n) : 0.0);
  return 0;
}

} // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: bench_mqtt_blast tagmap|twins|pub|sub [options]\n");
    return 2;
  }
  std::signal(SIGINT, on_signal);
  std::signal(SIGTERM, on_signal);
  // As twin-node's host does: the plain subscriber and the node pay the same
  // Paho costs.
  twin::sparkplug::paho_trace_errors_only();
  spb::fleet f;
  f.edge_nodes = static_cast<int>(num(argc, argv, "--edge-nodes", 100));
  f.devices = static_cast<int>(std::clamp(num(argc, argv, "--devices", 10), 1L, 26L));
  std::string mode = argv[1];
  if (mode == "tagmap") {
    std::string out = opt(argc, argv, "--out", "");
    auto text = f.tag_map_json().dump(1);
    if (out.empty()) {
      std::puts(text.c_str());
    } else {
      std::ofstream o{out};
      o << text << '\n';
      if (!o) {
        std::fprintf(stderr, "cannot write %s\n", out.c_str());
        return 1;
      }
    }
    return 0;
  }
  if (mode == "twins") {
    for (int i = 0; i < f.twins(); ++i)
      std::puts(f.twin_of(i).c_str());
    return 0;
  }
  if (mode == "pub")
    return pub(argc, argv, f);
  if (mode == "sub")
    return sub(argc, argv);
  std::fprintf(stderr, "unknown mode '%s'\n", mode.c_str());
  return 2;
}
