#pragma once
// Naming of a simulated twin-edge fleet (edge nodes Turbine01..NN, devices
// Gearbox_BearingA..), the fixed per-device metric names, `--band` parsing,
// twin-id patterns and the tag map the fleet needs at the ingest side.
// Pure functions.

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "twin/edge/features.hpp"
#include "twin/error.hpp"

namespace twin::edge {

/// The default bands: 10:1000:bandEnergyLow, 1000:3000:bandEnergyMid,
/// 3000:5000:bandEnergyHigh (Hz).
std::vector<band> default_bands();

/// Parses "LO:HI:NAME" (Hz, 0 <= LO < HI, NAME non-empty, [A-Za-z0-9_]).
/// bad_request (rule "edge.band") otherwise.
expected<band> parse_band(std::string_view spec);

/// The metric names of one device, in publishing order: vibrationRms,
/// vibrationPeak, crestFactor, kurtosis, <band names...>, temperature, load,
/// shaftSpeed.
std::vector<std::string> device_metric_names(const std::vector<band>& bands);

/// Values in the order of device_metric_names(): features, then temperature
/// (degC), load (N) and shaft speed (rpm).
std::vector<double> device_metric_values(const features& f, double temperature_c,
                                         double load_n, double shaft_rpm);

struct fleet_shape {
  std::string group = "PlantA";
  int turbines = 1;            ///< edge nodes, 1..999
  int devices_per_turbine = 1; ///< devices per edge node, 1..26
  /// Placeholders: {group} {edge_node} {device_id} {turbine} {device}
  /// (1-based numbers; {turbine:02} pads with zeros to 2 digits) and
  /// {device_letter} (a, b, ...). The result is lower-cased.
  std::string twin_id_pattern = "turbine{turbine:02}-bearing-{device_letter}";
};

/// Checks the ranges above and the pattern (known placeholders, balanced braces).
status validate(const fleet_shape& shape);

/// "Turbine07" for turbine 7 (1-based); at least two digits, more when the
/// fleet has 100 or more turbines.
std::string edge_node_name(int turbine, int turbines);
/// "Gearbox_BearingA" for device 0.
std::string device_name(int device);

/// The twin id of device `device` (0-based) of turbine `turbine` (1-based).
/// bad_request (rule "edge.twin_id_pattern") for an unknown placeholder.
expected<std::string> twin_id(const fleet_shape& shape, int turbine, int device);

/// "twin-edge-<group>-<turbines>x<devices>", the default tag map version.
std::string default_tagmap_version(const fleet_shape& shape);

/// The tag map (JSON, pretty-printed): {"version": ..., "mappings": [one
/// per (turbine, device, metric) with group, edgeNode, device, metric,
/// twin, name = metric, scale 1.0, offset 0.0]}.
expected<std::string> make_tag_map(const fleet_shape& shape,
                                   const std::vector<std::string>& metrics,
                                   const std::string& version);

} // namespace twin::edge
