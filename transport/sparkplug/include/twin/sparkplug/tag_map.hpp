#pragma once
// The tag map: which Sparkplug metric feeds which twin property or telemetry,
// with an optional linear unit conversion. A versioned JSON file:
//
//   {"version": "2026.11.1",
//    "mappings": [{"group": "PlantA", "edgeNode": "Turbine07",
//                  "device": "Gearbox_BearingA", "metric": "vibrationRms",
//                  "twin": "turbine07-bearing-a", "name": "vibrationRms",
//                  "scale": 1.0, "offset": 0.0}]}
//
// `device` is "" (or absent) for node-level metrics; `scale` (default 1) and
// `offset` (default 0) are optional. Immutable once built: safe to share
// between threads for reading.

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include <nlohmann/json.hpp>

#include "twin/error.hpp"
#include "twin/sparkplug/payload.hpp"

namespace twin::sparkplug {

/// One metric → twin mapping.
struct tag_mapping {
  std::string group;
  std::string edge_node;
  std::string device;  ///< "" for node-level metrics
  std::string metric;  ///< the metric name as in the BIRTH
  std::string twin;    ///< twin id
  std::string name;    ///< property or telemetry name in the twin
  double scale = 1.0;  ///< value' = value * scale + offset
  double offset = 0.0;

  /// scale == 1 and offset == 0: integers stay integers.
  bool is_identity() const noexcept { return scale == 1.0 && offset == 0.0; }
  friend bool operator==(const tag_mapping&, const tag_mapping&) = default;
};

/// The outcome of converting one metric value.
struct converted_value {
  enum class kind {
    value,       ///< `value` holds the converted JSON value
    null,        ///< the metric is null: skip it (not an error)
    unsupported  ///< cannot be represented (bytes, non-finite number); `detail` says why
  };
  kind outcome = kind::value;
  nlohmann::json value;
  std::string detail;
};

/// Converts a Sparkplug value for a mapping: numbers → double·scale+offset
/// (integers stay integers when the mapping is the identity; Float is
/// widened through its shortest decimal form, so 0.1f gives 0.1); booleans
/// and strings unchanged (scale/offset ignored); null → kind::null; bytes,
/// NaN/±inf inputs or results → kind::unsupported.
converted_value convert_value(const tag_mapping& m, const metric_value& v);

/// The parsed, indexed tag map. Lookups allocate nothing.
class tag_map {
public:
  /// An empty map with version "" (maps nothing).
  tag_map();

  /// Parses the JSON text. Errors (errc::bad_request) name the place:
  /// "mappings[3].twin: missing", "mappings[2]: duplicate of mappings[0]
  /// (PlantA/Turbine07/Gearbox/rpm)", "mappings[1].scale: not finite",
  /// "version: must be a non-empty string", "not JSON: ...". Unknown keys
  /// are errors too (a typo must not silently drop a conversion); the error
  /// `path` is the JSON pointer (e.g. "/mappings/3/twin").
  static expected<tag_map> parse(std::string_view json_text);
  /// As parse(), from a JSON value.
  static expected<tag_map> from_json(const nlohmann::json& doc);
  /// Reads and parses a file; an unreadable file is errc::bad_request naming it,
  /// and parse errors are prefixed with the file name.
  static expected<tag_map> load(const std::filesystem::path& file);

  /// The map's "version" string.
  const std::string& version() const noexcept { return version_; }
  /// Every mapping, in file order.
  const std::vector<tag_mapping>& mappings() const noexcept { return mappings_; }
  std::size_t size() const noexcept { return mappings_.size(); }

  /// The mapping of a metric, or nullptr. O(1), no allocation.
  const tag_mapping* find(std::string_view group, std::string_view edge_node,
                          std::string_view device, std::string_view metric) const noexcept;

  /// The mappings of one (group, edge node, device), by metric name: the
  /// router resolves the device once per message, then each metric with
  /// one string hash instead of four.
  class device_metrics {
  public:
    /// How many metrics are mapped under the device.
    std::size_t size() const noexcept { return by_name_.size(); }

  private:
    friend class tag_map;
    struct name_hash {
      using is_transparent = void;
      std::size_t operator()(std::string_view s) const noexcept {
        return std::hash<std::string_view>{}(s);
      }
    };
    // metric name → index into mappings_ (indices survive copies).
    std::unordered_map<std::string, std::size_t, name_hash, std::equal_to<>> by_name_;
  };

  /// The metrics mapped under (group, edge node, device), or nullptr when
  /// none is. O(1), no allocation.
  const device_metrics* find_device(std::string_view group, std::string_view edge_node,
                                    std::string_view device) const noexcept;
  /// The mapping of `metric` under a device from find_device(), or nullptr.
  const tag_mapping* find(const device_metrics& device, std::string_view metric) const noexcept;

  /// The twins (sorted, unique) mapped under an edge node's device; with
  /// `device` empty, every twin mapped under the edge node, its node-level
  /// metrics and all its devices. Empty when none. No allocation.
  const std::vector<std::string>& twins_of(std::string_view group, std::string_view edge_node,
                                           std::string_view device = {}) const noexcept;
  /// The twins (sorted, unique) fed by the edge node's own (device "")
  /// metrics only.
  const std::vector<std::string>& node_level_twins(std::string_view group,
                                                   std::string_view edge_node) const noexcept;

  /// A 4-part key: (group, edge node, device, metric); unused parts empty.
  struct key_view {
    std::string_view a, b, c, d;
    friend bool operator==(const key_view&, const key_view&) = default;
  };
  struct key {
    std::string a, b, c, d;
    operator key_view() const noexcept { return {a, b, c, d}; }
  };
  struct key_hash {
    using is_transparent = void;
    std::size_t operator()(const key_view& k) const noexcept;
    std::size_t operator()(const key& k) const noexcept { return (*this)(key_view(k)); }
  };
  struct key_eq {
    using is_transparent = void;
    bool operator()(const key_view& x, const key_view& y) const noexcept { return x == y; }
  };

private:
  std::string version_;
  std::vector<tag_mapping> mappings_;
  // (group, edge node, device) → its metrics (the one index of mappings).
  std::unordered_map<key, device_metrics, key_hash, key_eq> by_device_;
  // (group, edge node, device) → twins; device "" = the whole edge node.
  std::unordered_map<key, std::vector<std::string>, key_hash, key_eq> twins_;
  // (group, edge node) → twins of node-level metrics.
  std::unordered_map<key, std::vector<std::string>, key_hash, key_eq> node_twins_;
};

} // namespace twin::sparkplug
