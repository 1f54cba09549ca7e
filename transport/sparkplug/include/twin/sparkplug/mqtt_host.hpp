#pragma once
// The Sparkplug B host application over MQTT (Paho MQTT C++ async client):
// subscribes to the configured groups, feeds every message to host_state,
// routes the result through the tag map to a host_sink, requests rebirths,
// and publishes its Sparkplug 3.0 STATE. Library: twin_sparkplug_host.
//
// Threads: start() creates a supervisor thread that (re)connects with
// backoff; messages are handled on Paho's callback thread, which is also
// the only thread that calls the sink (and blocks there when max_in_flight
// sink calls are outstanding: backpressure down to TCP). stats(),
// connected() and stop() may be called from any thread.

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "twin/error.hpp"
#include "twin/sparkplug/host_sink.hpp"
#include "twin/sparkplug/host_state.hpp"
#include "twin/sparkplug/tag_map.hpp"

namespace prometheus {
class Registry;
}

namespace twin::sparkplug {

struct mqtt_host_options {
  /// Broker URLs, tried in order on every (re)connect: tcp://, mqtt://
  /// (plain) or ssl://, mqtts:// (TLS), "host:port" after the scheme.
  /// Required.
  std::vector<std::string> urls;
  /// MQTT client id; default "twin-sparkplug-<host_id or pid>".
  std::string client_id;
  /// Sparkplug groups to subscribe (`spBv1.0/<group>/#` each); empty = all
  /// groups (`spBv1.0/#`).
  std::vector<std::string> groups;
  /// 3 = MQTT 3.1.1 (also accepts 4, its protocol level), 5 = MQTT 5.
  int mqtt_version = 5;
  /// TLS: CA bundle (PEM) to verify the broker. Required with ssl/mqtts.
  std::string ca_file;
  /// TLS client certificate (PEM) and its private key: both or neither.
  std::string cert_file;
  std::string key_file;
  /// Passphrase of key_file, if encrypted.
  std::string key_password;
  /// Verify the broker certificate's host name (and chain, always).
  bool verify_hostname = true;
  /// Optional MQTT credentials.
  std::string username;
  std::string password;
  /// MQTT keep-alive.
  std::chrono::seconds keepalive{30};
  /// Connect attempt timeout.
  std::chrono::milliseconds connect_timeout{5000};
  /// Reconnect backoff: doubles from min to max after each failed attempt.
  std::chrono::milliseconds reconnect_min{250};
  std::chrono::milliseconds reconnect_max{10000};
  /// Sink calls (ingest + connectivity) allowed outstanding (done not yet
  /// run); at the limit the MQTT callback thread waits. >= 1. Each twin
  /// has one store write in flight and batches what arrives meanwhile, so
  /// a window of several messages per twin lets group commits grow: 4096
  /// (a fleet of 1000 twins) carried 24 % more through mosquitto than 256
  /// (bench/README.md, session 10). twin-node: --mqtt-max-in-flight.
  std::size_t max_in_flight = 4096;
  /// QoS of the rebirth NCMDs (0 or 1; Sparkplug uses 0).
  int rebirth_qos = 0;
  /// Sparkplug 3.0 host id: publishes retained QoS 1
  /// `spBv1.0/STATE/<host_id>` {"online":true,"timestamp":T} after each
  /// connect, with the same topic {"online":false,"timestamp":T} as the MQTT
  /// will and on stop(). Empty = no STATE.
  std::string host_id;
  /// host_state options (decode limits, rebirth rate limit).
  host_options sparkplug;
  /// How long stop() waits for the STATE publish, the disconnect and the
  /// outstanding sink calls (each).
  std::chrono::milliseconds stop_timeout{5000};
  /// Log lines (stderr) are limited to one per reason per this interval,
  /// with the count of the ones left out.
  std::chrono::milliseconds log_interval{10000};
};

/// Counters since start().
struct mqtt_host_stats {
  host_stats sparkplug;               ///< host_state's counters (messages, drops by reason)
  std::uint64_t batches = 0;          ///< ingest calls made
  std::uint64_t metrics_applied = 0;  ///< mapped values delivered in batches
  std::uint64_t unmapped = 0;         ///< metrics with no tag map entry
  std::uint64_t unsupported_values = 0;  ///< mapped but not convertible (bytes, NaN)
  std::uint64_t connectivity_changes = 0;
  std::uint64_t ingest_failures = 0;  ///< sink calls done with an error
  std::uint64_t rebirths_published = 0;
  std::uint64_t publish_failures = 0;
  std::uint64_t connects = 0;         ///< successful connects (first included)
  std::uint64_t reconnects = 0;       ///< successful connects after the first
  std::uint64_t connect_failures = 0;
  std::uint64_t backpressure_waits = 0;
  std::uint64_t in_flight = 0;        ///< sink calls outstanding now
  bool connected = false;
};

/// The running host. Owns the MQTT client and its threads; the tag map is
/// copied in; the sink and the registry must outlive the host (and the
/// sink's pending `done` calls for up to stop_timeout).
class mqtt_host {
public:
  /// Validates `options` (URLs and schemes, TLS files exist and are
  /// readable, ssl/mqtts needs ca_file, cert and key together, TLS files only
  /// with a TLS URL, mqtt_version 3/4/5, group ids valid, max_in_flight >= 1,
  /// backoff min <= max, rebirth_qos 0/1): errc::bad_request naming the
  /// option. Then creates the client and connects in the background: a
  /// broker that is down is retried with backoff (logged), not an error.
  /// Metrics go to `registry` when it is not null.
  static expected<std::unique_ptr<mqtt_host>> start(mqtt_host_options options, tag_map map,
                                                    host_sink& sink,
                                                    prometheus::Registry* registry = nullptr);

  /// stop().
  ~mqtt_host();
  mqtt_host(const mqtt_host&) = delete;
  mqtt_host& operator=(const mqtt_host&) = delete;

  /// Publishes STATE offline (when connected and host_id is set),
  /// disconnects, stops reconnecting and waits up to stop_timeout for
  /// outstanding sink calls. Idempotent. Messages still arriving are dropped
  /// (counted as dropped{reason="shutdown"}).
  void stop();

  /// Whether the MQTT session is up (connected and subscribed).
  bool connected() const noexcept;
  mqtt_host_stats stats() const;
  const tag_map& map() const noexcept;

  struct impl;

private:
  explicit mqtt_host(std::unique_ptr<impl> impl);
  std::unique_ptr<impl> impl_;
};

/// Checks options as start() does, without connecting.
twin::status validate(const mqtt_host_options& options);

/// Paho C keeps an in-memory trace whose default level (TRACE_MINIMUM)
/// formats an entry with vsnprintf for every packet sent or received, ~2 %
/// of an ingesting process's CPU; this sets it, process-wide, to errors
/// only. start() calls it; other Paho clients of the project (twin-edge,
/// the benchmarks) call it before creating theirs.
void paho_trace_errors_only();

} // namespace twin::sparkplug
