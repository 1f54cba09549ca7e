#include "twin/sparkplug/tag_map.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <fstream>
#include <functional>
#include <sstream>
#include <type_traits>

namespace twin::sparkplug {

namespace {

std::size_t mix(std::size_t seed, std::size_t h) noexcept {
  return seed ^ (h + 0x9e3779b97f4a7c15ULL + (seed << 6) + (seed >> 2));
}

expected<tag_map> fail(std::string message, std::string path) {
  return make_error(errc::bad_request, std::move(message), "tag_map", std::move(path));
}

const std::vector<std::string>& empty_twins() {
  static const std::vector<std::string> none;
  return none;
}

void add_sorted_unique(std::vector<std::string>& v, const std::string& s) {
  auto it = std::lower_bound(v.begin(), v.end(), s);
  if (it == v.end() || *it != s)
    v.insert(it, s);
}

/// Strict UTF-8 (no overlongs, surrogates or code points over U+10FFFF):
/// nlohmann::json throws when it dumps anything else.
bool valid_utf8(std::string_view s) noexcept {
  std::size_t i = 0;
  while (i < s.size()) {
    auto c = static_cast<unsigned char>(s[i]);
    std::size_t n;
    std::uint32_t cp;
    if (c < 0x80) {
      ++i;
      continue;
    } else if ((c & 0xE0) == 0xC0) {
      n = 1;
      cp = c & 0x1F;
    } else if ((c & 0xF0) == 0xE0) {
      n = 2;
      cp = c & 0x0F;
    } else if ((c & 0xF8) == 0xF0) {
      n = 3;
      cp = c & 0x07;
    } else {
      return false;
    }
    if (i + n >= s.size())
      return false;
    for (std::size_t k = 1; k <= n; ++k) {
      auto cc = static_cast<unsigned char>(s[i + k]);
      if ((cc & 0xC0) != 0x80)
        return false;
      cp = (cp << 6) | (cc & 0x3F);
    }
    static constexpr std::uint32_t min_of[] = {0, 0x80, 0x800, 0x10000};
    if (cp < min_of[n] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
      return false;
    i += n + 1;
  }
  return true;
}

} // namespace

std::size_t tag_map::key_hash::operator()(const key_view& k) const noexcept {
  std::hash<std::string_view> h;
  std::size_t seed = h(k.a);
  seed = mix(seed, h(k.b));
  seed = mix(seed, h(k.c));
  seed = mix(seed, h(k.d));
  return seed;
}

converted_value convert_value(const tag_mapping& m, const metric_value& v) {
  converted_value out;
  auto numeric = [&](double d, std::string_view kind) {
    if (!std::isfinite(d)) {
      out.outcome = converted_value::kind::unsupported;
      out.detail = "non-finite " + std::string{kind} + " value";
      return;
    }
    double r = d * m.scale + m.offset;
    if (!std::isfinite(r)) {
      out.outcome = converted_value::kind::unsupported;
      out.detail = "converted value is not finite";
      return;
    }
    out.value = r;
  };
  std::visit(
    [&](const auto& x) {
      using T = std::decay_t<decltype(x)>;
      if constexpr (std::is_same_v<T, null_value>) {
        out.outcome = converted_value::kind::null;
      } else if constexpr (std::is_same_v<T, std::int64_t> || std::is_same_v<T, std::uint64_t>) {
        if (m.is_identity())
          out.value = x;
        else
          numeric(static_cast<double>(x), "integer");
      } else if constexpr (std::is_same_v<T, float>) {
        // Widen through the shortest decimal form: 0.1f → 0.1, not 0.100000001.
        double d = x;
        if (std::isfinite(x)) {
          char buf[64];
          auto [end, ec] = std::to_chars(buf, buf + sizeof(buf), x);
          if (ec == std::errc{})
            std::from_chars(buf, end, d);
        }
        numeric(d, "float");
      } else if constexpr (std::is_same_v<T, double>) {
        numeric(x, "double");
      } else if constexpr (std::is_same_v<T, bool>) {
        out.value = x;
      } else if constexpr (std::is_same_v<T, std::string>) {
        if (valid_utf8(x)) {
          out.value = x;
        } else {
          out.outcome = converted_value::kind::unsupported;
          out.detail = "string value is not valid UTF-8";
        }
      } else {
        out.outcome = converted_value::kind::unsupported;
        out.detail = "bytes values are not supported";
      }
    },
    v);
  return out;
}

tag_map::tag_map() = default;

expected<tag_map> tag_map::parse(std::string_view json_text) {
  auto doc = nlohmann::json::parse(json_text, nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded())
    return fail("not JSON (or truncated)", "");
  return from_json(doc);
}

expected<tag_map> tag_map::load(const std::filesystem::path& file) {
  std::ifstream in(file, std::ios::binary);
  if (!in)
    return make_error(errc::bad_request, "cannot read tag map " + file.string(), "tag_map");
  std::stringstream ss;
  ss << in.rdbuf();
  if (in.bad())
    return make_error(errc::bad_request, "cannot read tag map " + file.string(), "tag_map");
  auto r = parse(ss.str());
  if (!r) {
    auto e = std::move(r).error();
    e.message = file.string() + ": " + e.message;
    e.source = file.string();
    return e;
  }
  return r;
}

expected<tag_map> tag_map::from_json(const nlohmann::json& doc) {
  if (!doc.is_object())
    return fail("the tag map must be a JSON object", "");
  for (const auto& [k, _] : doc.items())
    if (k != "version" && k != "mappings" && k != "description")
      return fail(k + ": unknown key (expected version, mappings)", "/" + k);
  auto v = doc.find("version");
  if (v == doc.end() || !v->is_string() || v->get_ref<const std::string&>().empty())
    return fail("version: must be a non-empty string", "/version");
  auto ms = doc.find("mappings");
  if (ms == doc.end() || !ms->is_array())
    return fail("mappings: must be an array", "/mappings");

  tag_map map;
  map.version_ = v->get<std::string>();
  map.mappings_.reserve(ms->size());

  std::size_t index = 0;
  for (const auto& item : *ms) {
    std::string where = "mappings[" + std::to_string(index) + "]";
    std::string ptr = "/mappings/" + std::to_string(index);
    if (!item.is_object())
      return fail(where + ": must be an object", ptr);
    for (const auto& [k, _] : item.items()) {
      static const char* known[] = {"group", "edgeNode", "device", "metric",
                                    "twin",  "name",     "scale",  "offset"};
      if (std::none_of(std::begin(known), std::end(known), [&](const char* s) { return k == s; }))
        return fail(where + "." + k + ": unknown key", ptr + "/" + k);
    }
    tag_mapping m;
    auto text = [&](const char* field, std::string& dst, bool required) -> std::optional<error> {
      auto f = item.find(field);
      if (f == item.end() || f->is_null()) {
        if (required)
          return make_error(errc::bad_request, where + "." + field + ": missing", "tag_map",
                            ptr + "/" + field);
        return std::nullopt;
      }
      if (!f->is_string())
        return make_error(errc::bad_request,
                          where + "." + field + ": must be a string, not " + f->type_name(),
                          "tag_map", ptr + "/" + field);
      dst = f->get<std::string>();
      if (required && dst.empty())
        return make_error(errc::bad_request, where + "." + field + ": must not be empty",
                          "tag_map", ptr + "/" + field);
      if (dst.find_first_of("/+#") != std::string::npos)
        return make_error(errc::bad_request,
                          where + "." + field + ": must not contain '/', '+' or '#'", "tag_map",
                          ptr + "/" + field);
      return std::nullopt;
    };
    auto text_any = [&](const char* field, std::string& dst) -> std::optional<error> {
      // metric, twin and name may contain '/' (e.g. "Node Control/Rebirth").
      auto f = item.find(field);
      if (f == item.end() || f->is_null())
        return make_error(errc::bad_request, where + "." + field + ": missing", "tag_map",
                          ptr + "/" + field);
      if (!f->is_string())
        return make_error(errc::bad_request,
                          where + "." + field + ": must be a string, not " + f->type_name(),
                          "tag_map", ptr + "/" + field);
      dst = f->get<std::string>();
      if (dst.empty())
        return make_error(errc::bad_request, where + "." + field + ": must not be empty",
                          "tag_map", ptr + "/" + field);
      return std::nullopt;
    };
    auto real = [&](const char* field, double& dst) -> std::optional<error> {
      auto f = item.find(field);
      if (f == item.end() || f->is_null())
        return std::nullopt;
      if (!f->is_number())
        return make_error(errc::bad_request,
                          where + "." + field + ": must be a number, not " + f->type_name(),
                          "tag_map", ptr + "/" + field);
      dst = f->get<double>();
      if (!std::isfinite(dst))
        return make_error(errc::bad_request, where + "." + field + ": not finite", "tag_map",
                          ptr + "/" + field);
      return std::nullopt;
    };
    for (auto e : {text("group", m.group, true), text("edgeNode", m.edge_node, true),
                   text("device", m.device, false), text_any("metric", m.metric),
                   text_any("twin", m.twin), text_any("name", m.name),
                   real("scale", m.scale), real("offset", m.offset)})
      if (e)
        return *e;
    if (m.scale == 0.0)
      return fail(where + ".scale: must not be 0", ptr + "/scale");

    auto& names = map.by_device_[key{m.group, m.edge_node, m.device, {}}].by_name_;
    if (auto [it, fresh] = names.try_emplace(m.metric, index); !fresh)
      return fail(where + ": duplicate of mappings[" + std::to_string(it->second) + "] ("
                    + m.group + "/" + m.edge_node + "/" + m.device + "/" + m.metric + ")",
                  ptr);
    add_sorted_unique(map.twins_[key{m.group, m.edge_node, m.device, {}}], m.twin);
    if (!m.device.empty())
      add_sorted_unique(map.twins_[key{m.group, m.edge_node, {}, {}}], m.twin);
    else
      add_sorted_unique(map.node_twins_[key{m.group, m.edge_node, {}, {}}], m.twin);
    map.mappings_.push_back(std::move(m));
    ++index;
  }
  return map;
}

const tag_map::device_metrics* tag_map::find_device(std::string_view group,
                                                  std::string_view edge_node,
                                                  std::string_view device) const noexcept {
  auto it = by_device_.find(key_view{group, edge_node, device, {}});
  return it == by_device_.end() ? nullptr : &it->second;
}

const tag_mapping* tag_map::find(const device_metrics& device,
                                 std::string_view metric) const noexcept {
  auto it = device.by_name_.find(metric);
  return it == device.by_name_.end() ? nullptr : &mappings_[it->second];
}

const tag_mapping* tag_map::find(std::string_view group, std::string_view edge_node,
                                 std::string_view device,
                                 std::string_view metric) const noexcept {
  const auto* d = find_device(group, edge_node, device);
  return d ? find(*d, metric) : nullptr;
}

const std::vector<std::string>& tag_map::twins_of(std::string_view group,
                                                  std::string_view edge_node,
                                                  std::string_view device) const noexcept {
  auto it = twins_.find(key_view{group, edge_node, device, {}});
  return it == twins_.end() ? empty_twins() : it->second;
}

const std::vector<std::string>& tag_map::node_level_twins(std::string_view group,
                                                          std::string_view edge_node) const noexcept {
  auto it = node_twins_.find(key_view{group, edge_node, {}, {}});
  return it == node_twins_.end() ? empty_twins() : it->second;
}

} // namespace twin::sparkplug
