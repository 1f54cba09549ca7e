// Primitive schema terms and the lexical forms of temporal and other values.
// Primitive terms: DTDL/v3/DTDL.Specification.v3.md "Standard schemas";
// v4-only terms: DTDL/v4/DTDL.v4.md "Primitive schema".

#include <cstdlib>
#include <string>

#include "detail.hpp"

namespace twin::model::detail {

namespace {

using k = schema::kind;

struct prim {
  const char* term;
  k kind;
  bool v4_only;
  bool geo;
};

constexpr prim prims[] = {
  {"boolean", k::boolean, false, false}, {"date", k::date, false, false},
  {"dateTime", k::date_time, false, false}, {"double", k::double_, false, false},
  {"duration", k::duration, false, false}, {"float", k::float_, false, false},
  {"integer", k::integer, false, false}, {"long", k::long_, false, false},
  {"string", k::string, false, false}, {"time", k::time, false, false},
  {"byte", k::byte_, true, false}, {"bytes", k::bytes, true, false},
  {"decimal", k::decimal, true, false}, {"short", k::short_, true, false},
  {"unsignedByte", k::unsigned_byte, true, false},
  {"unsignedInteger", k::unsigned_integer, true, false},
  {"unsignedLong", k::unsigned_long, true, false},
  {"unsignedShort", k::unsigned_short, true, false},
  {"uuid", k::uuid, true, false},
  {"point", k::point, false, true}, {"multiPoint", k::multi_point, false, true},
  {"lineString", k::line_string, false, true},
  {"multiLineString", k::multi_line_string, false, true},
  {"polygon", k::polygon, false, true},
  {"multiPolygon", k::multi_polygon, false, true},
};

bool digits(std::string_view s, std::size_t pos, std::size_t n) {
  if (pos + n > s.size())
    return false;
  for (std::size_t i = pos; i < pos + n; ++i)
    if (s[i] < '0' || s[i] > '9')
      return false;
  return true;
}

int num(std::string_view s, std::size_t pos, std::size_t n) {
  int v = 0;
  for (std::size_t i = pos; i < pos + n; ++i)
    v = v * 10 + (s[i] - '0');
  return v;
}

// HH:MM:SS(.frac)? starting at pos; returns the end position or npos.
std::size_t partial_time(std::string_view s, std::size_t pos) {
  if (!digits(s, pos, 2) || s.size() < pos + 8 || s[pos + 2] != ':'
      || !digits(s, pos + 3, 2) || s[pos + 5] != ':' || !digits(s, pos + 6, 2))
    return std::string_view::npos;
  if (num(s, pos, 2) > 23 || num(s, pos + 3, 2) > 59 || num(s, pos + 6, 2) > 60)
    return std::string_view::npos;
  pos += 8;
  if (pos < s.size() && s[pos] == '.') {
    std::size_t start = ++pos;
    while (pos < s.size() && s[pos] >= '0' && s[pos] <= '9')
      ++pos;
    if (pos == start)
      return std::string_view::npos;
  }
  return pos;
}

// Z or +HH:MM / -HH:MM at pos, to the end of s.
bool offset_at_end(std::string_view s, std::size_t pos) {
  if (pos + 1 == s.size() && (s[pos] == 'Z' || s[pos] == 'z'))
    return true;
  return pos + 6 == s.size() && (s[pos] == '+' || s[pos] == '-')
         && digits(s, pos + 1, 2) && s[pos + 3] == ':' && digits(s, pos + 4, 2)
         && num(s, pos + 1, 2) <= 23 && num(s, pos + 4, 2) <= 59;
}

} // namespace

bool primitive_kind(std::string_view term, schema::kind& out, bool& v4_only,
                    int version) noexcept {
  // DTMI forms: dtmi:dtdl:instance:Schema:double;N and
  // dtmi:standard:schema:geospatial:point;N.
  std::string_view t = term;
  bool dtmi_form = false;
  if (t.substr(0, 5) == "dtmi:") {
    auto semi = t.find(';');
    if (semi == std::string_view::npos)
      return false;
    auto ver = t.substr(semi + 1);
    if (ver != std::to_string(version))
      return false;
    auto body = t.substr(0, semi);
    auto colon = body.rfind(':');
    auto prefix = body.substr(0, colon + 1);
    t = body.substr(colon + 1);
    dtmi_form = true;
    bool geo_prefix = prefix == "dtmi:standard:schema:geospatial:";
    if (prefix != "dtmi:dtdl:instance:Schema:" && !geo_prefix)
      return false;
    for (const auto& p : prims)
      if (t == p.term && p.geo != geo_prefix)
        return false;
  }
  (void) dtmi_form;
  for (const auto& p : prims) {
    if (t == p.term) {
      out = p.kind;
      v4_only = p.v4_only;
      return true;
    }
  }
  return false;
}

const char* kind_name(schema::kind kind) noexcept {
  for (const auto& p : prims)
    if (p.kind == kind)
      return p.term;
  switch (kind) {
    case k::scaled_decimal: return "scaledDecimal";
    case k::object: return "Object";
    case k::enumeration: return "Enum";
    case k::map: return "Map";
    case k::array: return "Array";
    default: return "?";
  }
}

bool is_numeric(schema::kind kind) noexcept {
  switch (kind) {
    case k::double_: case k::float_: case k::integer: case k::long_:
    case k::byte_: case k::short_: case k::decimal: case k::unsigned_byte:
    case k::unsigned_short: case k::unsigned_integer: case k::unsigned_long:
    case k::scaled_decimal:
      return true;
    default:
      return false;
  }
}

bool is_date(std::string_view s) noexcept {
  if (s.size() != 10 || !digits(s, 0, 4) || s[4] != '-' || !digits(s, 5, 2)
      || s[7] != '-' || !digits(s, 8, 2))
    return false;
  int y = num(s, 0, 4), m = num(s, 5, 2), d = num(s, 8, 2);
  static constexpr int days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  if (m < 1 || m > 12 || d < 1)
    return false;
  bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
  int max = days[m - 1] + (m == 2 && leap ? 1 : 0);
  return d <= max;
}

bool is_time(std::string_view s) noexcept {
  auto end = partial_time(s, 0);
  if (end == std::string_view::npos)
    return false;
  return end == s.size() || offset_at_end(s, end);
}

bool is_date_time(std::string_view s) noexcept {
  if (s.size() < 20 || !is_date(s.substr(0, 10)) || (s[10] != 'T' && s[10] != 't'))
    return false;
  auto end = partial_time(s, 11);
  return end != std::string_view::npos && offset_at_end(s, end);
}

// ISO 8601 duration: P[nY][nM][nW][nD][T[nH][nM][n[.n]S]], at least one
// component, a T followed by at least one time component. Fractions are
// accepted on the last component only (seconds usually).
bool is_duration(std::string_view s) noexcept {
  std::size_t i = 0;
  if (i < s.size() && s[i] == '-')
    ++i;
  if (i >= s.size() || s[i] != 'P')
    return false;
  ++i;
  bool any = false, in_time = false, time_any = false, fraction_seen = false;
  const char* date_units = "YMWD";
  const char* time_units = "HMS";
  std::size_t date_idx = 0, time_idx = 0;
  while (i < s.size()) {
    if (s[i] == 'T') {
      if (in_time)
        return false;
      in_time = true;
      ++i;
      continue;
    }
    std::size_t start = i;
    while (i < s.size() && s[i] >= '0' && s[i] <= '9')
      ++i;
    if (i == start)
      return false;
    if (i < s.size() && (s[i] == '.' || s[i] == ',')) {
      ++i;
      std::size_t fs = i;
      while (i < s.size() && s[i] >= '0' && s[i] <= '9')
        ++i;
      if (i == fs)
        return false;
      fraction_seen = true;
    }
    if (i >= s.size())
      return false;
    char u = s[i++];
    if (!in_time) {
      while (date_idx < 4 && date_units[date_idx] != u)
        ++date_idx;
      if (date_idx == 4)
        return false;
      ++date_idx;
    } else {
      while (time_idx < 3 && time_units[time_idx] != u)
        ++time_idx;
      if (time_idx == 3)
        return false;
      ++time_idx;
      time_any = true;
    }
    any = true;
    if (fraction_seen && i != s.size())
      return false;
  }
  return any && (!in_time || time_any);
}

bool is_uuid(std::string_view s) noexcept {
  if (s.size() != 36)
    return false;
  for (std::size_t i = 0; i < 36; ++i) {
    char c = s[i];
    if (i == 8 || i == 13 || i == 18 || i == 23) {
      if (c != '-')
        return false;
    } else if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')
                 || (c >= 'A' && c <= 'F'))) {
      return false;
    }
  }
  return true;
}

bool is_base64(std::string_view s) noexcept {
  if (s.size() % 4 != 0)
    return false;
  std::size_t pad = 0;
  for (std::size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    bool b = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z')
             || (c >= '0' && c <= '9') || c == '+' || c == '/';
    if (c == '=') {
      ++pad;
      if (i + 2 < s.size())
        return false;
    } else if (!b || pad > 0) {
      return false;
    }
  }
  return pad <= 2;
}

} // namespace twin::model::detail
