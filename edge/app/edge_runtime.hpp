#pragma once
// The twin-edge runtime: one Paho MQTT session per edge node (turbine), each
// owned by a publisher worker thread, and sampler threads that generate
// (or replays) every device's raw signal, extracts its features and hands
// them to the node's worker through a bounded drop-oldest queue, so a slow or
// absent broker never blocks feature computation.
//
// Threads: main (signals, status line), the samplers (devices sharded), one worker per edge
// node, and Paho's own threads. Paho callbacks only enqueue events for the
// worker; the worker alone touches its sparkplug_edge_node and its client.

#include <cstdint>
#include <string>
#include <vector>

#include "twin/edge/features.hpp"
#include "twin/edge/fleet.hpp"

namespace twin::edge::app {

struct edge_options {
  std::string mqtt_url = "tcp://127.0.0.1:1883";
  std::string ca_file;    ///< TLS trust store (PEM); ssl:// URLs
  std::string cert_file;  ///< client certificate (PEM)
  std::string key_file;   ///< client private key (PEM)
  fleet_shape fleet;
  double rate_hz = 2.0;              ///< DDATA per device per second, 1..10
  double sample_rate_hz = 10'000.0;  ///< of the raw signal
  std::size_t window = 4096;         ///< 0: the hop (sample_rate / rate)
  std::vector<band> bands;           ///< default_bands() when empty
  std::string source = "sim";        ///< sim | csv:PATH | wav:PATH
  double speedup = 1.0;              ///< wear time runs this much faster
  double initial_wear = -1.0;        ///< < 0: spread 0..0.5 per device from the seed
  std::uint64_t seed = 1;
  std::string client_id_prefix = "twin-edge";
  double duration_s = 0.0;           ///< 0: until SIGINT/SIGTERM
  std::size_t queue_capacity = 0;    ///< per edge node; 0: 8 x devices (min 16)
  double status_interval_s = 10.0;
  std::size_t sampler_threads = 0;   ///< 0: hardware threads (capped at devices)
  // Test hooks.
  std::uint64_t skip_seq_after = 0;       ///< 0 = off
  std::uint64_t publish_garbage_after = 0; ///< 0 = off
};

/// Runs the fleet until `duration_s` elapsed or SIGINT/SIGTERM arrives (it
/// blocks both in every thread and waits for them on the calling thread);
/// then publishes every node's NDEATH and disconnects. Returns the exit code
/// (0, or 1 when the signal source cannot be set up); prints the topics to
/// stdout, errors and status lines to stderr.
int run(const edge_options& options);

} // namespace twin::edge::app
