#include "twin/sparkplug/mqtt_host.hpp"

#include <unistd.h>

#include <atomic>
#include <condition_variable>
#include <cstdio>
#include <filesystem>
#include <map>
#include <mutex>
#include <thread>

#include <MQTTAsync.h>
#include <mqtt/async_client.h>
#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/registry.h>

#include "twin/sparkplug/host_router.hpp"

namespace twin::sparkplug {

namespace {

using clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

std::int64_t wall_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
           std::chrono::system_clock::now().time_since_epoch())
    .count();
}

twin::status bad(std::string message, std::string option) {
  return make_error(errc::bad_request, std::move(message), "mqtt_host_options",
                    "/" + std::move(option));
}

bool is_tls_url(std::string_view url) {
  return url.starts_with("ssl://") || url.starts_with("mqtts://");
}

bool valid_id(std::string_view id) {
  return !id.empty() && id.find_first_of("/+#") == std::string_view::npos;
}

twin::status check_file(const std::string& path, const char* option) {
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec))
    return bad(std::string{option} + ": " + path + " does not exist or is not a file", option);
  if (::access(path.c_str(), R_OK) != 0)
    return bad(std::string{option} + ": " + path + " is not readable", option);
  return ok();
}

/// stderr logging, at most one line per reason per interval (with the
/// number of lines left out since the last one). Thread-safe.
class rate_log {
public:
  explicit rate_log(std::chrono::milliseconds interval) : interval_(interval) {}

  void write(const std::string& reason, const std::string& line) {
    std::lock_guard lk(m_);
    auto now = clock::now();
    auto& e = entries_[reason];
    if (e.seen && now - e.last < interval_) {
      ++e.suppressed;
      return;
    }
    if (e.suppressed > 0)
      std::fprintf(stderr, "twin-sparkplug: %s (and %llu more like it in the last %lld s)\n",
                   line.c_str(), static_cast<unsigned long long>(e.suppressed),
                   static_cast<long long>(
                     std::chrono::duration_cast<std::chrono::seconds>(now - e.last).count()));
    else
      std::fprintf(stderr, "twin-sparkplug: %s\n", line.c_str());
    e.seen = true;
    e.last = now;
    e.suppressed = 0;
  }

private:
  struct entry {
    bool seen = false;
    clock::time_point last;
    std::uint64_t suppressed = 0;
  };
  std::chrono::milliseconds interval_;
  std::mutex m_;
  std::map<std::string, entry> entries_;
};

/// The Prometheus series; all null without a registry.
struct host_metrics {
  prometheus::Counter* messages = nullptr;
  prometheus::Counter* metrics_applied = nullptr;
  prometheus::Counter* unmapped = nullptr;
  prometheus::Family<prometheus::Counter>* dropped = nullptr;
  prometheus::Counter* rebirths = nullptr;
  prometheus::Family<prometheus::Counter>* ingest_failures = nullptr;
  prometheus::Gauge* connected = nullptr;
  prometheus::Counter* reconnects = nullptr;
  prometheus::Counter* backpressure = nullptr;
  prometheus::Gauge* in_flight = nullptr;

  static void inc(prometheus::Counter* c, double v = 1) {
    if (c && v > 0)
      c->Increment(v);
  }
  void drop(const std::string& reason) {
    if (dropped)
      dropped->Add({{"reason", reason}}).Increment();
  }
};

/// Outstanding sink calls. Shared with every `done` so that a late `done`
/// (after stop() gave up waiting) touches nothing that is gone.
struct flight {
  std::mutex m;
  std::condition_variable cv;
  std::size_t outstanding = 0;
  std::uint64_t failures = 0;
  bool detached = false;  ///< the host stopped: no metrics, no logs
  host_metrics metrics;
  std::shared_ptr<rate_log> log;

