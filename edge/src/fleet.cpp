#include "twin/edge/fleet.hpp"

#include <algorithm>
#include <cctype>
#include <charconv>

#include <nlohmann/json.hpp>

namespace twin::edge {

std::vector<band> default_bands() {
  return {{10.0, 1000.0, "bandEnergyLow"},
          {1000.0, 3000.0, "bandEnergyMid"},
          {3000.0, 5000.0, "bandEnergyHigh"}};
}

namespace {

bool parse_double(std::string_view s, double& out) {
  if (s.empty())
    return false;
  const auto* end = s.data() + s.size();
  auto [p, ec] = std::from_chars(s.data(), end, out);
  return ec == std::errc{} && p == end;
}

} // namespace

expected<band> parse_band(std::string_view spec) {
  auto fail = [&](std::string why) {
    return make_error(errc::bad_request,
                      "band '" + std::string(spec) + "': " + std::move(why) +
                          " (expected LO:HI:NAME, e.g. 10:1000:bandEnergyLow)",
                      "edge.band");
  };
  const auto c1 = spec.find(':');
  if (c1 == std::string_view::npos)
    return fail("missing ':'");
  const auto c2 = spec.find(':', c1 + 1);
  if (c2 == std::string_view::npos)
    return fail("missing the second ':'");
  band b;
  if (!parse_double(spec.substr(0, c1), b.lo_hz) ||
      !parse_double(spec.substr(c1 + 1, c2 - c1 - 1), b.hi_hz))
    return fail("LO and HI must be numbers");
  if (!(b.lo_hz >= 0.0 && b.lo_hz < b.hi_hz))
    return fail("need 0 <= LO < HI");
  b.name = std::string(spec.substr(c2 + 1));
  if (b.name.empty() || !std::all_of(b.name.begin(), b.name.end(), [](unsigned char ch) {
        return std::isalnum(ch) || ch == '_';
      }))
    return fail("NAME must be non-empty [A-Za-z0-9_]");
  return b;
}

std::vector<std::string> device_metric_names(const std::vector<band>& bands) {
  std::vector<std::string> out{"vibrationRms", "vibrationPeak", "crestFactor", "kurtosis"};
  for (const auto& b : bands)
    out.push_back(b.name);
  out.insert(out.end(), {"temperature", "load", "shaftSpeed"});
  return out;
}

std::vector<double> device_metric_values(const features& f, double temperature_c,
                                         double load_n, double shaft_rpm) {
  std::vector<double> out{f.rms, f.peak, f.crest_factor, f.kurtosis};
  out.insert(out.end(), f.band_energy.begin(), f.band_energy.end());
  out.insert(out.end(), {temperature_c, load_n, shaft_rpm});
  return out;
}

std::string edge_node_name(int turbine, int turbines) {
  const int width = turbines >= 100 ? static_cast<int>(std::to_string(turbines).size()) : 2;
  std::string n = std::to_string(turbine);
  if (static_cast<int>(n.size()) < width)
    n.insert(0, static_cast<std::size_t>(width) - n.size(), '0');
  return "Turbine" + n;
}

std::string device_name(int device) {
  return std::string("Gearbox_Bearing") + static_cast<char>('A' + device);
}

namespace {

// Expands the pattern; with turbine = 0 only checks it.
expected<std::string> expand(const fleet_shape& s, int turbine, int device) {
  const std::string& pat = s.twin_id_pattern;
  auto fail = [&](std::string why) {
    return make_error(errc::bad_request, "twin id pattern '" + pat + "': " + std::move(why),
                      "edge.twin_id_pattern");
  };
  std::string out;
  for (std::size_t i = 0; i < pat.size();) {
    if (pat[i] == '}')
      return fail("unbalanced '}'");
    if (pat[i] != '{') {
      out += pat[i++];
      continue;
    }
    const auto close = pat.find('}', i);
    if (close == std::string::npos)
      return fail("unbalanced '{'");
    std::string key = pat.substr(i + 1, close - i - 1);
    i = close + 1;
    int width = 0;
    if (const auto colon = key.find(':'); colon != std::string::npos) {
      const std::string w = key.substr(colon + 1);
      key.resize(colon);
      auto [p, ec] = std::from_chars(w.data(), w.data() + w.size(), width);
      if (ec != std::errc{} || p != w.data() + w.size() || width < 0 || width > 9)
        return fail("bad width '" + w + "'");
    }
    auto pad = [width](std::string v) {
      if (static_cast<int>(v.size()) < width)
        v.insert(0, static_cast<std::size_t>(width) - v.size(), '0');
      return v;
    };
    if (key == "turbine")
      out += pad(std::to_string(turbine));
    else if (key == "device")
      out += pad(std::to_string(device + 1));
    else if (key == "device_letter")
      out += static_cast<char>('a' + device);
    else if (key == "group")
      out += s.group;
    else if (key == "edge_node")
      out += edge_node_name(turbine, s.turbines);
    else if (key == "device_id")
      out += device_name(device);
    else
      return fail("unknown placeholder {" + key + "}");
  }
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char ch) { return static_cast<char>(std::tolower(ch)); });
  if (out.empty())
    return fail("expands to an empty id");
  return out;
}

} // namespace

status validate(const fleet_shape& s) {
  if (s.group.empty() || s.group.find_first_of("/+#") != std::string::npos)
    return make_error(errc::bad_request, "group must be non-empty without '/', '+', '#'",
                      "edge.fleet", "/group");
  if (s.turbines < 1 || s.turbines > 999)
    return make_error(errc::bad_request, "turbines must be 1..999", "edge.fleet", "/turbines");
  if (s.devices_per_turbine < 1 || s.devices_per_turbine > 26)
    return make_error(errc::bad_request, "devices per turbine must be 1..26", "edge.fleet",
                      "/devices_per_turbine");
  if (auto e = expand(s, 1, 0); !e)
    return std::move(e).error();
  return ok();
}

expected<std::string> twin_id(const fleet_shape& shape, int turbine, int device) {
  return expand(shape, turbine, device);
}

std::string default_tagmap_version(const fleet_shape& s) {
  return "twin-edge-" + s.group + "-" + std::to_string(s.turbines) + "x" +
         std::to_string(s.devices_per_turbine);
}

expected<std::string> make_tag_map(const fleet_shape& shape,
                                   const std::vector<std::string>& metrics,
                                   const std::string& version) {
  if (auto v = validate(shape); !v)
    return std::move(v).error();
  auto mappings = nlohmann::ordered_json::array();
  for (int t = 1; t <= shape.turbines; ++t) {
    for (int d = 0; d < shape.devices_per_turbine; ++d) {
      auto twin = twin_id(shape, t, d);
      if (!twin)
        return std::move(twin).error();
      for (const auto& m : metrics)
        mappings.push_back({{"group", shape.group},
                            {"edgeNode", edge_node_name(t, shape.turbines)},
                            {"device", device_name(d)},
                            {"metric", m},
                            {"twin", *twin},
                            {"name", m},
                            {"scale", 1.0},
                            {"offset", 0.0}});
    }
  }
  nlohmann::ordered_json doc{{"version", version}, {"mappings", std::move(mappings)}};
  return doc.dump(2) + "\n";
}

} // namespace twin::edge
