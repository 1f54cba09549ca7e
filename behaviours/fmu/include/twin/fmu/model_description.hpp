#pragma once
// modelDescription.xml of an FMI 3.0 or 2.0 Co-Simulation FMU, parsed into
// one version-neutral structure. Pure: parses from text, no file access.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "twin/error.hpp"

namespace twin::fmu {

enum class fmi_version { v2, v3 };

/// A value reference (fmi3ValueReference / fmi2ValueReference).
using value_reference = std::uint32_t;

/// The variable types this host reads and writes. Variables of other types
/// (Float32, Int64, Binary, Enumeration, ...) are parsed as `other` so that
/// `inspect` can list them, but cannot be accessed.
enum class value_type { float64, int32, boolean, string, other };

enum class causality {
  parameter,
  calculated_parameter,
  input,
  output,
  local,
  independent,
  structural_parameter
};

enum class variability { constant, fixed, tunable, discrete, continuous };

std::string_view to_string(fmi_version v) noexcept;
std::string_view to_string(value_type t) noexcept;
std::string_view to_string(causality c) noexcept;
std::string_view to_string(variability v) noexcept;

/// A value of one of the accessible types.
using value = std::variant<double, std::int32_t, bool, std::string>;

/// Text form of a value (numbers with full precision, booleans true/false).
std::string format_value(const value& v);

/// Parses `text` as a value of type `t` (Boolean: true/false/1/0).
/// Errors: bad_request when the text is not a valid value of that type or
/// the type is `other`.
expected<value> parse_value(value_type t, std::string_view text);

/// One scalar variable.
struct scalar_variable {
  std::string name;
  value_reference vr = 0;
  value_type type = value_type::other;
  /// The element name in the XML (e.g. "Float64", "Real", "Int64").
  std::string type_name;
  causality causality_ = causality::local;
  variability variability_ = variability::continuous;
  /// "exact", "approx", "calculated" or empty when not given.
  std::string initial;
  /// The start value as written in the XML, if any.
  std::optional<std::string> start;
  std::string description;
  std::string unit;
};

/// <DefaultExperiment>: each attribute is optional.
struct default_experiment {
  std::optional<double> start_time;
  std::optional<double> stop_time;
  std::optional<double> tolerance;
  std::optional<double> step_size;
};

/// <CoSimulation> capability flags this host looks at.
struct co_simulation_caps {
  std::string model_identifier;
  bool needs_execution_tool = false;
  bool can_handle_variable_communication_step_size = false;
  bool can_be_instantiated_only_once_per_process = false;
  bool can_get_and_set_fmu_state = false;
  bool can_serialize_fmu_state = false;
  /// FMI 3.0 only.
  bool has_event_mode = false;
  bool provides_intermediate_update = false;
  std::optional<double> fixed_internal_step_size;
};

struct model_description {
  fmi_version version = fmi_version::v3;
  /// The fmiVersion attribute as written ("3.0", "2.0").
  std::string fmi_version_text;
  std::string model_name;
  /// instantiationToken (3.0) or guid (2.0).
  std::string instantiation_token;
  std::string description;
  std::string generation_tool;
  /// Empty when the FMU has no <CoSimulation> element (Model Exchange only).
  std::optional<co_simulation_caps> co_simulation;
  default_experiment experiment;
  std::vector<scalar_variable> variables;

  /// The variable named `name`, or nullptr.
  const scalar_variable* find(std::string_view name) const noexcept;
  /// Variables with causality output, in document order.
  std::vector<const scalar_variable*> outputs() const;
  /// Variables with causality input, in document order.
  std::vector<const scalar_variable*> inputs() const;
};

/// Parses the text of a modelDescription.xml (FMI 3.0 or 2.0).
/// Errors (bad_request, the message naming the element and attribute):
/// malformed XML; root not <fmiModelDescription>; fmiVersion neither 2.x
/// nor 3.x; a missing required attribute (modelName, instantiationToken or
/// guid, a variable's name or valueReference); an unknown causality or
/// variability; a value reference or name used twice; a start value that
/// does not parse as its type; a non-numeric DefaultExperiment attribute.
expected<model_description> parse_model_description(std::string_view xml);

} // namespace twin::fmu
