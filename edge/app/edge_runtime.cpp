#include "edge_runtime.hpp"

#include <signal.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <cstdio>
#include <deque>
#include <iostream>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <variant>
#include <vector>

#include <mqtt/async_client.h>

#include "twin/edge/bearing.hpp"
#include "twin/edge/file_source.hpp"
#include "twin/edge/sparkplug_edge.hpp"
#include "twin/sparkplug/topic.hpp"

namespace twin::edge::app {

namespace sp = twin::sparkplug;
using namespace std::chrono_literals;
using steady = std::chrono::steady_clock;

namespace {

std::uint64_t now_ms() {
  return static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                        std::chrono::system_clock::now().time_since_epoch())
                                        .count());
}

std::string number(double x) {
  std::ostringstream s;
  s << x;
  return s.str();
}

void log_line(const std::string& s) {
  static std::mutex m;
  std::lock_guard lock(m);
  std::cerr << s << std::endl;
}

// Counters of one edge node, read by the status line.
struct node_counters {
  std::atomic<std::uint64_t> sent{0};        // every message handed to Paho
  std::atomic<std::uint64_t> data_sent{0};   // DDATA only
  std::atomic<std::uint64_t> births{0};      // NBIRTH + DBIRTH
  std::atomic<std::uint64_t> rebirths{0};    // Rebirth NCMDs answered
  std::atomic<std::uint64_t> reconnects{0};  // sessions after the first
  std::atomic<std::uint64_t> dropped{0};     // DDATA dropped: queue full (oldest first)
  std::atomic<std::uint64_t> offline{0};     // DDATA not sent: no session
  std::atomic<std::uint64_t> errors{0};      // failed connects/publishes, bad commands
};

// One edge node: its Sparkplug core and Paho client, driven by one thread.
// Paho's callbacks and the sampler only enqueue; run() does everything else.
class node_worker {
public:
  node_worker(const edge_options& o, sparkplug_edge_node core)
      : options_(o), core_(std::move(core)),
        client_id_(o.client_id_prefix + "-" + o.fleet.group + "-" + core_.config().edge_node),
        capacity_(o.queue_capacity != 0
                      ? o.queue_capacity
                      : std::max<std::size_t>(16, 8 * core_.config().devices.size())),
        client_(o.mqtt_url, client_id_) {
    // client_ is declared last: it is destroyed first, so no Paho callback
    // can reach the queues below once they are gone.
    client_.set_message_callback([this](mqtt::const_message_ptr msg) {
      const auto& p = msg->get_payload();
      post_control(command{msg->get_topic(), sp::bytes(p.begin(), p.end())});
    });
    client_.set_connection_lost_handler(
        [this](const std::string& cause) { post_control(lost{cause}); });
  }
  node_worker(const node_worker&) = delete;
  node_worker& operator=(const node_worker&) = delete;
  ~node_worker() {
    join();
    inflight_.clear(); // tokens refer to client_
  }

  const std::string& name() const { return core_.config().edge_node; }
  sparkplug_edge_node& core_before_start() { return core_; }
  const node_counters& counters() const { return counters_; }

  void start() { thread_ = std::thread([this] { run(); }); }
  void request_stop() {
    {
      std::lock_guard lock(mutex_);
      stop_ = true;
    }
    cv_.notify_all();
  }
  void join() {
    if (thread_.joinable())
      thread_.join();
  }

  /// From the sampler: never blocks; a full queue drops its oldest entry.
  void post_data(std::size_t device, std::vector<double> values, std::uint64_t ts) {
    {
      std::lock_guard lock(mutex_);
      if (data_.size() >= capacity_) {
        data_.pop_front();
        counters_.dropped.fetch_add(1, std::memory_order_relaxed);
      }
      data_.push_back(sample{device, std::move(values), ts});
    }
    cv_.notify_one();
  }

private:
  struct sample {
    std::size_t device;
    std::vector<double> values;
    std::uint64_t ts;
  };
  struct command {
    std::string topic;
    sp::bytes payload;
  };
  struct lost {
    std::string cause;
  };
  using control = std::variant<command, lost>;

  void post_control(control c) {
    {
      std::lock_guard lock(mutex_);
      control_.push_back(std::move(c));
    }
    cv_.notify_one();
  }