  void complete(const twin::status& s, const std::string& what) {
    std::string line;
    std::string code;
    {
      std::lock_guard lk(m);
      if (outstanding > 0)
        --outstanding;
      if (!detached && metrics.in_flight)
        metrics.in_flight->Set(static_cast<double>(outstanding));
      if (!s) {
        ++failures;
        code = std::string{to_string(s.error().code)};
        if (!detached && metrics.ingest_failures)
          metrics.ingest_failures->Add({{"code", code}}).Increment();
        if (!detached)
          line = "sink rejected " + what + ": " + s.error().describe();
      }
    }
    cv.notify_all();
    if (!line.empty())
      log->write("sink:" + code, line);
  }
};

} // namespace

// -- validation ---------------------------------------------------------------

twin::status validate(const mqtt_host_options& o) {
  if (o.urls.empty())
    return bad("urls: at least one broker URL is required", "urls");
  bool any_tls = false;
  for (std::size_t i = 0; i < o.urls.size(); ++i) {
    const auto& u = o.urls[i];
    auto sep = u.find("://");
    std::string opt = "urls/" + std::to_string(i);
    if (sep == std::string::npos)
      return bad("urls[" + std::to_string(i) + "]: '" + u
                   + "' has no scheme (expected tcp://, mqtt://, ssl:// or mqtts://)",
                 opt);
    auto scheme = u.substr(0, sep);
    if (scheme != "tcp" && scheme != "mqtt" && scheme != "ssl" && scheme != "mqtts")
      return bad("urls[" + std::to_string(i) + "]: scheme '" + scheme
                   + "' is not supported (expected tcp, mqtt, ssl or mqtts)",
                 opt);
    auto rest = u.substr(sep + 3);
    if (rest.empty() || rest[0] == ':' || rest.find('/') != std::string::npos)
      return bad("urls[" + std::to_string(i) + "]: '" + u + "' must be SCHEME://HOST[:PORT]", opt);
    any_tls = any_tls || is_tls_url(u);
  }
  if (o.mqtt_version != 3 && o.mqtt_version != 4 && o.mqtt_version != 5)
    return bad("mqtt_version: " + std::to_string(o.mqtt_version)
                 + " is not supported (3 = 3.1.1, or 5)",
               "mqtt_version");
  bool any_tls_file = !o.ca_file.empty() || !o.cert_file.empty() || !o.key_file.empty();
  if (any_tls && o.ca_file.empty())
    return bad("ca_file: required with an ssl:// or mqtts:// URL", "ca_file");
  if (!any_tls && any_tls_file)
    return bad("ca_file/cert_file/key_file: TLS files given but no ssl:// or mqtts:// URL",
               o.ca_file.empty() ? (o.cert_file.empty() ? "key_file" : "cert_file") : "ca_file");
  if (o.cert_file.empty() != o.key_file.empty())
    return bad("cert_file and key_file: give both (client certificate) or neither",
               o.cert_file.empty() ? "cert_file" : "key_file");
  if (!o.key_password.empty() && o.key_file.empty())
    return bad("key_password: given without key_file", "key_password");
  for (auto [path, name] : {std::pair{&o.ca_file, "ca_file"}, std::pair{&o.cert_file, "cert_file"},
                            std::pair{&o.key_file, "key_file"}})
    if (!path->empty())
      if (auto s = check_file(*path, name); !s)
        return s;
  for (std::size_t i = 0; i < o.groups.size(); ++i)
    if (!valid_id(o.groups[i]))
      return bad("groups[" + std::to_string(i) + "]: '" + o.groups[i]
                   + "' is not a Sparkplug group id (empty, or contains '/', '+' or '#')",
                 "groups/" + std::to_string(i));
  if (!o.host_id.empty() && !valid_id(o.host_id))
    return bad("host_id: '" + o.host_id + "' contains '/', '+' or '#'", "host_id");
  if (o.max_in_flight < 1)
    return bad("max_in_flight: must be at least 1", "max_in_flight");
  if (o.reconnect_min.count() <= 0 || o.reconnect_max < o.reconnect_min)
    return bad("reconnect_min/reconnect_max: need 0 < min <= max", "reconnect_min");
  if (o.keepalive.count() < 0)
    return bad("keepalive: must not be negative", "keepalive");
  if (o.connect_timeout.count() <= 0)
    return bad("connect_timeout: must be positive", "connect_timeout");
  if (o.rebirth_qos != 0 && o.rebirth_qos != 1)
    return bad("rebirth_qos: must be 0 or 1", "rebirth_qos");
  return ok();
}

