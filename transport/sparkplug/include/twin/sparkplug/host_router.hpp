#pragma once
// The pure step between host_state and the sink: turns one message's actions
// into sink operations through the tag map (batches per twin, unit
// conversion, lineage, connectivity of the mapped twins). No MQTT, no clock.
// Not thread-safe: one instance next to its host_state.

#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <variant>
#include <vector>

#include "twin/sparkplug/host_sink.hpp"
#include "twin/sparkplug/host_state.hpp"
#include "twin/sparkplug/tag_map.hpp"

namespace twin::sparkplug {

using sink_operation = std::variant<ingest_batch, connectivity_change>;

/// What to do for one MQTT message.
struct routed_message {
  /// In delivery order: connectivity changes first, then historical batches
  /// (oldest first), then the live batches (one per twin, in the order of
  /// their first metric).
  std::vector<sink_operation> operations;
  std::vector<rebirth_action> rebirths;
  /// host_state's drops, plus "unsupported_value" for metrics the tag map
  /// maps but whose value cannot be converted (bytes, NaN).
  std::vector<dropped_action> drops;
  std::uint64_t metrics_applied = 0;  ///< mapped values placed in a batch
  std::uint64_t unmapped = 0;         ///< metrics with no mapping
  std::uint64_t null_values = 0;      ///< mapped metrics that were null (skipped)
  std::uint64_t control_metrics = 0;  ///< bdSeq, Node Control/*, Device Control/*: not data
  /// "group/edge/device/metric" of the first unmapped metric (for logs).
  std::string first_unmapped;
};

/// True for Sparkplug session metrics that are not process data and are
/// never counted as unmapped unless the tag map maps them: "bdSeq",
/// "Node Control/*", "Device Control/*".
bool is_control_metric(std::string_view name) noexcept;

class host_router {
public:
  /// `map` must outlive the router.
  explicit host_router(const tag_map& map);

  /// Routes the actions host_state returned for the message on `mqtt_topic`.
  /// `now_ms` stamps connectivity changes. A twin's connectivity is reported
  /// only when it changes (per message the last state wins; across messages
  /// repeats are suppressed).
  routed_message route(std::string_view mqtt_topic, std::vector<action> actions,
                       std::int64_t now_ms);

  /// Forget the connectivity known per twin (so that the next BIRTH/DEATH is
  /// reported even if it repeats the last state).
  void reset_connectivity() { online_.clear(); }

private:
  const tag_map& map_;
  std::string pipeline_version_;
  std::unordered_map<std::string, bool> online_;
  struct cached_origin {
    std::string_view message_type;  ///< to_string(message_type): static storage
    bool historical = false;
    shared_origin base;
  };
  struct device_cache {
    // The mapping found at each metric position of the device's last
    // message (nullptr: none), for as many positions as the device has
    // mappings. A position's mapping serves only a metric of its name, so
    // the cache is never stale (and depends on the immutable map alone).
    std::vector<const tag_mapping*> positions;
    // The shared origin members of its batches, per message type and kind
    // (they depend on the map's device and the message type alone).
    std::vector<cached_origin> origins;
  };
  std::unordered_map<const tag_map::device_metrics*, device_cache> recent_;
};

} // namespace twin::sparkplug
