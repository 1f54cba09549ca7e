// modelDescription.xml parser (pugixml), FMI 3.0 and 2.0.

#include "twin/fmu/model_description.hpp"

#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <set>

#include <pugixml.hpp>

namespace twin::fmu {

namespace {

constexpr const char* rule = "fmu.model_description";

error bad(std::string message) {
  return make_error(errc::bad_request, "modelDescription.xml: " + std::move(message), rule);
}

std::optional<double> to_double(std::string_view s) {
  std::string text{s};
  if (text.empty())
    return std::nullopt;
  char* end = nullptr;
  double d = std::strtod(text.c_str(), &end);
  if (end != text.c_str() + text.size())
    return std::nullopt;
  return d;
}

bool attr_bool(const pugi::xml_node& n, const char* name) {
  std::string_view v = n.attribute(name).value();
  return v == "true" || v == "1";
}

status optional_double(const pugi::xml_node& n, const char* name, std::optional<double>& out) {
  auto a = n.attribute(name);
  if (!a)
    return ok();
  auto d = to_double(a.value());
  if (!d)
    return bad("<" + std::string{n.name()} + "> attribute " + name + "=\"" + a.value()
               + "\" is not a number");
  out = d;
  return ok();
}

std::optional<causality> parse_causality(std::string_view s) {
  if (s == "parameter") return causality::parameter;
  if (s == "calculatedParameter") return causality::calculated_parameter;
  if (s == "input") return causality::input;
  if (s == "output") return causality::output;
  if (s == "local") return causality::local;
  if (s == "independent") return causality::independent;
  if (s == "structuralParameter") return causality::structural_parameter;
  return std::nullopt;
}

std::optional<variability> parse_variability(std::string_view s) {
  if (s == "constant") return variability::constant;
  if (s == "fixed") return variability::fixed;
  if (s == "tunable") return variability::tunable;
  if (s == "discrete") return variability::discrete;
  if (s == "continuous") return variability::continuous;
  return std::nullopt;
}

value_type type_of(fmi_version v, std::string_view element) {
  if (v == fmi_version::v3) {
    if (element == "Float64") return value_type::float64;
    if (element == "Int32") return value_type::int32;
    if (element == "Boolean") return value_type::boolean;
    if (element == "String") return value_type::string;
  } else {
    if (element == "Real") return value_type::float64;
    if (element == "Integer") return value_type::int32;
    if (element == "Boolean") return value_type::boolean;
    if (element == "String") return value_type::string;
  }
  return value_type::other;
}

bool is_fmi3_variable_element(std::string_view n) {
  static const std::set<std::string_view> names{
    "Float32", "Float64", "Int8",   "UInt8",  "Int16",  "UInt16", "Int32",
    "UInt32",  "Int64",   "UInt64", "Boolean", "String", "Binary", "Enumeration", "Clock"};
  return names.count(n) != 0;
}

// Reads the attributes common to both versions from `attrs` (the
// <ScalarVariable> in 2.0, the typed element in 3.0) and the type and start
// from `typed`.
expected<scalar_variable> parse_variable(fmi_version ver, const pugi::xml_node& attrs,
                                         const pugi::xml_node& typed, std::size_t index) {
  scalar_variable v;
  const std::string where = "<" + std::string{attrs.name()} + "> #" + std::to_string(index);
  auto name = attrs.attribute("name");
  if (!name || !*name.value())
    return bad(where + ": attribute name is missing");
  v.name = name.value();
  const std::string at = "<" + std::string{attrs.name()} + " name=\"" + v.name + "\">";
  auto vr = attrs.attribute("valueReference");
  if (!vr)
    return bad(at + ": attribute valueReference is missing");
  std::string_view vr_text = vr.value();
  auto [p, ec] = std::from_chars(vr_text.data(), vr_text.data() + vr_text.size(), v.vr);
  if (ec != std::errc{} || p != vr_text.data() + vr_text.size())
    return bad(at + ": attribute valueReference=\"" + std::string{vr_text}
               + "\" is not an unsigned 32-bit integer");
  std::string_view caus = attrs.attribute("causality").as_string("local");
  auto c = parse_causality(caus);
  if (!c)
    return bad(at + ": unknown causality \"" + std::string{caus} + "\"");
  v.causality_ = *c;
  v.type_name = typed.name();
  v.type = type_of(ver, v.type_name);
  std::string_view def_var = v.type == value_type::float64 ? "continuous" : "discrete";
  std::string_view var_text = attrs.attribute("variability").as_string(def_var.data());
  auto va = parse_variability(var_text);
  if (!va)
    return bad(at + ": unknown variability \"" + std::string{var_text} + "\"");
  v.variability_ = *va;
  v.initial = attrs.attribute("initial").value();
  v.description = attrs.attribute("description").value();
  v.unit = typed.attribute("unit").value();
  if (auto s = typed.attribute("start"))
    v.start = s.value();
  else if (ver == fmi_version::v3 && v.type == value_type::string)
    if (auto st = typed.child("Start"))
      v.start = st.attribute("value").value();
  if (v.start && v.type != value_type::other) {
    auto parsed = parse_value(v.type, *v.start);
    if (!parsed)
      return bad(at + ": start=\"" + *v.start + "\" is not a valid " + v.type_name);
  }
  return v;
}

} // namespace

std::string_view to_string(fmi_version v) noexcept {
  return v == fmi_version::v3 ? "3.0" : "2.0";
}

std::string_view to_string(value_type t) noexcept {
  switch (t) {
    case value_type::float64: return "Float64";
    case value_type::int32: return "Int32";
    case value_type::boolean: return "Boolean";
    case value_type::string: return "String";
    case value_type::other: break;
  }
  return "other";
}

std::string_view to_string(causality c) noexcept {
  switch (c) {
    case causality::parameter: return "parameter";
    case causality::calculated_parameter: return "calculatedParameter";
    case causality::input: return "input";
    case causality::output: return "output";
    case causality::local: return "local";
    case causality::independent: return "independent";
    case causality::structural_parameter: return "structuralParameter";
  }
  return "?";
}

std::string_view to_string(variability v) noexcept {
  switch (v) {
    case variability::constant: return "constant";
    case variability::fixed: return "fixed";
    case variability::tunable: return "tunable";
    case variability::discrete: return "discrete";
    case variability::continuous: return "continuous";
  }
  return "?";
}

std::string format_value(const value& v) {
  struct visitor {
    std::string operator()(double d) const {
      char buf[32];
      std::snprintf(buf, sizeof buf, "%.17g", d);
      return buf;
    }
    std::string operator()(std::int32_t i) const { return std::to_string(i); }
    std::string operator()(bool b) const { return b ? "true" : "false"; }
    std::string operator()(const std::string& s) const { return s; }
  };
  return std::visit(visitor{}, v);
}

expected<value> parse_value(value_type t, std::string_view text) {
  switch (t) {
    case value_type::float64: {
      auto d = to_double(text);
      if (!d)
        break;
      return value{*d};
    }
    case value_type::int32: {
      std::int32_t i = 0;
      auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), i);
      if (ec != std::errc{} || p != text.data() + text.size())
        break;
      return value{i};
    }
    case value_type::boolean:
      if (text == "true" || text == "1")
        return value{true};
      if (text == "false" || text == "0")
        return value{false};
      break;
    case value_type::string:
      return value{std::string{text}};
    case value_type::other:
      return make_error(errc::bad_request, "variables of this type are not supported", rule);
  }
  return make_error(errc::bad_request,
                    "\"" + std::string{text} + "\" is not a valid " + std::string{to_string(t)},
                    rule);
}