// -- the host -----------------------------------------------------------------

struct mqtt_host::impl {
  impl(mqtt_host_options o, tag_map m, host_sink& s)
    : options(std::move(o)),
      map(std::move(m)),
      sink(s),
      state(options.sparkplug),
      router(map),
      log(std::make_shared<rate_log>(options.log_interval)),
      fl(std::make_shared<flight>()) {
    fl->log = log;
  }

  mqtt_host_options options;
  tag_map map;
  host_sink& sink;

  // Owned by the MQTT callback thread (handle_m for stats()).
  std::mutex handle_m;
  host_state state;
  host_router router;

  std::shared_ptr<rate_log> log;
  std::shared_ptr<flight> fl;
  host_metrics metrics;

  std::unique_ptr<mqtt::async_client> client;
  std::vector<std::string> topics;

  std::mutex sup_m;
  std::condition_variable sup_cv;
  bool lost = false;  ///< the connection dropped (under sup_m)
  std::thread supervisor;
  std::atomic<bool> stopping{false};
  std::atomic<bool> stopped{false};
  std::atomic<bool> up{false};
  std::atomic<int> callbacks_active{0};
  std::int64_t state_timestamp = 0;  ///< STATE timestamp of the current session

  mutable std::mutex stats_m;
  mqtt_host_stats counters;

  void count(std::uint64_t mqtt_host_stats::*field, std::uint64_t n = 1) {
    std::lock_guard lk(stats_m);
    counters.*field += n;
  }

  std::string state_topic() const {
    return std::string{namespace_b} + "/STATE/" + options.host_id;
  }
  static std::string state_payload(bool online, std::int64_t ts) {
    return nlohmann::json{{"online", online}, {"timestamp", ts}}.dump();
  }

  void register_metrics(prometheus::Registry* r) {
    if (!r)
      return;
    using namespace prometheus;
    auto counter = [&](const char* name, const char* help) {
      return &BuildCounter().Name(name).Help(help).Register(*r).Add({});
    };
    metrics.messages = counter("twin_sparkplug_messages_total", "MQTT messages handled");
    metrics.metrics_applied =
      counter("twin_sparkplug_metrics_applied_total", "Mapped metric values delivered to twins");
    metrics.unmapped = counter("twin_sparkplug_unmapped_metrics_total",
                               "Metrics with no tag map entry (not delivered)");
    metrics.dropped = &BuildCounter()
                         .Name("twin_sparkplug_dropped_total")
                         .Help("Messages or metrics not applied, by reason")
                         .Register(*r);
    metrics.rebirths =
      counter("twin_sparkplug_rebirths_requested_total", "Rebirth NCMDs published");
    metrics.ingest_failures = &BuildCounter()
                                 .Name("twin_sparkplug_ingest_failures_total")
                                 .Help("Sink calls that failed, by error code")
                                 .Register(*r);
    metrics.connected = &BuildGauge()
                           .Name("twin_sparkplug_connected")
                           .Help("1 while the MQTT session is up")
                           .Register(*r)
                           .Add({});
    metrics.reconnects =
      counter("twin_sparkplug_reconnects_total", "Successful MQTT reconnects after the first");
    metrics.backpressure = counter("twin_sparkplug_backpressure_waits_total",
                                   "Times the MQTT thread waited for the sink (max_in_flight)");
    metrics.in_flight = &BuildGauge()
                           .Name("twin_sparkplug_in_flight")
                           .Help("Sink calls outstanding")
                           .Register(*r)
                           .Add({});
    // Every drop reason shows up at 0 before the first one happens.
    for (const auto& [name, _] : host_stats{}.counters())
      if (name != "messages" && name != "metrics_applied" && name != "rebirths_requested"
          && name != "rebirths_suppressed")
        metrics.dropped->Add({{"reason", std::string{name}}});
    metrics.dropped->Add({{"reason", "unsupported_value"}});
    metrics.dropped->Add({{"reason", "shutdown"}});
    metrics.dropped->Add({{"reason", "internal_error"}});
    fl->metrics = metrics;
  }

