#pragma once
// The port between the Sparkplug host (transport layer) and the fabric: the
// host calls a host_sink; twin-node implements it on top of the actors.
// Plain values only: no MQTT, no actor types.

#include <cstdint>
#include <functional>
#include <string>

#include <nlohmann/json.hpp>

#include "twin/error.hpp"
#include "twin/origin.hpp"

namespace twin::sparkplug {

/// One twin's values from one Sparkplug message (live metrics), or from one
/// timestamp of its historical metrics. One batch = one fabric event.
struct ingest_batch {
  std::string twin;
  /// {name: converted value, ...} (tag map names, converted units).
  nlohmann::json values = nlohmann::json::object();
  /// The newest metric timestamp in the batch (ms since the Unix epoch).
  std::int64_t source_time_ms = 0;
  /// "spBv1.0/<group>/<edge node>/<device>" ("spBv1.0/<group>/<edge node>"
  /// for node metrics).
  std::string source;
  /// "tagmap/<tag map version>".
  std::string pipeline_version;
  /// The provenance, in two parts (twin/origin.hpp): per message {"seq",
  /// "bdSeq", "metrics":{name: Sparkplug metric name} (renamed ones only)}
  /// over origin_base, shared by every batch of the device (and message type):
  /// {"protocol":"sparkplugB","group","edgeNode","device","messageType",
  /// "historical":bool}. full_origin() is the whole.
  nlohmann::json origin = nlohmann::json::object();
  shared_origin origin_base;
  nlohmann::json full_origin() const { return merged_origin(origin, origin_base); }
  /// True for a batch of is_historical metrics (older than live data).
  bool historical = false;
};

/// A twin's connectivity changed (an edge node or device died or was born).
struct connectivity_change {
  std::string twin;
  bool online = false;
  /// e.g. "NDEATH PlantA/Turbine07", "DBIRTH PlantA/Turbine07/Gearbox".
  std::string reason;
  /// When the host saw it (ms since the Unix epoch).
  std::int64_t time_ms = 0;
};

/// Completion of a sink call; may run on any thread, at most once, possibly
/// inside the call itself.
using sink_done = std::function<void(const twin::status&)>;

/// Where the host delivers what it ingests. Implementations must be
/// thread-safe and must not block for long: calls come from the MQTT
/// callback thread, which the host throttles itself (max_in_flight) by
/// counting calls whose `done` has not run yet. Every call must eventually
/// run `done` (with ok() or the rejection).
class host_sink {
public:
  virtual ~host_sink() = default;
  virtual void ingest(ingest_batch b, sink_done done) = 0;
  virtual void connectivity(const std::string& twin, bool online, std::string reason,
                            std::int64_t time_ms, sink_done done) = 0;
};

} // namespace twin::sparkplug