  bool stopping() {
    std::lock_guard lock(mutex_);
    return stop_;
  }

  // QoS 0 publishes complete once written to the socket; keeping at most
  // max_inflight of them outstanding bounds Paho's own buffer, so a slow
  // broker backs up into our drop-oldest queue instead of into memory.
  static constexpr std::size_t max_inflight = 64;

  bool publish(const std::string& topic, const sp::bytes& payload, int qos) {
    try {
      inflight_.push_back(client_.publish(topic, payload.data(), payload.size(), qos, false));
      counters_.sent.fetch_add(1, std::memory_order_relaxed);
      return true;
    } catch (const mqtt::exception& e) {
      counters_.errors.fetch_add(1, std::memory_order_relaxed);
      log_line("twin-edge: " + name() + ": publish to " + topic + " failed: " + e.what());
      connected_ = false;
      return false;
    }
  }

  // Retires completed publishes; false while the window is still full.
  bool inflight_window_open() {
    while (!inflight_.empty() && inflight_.front()->is_complete())
      inflight_.pop_front();
    if (inflight_.size() < max_inflight)
      return true;
    try {
      inflight_.front()->wait_for(50ms);
    } catch (const mqtt::exception&) {
      // A failed publish: the connection-lost event says the rest.
    }
    while (!inflight_.empty() && inflight_.front()->is_complete())
      inflight_.pop_front();
    return inflight_.size() < max_inflight;
  }

  bool publish_births() {
    auto births = core_.births(now_ms());
    if (!births) {
      log_line("twin-edge: " + name() + ": " + births.error().describe());
      return false;
    }
    for (const auto& m : *births) {
      if (!publish(m.topic, m.payload, 0))
        return false;
      counters_.births.fetch_add(1, std::memory_order_relaxed);
    }
    return true;
  }

  bool connect_session() {
    try { // a publish failure may leave Paho's side of the old session up
      if (client_.is_connected())
        client_.disconnect(0)->wait_for(1s);
    } catch (const std::exception&) {
    }
    // A new session (bdSeq + 1) only once the previous one was established:
    // a refused CONNECT never registered its will, so the retry reuses it.
    if (!pending_will_)
      pending_will_ = core_.begin_session(now_ms());
    const auto& will = *pending_will_;
    try {
      mqtt::will_options w(will.topic, will.payload.data(), will.payload.size(), 1, false);
      auto builder = mqtt::connect_options_builder()
                         .clean_session(true)
                         .keep_alive_interval(10s)
                         .connect_timeout(5s)
                         .mqtt_version(MQTTVERSION_3_1_1)
                         .will(std::move(w));
      if (options_.mqtt_url.rfind("ssl://", 0) == 0 || !options_.ca_file.empty()) {
        mqtt::ssl_options ssl;
        if (!options_.ca_file.empty())
          ssl.set_trust_store(options_.ca_file);
        if (!options_.cert_file.empty())
          ssl.set_key_store(options_.cert_file);
        if (!options_.key_file.empty())
          ssl.set_private_key(options_.key_file);
        ssl.set_enable_server_cert_auth(true);
        builder.ssl(std::move(ssl));
      }
      if (!client_.connect(builder.finalize())->wait_for(8s))
        throw std::runtime_error("connect timed out");
      if (!client_.subscribe(core_.node_topic(sp::message_type::ncmd), 1)->wait_for(5s))
        throw std::runtime_error("subscribe timed out");
    } catch (const std::exception& e) {
      counters_.errors.fetch_add(1, std::memory_order_relaxed);
      // One line per outage (and one per ~minute while it lasts), not per attempt.
      if (failed_attempts_++ % 10 == 0)
        log_line("twin-edge: " + name() + ": connect to " + options_.mqtt_url + " failed (" +
                 e.what() + "); retrying with backoff (attempt " +
                 std::to_string(failed_attempts_) + ")");
      try {
        if (client_.is_connected())
          client_.disconnect(0)->wait_for(1s);
      } catch (const std::exception&) {
      }
      return false;
    }
    pending_will_.reset();
    failed_attempts_ = 0;
    inflight_.clear();
    connected_ = true;
    if (sessions_++ > 0)
      counters_.reconnects.fetch_add(1, std::memory_order_relaxed);
    log_line("twin-edge: " + name() + ": session " + std::to_string(sessions_) +
             " connected as " + client_id_ + ", bdSeq " + std::to_string(core_.bd_seq()));
    return publish_births();
  }