  // -- connection ----------------------------------------------------------

  mqtt::connect_options connect_options(std::int64_t ts) {
    mqtt::connect_options co;
    co.set_mqtt_version(options.mqtt_version == 5 ? MQTTVERSION_5 : MQTTVERSION_3_1_1);
    // Sparkplug hosts use a clean session; missed data is recovered with
    // rebirths (seq gaps), not broker queues.
    if (options.mqtt_version == 5)
      co.set_clean_start(true);
    else
      co.set_clean_session(true);
    co.set_keep_alive_interval(options.keepalive);
    co.set_connect_timeout(std::chrono::duration_cast<std::chrono::seconds>(
      std::max<std::chrono::milliseconds>(options.connect_timeout, 1000ms)));
    co.set_automatic_reconnect(false);  // the supervisor owns reconnects
    auto servers = std::make_shared<mqtt::string_collection>();
    for (const auto& u : options.urls)
      servers->push_back(u);
    co.set_servers(servers);
    if (!options.username.empty())
      co.set_user_name(options.username);
    if (!options.password.empty())
      co.set_password(options.password);
    if (!options.host_id.empty())
      co.set_will(mqtt::will_options(state_topic(), state_payload(false, ts), 1, true));
    if (!options.ca_file.empty()) {
      mqtt::ssl_options ssl;
      ssl.set_trust_store(options.ca_file);
      if (!options.cert_file.empty()) {
        ssl.set_key_store(options.cert_file);
        ssl.set_private_key(options.key_file);
      }
      if (!options.key_password.empty())
        ssl.set_private_key_password(options.key_password);
      ssl.set_enable_server_cert_auth(true);
      ssl.set_verify(options.verify_hostname);
      auto lg = log;
      ssl.set_error_handler([lg](const std::string& msg) { lg->write("tls", "TLS: " + msg); });
      co.set_ssl(std::move(ssl));
    }
    return co;
  }

  /// One connect + subscribe + STATE birth. Throws mqtt::exception or
  /// std::runtime_error.
  void connect_once() {
    auto ts = wall_ms();
    auto wait = options.connect_timeout + 2s;
    auto tok = client->connect(connect_options(ts));
    if (!tok->wait_for(wait))
      throw std::runtime_error("connect timed out");
    auto topics_c = std::make_shared<mqtt::string_collection>();
    mqtt::iasync_client::qos_collection qos;
    for (const auto& t : topics) {
      topics_c->push_back(t);
      qos.push_back(1);
    }
    auto sub = client->subscribe(topics_c, qos);
    if (!sub->wait_for(wait))
      throw std::runtime_error("subscribe timed out");
    // A refused filter comes back as 0x80 (3.1.1) or a 5.0 reason code
    // >= 0x80; otherwise it is the granted QoS.
    auto response = sub->get_subscribe_response();  // by value: codes live in it
    for (auto rc : response.get_reason_codes()) {
      int code = static_cast<int>(rc);
      if (code >= 0x80)
        throw std::runtime_error("subscribe refused (reason code " + std::to_string(code) + ")");
    }
    if (!options.host_id.empty()) {
      auto pub = client->publish(state_topic(), state_payload(true, ts), 1, true);
      if (!pub->wait_for(wait))
        throw std::runtime_error("STATE publish timed out");
    }
    state_timestamp = ts;
  }

  void set_up(bool v) {
    up = v;
    if (metrics.connected)
      metrics.connected->Set(v ? 1 : 0);
    std::lock_guard lk(stats_m);
    counters.connected = v;
  }

