#include "twin/behaviours/spec.hpp"

#include <algorithm>
#include <cmath>
#include <set>
#include <tuple>

#include "twin/model/dtdl.hpp"

namespace twin::behaviours {

std::string_view to_string(behaviour_kind k) noexcept {
  switch (k) {
    case behaviour_kind::fmu: return "fmu";
    case behaviour_kind::anomaly: return "anomaly";
    case behaviour_kind::forecast: return "forecast";
  }
  return "fmu";
}

bool valid_behaviour_name(std::string_view name) noexcept {
  if (name.empty() || name.size() > 64)
    return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')
           || c == '.' || c == '_' || c == '-';
  });
}

namespace {

/// JSON pointer escaping of one reference token.
std::string token(std::string_view s) {
  std::string out;
  for (char c : s) {
    if (c == '~')
      out += "~0";
    else if (c == '/')
      out += "~1";
    else
      out += c;
  }
  return out;
}

struct checker {
  const std::string& name;
  const json& spec;

  error fail(const std::string& path, const std::string& what) const {
    return make_error(errc::bad_request,
                      "behaviour '" + name + "': " + (path.empty() ? "spec" : path) + " " + what,
                      "behaviour-spec", path);
  }

  expected<std::string> string(const json& obj, const char* key, const std::string& base,
                                bool required, std::string dflt = {}) const {
    auto it = obj.find(key);
    if (it == obj.end() || it->is_null()) {
      if (required)
        return fail(base + "/" + key, "is required (a non-empty string)");
      return dflt;
    }
    if (!it->is_string() || it->get_ref<const std::string&>().empty())
      return fail(base + "/" + key, "must be a non-empty string");
    return it->get<std::string>();
  }

  expected<double> number(const json& obj, const char* key, bool required, double dflt,
                          bool positive, bool allow_zero = false) const {
    auto it = obj.find(key);
    auto path = std::string{"/"} + key;
    if (it == obj.end() || it->is_null()) {
      if (required)
        return fail(path, "is required (a number)");
      return dflt;
    }
    if (!it->is_number())
      return fail(path, "must be a number");
    double v = it->get<double>();
    if (!std::isfinite(v))
      return fail(path, "must be finite");
    if (positive && !(v > 0 || (allow_zero && v == 0)))
      return fail(path, allow_zero ? "must be >= 0" : "must be > 0");
    return v;
  }

  expected<std::vector<std::string>> names(const json& obj, const char* key, bool required,
                                           bool non_empty) const {
    std::vector<std::string> out;
    auto it = obj.find(key);
    auto path = std::string{"/"} + key;
    if (it == obj.end() || it->is_null()) {
      if (required)
        return fail(path, "is required (an array of names)");
      return out;
    }
    if (!it->is_array())
      return fail(path, "must be an array of names");
    std::set<std::string> seen;
    for (std::size_t i = 0; i < it->size(); ++i) {
      const auto& v = (*it)[i];
      if (!v.is_string() || v.get_ref<const std::string&>().empty())
        return fail(path + "/" + std::to_string(i), "must be a non-empty string");
      if (!seen.insert(v.get<std::string>()).second)
        return fail(path + "/" + std::to_string(i), "repeats '" + v.get<std::string>() + "'");
      out.push_back(v.get<std::string>());
    }
    if (non_empty && out.empty())
      return fail(path, "must not be empty");
    return out;
  }

  expected<std::vector<std::pair<std::string, std::string>>>
  mapping(const char* key, bool required) const {
    std::vector<std::pair<std::string, std::string>> out;
    auto it = spec.find(key);
    auto path = std::string{"/"} + key;
    if (it == spec.end() || it->is_null()) {
      if (required)
        return fail(path, "is required (an object {\"<fmu variable>\": \"<twin name>\"})");
      return out;
    }
    if (!it->is_object())
      return fail(path, "must be an object {\"<fmu variable>\": \"<twin name>\"}");
    for (auto& [var, target] : it->items()) {
      if (!target.is_string() || target.get_ref<const std::string&>().empty())
        return fail(path + "/" + token(var),
                    "must be a twin telemetry or property name (a non-empty string)");
      out.emplace_back(var, target.get<std::string>());
    }
    if (required && out.empty())
      return fail(path, "must map at least one variable");
    return out;
  }