  void handle(control& c) {
    if (auto* l = std::get_if<lost>(&c)) {
      if (connected_)
        log_line("twin-edge: " + name() + ": connection lost" +
                 (l->cause.empty() ? std::string() : " (" + l->cause + ")"));
      connected_ = false;
      return;
    }
    auto& cmd = std::get<command>(c);
    if (!connected_)
      return; // births follow the next session anyway
    auto answer = core_.handle_command(cmd.topic, cmd.payload, now_ms());
    if (!answer) {
      counters_.errors.fetch_add(1, std::memory_order_relaxed);
      log_line("twin-edge: " + name() + ": ignored command on " + cmd.topic + ": " +
               answer.error().describe());
      return;
    }
    if (answer->empty())
      return;
    counters_.rebirths.fetch_add(1, std::memory_order_relaxed);
    for (const auto& m : *answer) {
      if (!publish(m.topic, m.payload, 0))
        return;
      counters_.births.fetch_add(1, std::memory_order_relaxed);
    }
  }

  void send(sample& s) {
    if (!connected_) {
      (void)core_.set_values(s.device, s.values); // the next DBIRTH carries them
      counters_.offline.fetch_add(1, std::memory_order_relaxed);
      return;
    }
    const std::uint64_t n = counters_.data_sent.load(std::memory_order_relaxed);
    if (options_.skip_seq_after != 0 && n == options_.skip_seq_after && !skipped_) {
      skipped_ = true;
      core_.skip_seq();
      log_line("twin-edge: " + name() + ": test hook: skipped one seq after " +
               std::to_string(n) + " DDATA");
    }
    if (options_.publish_garbage_after != 0 && n == options_.publish_garbage_after &&
        !garbage_sent_) {
      garbage_sent_ = true;
      const sp::bytes garbage{0xde, 0xad, 0xbe, 0xef, 0xff, 0xff, 0xff};
      const auto topic = core_.device_topic(sp::message_type::ddata, 0);
      if (publish(topic, garbage, 0))
        log_line("twin-edge: " + name() + ": test hook: published garbage on " + topic);
    }
    auto msg = core_.data(s.device, s.values, s.ts);
    if (!msg) {
      counters_.errors.fetch_add(1, std::memory_order_relaxed);
      log_line("twin-edge: " + name() + ": " + msg.error().describe());
      return;
    }
    if (publish(msg->topic, msg->payload, 0))
      counters_.data_sent.fetch_add(1, std::memory_order_relaxed);
  }

  void run() {
    auto backoff = 250ms;
    while (!stopping()) {
      if (!connected_) {
        drain_offline();
        if (!connect_session()) {
          // Back off, but keep taking samples so the queue does not count
          // them as drops and the next DBIRTH carries the latest values.
          const auto until = steady::now() + backoff;
          while (!stopping() && steady::now() < until) {
            {
              std::unique_lock lock(mutex_);
              cv_.wait_until(lock, until, [this] { return stop_ || !data_.empty(); });
            }
            drain_offline();
          }
          backoff = std::min<std::chrono::milliseconds>(backoff * 2, 8s);
          continue;
        }
        backoff = 250ms;
      }
      std::deque<control> controls;
      std::optional<sample> next;
      {
        std::unique_lock lock(mutex_);
        cv_.wait_for(lock, 200ms, [this] { return stop_ || !control_.empty() || !data_.empty(); });
        controls.swap(control_);
      }
      for (auto& c : controls)
        handle(c);
      // Data one at a time so commands and connection changes are seen
      // between messages; stop when Paho's window is full (the queue then
      // absorbs, dropping its oldest).
      while (connected_ && inflight_window_open()) {
        {
          std::lock_guard lock(mutex_);
          if (data_.empty() || !control_.empty() || stop_)
            break;
          next = std::move(data_.front());
          data_.pop_front();
        }
        send(*next);
      }
    }
    shutdown();
  }

  // Without a session, samples only refresh the values the next DBIRTH carries.
  void drain_offline() {
    std::deque<sample> pending;
    {
      std::lock_guard lock(mutex_);
      pending.swap(data_);
      control_.clear();
    }
    for (auto& s : pending)
      send(s);
  }