const scalar_variable* model_description::find(std::string_view name) const noexcept {
  for (const auto& v : variables)
    if (v.name == name)
      return &v;
  return nullptr;
}

std::vector<const scalar_variable*> model_description::outputs() const {
  std::vector<const scalar_variable*> out;
  for (const auto& v : variables)
    if (v.causality_ == causality::output)
      out.push_back(&v);
  return out;
}

std::vector<const scalar_variable*> model_description::inputs() const {
  std::vector<const scalar_variable*> out;
  for (const auto& v : variables)
    if (v.causality_ == causality::input)
      out.push_back(&v);
  return out;
}

expected<model_description> parse_model_description(std::string_view xml) {
  pugi::xml_document doc;
  auto res = doc.load_buffer(xml.data(), xml.size());
  if (!res)
    return bad(std::string{"malformed XML at offset "} + std::to_string(res.offset) + ": "
               + res.description());
  auto root = doc.child("fmiModelDescription");
  if (!root)
    return bad("the root element is not <fmiModelDescription>");
  model_description md;
  md.fmi_version_text = root.attribute("fmiVersion").value();
  if (md.fmi_version_text.empty())
    return bad("<fmiModelDescription>: attribute fmiVersion is missing");
  if (md.fmi_version_text.starts_with("3."))
    md.version = fmi_version::v3;
  else if (md.fmi_version_text.starts_with("2."))
    md.version = fmi_version::v2;
  else
    return bad("<fmiModelDescription>: fmiVersion=\"" + md.fmi_version_text
               + "\" is not supported (2.x or 3.x)");
  md.model_name = root.attribute("modelName").value();
  if (md.model_name.empty())
    return bad("<fmiModelDescription>: attribute modelName is missing");
  const char* token_attr = md.version == fmi_version::v3 ? "instantiationToken" : "guid";
  md.instantiation_token = root.attribute(token_attr).value();
  if (md.instantiation_token.empty())
    return bad(std::string{"<fmiModelDescription>: attribute "} + token_attr + " is missing");
  md.description = root.attribute("description").value();
  md.generation_tool = root.attribute("generationTool").value();

  if (auto cs = root.child("CoSimulation")) {
    co_simulation_caps c;
    c.model_identifier = cs.attribute("modelIdentifier").value();
    if (c.model_identifier.empty())
      return bad("<CoSimulation>: attribute modelIdentifier is missing");
    if (c.model_identifier.find_first_of("/\\.") != std::string::npos)
      return bad("<CoSimulation>: modelIdentifier=\"" + c.model_identifier
                 + "\" is not a C identifier");
    c.needs_execution_tool = attr_bool(cs, "needsExecutionTool");
    c.can_handle_variable_communication_step_size
      = attr_bool(cs, "canHandleVariableCommunicationStepSize");
    c.can_be_instantiated_only_once_per_process
      = attr_bool(cs, "canBeInstantiatedOnlyOncePerProcess");
    c.can_get_and_set_fmu_state = attr_bool(cs, "canGetAndSetFMUState")
                                  || attr_bool(cs, "canGetAndSetFMUstate");
    c.can_serialize_fmu_state
      = attr_bool(cs, "canSerializeFMUState") || attr_bool(cs, "canSerializeFMUstate");
    c.has_event_mode = attr_bool(cs, "hasEventMode");
    c.provides_intermediate_update = attr_bool(cs, "providesIntermediateUpdate");
    if (auto s = optional_double(cs, "fixedInternalStepSize", c.fixed_internal_step_size); !s)
      return s.error();
    md.co_simulation = std::move(c);
  }

  if (auto de = root.child("DefaultExperiment")) {
    for (auto [name, field] : {std::pair{"startTime", &md.experiment.start_time},
                               std::pair{"stopTime", &md.experiment.stop_time},
                               std::pair{"tolerance", &md.experiment.tolerance},
                               std::pair{"stepSize", &md.experiment.step_size}})
      if (auto s = optional_double(de, name, *field); !s)
        return s.error();
  }

  auto vars = root.child("ModelVariables");
  std::set<value_reference> vrs3;
  std::set<std::string> names;
  std::size_t index = 0;
  for (auto node : vars.children()) {
    if (node.type() != pugi::node_element)
      continue;
    ++index;
    expected<scalar_variable> v = make_error(errc::internal, "unset");
    if (md.version == fmi_version::v2) {
      if (std::string_view{node.name()} != "ScalarVariable")
        return bad("<ModelVariables>: unexpected element <" + std::string{node.name()} + ">");
      pugi::xml_node typed;
      for (auto child : node.children())
        if (child.type() == pugi::node_element
            && std::string_view{child.name()} != "Annotations") {
          typed = child;
          break;
        }
      if (!typed)
        return bad("<ScalarVariable name=\"" + std::string{node.attribute("name").value()}
                   + "\">: no type element (Real, Integer, Boolean, String, Enumeration)");
      v = parse_variable(md.version, node, typed, index);
    } else {
      if (!is_fmi3_variable_element(node.name()))
        return bad("<ModelVariables>: unexpected element <" + std::string{node.name()} + ">");
      if (node.child("Dimension")) {
        // Arrays are listed but not accessible through the scalar API.
        v = parse_variable(md.version, node, node, index);
        if (v)
          v->type = value_type::other;
      } else {
        v = parse_variable(md.version, node, node, index);
      }
    }
    if (!v)
      return std::move(v).error();
    if (!names.insert(v->name).second)
      return bad("variable name \"" + v->name + "\" is used twice");
    // FMI 2.0 aliases share a value reference; FMI 3.0 has <Alias> instead.
    if (md.version == fmi_version::v3 && !vrs3.insert(v->vr).second)
      return bad("<" + v->type_name + " name=\"" + v->name + "\">: valueReference "
                 + std::to_string(v->vr) + " is used twice");
    md.variables.push_back(std::move(*v));
  }
  return md;
}

} // namespace twin::fmu