  status known(const std::set<std::string>& allowed) const {
    for (auto& [k, v] : spec.items()) {
      (void) v;
      if (!allowed.count(k))
        return fail("/" + token(k), "is not a field of a '" + spec.value("kind", "") + "' binding");
    }
    return ok();
  }
};

expected<fmu_binding> parse_fmu(const checker& c) {
  const auto& spec = c.spec;
  if (auto st = c.known({"kind", "model", "fmu", "inputs", "outputs", "parameters", "required",
                         "step", "trigger", "timeScale", "isolation", "description"});
      !st)
    return st.error();
  fmu_binding f;
  auto path = c.string(spec, "fmu", "", true);
  if (!path)
    return path.error();
  f.fmu = *path;
  if (f.fmu.size() < 5 || f.fmu.substr(f.fmu.size() - 4) != ".fmu")
    return c.fail("/fmu", "must name a .fmu file (absolute, or relative to --fmu-dir)");
  auto in = c.mapping("inputs", false);
  if (!in)
    return in.error();
  f.inputs = std::move(*in);
  auto out = c.mapping("outputs", true);
  if (!out)
    return out.error();
  f.outputs = std::move(*out);
  std::set<std::string> written;
  for (auto& [var, prop] : f.outputs)
    if (!written.insert(prop).second)
      return c.fail("/outputs/" + token(var), "writes '" + prop + "' a second time");
  std::set<std::string> input_names;
  for (auto& [var, name] : f.inputs) {
    input_names.insert(name);
    if (written.count(name))
      return c.fail("/inputs/" + token(var),
                    "reads '" + name + "', which the binding writes itself (a feedback loop)");
  }
  if (auto it = spec.find("parameters"); it != spec.end() && !it->is_null()) {
    if (!it->is_object())
      return c.fail("/parameters", "must be an object {\"<fmu parameter>\": value}");
    for (auto& [k, v] : it->items())
      if (!(v.is_number() || v.is_boolean() || v.is_string()))
        return c.fail("/parameters/" + token(k), "must be a number, boolean or string");
    f.parameters = *it;
  }
  if (spec.contains("required") && !spec["required"].is_null()) {
    auto req = c.names(spec, "required", false, false);
    if (!req)
      return req.error();
    for (std::size_t i = 0; i < req->size(); ++i)
      if (!input_names.count((*req)[i]))
        return c.fail("/required/" + std::to_string(i),
                      "names '" + (*req)[i] + "', which is not a mapped input");
    f.required = std::move(*req);
  } else {
    for (auto& [var, name] : f.inputs)
      if (std::find(f.required.begin(), f.required.end(), name) == f.required.end())
        f.required.push_back(name);
  }
  auto step = c.number(spec, "step", true, 0, true);
  if (!step)
    return step.error();
  f.step_s = *step;
  auto ts = c.number(spec, "timeScale", false, 1.0, true);
  if (!ts)
    return ts.error();
  f.time_scale = *ts;
  auto iso = c.string(spec, "isolation", "", false, "worker");
  if (!iso)
    return iso.error();
  if (*iso != "worker" && *iso != "in-process")
    return c.fail("/isolation", "must be \"worker\" or \"in-process\"");
  f.in_process = *iso == "in-process";
  // trigger
  if (auto it = spec.find("trigger"); it != spec.end() && !it->is_null()) {
    if (!it->is_object())
      return c.fail("/trigger", "must be {\"on\": \"update\", \"names\": [...]} or {\"period\": seconds}");
    const auto& t = *it;
    bool has_period = t.contains("period");
    bool has_on = t.contains("on");
    if (has_period == has_on)
      return c.fail("/trigger", "needs exactly one of \"on\": \"update\" or \"period\": seconds");
    for (auto& [k, v] : t.items()) {
      (void) v;
      if (k != "on" && k != "names" && k != "period")
        return c.fail("/trigger/" + token(k), "is not a trigger field (on, names, period)");
    }
    if (has_period) {
      if (t.contains("names"))
        return c.fail("/trigger/names", "goes with \"on\": \"update\", not with a period");
      const auto& p = t["period"];
      if (!p.is_number() || !(p.get<double>() > 0) || !std::isfinite(p.get<double>()))
        return c.fail("/trigger/period", "must be a number of seconds > 0");
      f.trigger.on = trigger_spec::mode::period;
      f.trigger.period_s = p.get<double>();
    } else {
      if (t["on"] != "update")
        return c.fail("/trigger/on", "must be \"update\" (or use \"period\")");
      auto n = c.names(t, "names", false, false);
      if (!n) {
        auto e = n.error();
        e.path = "/trigger" + e.path;
        e.message = "behaviour '" + c.name + "': " + e.path + " must be an array of mapped input names";
        return e;
      }
      for (std::size_t i = 0; i < n->size(); ++i)
        if (!input_names.count((*n)[i]))
          return c.fail("/trigger/names/" + std::to_string(i),
                        "names '" + (*n)[i] + "', which is not a mapped input");
      f.trigger.names = std::move(*n);
    }
  }
  if (f.trigger.on == trigger_spec::mode::update) {
    if (f.inputs.empty())
      return c.fail("/trigger", "an FMU without inputs needs {\"period\": seconds}");
    if (f.trigger.names.empty())
      for (auto& [var, name] : f.inputs)
        if (std::find(f.trigger.names.begin(), f.trigger.names.end(), name)
            == f.trigger.names.end())
          f.trigger.names.push_back(name);
  }
  return f;
}

status check_version(const checker& c, std::string& out) {
  auto v = c.string(c.spec, "version", "", true);
  if (!v)
    return v.error();
  // MAJOR.MINOR.PATCH with an optional -pre/+build suffix.
  const std::string& s = *v;
  std::size_t i = 0;
  for (int part = 0; part < 3; ++part) {
    std::size_t start = i;
    while (i < s.size() && s[i] >= '0' && s[i] <= '9')
      ++i;
    if (i == start || (i - start > 1 && s[start] == '0'))
      return c.fail("/version", "must be a semantic version MAJOR.MINOR.PATCH, got '" + s + "'");
    if (part < 2) {
      if (i >= s.size() || s[i] != '.')
        return c.fail("/version", "must be a semantic version MAJOR.MINOR.PATCH, got '" + s + "'");
      ++i;
    }
  }
  if (i < s.size() && s[i] != '-' && s[i] != '+')
    return c.fail("/version", "must be a semantic version MAJOR.MINOR.PATCH, got '" + s + "'");
  out = s;
  return ok();
}

expected<anomaly_binding> parse_anomaly(const checker& c) {
  const auto& spec = c.spec;
  if (auto st = c.known({"kind", "model", "version", "features", "training", "threshold",
                         "output", "trained", "description"});
      !st)
    return st.error();
  anomaly_binding a;
  if (auto st = check_version(c, a.version); !st)
    return st.error();
  auto f = c.names(spec, "features", true, true);
  if (!f)
    return f.error();
  if (f->size() > 64)
    return c.fail("/features", "has more than 64 names");
  a.features = std::move(*f);
  auto tr = spec.find("training");
  if (tr == spec.end() || !tr->is_object())
    return c.fail("/training", "is required: {\"samples\": N} or {\"from\": T, \"to\": T}");
  bool has_samples = tr->contains("samples");
  bool has_range = tr->contains("from") || tr->contains("to");
  if (has_samples == has_range)
    return c.fail("/training", "needs exactly one of {\"samples\": N} or {\"from\", \"to\"}");
  for (auto& [k, v] : tr->items()) {
    (void) v;
    if (k != "samples" && k != "from" && k != "to")
      return c.fail("/training/" + token(k), "is not a training field (samples, from, to)");
  }
  std::size_t min_n = std::max<std::size_t>(a.features.size() + 2, 5 * a.features.size());
  if (has_samples) {
    const auto& n = (*tr)["samples"];
    if (!n.is_number_integer() || n.get<long long>() < static_cast<long long>(min_n)
        || n.get<long long>() > 1'000'000)
      return c.fail("/training/samples", "must be an integer in [" + std::to_string(min_n)
                                             + ", 1000000] (at least 5 per feature)");
    a.training_samples = n.get<std::size_t>();
  } else {
    for (const char* k : {"from", "to"}) {
      auto it = tr->find(k);
      if (it == tr->end() || !(it->is_string() || it->is_number_integer()))
        return c.fail(std::string{"/training/"} + k,
                      "must be an RFC 3339 time or milliseconds since the epoch");
    }
    auto text = [](const json& v) {
      return v.is_string() ? v.get<std::string>() : std::to_string(v.get<long long>());
    };
    a.training_from = text((*tr)["from"]);
    a.training_to = text((*tr)["to"]);
  }
  if (auto it = spec.find("threshold"); it != spec.end() && !it->is_null()) {
    auto t = c.number(spec, "threshold", false, 0, true);
    if (!t)
      return t.error();
    a.threshold = *t;
  }
  auto out = c.string(spec, "output", "", false, "anomalyScore");
  if (!out)
    return out.error();
  a.output = *out;
  if (std::find(a.features.begin(), a.features.end(), a.output) != a.features.end())
    return c.fail("/output", "is one of the features (a feedback loop)");
  if (auto it = spec.find("trained"); it != spec.end() && !it->is_null()) {
    if (!it->is_object())
      return c.fail("/trained", "must be the trained model document (an object)");
    a.trained = *it;
  }
  return a;
}

expected<forecast_binding> parse_forecast(const checker& c) {
  const auto& spec = c.spec;
  if (auto st = c.known({"kind", "model", "version", "indicator", "limit", "side", "output",
                         "horizonDays", "criticalDays", "timeScale", "timeUnit", "method",
                         "window", "minPoints", "hysteresis", "description"});
      !st)
    return st.error();
  forecast_binding f;
  if (auto st = check_version(c, f.version); !st)
    return st.error();
  auto ind = c.string(spec, "indicator", "", true);
  if (!ind)
    return ind.error();
  f.indicator = *ind;
  auto lim = c.number(spec, "limit", true, 0, false);
  if (!lim)
    return lim.error();
  f.limit = *lim;
  auto side = c.string(spec, "side", "", false, "above");
  if (!side)
    return side.error();
  if (*side != "above" && *side != "below")
    return c.fail("/side", "must be \"above\" (fails rising to the limit) or \"below\"");
  f.above = *side == "above";
  auto out = c.string(spec, "output", "", false, "");
  if (!out)
    return out.error();
  f.output = *out;
  if (f.output == f.indicator)
    return c.fail("/output", "is the indicator itself (a feedback loop)");
  auto h = c.number(spec, "horizonDays", false, 30.0, true);
  if (!h)
    return h.error();
  f.horizon_days = *h;
  auto crit = c.number(spec, "criticalDays", false, f.horizon_days / 3.0, true, true);
  if (!crit)
    return crit.error();
  if (*crit > f.horizon_days)
    return c.fail("/criticalDays", "must not exceed horizonDays");
  f.critical_days = *crit;
  auto ts = c.number(spec, "timeScale", false, 1.0, true);
  if (!ts)
    return ts.error();
  f.time_scale = *ts;
  auto unit = c.string(spec, "timeUnit", "", false, "days");
  if (!unit)
    return unit.error();
  if (*unit != "days" && *unit != "hours" && *unit != "seconds")
    return c.fail("/timeUnit", "must be \"days\", \"hours\" or \"seconds\"");
  f.time_unit = *unit;
  auto m = c.string(spec, "method", "", false, "linear");
  if (!m)
    return m.error();
  if (*m != "linear" && *m != "holt")
    return c.fail("/method", "must be \"linear\" or \"holt\"");
  f.method = *m;
  for (auto [key, slot, lo, hi] : {std::tuple{"window", &f.window, 3LL, 100000LL},
                                   std::tuple{"minPoints", &f.min_points, 3LL, 100000LL}}) {
    auto it = spec.find(key);
    if (it == spec.end() || it->is_null())
      continue;
    if (!it->is_number_integer() || it->get<long long>() < lo || it->get<long long>() > hi)
      return c.fail(std::string{"/"} + key, "must be an integer in [" + std::to_string(lo) + ", "
                                               + std::to_string(hi) + "]");
    *slot = it->get<std::size_t>();
  }
  if (f.method == "holt" && f.min_points < 12)
    f.min_points = 12;
  if (f.min_points > f.window)
    return c.fail("/minPoints", "must not exceed window");
  auto hy = c.number(spec, "hysteresis", false, 0.1, true, true);
  if (!hy)
    return hy.error();
  f.hysteresis = *hy;
  return f;
}

} // namespace