  void shutdown() {
    if (!connected_)
      return;
    try {
      auto death = core_.death(now_ms());
      if (death) {
        auto tok = client_.publish(death->topic, death->payload.data(), death->payload.size(),
                                   1, false);
        tok->wait_for(3s);
        counters_.sent.fetch_add(1, std::memory_order_relaxed);
      }
      client_.disconnect(2s)->wait_for(3s);
    } catch (const std::exception& e) {
      log_line("twin-edge: " + name() + ": clean shutdown failed: " + e.what());
    }
    connected_ = false;
  }

  const edge_options& options_;
  sparkplug_edge_node core_;
  std::string client_id_;
  std::size_t capacity_;
  node_counters counters_;

  std::mutex mutex_;
  std::condition_variable cv_;
  bool stop_ = false;
  std::deque<sample> data_;
  std::deque<control> control_;

  // Worker thread only.
  bool connected_ = false;
  std::uint64_t sessions_ = 0;
  std::uint64_t failed_attempts_ = 0;
  bool skipped_ = false;
  bool garbage_sent_ = false;
  std::deque<mqtt::delivery_token_ptr> inflight_;
  std::optional<sp::outgoing_message> pending_will_;
  std::thread thread_;

  mqtt::async_client client_;
};

// One device's raw signal: the bearing simulator, or a file replayed in a
// loop (temperature, load and speed still come from the simulator's thermal
// and load model).
struct device_channel {
  node_worker* node = nullptr;
  std::size_t device = 0;
  bearing_simulator sim;
  std::optional<feature_stream> stream;
  const std::vector<double>* file = nullptr;
  std::size_t file_pos = 0;

  std::vector<double> next(std::size_t n) {
    if (file == nullptr)
      return sim.generate(n);
    std::vector<double> out(n);
    for (auto& x : out) {
      x = (*file)[file_pos];
      file_pos = (file_pos + 1) % file->size();
    }
    return out;
  }
};

std::string status_line(const std::vector<std::unique_ptr<node_worker>>& nodes,
                        std::uint64_t windows) {
  std::uint64_t sent = 0, data = 0, births = 0, rebirths = 0, reconnects = 0, dropped = 0,
                offline = 0, errors = 0;
  for (const auto& n : nodes) {
    const auto& c = n->counters();
    sent += c.sent.load();
    data += c.data_sent.load();
    births += c.births.load();
    rebirths += c.rebirths.load();
    reconnects += c.reconnects.load();
    dropped += c.dropped.load();
    offline += c.offline.load();
    errors += c.errors.load();
  }
  return "twin-edge status: windows=" + std::to_string(windows) + " sent=" +
         std::to_string(sent) + " ddata=" + std::to_string(data) + " births=" +
         std::to_string(births) + " rebirths_answered=" + std::to_string(rebirths) +
         " reconnects=" + std::to_string(reconnects) + " dropped=" + std::to_string(dropped) +
         " offline=" + std::to_string(offline) + " errors=" + std::to_string(errors);
}

} // namespace

