// DTMI syntax, language limits and small lexical helpers.
//
// DTMI rules from DTDL/v3/DTDL.Specification.v3.md ("Digital Twin Model
// Identifier"): ^dtmi:SEG(:SEG)*(;MAJOR(.MINOR)?)?$ where SEG is
// [A-Za-z](?:[A-Za-z0-9_]*[A-Za-z0-9])?, MAJOR is [1-9][0-9]{0,8} and MINOR
// is [1-9][0-9]{0,5}; a user DTMI is at most 2048 characters. DTDL v2
// (DTDL/v2/DTDL.v2.md) requires the version and has no minor part.

#include <cstdint>

#include "detail.hpp"

namespace twin::model {

namespace {

bool is_alpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
bool is_digit(char c) { return c >= '0' && c <= '9'; }
bool is_alnum(char c) { return is_alpha(c) || is_digit(c); }

error dtmi_error(std::string msg, const char* rule = "dtmi-syntax") {
  return make_error(errc::model_violation, std::move(msg), rule);
}

// Checks a version part: first digit 1-9, at most `max_digits` digits.
bool version_part(std::string_view s, std::size_t max_digits) {
  if (s.empty() || s.size() > max_digits || s[0] == '0')
    return false;
  for (char c : s)
    if (!is_digit(c))
      return false;
  return true;
}

} // namespace

expected<dtmi> parse_dtmi(std::string_view text, int dtdl_version,
                          bool require_version) {
  std::string shown{text.substr(0, 80)};
  if (text.size() > 2048)
    return dtmi_error("DTMI longer than 2048 characters");
  if (text.substr(0, 5) != "dtmi:")
    return dtmi_error("'" + shown + "' does not start with 'dtmi:'");
  std::string_view rest = text.substr(5);
  std::string_view path = rest;
  std::string_view version;
  bool has_version = false;
  if (auto semi = rest.find(';'); semi != std::string_view::npos) {
    path = rest.substr(0, semi);
    version = rest.substr(semi + 1);
    has_version = true;
  }
  // Path segments.
  std::size_t start = 0;
  while (true) {
    auto colon = path.find(':', start);
    auto seg = path.substr(start, colon == std::string_view::npos
                                      ? std::string_view::npos
                                      : colon - start);
    if (seg.empty())
      return dtmi_error("'" + shown + "' has an empty path segment");
    if (!is_alpha(seg.front()))
      return dtmi_error("'" + shown + "': segment '" + std::string{seg}
                        + "' must start with a letter");
    if (seg.back() == '_')
      return dtmi_error("'" + shown + "': segment '" + std::string{seg}
                        + "' must not end with an underscore");
    for (char c : seg)
      if (!is_alnum(c) && c != '_')
        return dtmi_error("'" + shown + "': segment '" + std::string{seg}
                          + "' may hold only letters, digits and underscores");
    if (colon == std::string_view::npos)
      break;
    start = colon + 1;
  }
  if (!has_version) {
    if (require_version || dtdl_version == 2)
      return dtmi_error("'" + shown + "' has no version (';N')", "dtmi-version");
    return dtmi{std::string{text}};
  }
  auto dot = version.find('.');
  auto major = version.substr(0, dot);
  if (!version_part(major, 9))
    return dtmi_error("'" + shown
                          + "': version must be 1..999999999 without leading zeros",
                      "dtmi-version");
  if (dot != std::string_view::npos) {
    if (dtdl_version == 2)
      return dtmi_error("'" + shown + "': DTDL v2 has no minor versions",
                        "dtmi-version");
    if (!version_part(version.substr(dot + 1), 6))
      return dtmi_error("'" + shown
                            + "': minor version must be 1..999999 without leading zeros",
                        "dtmi-version");
  }
  return dtmi{std::string{text}};
}

expected<dtmi> parse_dtmi(std::string_view text) {
  return parse_dtmi(text, 3, false);
}

namespace detail {

const limits& limits_for(int version) {
  static const limits v2 = [] {
    limits l;
    l.version = 2;
    l.name_max = 64;
    l.extends_direct_max = 2;
    l.extends_total_max = 0;
    l.contents_max = 300;
    l.elements_max = 0;
    l.enum_values_max = 100;
    l.fields_max = 30;
    l.rel_properties_max = 300;
    l.max_multiplicity_max = 500;
    l.version_required = true;
    l.minor_version = false;
    l.property_array_allowed = false;
    l.component_nesting = true;
    l.enum_needs_values = true;
    l.object_needs_fields = true;
    l.semantic_native = true;
    return l;
  }();
  static const limits v3 = [] {
    limits l;
    l.version = 3;
    return l;
  }();
  static const limits v4 = [] {
    limits l;
    l.version = 4;
    l.schema_depth_max = 8;
    l.extends_depth_max = 12;
    l.v4_primitives = true;
    return l;
  }();
  return version == 2 ? v2 : version == 4 ? v4 : v3;
}

std::string pointer_escape(std::string_view token) {
  std::string out;
  out.reserve(token.size());
  for (char c : token) {
    if (c == '~')
      out += "~0";
    else if (c == '/')
      out += "~1";
    else
      out += c;
  }
  return out;
}

bool is_valid_name(std::string_view name) noexcept {
  if (name.empty() || !is_alpha(name.front()) || name.back() == '_')
    return false;
  for (char c : name)
    if (!is_alnum(c) && c != '_')
      return false;
  return true;
}

} // namespace detail
} // namespace twin::model