expected<binding> parse_binding(const std::string& name, const json& spec) {
  checker c{name, spec};
  if (!valid_behaviour_name(name))
    return make_error(errc::bad_request,
                      "invalid behaviour name '" + name + "': 1..64 of [A-Za-z0-9._-]",
                      "behaviour-name", "");
  if (!spec.is_object())
    return c.fail("", "must be a JSON object");
  binding b;
  b.name = name;
  b.spec = spec;
  auto kind = c.string(spec, "kind", "", true);
  if (!kind)
    return kind.error();
  auto model = c.string(spec, "model", "", true);
  if (!model)
    return model.error();
  auto d = model::parse_dtmi(*model);
  if (!d || model->find(';') == std::string::npos)
    return c.fail("/model", "must be the DTMI of the twin's model with its version "
                            "(e.g. dtmi:fabric:example:GearboxBearing;1), got '" + *model + "'");
  b.model = *model;
  if (*kind == "fmu") {
    b.kind = behaviour_kind::fmu;
    auto f = parse_fmu(c);
    if (!f)
      return f.error();
    b.detail = std::move(*f);
  } else if (*kind == "anomaly") {
    b.kind = behaviour_kind::anomaly;
    auto a = parse_anomaly(c);
    if (!a)
      return a.error();
    b.detail = std::move(*a);
  } else if (*kind == "forecast") {
    b.kind = behaviour_kind::forecast;
    auto f = parse_forecast(c);
    if (!f)
      return f.error();
    b.detail = std::move(*f);
  } else {
    return c.fail("/kind", "must be \"fmu\", \"anomaly\" or \"forecast\", got '" + *kind + "'");
  }
  return b;
}

status check_model(const binding& b, const std::string& twin_model) {
  if (b.model == twin_model)
    return ok();
  return make_error(errc::binding_model_mismatch,
                    "behaviour '" + b.name + "' was written for model " + b.model
                      + " and refuses to run on a twin of model " + twin_model,
                    "binding-model", "/model");
}

} // namespace twin::behaviours
