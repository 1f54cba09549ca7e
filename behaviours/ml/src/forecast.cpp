#include "twin/ml/forecast.hpp"

#include <algorithm>
#include <cmath>
#include <limits>

#include "detail.hpp"
#include "twin/ml/stats.hpp"

namespace twin::ml {

using detail::bad;
using detail::bad_json;

namespace {

/// Filter state of Holt's method, shared by the grid search and the model.
struct holt_state {
  double level = 0.0;
  double trend = 0.0;
  double last_t = 0.0;
  double sse = 0.0;
  std::size_t errors = 0;

  void step(double alpha, double beta, double t, double y) {
    const double dt = t - last_t;
    const double f = level + trend * dt;
    const double e = y - f;
    const double next = f + alpha * e;
    trend = beta * (next - level) / dt + (1.0 - beta) * trend;
    level = next;
    last_t = t;
    sse += e * e;
    ++errors;
  }
};

/// Least-squares line over the first k observations, evaluated at the k-th.
holt_state initial_state(std::span<const observation> h, std::size_t k) {
  double mt = 0.0, my = 0.0;
  for (std::size_t i = 0; i < k; ++i) {
    mt += h[i].t;
    my += h[i].value;
  }
  mt /= static_cast<double>(k);
  my /= static_cast<double>(k);
  double sxy = 0.0, sxx = 0.0;
  for (std::size_t i = 0; i < k; ++i) {
    sxy += (h[i].t - mt) * (h[i].value - my);
    sxx += (h[i].t - mt) * (h[i].t - mt);
  }
  holt_state s;
  s.trend = sxx > 0.0 ? sxy / sxx : 0.0;
  s.last_t = h[k - 1].t;
  s.level = my + s.trend * (s.last_t - mt);
  return s;
}

holt_state run(std::span<const observation> h, std::size_t k, double alpha, double beta) {
  holt_state s = initial_state(h, k);
  for (std::size_t i = k; i < h.size(); ++i)
    s.step(alpha, beta, h[i].t, h[i].value);
  return s;
}

/// Sum of squared errors of forecasts made `lead` steps ahead: observation
/// i is compared with the line of the state after observation i - lead
/// (states exist from observation k-1, the initialisation, on).
double lead_sse(std::span<const observation> h, std::size_t k, double alpha, double beta,
                std::size_t lead, std::vector<holt_state>& ring) {
  holt_state s = initial_state(h, k);
  ring.assign(lead, s); // ring[j % lead] = state after observation j
  double sse = 0.0;
  for (std::size_t i = k; i < h.size(); ++i) {
    if (i >= lead + k - 1) {
      const holt_state& past = ring[(i - lead) % lead];
      const double e = h[i].value - (past.level + past.trend * (h[i].t - past.last_t));
      sse += e * e;
    }
    s.step(alpha, beta, h[i].t, h[i].value);
    ring[i % lead] = s;
  }
  return sse;
}

constexpr double smoothing_grid[] = {0.001, 0.002, 0.005, 0.01, 0.02, 0.03, 0.05,
                                     0.07,  0.1,   0.15,  0.2,  0.3,  0.4,  0.5,
                                     0.6,   0.7,   0.8,   0.9,  1.0};

status check_series(std::span<const observation> h) {
  for (std::size_t i = 0; i < h.size(); ++i) {
    if (!std::isfinite(h[i].t) || !std::isfinite(h[i].value))
      return bad("observation " + std::to_string(i) + " is not finite", "ml.non-finite",
                 detail::slash(std::to_string(i)));
  }
  return ok();
}

status check_name(const std::string& feature) {
  if (feature.empty())
    return bad("the indicator needs a name", "ml.features", "/features/0");
  return ok();
}

/// Common part of both models' rul(): the point crossing of a straight line
/// value(now) + slope*(t-now) in a space where failure is "above" after the
/// side's sign is applied.
struct line_crossing {
  rul_estimate est;
  bool done = false; // est is final (already crossed / no crossing)
};

line_crossing point_crossing(double now, double value_now, double slope, double limit,
                             const crossing_query& q) {
  const double s = q.side == failure_side::above ? 1.0 : -1.0;
  line_crossing r;
  r.est.now = now;
  const double gap = s * (limit - value_now); // > 0: not failed yet
  if (gap <= 0.0) {
    r.est.result = rul_estimate::outcome::already_crossed;
    r.est.crossing_time = now;
    r.est.rul_s = r.est.rul_low_s = r.est.rul_high_s = 0.0;
    r.done = true;
    return r;
  }
  const double rate = s * slope;
  if (!(rate > 0.0) || gap / rate > q.horizon_s) {
    r.est.result = rul_estimate::outcome::no_crossing;
    r.done = true;
    return r;
  }
  r.est.result = rul_estimate::outcome::predicted;
  r.est.rul_s = gap / rate;
  r.est.crossing_time = now + *r.est.rul_s;
  return r;
}

/// First t in [lo, hi] with f(t) >= 0 given f(lo) < 0 <= f(hi) (bisection).
template <class F>
double first_root(F f, double lo, double hi) {
  for (int i = 0; i < 200 && hi - lo > 1e-9 * std::max(1.0, std::abs(hi)); ++i) {
    const double mid = 0.5 * (lo + hi);
    (f(mid) >= 0.0 ? hi : lo) = mid;
  }
  return hi;
}

} // namespace

std::string_view to_string(rul_estimate::outcome o) noexcept {
  switch (o) {
    case rul_estimate::outcome::predicted:
      return "predicted";
    case rul_estimate::outcome::already_crossed:
      return "already_crossed";
    case rul_estimate::outcome::no_crossing:
      return "no_crossing";
  }
  return "no_crossing";
}

status validate(const crossing_query& q) {
  if (!std::isfinite(q.limit))
    return bad("the limit must be finite", "ml.query", "/limit");
  if (!(q.confidence > 0.0 && q.confidence < 1.0))
    return bad("confidence must be in (0, 1)", "ml.query", "/confidence");
  if (!(q.horizon_s > 0.0) || !std::isfinite(q.horizon_s))
    return bad("horizon must be positive and finite", "ml.query", "/horizon");
  if (q.now && !std::isfinite(*q.now))
    return bad("now must be finite", "ml.query", "/now");
  return ok();
}

namespace {

// ---- shared by both models ---------------------------------------------------

/// Checks the query; returns the limit in the space of the fitted line:
/// ln(limit - offset) for an exponential shape (increasing, so the side is
/// kept), else the limit. `noun` names the model's curve in the error.
expected<double> line_limit(const crossing_query& q, degradation_shape shape, double offset,
                            std::string_view noun) {
  if (auto s = validate(q); !s)
    return std::move(s).error();
  const bool expo = shape == degradation_shape::exponential;
  if (expo && !(q.limit > offset))
    return bad("the limit must be above the offset of an exponential " + std::string{noun},
               "ml.query", "/limit");
  return expo ? std::log(q.limit - offset) : q.limit;
}

/// A value of the fitted line mapped back to the indicator's scale.
double from_line(degradation_shape shape, double offset, double line) noexcept {
  return shape == degradation_shape::exponential ? offset + std::exp(line) : line;
}

const char* shape_name(degradation_shape s) noexcept {
  return s == degradation_shape::linear ? "linear" : "exponential";
}

expected<degradation_shape> read_shape(const nlohmann::json& j) {
  auto shape = detail::get_string(j, "shape");
  if (!shape)
    return shape.error();
  if (*shape == "linear")
    return degradation_shape::linear;
  if (*shape == "exponential")
    return degradation_shape::exponential;
  return bad_json("'shape' must be linear or exponential", "/shape");
}

/// The header of a one-feature model of `kind`; `model` names it in the
/// error ("a Holt model").
expected<model_header> read_one_feature_header(const nlohmann::json& j, std::string_view kind,
                                               std::string_view model) {
  auto h = read_header(j);
  if (!h)
    return std::move(h).error();
  if (h->kind != kind)
    return bad_json("kind '" + h->kind + "' is not " + std::string{kind}, "/kind");
  if (h->features.size() != 1)
    return bad_json(std::string{model} + " has exactly one feature", "/features");
  return h;
}

/// Reads each finite number j[key] into *dst, stopping at the first error.
status read_numbers(const nlohmann::json& j,
                    std::initializer_list<std::pair<const char*, double*>> fields) {
  for (auto [key, dst] : fields) {
    auto v = detail::get_number(j, key);
    if (!v)
      return v.error();
    *dst = *v;
  }
  return ok();
}

} // namespace

// ---- Holt -----------------------------------------------------------------

expected<holt_forecaster> holt_forecaster::fit(model_binding binding, std::string feature,
                                               std::span<const observation> history,
                                               const holt_options& o) {
  if (auto s = validate(binding); !s)
    return std::move(s).error();
  if (auto s = check_name(feature); !s)
    return std::move(s).error();
  if (o.alpha && !(*o.alpha > 0.0 && *o.alpha <= 1.0))
    return bad("alpha must be in (0, 1]", "ml.options", "/alpha");
  if (o.beta && !(*o.beta >= 0.0 && *o.beta <= 1.0))
    return bad("beta must be in [0, 1]", "ml.options", "/beta");
  if (o.init_points < 2)
    return bad("init_points must be at least 2", "ml.options", "/initPoints");
  if (o.fit_lead < 1)
    return bad("fit_lead must be at least 1", "ml.options", "/fitLead");
  if (!std::isfinite(o.offset))
    return bad("offset must be finite", "ml.offset", "/offset");
  const std::size_t need = o.init_points + o.fit_lead + 1;
  if (history.size() < need)
    return bad(std::to_string(history.size()) + " observations are too few (need at least "
                 + std::to_string(need) + ")",
               "ml.too-few-samples");
  if (auto s = check_series(history); !s)
    return std::move(s).error();
  for (std::size_t i = 1; i < history.size(); ++i)
    if (!(history[i].t > history[i - 1].t))
      return bad("timestamps must be strictly increasing", "ml.time-order",
                 detail::slash(std::to_string(i)));
  const bool expo = o.shape == degradation_shape::exponential;
  std::vector<observation> u(history.begin(), history.end());
  if (expo)
    for (std::size_t i = 0; i < u.size(); ++i) {
      if (!(u[i].value > o.offset))
        return bad("exponential shape needs every value above the offset", "ml.offset",
                   detail::slash(std::to_string(i)));
      u[i].value = std::log(u[i].value - o.offset);
    }
  const std::span<const observation> h{u};

  const std::size_t k = o.init_points;
  double alpha = o.alpha.value_or(0.5), beta = o.beta.value_or(0.1);
  if (!o.alpha || !o.beta) {
    // Grid search; ties go to the earlier (smoother) pair.
    std::vector<double> alphas, betas;
    if (o.alpha)
      alphas = {*o.alpha};
    else
      alphas.assign(std::begin(smoothing_grid), std::end(smoothing_grid));
    if (o.beta) {
      betas = {*o.beta};
    } else {
      betas = {0.0};
      betas.insert(betas.end(), std::begin(smoothing_grid), std::end(smoothing_grid));
    }
    double best = std::numeric_limits<double>::infinity();
    std::vector<holt_state> ring;
    for (double a : alphas)
      for (double b : betas) {
        const double sse = o.fit_lead == 1 ? run(h, k, a, b).sse
                                           : lead_sse(h, k, a, b, o.fit_lead, ring);
        if (sse < best * (1.0 - 1e-12)) {
          best = sse;
          alpha = a;
          beta = b;
        }
      }
  }
  holt_state s = run(h, k, alpha, beta);
  holt_forecaster m;
  m.binding_ = std::move(binding);
  m.feature_ = std::move(feature);
  m.alpha_ = alpha;
  m.beta_ = beta;
  m.level_ = s.level;
  m.trend_ = s.trend;
  m.last_t_ = s.last_t;
  m.first_t_ = h.front().t;
  m.sse_ = s.sse;
  m.errors_ = s.errors;
  m.observations_ = h.size();
  m.shape_ = o.shape;
  m.offset_ = expo ? o.offset : 0.0;
  return m;
}

status holt_forecaster::update(double t, double value) {
  if (!std::isfinite(t) || !std::isfinite(value))
    return bad("observation is not finite", "ml.non-finite");
  if (!(t > last_t_))
    return bad("observation at t=" + std::to_string(t) + " is not after the last one (t="
                 + std::to_string(last_t_) + ")",
               "ml.time-order");
  const bool expo = shape_ == degradation_shape::exponential;
  if (expo && !(value > offset_))
    return bad("value is not above the offset of the exponential shape", "ml.offset");
  holt_state s{level_, trend_, last_t_, sse_, errors_};
  s.step(alpha_, beta_, t, expo ? std::log(value - offset_) : value);
  level_ = s.level;
  trend_ = s.trend;
  last_t_ = s.last_t;
  sse_ = s.sse;
  errors_ = s.errors;
  ++observations_;
  return ok();
}

double holt_forecaster::forecast(double t) const noexcept {
  return from_line(shape_, offset_, level_ + trend_ * (t - last_t_));
}

double holt_forecaster::sigma() const noexcept {
  return errors_ ? std::sqrt(sse_ / static_cast<double>(errors_)) : 0.0;
}

double holt_forecaster::forecast_sd(double t) const noexcept {
  const double mean_dt = observations_ > 1
                           ? (last_t_ - first_t_) / static_cast<double>(observations_ - 1)
                           : 1.0;
  const double h = std::max(1.0, (t - last_t_) / (mean_dt > 0.0 ? mean_dt : 1.0));
  // ETS(A,A,N) with b = alpha * beta* (Hyndman et al. 2008, table 6.1).
  const double a = alpha_, b = alpha_ * beta_;
  const double v = 1.0 + (h - 1.0) * (a * a + a * b * h + b * b * h * (2.0 * h - 1.0) / 6.0);
  return sigma() * std::sqrt(v);
}

expected<rul_estimate> holt_forecaster::rul(const crossing_query& q) const {
  auto limit = line_limit(q, shape_, offset_, "shape");
  if (!limit)
    return std::move(limit).error();
  const double lim = *limit;
  auto line = [&](double t) { return level_ + trend_ * (t - last_t_); };
  const double now = q.now.value_or(last_t_);
  auto r = point_crossing(now, line(now), trend_, lim, q);
  if (r.done)
    return r.est;
  const double sgn = q.side == failure_side::above ? 1.0 : -1.0;
  const double z = normal_quantile(0.5 + 0.5 * q.confidence);
  const double t_star = *r.est.crossing_time;
  // Early end: the optimistic edge of the interval reaches the limit
  // (monotone in t, and it has by t_star).
  auto early = [&](double t) { return sgn * (line(t) - lim) + z * forecast_sd(t); };
  r.est.rul_low_s = early(now) >= 0.0 ? 0.0 : first_root(early, now, t_star) - now;
  // Late end: the pessimistic edge may turn back before reaching the limit
  // (the interval widens faster than the trend); scan, then bisect.
  auto late = [&](double t) { return sgn * (line(t) - lim) - z * forecast_sd(t); };
  const double end = now + q.horizon_s;
  double prev = t_star;
  constexpr int scan = 600;
  for (int i = 1; i <= scan; ++i) {
    const double u = static_cast<double>(i) / scan;
    const double t = t_star + (end - t_star) * u * u;
    if (late(t) >= 0.0) {
      r.est.rul_high_s = first_root(late, prev, t) - now;
      break;
    }
    prev = t;
  }
  return r.est;
}

nlohmann::json holt_forecaster::to_json() const {
  auto j = write_header({std::string{kind_forecast_holt}, format_version, binding_, {feature_}});
  j["alpha"] = alpha_;
  j["beta"] = beta_;
  j["level"] = level_;
  j["trend"] = trend_;
  j["lastTime"] = last_t_;
  j["firstTime"] = first_t_;
  j["sse"] = sse_;
  j["errors"] = errors_;
  j["observations"] = observations_;
  j["shape"] = shape_name(shape_);
  j["offset"] = offset_;
  return j;
}

expected<holt_forecaster> holt_forecaster::from_json(const nlohmann::json& j) {
  auto h = read_one_feature_header(j, kind_forecast_holt, "a Holt model");
  if (!h)
    return std::move(h).error();
  holt_forecaster m;
  m.binding_ = h->binding;
  m.feature_ = h->features[0];
  if (auto s = read_numbers(j, {{"alpha", &m.alpha_}, {"beta", &m.beta_}, {"level", &m.level_},
                                 {"trend", &m.trend_}, {"lastTime", &m.last_t_},
                                 {"firstTime", &m.first_t_}, {"sse", &m.sse_}});
      !s)
    return std::move(s).error();
  if (!(m.alpha_ > 0.0 && m.alpha_ <= 1.0))
    return bad_json("'alpha' must be in (0, 1]", "/alpha");
  if (!(m.beta_ >= 0.0 && m.beta_ <= 1.0))
    return bad_json("'beta' must be in [0, 1]", "/beta");
  if (m.sse_ < 0.0)
    return bad_json("'sse' must be >= 0", "/sse");
  if (m.first_t_ > m.last_t_)
    return bad_json("'firstTime' must not be after 'lastTime'", "/firstTime");
  auto errors = detail::get_count(j, "errors");
  if (!errors)
    return errors.error();
  auto obs = detail::get_count(j, "observations");
  if (!obs)
    return obs.error();
  m.errors_ = *errors;
  m.observations_ = *obs;
  auto shape = read_shape(j);
  if (!shape)
    return std::move(shape).error();
  m.shape_ = *shape;
  auto offset = detail::get_number(j, "offset");
  if (!offset)
    return offset.error();
  m.offset_ = *offset;
  return m;
}

// ---- degradation fit --------------------------------------------------------

expected<degradation_fit> degradation_fit::fit(model_binding binding, std::string feature,
                                               std::span<const observation> data,
                                               const degradation_options& o) {
  if (auto s = validate(binding); !s)
    return std::move(s).error();
  if (auto s = check_name(feature); !s)
    return std::move(s).error();
  if (!std::isfinite(o.offset))
    return bad("offset must be finite", "ml.offset", "/offset");
  if (data.size() < 3)
    return bad(std::to_string(data.size()) + " observations are too few (need at least 3)",
               "ml.too-few-samples");
  if (auto s = check_series(data); !s)
    return std::move(s).error();
  const bool expo = o.shape == degradation_shape::exponential;
  std::vector<double> y(data.size());
  for (std::size_t i = 0; i < data.size(); ++i) {
    if (expo && !(data[i].value > o.offset))
      return bad("exponential fit needs every value above the offset " + std::to_string(o.offset),
                 "ml.offset", detail::slash(std::to_string(i)));
    y[i] = expo ? std::log(data[i].value - o.offset) : data[i].value;
  }
  const auto n = static_cast<double>(data.size());
  double mt = 0.0, my = 0.0, last = data[0].t;
  for (std::size_t i = 0; i < data.size(); ++i) {
    mt += data[i].t;
    my += y[i];
    last = std::max(last, data[i].t);
  }
  mt /= n;
  my /= n;
  double sxx = 0.0, sxy = 0.0;
  for (std::size_t i = 0; i < data.size(); ++i) {
    sxx += (data[i].t - mt) * (data[i].t - mt);
    sxy += (data[i].t - mt) * (y[i] - my);
  }
  if (!(sxx > 0.0))
    return bad("all observations are at the same time", "ml.time-spread");
  const double slope = sxy / sxx;
  double sse = 0.0;
  for (std::size_t i = 0; i < data.size(); ++i) {
    const double e = y[i] - (my + slope * (data[i].t - mt));
    sse += e * e;
  }
  degradation_fit m;
  m.binding_ = std::move(binding);
  m.feature_ = std::move(feature);
  m.shape_ = o.shape;
  m.offset_ = expo ? o.offset : 0.0;
  m.intercept_ = my;
  m.slope_ = slope;
  m.mean_t_ = mt;
  m.sxx_ = sxx;
  m.sigma_ = std::sqrt(sse / (n - 2.0));
  m.n_ = data.size();
  m.last_t_ = last;
  return m;
}

double degradation_fit::predict(double t) const noexcept {
  return from_line(shape_, offset_, intercept_ + slope_ * (t - mean_t_));
}

expected<rul_estimate> degradation_fit::rul(const crossing_query& q) const {
  // Work on the fitted line: ln(limit - offset) is crossed when the limit is.
  auto limit = line_limit(q, shape_, offset_, "path");
  if (!limit)
    return std::move(limit).error();
  const double lim = *limit;
  const double now = q.now.value_or(last_t_);
  const double at_now = intercept_ + slope_ * (now - mean_t_);
  auto r = point_crossing(now, at_now, slope_, lim, q);
  if (r.done)
    return r.est;
  // Fieller: tau = t - mean_t where the confidence band of the mean line,
  // intercept + slope*tau +/- z*sigma*sqrt(1/n + tau^2/sxx), meets lim:
  // (slope^2 - k/sxx) tau^2 + 2 slope d tau + d^2 - k/n = 0, d = intercept -
  // lim, k = z^2 sigma^2. Bounded only if the slope is significant (A > 0).
  const double z = normal_quantile(0.5 + 0.5 * q.confidence);
  const double k = z * z * sigma_ * sigma_;
  const double d = intercept_ - lim;
  const double A = slope_ * slope_ - k / sxx_;
  const double B = 2.0 * slope_ * d;
  const double C = d * d - k / static_cast<double>(n_);
  const double disc = B * B - 4.0 * A * C;
  if (A > 0.0 && disc >= 0.0) {
    const double sq = std::sqrt(disc);
    const double t1 = mean_t_ + (-B - sq) / (2.0 * A);
    const double t2 = mean_t_ + (-B + sq) / (2.0 * A);
    r.est.rul_low_s = std::max(0.0, t1 - now);
    if (t2 - now <= q.horizon_s)
      r.est.rul_high_s = std::max(0.0, t2 - now);
  }
  return r.est;
}

nlohmann::json degradation_fit::to_json() const {
  auto j = write_header({std::string{kind_rul_degradation}, format_version, binding_, {feature_}});
  j["shape"] = shape_name(shape_);
  j["offset"] = offset_;
  j["intercept"] = intercept_;
  j["slope"] = slope_;
  j["meanTime"] = mean_t_;
  j["sxx"] = sxx_;
  j["sigma"] = sigma_;
  j["samples"] = n_;
  j["lastTime"] = last_t_;
  return j;
}

expected<degradation_fit> degradation_fit::from_json(const nlohmann::json& j) {
  auto h = read_one_feature_header(j, kind_rul_degradation, "a degradation fit");
  if (!h)
    return std::move(h).error();
  degradation_fit m;
  m.binding_ = h->binding;
  m.feature_ = h->features[0];
  auto shape = read_shape(j);
  if (!shape)
    return std::move(shape).error();
  m.shape_ = *shape;
  if (auto s = read_numbers(j, {{"offset", &m.offset_}, {"intercept", &m.intercept_},
                                 {"slope", &m.slope_}, {"meanTime", &m.mean_t_}, {"sxx", &m.sxx_},
                                 {"sigma", &m.sigma_}, {"lastTime", &m.last_t_}});
      !s)
    return std::move(s).error();
  if (!(m.sxx_ > 0.0))
    return bad_json("'sxx' must be positive", "/sxx");
  if (m.sigma_ < 0.0)
    return bad_json("'sigma' must be >= 0", "/sigma");
  auto n = detail::get_count(j, "samples");
  if (!n)
    return n.error();
  if (*n < 3)
    return bad_json("'samples' must be at least 3", "/samples");
  m.n_ = *n;
  return m;
}

} // namespace twin::ml