int run(const edge_options& o) {
  // Block the stop signals before any thread exists, so only sigtimedwait
  // below sees them.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  if (pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr) != 0) {
    std::cerr << "twin-edge: cannot block signals\n";
    return 1;
  }

  const auto bands = o.bands.empty() ? default_bands() : o.bands;
  const auto metric_names = device_metric_names(bands);

  // The signal source.
  double sample_rate = o.sample_rate_hz;
  signal file_signal;
  const bool from_file = o.source != "sim";
  if (from_file) {
    const auto colon = o.source.find(':');
    const std::string kind = o.source.substr(0, colon);
    const std::string path = colon == std::string::npos ? "" : o.source.substr(colon + 1);
    expected<signal> s = kind == "csv"   ? read_csv(path)
                         : kind == "wav" ? read_wav(path)
                                         : expected<signal>(make_error(
                                               errc::bad_request,
                                               "--source must be sim, csv:PATH or wav:PATH"));
    if (!s) {
      std::cerr << "twin-edge: " << s.error().describe() << "\n";
      return 2;
    }
    file_signal = std::move(s).value();
    if (file_signal.sample_rate_hz && *file_signal.sample_rate_hz != sample_rate) {
      std::cerr << "twin-edge: using the WAV file's sample rate " << *file_signal.sample_rate_hz
                << " Hz\n";
      sample_rate = *file_signal.sample_rate_hz;
    }
  }
  const auto hop = static_cast<std::size_t>(std::llround(sample_rate / o.rate_hz));
  const std::size_t window = o.window == 0 ? hop : o.window;
  extractor_config fx;
  fx.sample_rate_hz = sample_rate;
  fx.window_size = window;
  fx.bands = bands;

  // Edge nodes and their devices.
  std::vector<std::unique_ptr<node_worker>> nodes;
  std::vector<device_channel> channels;
  std::mt19937_64 wear_rng(o.seed ^ 0x9e3779b97f4a7c15ULL);
  std::uniform_real_distribution<double> wear_dist(0.0, 0.5);
  for (int t = 1; t <= o.fleet.turbines; ++t) {
    edge_node_config nc;
    nc.group = o.fleet.group;
    nc.edge_node = edge_node_name(t, o.fleet.turbines);
    for (int d = 0; d < o.fleet.devices_per_turbine; ++d)
      nc.devices.push_back({device_name(d), metric_names});
    nc.node_info = {{"Node Info/Software", "twin-edge " + std::string(TWIN_EDGE_VERSION)},
                    {"Node Info/Source", o.source},
                    {"Node Info/Sample Rate Hz", number(sample_rate)},
                    {"Node Info/Rate Hz", number(o.rate_hz)},
                    {"Node Info/Window", std::to_string(window)}};
    auto core = sparkplug_edge_node::create(std::move(nc));
    if (!core) {
      std::cerr << "twin-edge: " << core.error().describe() << "\n";
      return 2;
    }
    nodes.push_back(std::make_unique<node_worker>(o, std::move(core).value()));
    for (int d = 0; d < o.fleet.devices_per_turbine; ++d) {
      bearing_config bc;
      bc.sample_rate_hz = sample_rate;
      bc.seed = o.seed * 1'000'003ULL + static_cast<std::uint64_t>(t) * 101ULL +
                static_cast<std::uint64_t>(d);
      bc.initial_wear = o.initial_wear >= 0 ? o.initial_wear : wear_dist(wear_rng);
      // Slightly different shafts, so a fleet does not look cloned.
      bc.shaft_hz *= 1.0 + 0.01 * static_cast<double>((t * 7 + d * 3) % 5 - 2);
      if (bc.resonance_hz >= sample_rate / 2)
        bc.resonance_hz = sample_rate / 4;
      auto sim = bearing_simulator::create(bc);
      if (!sim) {
        std::cerr << "twin-edge: " << sim.error().describe() << "\n";
        return 2;
      }
      auto stream = feature_stream::create(fx, hop);
      if (!stream) {
        std::cerr << "twin-edge: " << stream.error().describe() << "\n";
        return 2;
      }
      device_channel ch{nodes.back().get(), static_cast<std::size_t>(d), std::move(sim).value(),
                        std::move(stream).value(), nullptr, 0};
      if (from_file) {
        ch.file = &file_signal.samples;
        ch.file_pos = (channels.size() * 7919 * hop) % file_signal.samples.size();
      }
      // Prime the window so every hop afterwards yields exactly one feature set,
      // and let the first DBIRTH carry real values.
      const std::size_t prime = window > hop ? window - hop : 0;
      if (prime > 0)
        (void)ch.stream->push(ch.next(prime));
      auto first = ch.stream->push(ch.next(hop));
      if (!first || first->empty()) {
        std::cerr << "twin-edge: cannot compute the first window"
                  << (first ? std::string() : ": " + first.error().describe()) << "\n";
        return 2;
      }
      (void)nodes.back()->core_before_start().set_values(
          ch.device, device_metric_values(first->back(), ch.sim.temperature_c(),
                                          ch.sim.load_kn() * 1000.0, ch.sim.speed_hz() * 60.0));
      channels.push_back(std::move(ch));
    }
  }

  // The exact topics, once, on stdout.
  for (auto& n : nodes) {
    auto& core = n->core_before_start();
    for (auto t : {sp::message_type::nbirth, sp::message_type::ndeath})
      std::cout << "publishes " << core.node_topic(t) << "\n";
    for (std::size_t d = 0; d < core.config().devices.size(); ++d)
      for (auto t : {sp::message_type::dbirth, sp::message_type::ddata})
        std::cout << "publishes " << core.device_topic(t, d) << "\n";
    std::cout << "subscribes " << core.node_topic(sp::message_type::ncmd) << "\n";
  }
  std::cout << "twin-edge: " << nodes.size() << " edge node(s) x " << o.fleet.devices_per_turbine
            << " device(s), " << o.rate_hz << " Hz per device, window " << window << " hop "
            << hop << " at " << sample_rate << " Hz, broker " << o.mqtt_url << std::endl;

  for (auto& n : nodes)
    n->start();

  // The samplers: one hop of signal per device per tick, paced by the clock;
  // devices are sharded over the threads (channel i -> thread i % threads),
  // so each channel is touched by one thread only.
  std::atomic<bool> stop_sampler{false};
  std::atomic<std::uint64_t> windows{0};
  std::atomic<std::uint64_t> sampler_errors{0};
  std::size_t threads = o.sampler_threads != 0
                            ? o.sampler_threads
                            : std::max(1u, std::thread::hardware_concurrency());
  threads = std::min(threads, channels.size());
  auto sample_loop = [&](std::size_t shard) {
    const auto period = std::chrono::duration_cast<steady::duration>(
        std::chrono::duration<double>(1.0 / o.rate_hz));
    const double dt = static_cast<double>(hop) / sample_rate;
    auto next_tick = steady::now() + period;
    while (!stop_sampler.load()) {
      std::this_thread::sleep_until(next_tick);
      next_tick += period;
      // Behind by more than a second (a stalled machine): skip, do not burst.
      if (steady::now() - next_tick > 1s)
        next_tick = steady::now() + period;
      const std::uint64_t ts = now_ms();
      for (std::size_t i = shard; i < channels.size(); i += threads) {
        auto& ch = channels[i];
        ch.sim.advance_wear(dt * o.speedup);
        auto f = ch.stream->push(ch.next(hop));
        if (!f) {
          sampler_errors.fetch_add(1);
          continue;
        }
        for (const auto& x : *f) {
          ch.node->post_data(ch.device,
                             device_metric_values(x, ch.sim.temperature_c(),
                                                  ch.sim.load_kn() * 1000.0,
                                                  ch.sim.speed_hz() * 60.0),
                             ts);
          windows.fetch_add(1, std::memory_order_relaxed);
        }
      }
    }
  };
  std::vector<std::thread> samplers;
  for (std::size_t k = 0; k < threads; ++k)
    samplers.emplace_back(sample_loop, k);

  // Main thread: signals, duration and the status line.
  const auto start = steady::now();
  auto next_status = start + std::chrono::duration_cast<steady::duration>(
                                 std::chrono::duration<double>(o.status_interval_s));
  int caught = 0;
  while (true) {
    timespec ts{0, 200'000'000};
    const int sig = sigtimedwait(&stop_signals, nullptr, &ts);
    if (sig == SIGINT || sig == SIGTERM) {
      caught = sig;
      break;
    }
    const auto now = steady::now();
    if (o.duration_s > 0 && now - start >= std::chrono::duration<double>(o.duration_s))
      break;
    if (now >= next_status) {
      log_line(status_line(nodes, windows.load()));
      next_status += std::chrono::duration_cast<steady::duration>(
          std::chrono::duration<double>(o.status_interval_s));
    }
  }
  log_line(std::string("twin-edge: stopping") +
           (caught ? (caught == SIGTERM ? " (SIGTERM)" : " (SIGINT)") : " (duration)") +
           ": publishing NDEATH and disconnecting");
  stop_sampler = true;
  for (auto& t : samplers)
    t.join();
  if (sampler_errors.load() != 0)
    log_line("twin-edge: " + std::to_string(sampler_errors.load()) +
             " windows could not be computed (non-finite samples)");
  for (auto& n : nodes)
    n->request_stop();
  for (auto& n : nodes)
    n->join();
  log_line(status_line(nodes, windows.load()));
  return 0;
}

} // namespace twin::edge::app
