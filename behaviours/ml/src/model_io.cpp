#include "twin/ml/model_io.hpp"

#include <cctype>
#include <cmath>
#include <set>

#include "detail.hpp"

namespace twin::ml {

using detail::bad;
using detail::bad_json;

namespace {

// Parses a semver number part: digits, no leading zero unless "0".
bool number_part(std::string_view s, std::uint64_t& out) {
  if (s.empty() || s.size() > 18 || (s.size() > 1 && s[0] == '0'))
    return false;
  out = 0;
  for (char c : s) {
    if (c < '0' || c > '9')
      return false;
    out = out * 10 + static_cast<std::uint64_t>(c - '0');
  }
  return true;
}

// The DTMI without its ";version" suffix.
std::string_view dtmi_path(std::string_view id) {
  return id.substr(0, id.find(';'));
}

} // namespace

expected<semver> parse_semver(std::string_view text) {
  auto fail = [&] {
    return bad(detail::quoted(text.substr(0, 64)) + " is not a semantic version MAJOR.MINOR.PATCH",
               "ml.version");
  };
  std::string_view core = text.substr(0, text.find_first_of("-+"));
  if (core.size() < text.size()) {
    std::string_view suffix = text.substr(core.size() + 1);
    if (suffix.empty())
      return fail();
    for (char c : suffix)
      if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '-' || c == '+'))
        return fail();
  }
  semver v;
  auto d1 = core.find('.');
  if (d1 == std::string_view::npos)
    return fail();
  auto d2 = core.find('.', d1 + 1);
  if (d2 == std::string_view::npos)
    return fail();
  if (!number_part(core.substr(0, d1), v.major)
      || !number_part(core.substr(d1 + 1, d2 - d1 - 1), v.minor)
      || !number_part(core.substr(d2 + 1), v.patch))
    return fail();
  v.text = std::string{text};
  return v;
}

status validate(const model_binding& binding) {
  if (auto v = parse_semver(binding.behaviour_version); !v)
    return v.error();
  auto id = model::parse_dtmi(binding.bound_model.value(), 3, true);
  if (!id) {
    auto e = bad("bound model: " + id.error().message, "ml.bound-model", "/boundModel");
    return e;
  }
  return ok();
}

expected<model_header> read_header(const nlohmann::json& j) {
  if (!j.is_object())
    return bad_json("a model must be a JSON object", "");
  model_header h;
  auto kind = detail::get_string(j, "kind");
  if (!kind)
    return kind.error();
  h.kind = *kind;
  auto format = j.find("format");
  if (format == j.end() || !format->is_number_integer())
    return bad_json("missing or non-integer 'format'", "/format");
  if (format->get<long long>() != format_version)
    return bad_json("model format " + format->dump() + " is not supported (this build reads "
                      + std::to_string(format_version) + ")",
                    "/format");
  auto version = detail::get_string(j, "version");
  if (!version)
    return version.error();
  auto bound = detail::get_string(j, "boundModel");
  if (!bound)
    return bound.error();
  h.binding = {*version, model::dtmi{*bound}};
  if (auto s = validate(h.binding); !s) {
    auto e = std::move(s).error();
    e.path = e.rule == "ml.version" ? "/version" : "/boundModel";
    return e;
  }
  auto features = j.find("features");
  if (features == j.end() || !features->is_array() || features->empty())
    return bad_json("'features' must be a non-empty array of names", "/features");
  std::set<std::string> seen;
  for (std::size_t i = 0; i < features->size(); ++i) {
    const auto& f = (*features)[i];
    if (!f.is_string() || f.get_ref<const std::string&>().empty())
      return bad_json("feature names must be non-empty strings",
                      "/features/" + std::to_string(i));
    if (!seen.insert(f.get<std::string>()).second)
      return bad_json("duplicate feature '" + f.get<std::string>() + "'",
                      "/features/" + std::to_string(i));
    h.features.push_back(f.get<std::string>());
  }
  return h;
}

nlohmann::json write_header(const model_header& h) {
  return {{"kind", h.kind},
          {"format", h.format},
          {"version", h.binding.behaviour_version},
          {"boundModel", h.binding.bound_model.value()},
          {"features", h.features}};
}

status check_binding(const nlohmann::json& model_json, const model::dtmi& twin_model,
                     std::string_view behaviour_version) {
  auto h = read_header(model_json);
  if (!h)
    return std::move(h).error();
  auto twin = model::parse_dtmi(twin_model.value());
  if (!twin)
    return bad("twin model: " + twin.error().message, "ml.bound-model");
  const std::string& bound = h->binding.bound_model.value();
  if (bound != twin_model.value()) {
    const bool same_path = dtmi_path(bound) == dtmi_path(twin_model.value());
    return make_error(errc::model_violation,
                      "model '" + h->kind + "' was trained for " + bound + ", the twin is "
                        + twin_model.value()
                        + (same_path ? " (another version of the model: retrain the behaviour)"
                                     : " (another model)"),
                      "ml.binding", "/boundModel");
  }
  if (!behaviour_version.empty()) {
    auto want = parse_semver(behaviour_version);
    if (!want)
      return want.error();
    auto have = parse_semver(h->binding.behaviour_version);
    if (have->major != want->major)
      return make_error(errc::model_violation,
                        "model trained by behaviour version " + have->text
                          + ", incompatible with running version " + want->text
                          + " (major versions differ)",
                        "ml.behaviour-version", "/version");
  }
  return ok();
}

expected<std::vector<double>> extract_features(const nlohmann::json& properties,
                                               std::span<const std::string> features) {
  if (!properties.is_object())
    return bad("features must be given as a JSON object", "ml.feature-type");
  std::vector<double> out;
  out.reserve(features.size());
  for (const auto& name : features) {
    auto it = properties.find(name);
    if (it == properties.end() || it->is_null())
      return bad("missing feature '" + name + "'", "ml.missing-feature", detail::slash(name));
    if (!it->is_number())
      return bad("feature '" + name + "' must be a number, not " + it->type_name(),
                 "ml.feature-type", detail::slash(name));
    const double v = it->get<double>();
    if (!std::isfinite(v))
      return bad("feature '" + name + "' is not finite", "ml.non-finite", detail::slash(name));
    out.push_back(v);
  }
  return out;
}

} // namespace twin::ml