  void supervise() {
    auto backoff = options.reconnect_min;
    bool ever = false;
    while (!stopping) {
      {
        std::lock_guard lk(sup_m);
        lost = false;
      }
      std::string error;
      try {
        connect_once();
      } catch (const mqtt::exception& e) {
        error = e.what();
      } catch (const std::exception& e) {
        error = e.what();
      }
      if (error.empty()) {
        set_up(true);
        std::uint64_t n;
        {
          std::lock_guard lk(stats_m);
          n = ++counters.connects;
          if (n > 1)
            ++counters.reconnects;
        }
        if (n > 1)
          host_metrics::inc(metrics.reconnects);
        std::fprintf(stderr, "twin-sparkplug: %s to %s, subscribed to %zu topic(s)%s\n",
                     n > 1 ? "reconnected" : "connected", client->get_server_uri().c_str(),
                     topics.size(), options.host_id.empty() ? "" : ", STATE online");
        ever = true;
        backoff = options.reconnect_min;
        std::unique_lock lk(sup_m);
        sup_cv.wait(lk, [&] { return lost || stopping.load(); });
        continue;
      }
      count(&mqtt_host_stats::connect_failures);
      set_up(false);
      if (client->is_connected()) {
        try {
          client->disconnect(0)->wait_for(options.connect_timeout);
        } catch (const std::exception&) {
        }
      }
      log->write("connect", std::string{ever ? "reconnect" : "connect"} + " to "
                              + options.urls.front() + (options.urls.size() > 1 ? " (and others)" : "")
                              + " failed: " + error + "; retrying with backoff up to "
                              + std::to_string(options.reconnect_max.count()) + " ms");
      std::unique_lock lk(sup_m);
      sup_cv.wait_for(lk, backoff, [&] { return stopping.load(); });
      backoff = std::min(backoff * 2, options.reconnect_max);
    }
  }

  void on_connection_lost(const std::string& cause) {
    set_up(false);
    log->write("lost", "connection lost" + (cause.empty() ? std::string{} : ": " + cause)
                         + "; reconnecting");
    {
      std::lock_guard lk(sup_m);
      lost = true;
    }
    sup_cv.notify_all();
  }

  // -- messages --------------------------------------------------------------

  /// Waits for a free in-flight slot; false when stopping.
  bool acquire() {
    std::unique_lock lk(fl->m);
    if (fl->outstanding >= options.max_in_flight && !stopping) {
      count(&mqtt_host_stats::backpressure_waits);
      host_metrics::inc(metrics.backpressure);
      fl->cv.wait(lk, [&] { return fl->outstanding < options.max_in_flight || stopping.load(); });
    }
    if (stopping)
      return false;
    ++fl->outstanding;
    if (metrics.in_flight)
      metrics.in_flight->Set(static_cast<double>(fl->outstanding));
    return true;
  }

  void deliver(sink_operation&& op) {
    if (!acquire()) {
      metrics.drop("shutdown");
      return;
    }
    auto f = fl;
    if (auto* b = std::get_if<ingest_batch>(&op)) {
      std::string what = "batch for " + b->twin + " from " + b->source;
      count(&mqtt_host_stats::batches);
      try {
        sink.ingest(std::move(*b),
                    [f, what = std::move(what)](const twin::status& s) { f->complete(s, what); });
      } catch (const std::exception& e) {
        f->complete(make_error(errc::internal, std::string{"sink threw: "} + e.what()), "batch");
      }
    } else {
      auto& c = std::get<connectivity_change>(op);
      std::string what = std::string{c.online ? "online" : "offline"} + " for " + c.twin;
      count(&mqtt_host_stats::connectivity_changes);
      try {
        sink.connectivity(c.twin, c.online, std::move(c.reason), c.time_ms,
                          [f, what = std::move(what)](const twin::status& s) {
                            f->complete(s, what);
                          });
      } catch (const std::exception& e) {
        f->complete(make_error(errc::internal, std::string{"sink threw: "} + e.what()),
                    "connectivity");
      }
    }
  }

