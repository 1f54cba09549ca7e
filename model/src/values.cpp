// Checking instance values (property writes, telemetry) against resolved
// schemas.

#include <cmath>
#include <cstdint>
#include <limits>

#include "detail.hpp"

namespace twin::model {

namespace {

using json = nlohmann::json;
using k = schema::kind;

error violation(std::string rule, const std::string& path, std::string msg) {
  return make_error(errc::model_violation, std::move(msg), std::move(rule), path);
}

std::string describe_json_type(const json& v) {
  if (v.is_null()) return "null";
  if (v.is_boolean()) return "boolean";
  if (v.is_number_integer()) return "integer";
  if (v.is_number()) return "number";
  if (v.is_string()) return "string";
  if (v.is_array()) return "array";
  return "object";
}

error type_error(const schema& s, const json& v, const std::string& path) {
  return violation("value-type", path,
                   std::string{"expects "} + detail::kind_name(s.k) + ", got "
                     + describe_json_type(v));
}

bool int_in(const json& v, std::int64_t lo, std::int64_t hi) {
  if (v.is_number_unsigned())
    return v.get<std::uint64_t>() <= static_cast<std::uint64_t>(hi);
  if (v.is_number_integer()) {
    auto x = v.get<std::int64_t>();
    return x >= lo && x <= hi;
  }
  return false;
}

bool is_position(const json& p) {
  if (!p.is_array() || p.size() < 2 || p.size() > 3)
    return false;
  for (const auto& c : p)
    if (!c.is_number())
      return false;
  return true;
}

bool all_of(const json& a, std::size_t min, bool (*pred)(const json&)) {
  if (!a.is_array() || a.size() < min)
    return false;
  for (const auto& x : a)
    if (!pred(x))
      return false;
  return true;
}

bool is_line(const json& a) { return all_of(a, 2, is_position); }
bool is_ring(const json& a) { return all_of(a, 4, is_position); }
bool is_polygon_coords(const json& a) { return all_of(a, 1, is_ring); }
bool is_multi_point(const json& a) { return all_of(a, 0, is_position); }
bool is_multi_line(const json& a) { return all_of(a, 0, is_line); }
bool is_multi_polygon(const json& a) { return all_of(a, 0, is_polygon_coords); }

status check_geo(const schema& s, const json& v, const std::string& path) {
  const char* type = nullptr;
  bool (*pred)(const json&) = nullptr;
  switch (s.k) {
    case k::point: type = "Point"; pred = is_position; break;
    case k::multi_point: type = "MultiPoint"; pred = is_multi_point; break;
    case k::line_string: type = "LineString"; pred = is_line; break;
    case k::multi_line_string: type = "MultiLineString"; pred = is_multi_line; break;
    case k::polygon: type = "Polygon"; pred = is_polygon_coords; break;
    default: type = "MultiPolygon"; pred = is_multi_polygon; break;
  }
  if (!v.is_object())
    return type_error(s, v, path);
  auto t = v.find("type");
  if (t == v.end() || *t != type)
    return violation("value-type", path + "/type",
                     std::string{"GeoJSON type must be \""} + type + "\"");
  auto c = v.find("coordinates");
  if (c == v.end() || !pred(*c))
    return violation("value-type", path + "/coordinates",
                     std::string{"coordinates do not form a GeoJSON "} + type);
  return ok();
}

} // namespace

status check_value(const schema& s, const json& v, const std::string& path) {
  switch (s.k) {
    case k::boolean:
      return v.is_boolean() ? ok() : status{type_error(s, v, path)};
    case k::integer:
      if (!v.is_number_integer())
        return type_error(s, v, path);
      if (!int_in(v, INT32_MIN, INT32_MAX))
        return violation("value-range", path, "integer out of the 32-bit range");
      return ok();
    case k::long_:
      if (!v.is_number_integer())
        return type_error(s, v, path);
      if (!int_in(v, INT64_MIN, INT64_MAX))
        return violation("value-range", path, "long out of the 64-bit range");
      return ok();
    case k::byte_:
    case k::short_:
    case k::unsigned_byte:
    case k::unsigned_short:
    case k::unsigned_integer: {
      if (!v.is_number_integer())
        return type_error(s, v, path);
      std::int64_t lo = 0, hi = 0;
      switch (s.k) {
        case k::byte_: lo = INT8_MIN; hi = INT8_MAX; break;
        case k::short_: lo = INT16_MIN; hi = INT16_MAX; break;
        case k::unsigned_byte: hi = UINT8_MAX; break;
        case k::unsigned_short: hi = UINT16_MAX; break;
        default: hi = UINT32_MAX; break;
      }
      if (!int_in(v, lo, hi))
        return violation("value-range", path,
                         std::string{detail::kind_name(s.k)} + " out of range");
      return ok();
    }
    case k::unsigned_long:
      if (v.is_number_unsigned() || (v.is_number_integer() && v.get<std::int64_t>() >= 0))
        return ok();
      return v.is_number_integer()
               ? status{violation("value-range", path, "unsignedLong must be >= 0")}
               : status{type_error(s, v, path)};
    case k::double_:
      if (!v.is_number())
        return type_error(s, v, path);
      return ok();
    case k::float_: {
      if (!v.is_number())
        return type_error(s, v, path);
      double d = v.get<double>();
      if (std::isfinite(d) && std::fabs(d) > std::numeric_limits<float>::max())
        return violation("value-range", path, "float out of range");
      return ok();
    }
    case k::decimal:
    case k::scaled_decimal:
      if (v.is_number())
        return ok();
      if (v.is_string()) {
        const auto& str = v.get_ref<const std::string&>();
        char* end = nullptr;
        std::strtod(str.c_str(), &end);
        if (!str.empty() && end == str.c_str() + str.size())
          return ok();
      }
      return type_error(s, v, path);
    case k::string:
      return v.is_string() ? ok() : status{type_error(s, v, path)};
    case k::date:
    case k::date_time:
    case k::time:
    case k::duration:
    case k::uuid:
    case k::bytes: {
      if (!v.is_string())
        return type_error(s, v, path);
      const auto& str = v.get_ref<const std::string&>();
      bool good = s.k == k::date        ? detail::is_date(str)
                  : s.k == k::date_time ? detail::is_date_time(str)
                  : s.k == k::time      ? detail::is_time(str)
                  : s.k == k::duration  ? detail::is_duration(str)
                  : s.k == k::uuid      ? detail::is_uuid(str)
                                        : detail::is_base64(str);
      if (!good)
        return violation("value-format", path,
                         "'" + str.substr(0, 64) + "' is not a valid "
                           + detail::kind_name(s.k));
      return ok();
    }
    case k::point:
    case k::multi_point:
    case k::line_string:
    case k::multi_line_string:
    case k::polygon:
    case k::multi_polygon:
      return check_geo(s, v, path);
    case k::enumeration: {
      bool int_enum = s.enum_value_kind == k::integer;
      if (int_enum ? !v.is_number_integer() : !v.is_string())
        return violation("value-type", path,
                         std::string{"expects an Enum value ("}
                           + (int_enum ? "integer" : "string") + "), got "
                           + describe_json_type(v));
      for (const auto& [name, ev] : s.enum_values)
        if (ev == v)
          return ok();
      std::string allowed;
      for (const auto& [name, ev] : s.enum_values)
        allowed += (allowed.empty() ? "" : ", ") + ev.dump();
      return violation("enum-value", path,
                       v.dump() + " is not one of the Enum's values (" + allowed + ")");
    }
    case k::object: {
      if (!v.is_object())
        return type_error(s, v, path);
      for (auto it = v.begin(); it != v.end(); ++it) {
        const schema_ptr* fs = nullptr;
        for (const auto& f : s.fields)
          if (f.first == it.key()) {
            fs = &f.second;
            break;
          }
        std::string fp = path + "/" + detail::pointer_escape(it.key());
        if (!fs)
          return violation("object-field", fp, "unknown field '" + it.key() + "'");
        if (it.value().is_null())
          continue; // an absent field
        if (auto r = check_value(**fs, it.value(), fp); !r)
          return r;
      }
      return ok();
    }
    case k::map: {
      if (!v.is_object())
        return type_error(s, v, path);
      for (auto it = v.begin(); it != v.end(); ++it) {
        std::string fp = path + "/" + detail::pointer_escape(it.key());
        if (it.key().empty())
          return violation("map-key", fp, "map keys must not be empty");
        if (s.element && !it.value().is_null())
          if (auto r = check_value(*s.element, it.value(), fp); !r)
            return r;
      }
      return ok();
    }
    case k::array: {
      if (!v.is_array())
        return type_error(s, v, path);
      for (std::size_t i = 0; i < v.size(); ++i)
        if (s.element)
          if (auto r = check_value(*s.element, v[i], path + "/" + std::to_string(i)); !r)
            return r;
      return ok();
    }
  }
  return type_error(s, v, path);
}

namespace {

std::shared_ptr<const interface> component_of(const content& c, const resolver* known) {
  if (c.resolved_component)
    return c.resolved_component;
  if (known && c.component_interface)
    return known->find(*c.component_interface);
  return nullptr;
}

status check_named(const interface& itf, const resolver* known, std::string_view name,
                   const json& value, const std::string& path, bool telemetry,
                   writer who, int guard, const content** declared = nullptr) {
  const content* c = itf.find(name);
  if (declared)
    *declared = c;
  if (!c)
    return violation("unknown-name", path,
                     "'" + std::string{name} + "' is not declared by " + itf.id.value());
  switch (c->kind) {
    case content_kind::component: {
      auto sub = component_of(*c, known);
      if (!sub || guard > 16)
        return violation("unresolved-reference", path,
                         "component interface of '" + c->name + "' is not known");
      if (!value.is_object())
        return violation("value-type", path,
                         "component '" + c->name + "' takes an object of its properties");
      for (auto it = value.begin(); it != value.end(); ++it) {
        std::string sp = path + "/" + detail::pointer_escape(it.key());
        if (auto r = check_named(*sub, known, it.key(), it.value(), sp, telemetry, who,
                                 guard + 1);
            !r)
          return r;
      }
      return ok();
    }
    case content_kind::property:
      if (!telemetry && who == writer::human && !c->writable)
        return violation("not-writable", path,
                         "property '" + c->name + "' is not writable");
      break;
    case content_kind::telemetry:
      if (!telemetry)
        return violation("not-a-property", path,
                         "'" + c->name + "' is telemetry, not a property");
      break;
    default:
      return violation(telemetry ? "not-telemetry" : "not-a-property", path,
                       "'" + c->name + "' is a "
                         + (c->kind == content_kind::command ? "command" : "relationship"));
  }
  if (value.is_null() && !telemetry)
    return ok(); // a merge-patch removal of the property
  if (!c->value_schema)
    return violation("value-type", path, "'" + c->name + "' has no schema");
  return check_value(*c->value_schema, value, path);
}

} // namespace

// A value is checked first without its JSON pointer (building
// "/telemetry/<escaped name>" for every accepted value of every device
// message cost more than the check); only a rejected value is checked again
// with the path its error must name.

status check_property_write(const interface& itf, const resolver* known,
                            std::string_view name, const json& value, writer who) {
  static const std::string no_path;
  if (check_named(itf, known, name, value, no_path, false, who, 0))
    return ok();
  return check_named(itf, known, name, value,
                     "/properties/" + detail::pointer_escape(name), false, who, 0);
}

status check_telemetry(const interface& itf, const resolver* known,
                       std::string_view name, const json& value, const content** declared) {
  static const std::string no_path;
  if (check_named(itf, known, name, value, no_path, true, writer::device, 0, declared))
    return ok();
  return check_named(itf, known, name, value,
                     "/telemetry/" + detail::pointer_escape(name), true, writer::device,
                     0);
}

} // namespace twin::model
