#pragma once
// The pure decisions of the behaviour runtime: which inputs a binding has,
// whether it may initialize (every required input has a value: no silent
// zero on a first read), whether an update triggers a step, how a span of
// simulated time is cut into communication steps, and when a value crossing
// a level raises an alert (once per crossing, with hysteresis).

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "twin/behaviours/spec.hpp"

namespace twin::behaviours {

/// The latest value of one twin name, with where it came from.
struct input_value {
  nlohmann::json value;
  std::uint64_t revision = 0;  ///< twin revision that set it
  std::int64_t time_ms = 0;    ///< its source time
};

/// The latest values of a binding's inputs.
class input_tracker {
public:
  input_tracker(std::vector<std::string> watched, std::vector<std::string> required);

  /// Records a value if `name` is watched; returns whether it was.
  bool observe(const std::string& name, const nlohmann::json& value, std::uint64_t revision,
               std::int64_t time_ms);
  /// Every required name has a (non-null) value.
  bool ready() const;
  /// The required names without a value yet.
  std::vector<std::string> missing() const;
  const input_value* get(const std::string& name) const;

private:
  std::vector<std::string> watched_;
  std::vector<std::string> required_;
  std::map<std::string, input_value> values_;
};

/// Whether an update of `updated` (twin names) steps a binding with this
/// trigger (mode update: any of trigger.names; mode period: never).
bool triggers(const trigger_spec& trigger, const std::vector<std::string>& updated);

/// Cuts `span` simulated seconds into n equal steps no longer than `step`
/// (at most `max_steps`; beyond that the steps get longer). n = 0 when
/// span <= 0.
struct step_plan {
  int n = 0;
  double h = 0.0;
};
step_plan plan_steps(double span, double step, int max_steps = 1000);

/// An alarm on a value crossing a level, raised once per crossing.
/// falling: raised when value < level (RUL below a horizon); rising: when
/// value > level (anomaly score above a threshold). Re-armed when the value
/// is back beyond level * (1 ± hysteresis) or unknown (nullopt: e.g. no
/// crossing predicted). A second, critical level escalates once.
class level_alarm {
public:
  enum class direction { falling, rising };
  level_alarm(direction d, double level, double critical_level, double hysteresis);

  /// Feeds one value; returns "warning" or "critical" when an alert is due.
  std::optional<std::string> update(std::optional<double> value);
  bool raised() const noexcept { return raised_ != 0; }

private:
  bool beyond(double v, double level) const noexcept;
  direction dir_;
  double level_;
  double critical_;
  double hysteresis_;
  int raised_ = 0; // 0 armed, 1 warning raised, 2 critical raised
};

/// Milliseconds since the epoch of an RFC 3339 time ("2026-11-25T12:00:00.123Z",
/// offsets allowed) or of a decimal string of milliseconds.
std::optional<std::int64_t> parse_time_ms(const std::string& text);
/// RFC 3339 UTC with milliseconds.
std::string format_time_ms(std::int64_t ms);

/// The names and values an event of the change stream sets: its "changes"
/// (properties) and "telemetry", as one object.
nlohmann::json event_values(const nlohmann::json& event);

} // namespace twin::behaviours
