#pragma once
// The Sparkplug B edge-node publisher core: session state (bdSeq, seq),
// NBIRTH/DBIRTH/DDATA/NDEATH payloads and the answer to a Rebirth NCMD.
// Pure: no MQTT, no clock (callers pass `now_ms`), no threads. The MQTT
// adapter (edge/app) publishes what it returns, in the order returned.
//
// Session rules (Sparkplug 3.0, ch. 5/6):
// - begin_session() starts an MQTT session: bdSeq is 0 for the first session
//   and +1 for every later one (mod 256, as the spec's bdSeq is 0..255). The
//   returned NDEATH is the will of that session and carries its bdSeq.
// - births(): NBIRTH with seq 0 and the same bdSeq, then one DBIRTH per
//   device; every later message (DBIRTH, DDATA) takes the next seq mod 256.
// - DDATA carries aliases only (no names, no datatypes); the DBIRTH carries
//   every metric's name, alias, datatype (Double) and current value.
// - handle_command(): an NCMD `Node Control/Rebirth = true` yields the
//   births again (seq restarts at 0, bdSeq unchanged within the session).
//
// Ownership: one instance per edge node, used by one thread (the node's
// publisher worker in twin-edge).

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "twin/error.hpp"
#include "twin/sparkplug/host_state.hpp"
#include "twin/sparkplug/payload.hpp"

namespace twin::edge {

/// A device of an edge node and the names of its metrics (all Double).
struct edge_device {
  std::string id;                   ///< Sparkplug device id, e.g. "Gearbox_BearingA"
  std::vector<std::string> metrics; ///< e.g. "vibrationRms"; unique within the device
};

struct edge_node_config {
  std::string group;     ///< Sparkplug group id, e.g. "PlantA"
  std::string edge_node; ///< edge node id, e.g. "Turbine07"
  std::vector<edge_device> devices;
  /// Extra NBIRTH metrics of type String, e.g. {"Node Info/Software", "twin-edge"}.
  std::vector<std::pair<std::string, std::string>> node_info;
};

/// The NBIRTH metric names the spec requires.
inline constexpr std::string_view bd_seq_metric = "bdSeq";
inline constexpr std::string_view rebirth_metric = "Node Control/Rebirth";

class sparkplug_edge_node {
public:
  /// Validates the config: non-empty group/edge node/device ids without
  /// '/', '+', '#'; unique device ids; metric names non-empty and unique per
  /// device; node_info names unique and not bdSeq/Rebirth. bad_request
  /// (rule "edge.sparkplug") otherwise. Current values start at 0.0.
  static expected<sparkplug_edge_node> create(edge_node_config config);

  /// Starts a new MQTT session (bdSeq 0 first, then +1) and returns its
  /// will: the NDEATH with metric bdSeq (UInt64) of this session.
  sparkplug::outgoing_message begin_session(std::uint64_t now_ms);

  /// NBIRTH (seq 0, bdSeq of the session, Node Control/Rebirth = false,
  /// node_info) followed by one DBIRTH per device, in device order.
  /// errc::unavailable (rule "edge.session") before begin_session().
  expected<std::vector<sparkplug::outgoing_message>> births(std::uint64_t now_ms);

  /// Records a device's current values (metric order) without publishing.
  /// bad_request on a bad device index or a value count mismatch.
  status set_values(std::size_t device, std::span<const double> values);

  /// Records the values and returns the DDATA (aliases only, next seq).
  /// Errors as set_values; errc::unavailable before births() of this session.
  expected<sparkplug::outgoing_message> data(std::size_t device, std::span<const double> values,
                                             std::uint64_t now_ms);

  /// The NDEATH of the current session (to publish explicitly on shutdown).
  /// errc::unavailable before begin_session().
  expected<sparkplug::outgoing_message> death(std::uint64_t now_ms) const;

  /// Handles a message received on the node's NCMD topic. A `Node
  /// Control/Rebirth` metric with value true -> births(); a command without
  /// it (or Rebirth false) -> empty. bad_request for a topic that is not
  /// this node's NCMD or a payload that does not decode; the errors of
  /// births() otherwise.
  expected<std::vector<sparkplug::outgoing_message>>
  handle_command(std::string_view mqtt_topic, std::span<const std::uint8_t> payload,
                 std::uint64_t now_ms);

  /// Test hook: the next message skips one seq value (forces a gap at hosts).
  void skip_seq() noexcept { ++seq_; }

  /// bdSeq of the current session (meaningful once a session began).
  std::uint64_t bd_seq() const noexcept { return bd_seq_; }
  bool in_session() const noexcept { return sessions_ > 0; }
  /// The seq the next DBIRTH/DDATA will carry.
  std::uint8_t next_seq() const noexcept { return seq_; }
  /// The alias of metric `metric` of device `device` (unique per edge node).
  std::uint64_t alias(std::size_t device, std::size_t metric) const noexcept;
  const edge_node_config& config() const noexcept { return config_; }

  /// Topics: spBv1.0/<group>/<TYPE>/<edge_node>[/<device>].
  std::string node_topic(sparkplug::message_type type) const;
  std::string device_topic(sparkplug::message_type type, std::size_t device) const;

private:
  explicit sparkplug_edge_node(edge_node_config config);

  edge_node_config config_;
  std::vector<std::vector<double>> values_; // per device, per metric
  std::uint64_t sessions_ = 0;
  std::uint64_t bd_seq_ = 0;
  std::uint8_t seq_ = 0;
  bool born_ = false; // births() ran in this session
};

} // namespace twin::edge
