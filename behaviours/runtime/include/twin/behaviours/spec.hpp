#pragma once
// Behaviour binding specs: what `PUT /twins/{id}/behaviours/{name}` carries
// and the twin document keeps under "$behaviours": {name: spec}. Pure: the
// JSON is checked and parsed here, errors name the bad field by JSON pointer
// (bad_request, rule "behaviour-spec"). See behaviours/runtime/README.md.

#include <cstddef>
#include <optional>
#include <ostream>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include <nlohmann/json.hpp>

#include "twin/error.hpp"

namespace twin::behaviours {

using json = nlohmann::json;

enum class behaviour_kind { fmu, anomaly, forecast };

/// "fmu", "anomaly", "forecast".
std::string_view to_string(behaviour_kind k) noexcept;

inline std::ostream& operator<<(std::ostream& os, behaviour_kind k) {
  return os << to_string(k);
}

/// When an FMU binding steps.
struct trigger_spec {
  enum class mode { update, period };
  mode on = mode::update;
  /// mode update: the twin names whose update makes it step (default: every
  /// mapped input).
  std::vector<std::string> names;
  /// mode period: seconds of wall time between steps.
  double period_s = 0.0;
};

/// {"kind": "fmu", ...}.
struct fmu_binding {
  /// As written: absolute, or relative to the node's --fmu-dir.
  std::string fmu;
  /// FMU input variable -> twin telemetry/property name, in spec order.
  std::vector<std::pair<std::string, std::string>> inputs;
  /// FMU output variable -> twin property name.
  std::vector<std::pair<std::string, std::string>> outputs;
  /// FMU parameter -> value (number, boolean or string), set before
  /// initialization.
  json parameters = json::object();
  /// Twin names that must have a value before the FMU is initialized
  /// (default: every mapped input).
  std::vector<std::string> required;
  /// Communication step (simulated seconds): the longest single doStep.
  double step_s = 1.0;
  trigger_spec trigger;
  /// Simulated seconds per second of source time.
  double time_scale = 1.0;
  /// "in-process" (trusted FMUs) instead of the default "worker".
  bool in_process = false;
};

/// {"kind": "anomaly", ...}.
struct anomaly_binding {
  std::string version = "1.0.0";
  std::vector<std::string> features;
  /// Train on the first N complete samples seen after attach ...
  std::size_t training_samples = 0;
  /// ... or on the history between these (RFC 3339 or epoch ms).
  std::string training_from;
  std::string training_to;
  /// Overrides the model's calibrated threshold on the distance.
  std::optional<double> threshold;
  std::string output = "anomalyScore";
  /// The trained model (twin_ml JSON) once trained; null before.
  json trained;
};

/// {"kind": "forecast", ...}.
struct forecast_binding {
  std::string version = "1.0.0";
  std::string indicator;
  double limit = 1.0;
  /// Failure when the indicator rises to the limit ("above", default) or
  /// falls to it ("below").
  bool above = true;
  /// Property that receives the RUL; empty: none (alerts only).
  std::string output;
  double horizon_days = 30.0;
  /// RUL below this raises a critical alert (default horizon / 3).
  double critical_days = 10.0;
  /// Simulated seconds per second of source time (to match an FMU's
  /// timeScale): RUL is in simulated time.
  double time_scale = 1.0;
  /// Unit of the output: "days" (default), "hours" or "seconds".
  std::string time_unit = "days";
  /// "linear" (least squares on the last `window` points) or "holt".
  std::string method = "linear";
  std::size_t window = 120;
  std::size_t min_points = 10;
  /// Re-arm the alert once RUL is above horizon * (1 + hysteresis).
  double hysteresis = 0.1;
};

/// A parsed binding.
struct binding {
  std::string name;
  behaviour_kind kind = behaviour_kind::fmu;
  /// The twin model DTMI (with version) the binding was written for.
  std::string model;
  /// The spec as given (compare to see whether it changed).
  json spec;
  std::variant<fmu_binding, anomaly_binding, forecast_binding> detail;

  const fmu_binding* fmu() const { return std::get_if<fmu_binding>(&detail); }
  const anomaly_binding* anomaly() const { return std::get_if<anomaly_binding>(&detail); }
  const forecast_binding* forecast() const { return std::get_if<forecast_binding>(&detail); }
};

/// 1..64 of [A-Za-z0-9._-].
bool valid_behaviour_name(std::string_view name) noexcept;

/// Checks and parses a spec. Errors: bad_request, rule "behaviour-spec",
/// path the JSON pointer of the bad field (e.g. "/inputs/load"), message
/// naming the behaviour, the field and what was expected.
expected<binding> parse_binding(const std::string& name, const json& spec);

/// The check every behaviour makes before running on a twin: the spec's
/// model must equal the twin's model DTMI. Error: binding_model_mismatch.
status check_model(const binding& b, const std::string& twin_model);

} // namespace twin::behaviours