  void publish_rebirth(const rebirth_action& r, std::int64_t now) {
    auto cmd = make_rebirth_command(r.group, r.edge_node, static_cast<std::uint64_t>(now));
    try {
      client->publish(cmd.topic, cmd.payload.data(), cmd.payload.size(), options.rebirth_qos,
                      false);
      count(&mqtt_host_stats::rebirths_published);
      host_metrics::inc(metrics.rebirths);
      log->write("rebirth:" + r.reason, "requested rebirth of " + r.group + "/" + r.edge_node
                                          + " (" + r.reason + ")");
    } catch (const std::exception& e) {
      count(&mqtt_host_stats::publish_failures);
      log->write("publish", "rebirth NCMD to " + cmd.topic + " failed: " + e.what());
    }
  }

  void on_message(const mqtt::const_message_ptr& msg) noexcept {
    struct active_guard {
      std::atomic<int>& n;
      explicit active_guard(std::atomic<int>& x) : n(x) { ++n; }
      ~active_guard() { --n; }
    } guard{callbacks_active};
    // Nothing may escape into Paho's C callback (std::terminate).
    try {
      handle_message(msg);
    } catch (const std::exception& e) {
      metrics.drop("internal_error");
      log->write("internal", "message on " + msg->get_topic() + " not handled: " + e.what());
    }
  }

  void handle_message(const mqtt::const_message_ptr& msg) {
    if (stopping) {
      metrics.drop("shutdown");
      return;
    }
    const std::string& topic = msg->get_topic();
    const std::string& bytes = msg->get_payload_ref().str();
    auto now = wall_ms();
    routed_message routed;
    {
      std::lock_guard lk(handle_m);
      auto actions = state.handle(
        topic,
        std::span<const std::uint8_t>{reinterpret_cast<const std::uint8_t*>(bytes.data()),
                                      bytes.size()},
        static_cast<std::uint64_t>(now));
      routed = router.route(topic, std::move(actions), now);
    }
    host_metrics::inc(metrics.messages);
    host_metrics::inc(metrics.metrics_applied, static_cast<double>(routed.metrics_applied));
    host_metrics::inc(metrics.unmapped, static_cast<double>(routed.unmapped));
    {
      std::lock_guard lk(stats_m);
      counters.metrics_applied += routed.metrics_applied;
      counters.unmapped += routed.unmapped;
    }
    if (routed.unmapped > 0)
      log->write("unmapped", "unmapped metric " + routed.first_unmapped
                               + (routed.unmapped > 1
                                    ? " (and " + std::to_string(routed.unmapped - 1)
                                        + " more in the same message)"
                                    : std::string{})
                               + ": not in tag map " + map.version());
    for (const auto& d : routed.drops) {
      metrics.drop(d.reason);
      if (d.reason == "unsupported_value")
        count(&mqtt_host_stats::unsupported_values);
      // Commands and STATE (ours included) are normal traffic under
      // spBv1.0/#: counted, not logged.
      if (d.reason != "not_for_host")
        log->write("drop:" + d.reason, "dropped (" + d.reason + ") on " + topic + ": " + d.detail);
    }
    for (const auto& r : routed.rebirths)
      publish_rebirth(r, now);
    for (auto& op : routed.operations)
      deliver(std::move(op));
  }
};

mqtt_host::mqtt_host(std::unique_ptr<impl> i) : impl_(std::move(i)) {
}

mqtt_host::~mqtt_host() {
  stop();
}

void paho_trace_errors_only() {
  MQTTAsync_setTraceLevel(MQTTASYNC_TRACE_ERROR);
}

expected<std::unique_ptr<mqtt_host>> mqtt_host::start(mqtt_host_options options, tag_map map,
                                                      host_sink& sink,
                                                      prometheus::Registry* registry) {
  if (auto s = validate(options); !s)
    return std::move(s).error();
  if (options.mqtt_version == 3)
    options.mqtt_version = 4;
  if (options.client_id.empty())
    options.client_id = "twin-sparkplug-"
                        + (options.host_id.empty() ? std::to_string(::getpid()) : options.host_id);

  auto i = std::make_unique<impl>(std::move(options), std::move(map), sink);
  auto& o = i->options;
  if (o.groups.empty())
    i->topics.push_back(std::string{namespace_b} + "/#");
  for (const auto& g : o.groups)
    i->topics.push_back(std::string{namespace_b} + "/" + g + "/#");
  try {
    i->register_metrics(registry);
  } catch (const std::exception& e) {
    return make_error(errc::bad_request,
                      std::string{"cannot register twin_sparkplug_* metrics: "} + e.what());
  }
  paho_trace_errors_only();
  try {
    mqtt::create_options co(o.mqtt_version == 5 ? MQTTVERSION_5 : MQTTVERSION_3_1_1);
    i->client = std::make_unique<mqtt::async_client>(o.urls.front(), o.client_id, co, nullptr);
  } catch (const mqtt::exception& e) {
    return make_error(errc::bad_request,
                      "cannot create the MQTT client for " + o.urls.front() + ": " + e.what(),
                      "mqtt_host_options", "/urls/0");
  }
  impl* raw = i.get();
  i->client->set_message_callback([raw](mqtt::const_message_ptr m) { raw->on_message(m); });
  i->client->set_connection_lost_handler(
    [raw](const std::string& cause) { raw->on_connection_lost(cause); });
  // MQTT 5: a broker's DISCONNECT (e.g. "server shutting down").
  i->client->set_disconnected_handler([raw](const mqtt::properties&, mqtt::ReasonCode rc) {
    raw->on_connection_lost("broker sent DISCONNECT (reason " + std::to_string(int(rc)) + ")");
  });
  i->supervisor = std::thread([raw] { raw->supervise(); });
  return std::unique_ptr<mqtt_host>(new mqtt_host(std::move(i)));
}

void mqtt_host::stop() {
  auto& i = *impl_;
  if (i.stopped.exchange(true))
    return;
  {
    std::lock_guard lk(i.sup_m);
    i.stopping = true;
  }
  i.sup_cv.notify_all();
  {
    std::lock_guard lk(i.fl->m);
  }
  i.fl->cv.notify_all();
  if (i.supervisor.joinable())
    i.supervisor.join();

  try {
    if (i.client->is_connected()) {
      if (!i.options.host_id.empty())
        i.client
          ->publish(i.state_topic(), impl::state_payload(false, i.state_timestamp), 1, true)
          ->wait_for(i.options.stop_timeout);
      i.client->disconnect(static_cast<int>(i.options.stop_timeout.count()))
        ->wait_for(i.options.stop_timeout + 1s);
    }
  } catch (const std::exception& e) {
    i.log->write("stop", std::string{"disconnect: "} + e.what());
  }
  i.set_up(false);
  // Paho may still be inside on_message: wait for it to leave.
  auto deadline = clock::now() + i.options.stop_timeout;
  while (i.callbacks_active > 0 && clock::now() < deadline)
    std::this_thread::sleep_for(5ms);

  std::unique_lock lk(i.fl->m);
  if (!i.fl->cv.wait_for(lk, i.options.stop_timeout, [&] { return i.fl->outstanding == 0; })) {
    std::fprintf(stderr, "twin-sparkplug: stop: %zu sink call(s) still outstanding after %lld ms\n",
                 i.fl->outstanding, static_cast<long long>(i.options.stop_timeout.count()));
  }
  // Late completions must not touch the registry, which may go away.
  i.fl->detached = true;
}

bool mqtt_host::connected() const noexcept {
  return impl_->up;
}

mqtt_host_stats mqtt_host::stats() const {
  mqtt_host_stats s;
  {
    std::lock_guard lk(impl_->stats_m);
    s = impl_->counters;
  }
  {
    std::lock_guard lk(impl_->handle_m);
    s.sparkplug = impl_->state.stats();
  }
  {
    std::lock_guard lk(impl_->fl->m);
    s.in_flight = impl_->fl->outstanding;
    s.ingest_failures = impl_->fl->failures;
  }
  s.connected = impl_->up;
  return s;
}

const tag_map& mqtt_host::map() const noexcept {
  return impl_->map;
}

} // namespace twin::sparkplug
