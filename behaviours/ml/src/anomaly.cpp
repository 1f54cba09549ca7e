// Reweighted MCD by concentration steps. Everything runs on features
// standardized by median and MAD, so the ridge and the convergence
// tolerances are in units of one robust standard deviation.

#include "twin/ml/anomaly.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <numeric>
#include <random>
#include <set>

#include "detail.hpp"
#include "twin/ml/stats.hpp"

namespace twin::ml {

using detail::bad;
using detail::bad_json;

namespace {

/// Scoring uses a stack buffer of this many doubles.
constexpr std::size_t max_features = 64;
constexpr double mad_to_sigma = 1.482602218505602; // 1 / Phi^-1(3/4)
constexpr double max_ridge = 0.1;

/// Location, Cholesky factor and log-determinant of one candidate subset.
struct candidate {
  std::vector<double> mean;
  std::vector<double> chol;
  double logdet = 0.0;
  std::vector<std::size_t> subset;
};

/// Standardized training data, n rows of p.
struct data_set {
  std::vector<double> z;
  std::size_t n = 0;
  std::size_t p = 0;
  const double* row(std::size_t i) const { return z.data() + i * p; }
};

/// Mean and covariance (divisor m) of the rows `idx[0..m)`.
void moments(const data_set& d, const std::size_t* idx, std::size_t m,
             std::vector<double>& mean, std::vector<double>& cov) {
  const std::size_t p = d.p;
  mean.assign(p, 0.0);
  cov.assign(p * p, 0.0);
  for (std::size_t k = 0; k < m; ++k) {
    const double* r = d.row(idx[k]);
    for (std::size_t j = 0; j < p; ++j)
      mean[j] += r[j];
  }
  for (auto& v : mean)
    v /= static_cast<double>(m);
  std::array<double, max_features> c{};
  for (std::size_t k = 0; k < m; ++k) {
    const double* r = d.row(idx[k]);
    for (std::size_t j = 0; j < p; ++j)
      c[j] = r[j] - mean[j];
    for (std::size_t i = 0; i < p; ++i)
      for (std::size_t j = 0; j <= i; ++j)
        cov[i * p + j] += c[i] * c[j];
  }
  for (std::size_t i = 0; i < p; ++i)
    for (std::size_t j = 0; j <= i; ++j) {
      cov[i * p + j] /= static_cast<double>(m);
      cov[j * p + i] = cov[i * p + j];
    }
}

/// Factors cov + r*I with the smallest r >= ridge (x10 steps) that works;
/// returns r, or a negative value if even max_ridge fails.
double factor_with_ridge(const std::vector<double>& cov, std::size_t p, double ridge,
                         std::vector<double>& chol) {
  double r = ridge;
  while (true) {
    chol = cov;
    for (std::size_t j = 0; j < p; ++j)
      chol[j * p + j] += r;
    if (detail::cholesky(chol, p))
      return r;
    if (r >= max_ridge)
      return -1.0;
    r = std::min(max_ridge, std::max(r * 10.0, 1e-9));
  }
}

double log_det(const std::vector<double>& chol, std::size_t p) {
  double s = 0.0;
  for (std::size_t j = 0; j < p; ++j)
    s += 2.0 * std::log(chol[j * p + j]);
  return s;
}

void distances(const data_set& d, const candidate& c, std::vector<double>& d2) {
  d2.resize(d.n);
  std::array<double, max_features> diff{};
  std::array<double, max_features> work{};
  for (std::size_t i = 0; i < d.n; ++i) {
    const double* r = d.row(i);
    for (std::size_t j = 0; j < d.p; ++j)
      diff[j] = r[j] - c.mean[j];
    d2[i] = detail::solve_norm2(c.chol.data(), d.p, diff.data(), work.data());
  }
}

/// Estimates a candidate from a subset; false if singular beyond max_ridge.
bool estimate(const data_set& d, std::vector<std::size_t> subset, double ridge,
              candidate& out) {
  std::vector<double> cov;
  moments(d, subset.data(), subset.size(), out.mean, cov);
  if (factor_with_ridge(cov, d.p, ridge, out.chol) < 0.0)
    return false;
  out.logdet = log_det(out.chol, d.p);
  out.subset = std::move(subset);
  std::sort(out.subset.begin(), out.subset.end());
  return true;
}

/// The h samples closest to a candidate.
std::vector<std::size_t> closest(const std::vector<double>& d2, std::size_t h) {
  std::vector<std::size_t> idx(d2.size());
  std::iota(idx.begin(), idx.end(), std::size_t{0});
  std::nth_element(idx.begin(), idx.begin() + static_cast<std::ptrdiff_t>(h - 1), idx.end(),
                   [&](std::size_t a, std::size_t b) {
                     return d2[a] < d2[b] || (d2[a] == d2[b] && a < b);
                   });
  idx.resize(h);
  return idx;
}

/// Up to `steps` concentration steps; the determinant never increases
/// (Rousseeuw & Van Driessen, theorem 1), stop when it stops decreasing.
void c_steps(const data_set& d, std::size_t h, double ridge, candidate& c, int steps) {
  std::vector<double> d2;
  for (int s = 0; s < steps; ++s) {
    distances(d, c, d2);
    candidate next;
    if (!estimate(d, closest(d2, h), ridge, next))
      return;
    const bool same = next.subset == c.subset;
    // A start subset of p+1 samples is not comparable: always step from it.
    const bool better = c.subset.size() != h || next.logdet < c.logdet - 1e-12;
    if (!better && !same)
      return; // numerical noise: keep the current one
    c = std::move(next);
    if (same)
      return;
  }
}

} // namespace

expected<anomaly_detector> anomaly_detector::train(model_binding binding,
                                                   std::vector<std::string> features,
                                                   std::span<const std::vector<double>> samples,
                                                   const anomaly_options& o) {
  if (auto s = validate(binding); !s)
    return std::move(s).error();
  if (features.empty())
    return bad("at least one feature is needed", "ml.features", "/features");
  if (features.size() > max_features)
    return bad("at most " + std::to_string(max_features) + " features", "ml.features",
               "/features");
  {
    std::set<std::string> seen;
    for (std::size_t i = 0; i < features.size(); ++i)
      if (features[i].empty() || !seen.insert(features[i]).second)
        return bad("feature names must be non-empty and distinct", "ml.features",
                   "/features/" + std::to_string(i));
  }
  if (!(o.support_fraction > 0.5 && o.support_fraction <= 1.0))
    return bad("support_fraction must be in (0.5, 1]", "ml.options", "/supportFraction");
  if (!(o.quantile > 0.5 && o.quantile < 1.0))
    return bad("quantile must be in (0.5, 1)", "ml.options", "/quantile");
  if (o.random_starts < 0)
    return bad("random_starts must be >= 0", "ml.options", "/randomStarts");
  if (!(o.ridge >= 0.0 && o.ridge <= max_ridge))
    return bad("ridge must be in [0, 0.1]", "ml.options", "/ridge");

  const std::size_t p = features.size();
  const std::size_t n = samples.size();
  const std::size_t need = std::max(p + 2, o.min_samples_per_feature * p);
  if (n < need)
    return bad(std::to_string(n) + " samples are too few for " + std::to_string(p)
                 + " features (need at least " + std::to_string(need) + ")",
               "ml.too-few-samples", "/samples");
  for (std::size_t i = 0; i < n; ++i) {
    if (samples[i].size() != p)
      return bad("sample " + std::to_string(i) + " has " + std::to_string(samples[i].size())
                   + " values, expected " + std::to_string(p),
                 "ml.dimension", "/samples/" + std::to_string(i));
    for (std::size_t j = 0; j < p; ++j)
      if (!std::isfinite(samples[i][j]))
        return bad("sample " + std::to_string(i) + ", feature '" + features[j]
                     + "' is not finite",
                   "ml.non-finite", "/samples/" + std::to_string(i) + "/" + std::to_string(j));
  }

  anomaly_detector m;
  m.binding_ = std::move(binding);
  m.features_ = std::move(features);
  m.method_ = o.threshold;
  m.quantile_ = o.quantile;
  m.trained_samples_ = n;

  // Standardize by median and MAD (std, then 1, as fallbacks).
  std::vector<double> med(p), scale(p);
  for (std::size_t j = 0; j < p; ++j) {
    std::vector<double> col(n);
    for (std::size_t i = 0; i < n; ++i)
      col[i] = samples[i][j];
    med[j] = median(col);
    for (auto& v : col)
      v = std::abs(v - med[j]);
    double s = mad_to_sigma * median(col);
    if (!(s > 0.0)) {
      double mean = 0.0, ss = 0.0;
      for (std::size_t i = 0; i < n; ++i)
        mean += samples[i][j];
      mean /= static_cast<double>(n);
      for (std::size_t i = 0; i < n; ++i)
        ss += (samples[i][j] - mean) * (samples[i][j] - mean);
      s = std::sqrt(ss / static_cast<double>(n - 1));
    }
    scale[j] = s > 0.0 ? s : 1.0;
  }
  data_set d;
  d.n = n;
  d.p = p;
  d.z.resize(n * p);
  for (std::size_t i = 0; i < n; ++i)
    for (std::size_t j = 0; j < p; ++j)
      d.z[i * p + j] = (samples[i][j] - med[j]) / scale[j];

  const std::size_t h_min = (n + p + 1) / 2;
  const auto h_frac = static_cast<std::size_t>(std::ceil(o.support_fraction * static_cast<double>(n)));
  const std::size_t h = std::min(n, std::max(h_min, h_frac));
  const double ridge = o.ridge;

  candidate best;
  bool have_best = false;
  auto consider = [&](candidate& c) {
    if (!have_best || c.logdet < best.logdet) {
      best = c;
      have_best = true;
    }
  };
  if (h == n) {
    std::vector<std::size_t> all(n);
    std::iota(all.begin(), all.end(), std::size_t{0});
    candidate c;
    if (estimate(d, std::move(all), ridge, c))
      consider(c);
  } else {
    // Deterministic start: the h samples nearest the coordinate-wise median.
    {
      std::vector<double> norm2(n, 0.0);
      for (std::size_t i = 0; i < n; ++i)
        for (std::size_t j = 0; j < p; ++j)
          norm2[i] += d.z[i * p + j] * d.z[i * p + j];
      candidate c;
      if (estimate(d, closest(norm2, h), ridge, c)) {
        c_steps(d, h, ridge, c, 100);
        consider(c);
      }
    }
    // Random (p+1)-subsets: two C-steps each, then the best ten to convergence.
    std::mt19937_64 rng(o.seed);
    std::vector<candidate> pool;
    for (int s = 0; s < o.random_starts; ++s) {
      std::vector<std::size_t> subset;
      while (subset.size() < p + 1) {
        const std::size_t k = static_cast<std::size_t>(rng() % n);
        if (std::find(subset.begin(), subset.end(), k) == subset.end())
          subset.push_back(k);
      }
      candidate c;
      if (!estimate(d, std::move(subset), ridge, c))
        continue;
      c_steps(d, h, ridge, c, 2);
      pool.push_back(std::move(c));
    }
    std::sort(pool.begin(), pool.end(),
              [](const candidate& a, const candidate& b) { return a.logdet < b.logdet; });
    if (pool.size() > 10)
      pool.resize(10);
    for (auto& c : pool) {
      c_steps(d, h, ridge, c, 100);
      consider(c);
    }
  }
  if (!have_best)
    return bad("the covariance of the training window is singular even with ridge 0.1",
               "ml.singular", "/samples");

  // Raw MCD, corrected for consistency at the normal model: the median
  // squared distance should be chi2(p) at 0.5.
  const double chi2_median = chi_square_quantile(0.5, static_cast<double>(p));
  std::vector<double> d2;
  distances(d, best, d2);
  std::vector<double> mean = best.mean;
  std::vector<double> cov;
  moments(d, best.subset.data(), best.subset.size(), mean, cov);
  auto correct = [&](std::vector<double>& dist2) {
    const double c = median(dist2) / chi2_median;
    if (c > 0.0 && std::isfinite(c)) {
      for (auto& v : cov)
        v *= c;
      for (auto& v : dist2)
        v /= c;
    }
  };
  correct(d2);
  std::size_t support = best.subset.size();

  if (o.reweight && h < n) {
    const double cut = chi_square_quantile(0.975, static_cast<double>(p));
    std::vector<std::size_t> keep;
    for (std::size_t i = 0; i < n; ++i)
      if (d2[i] <= cut)
        keep.push_back(i);
    candidate c;
    if (keep.size() >= p + 2 && estimate(d, keep, ridge, c)) {
      moments(d, keep.data(), keep.size(), mean, cov);
      support = keep.size();
      distances(d, c, d2);
      correct(d2);
    }
  }

  m.covariance_ = cov;
  const double used = factor_with_ridge(cov, p, ridge, m.cholesky_);
  if (used < 0.0)
    return bad("the covariance of the training window is singular even with ridge 0.1",
               "ml.singular", "/samples");
  m.ridge_ = used;
  m.whitening_ = detail::invert_lower(m.cholesky_, p);
  for (std::size_t j = 0; j < p; ++j)
    m.covariance_[j * p + j] += used;
  m.scale_ = scale;
  m.inv_scale_.resize(p);
  m.center_.resize(p);
  for (std::size_t j = 0; j < p; ++j) {
    m.center_[j] = med[j] + scale[j] * mean[j];
    m.inv_scale_[j] = 1.0 / scale[j];
  }
  m.support_ = support;

  if (o.threshold == threshold_method::chi_square) {
    m.threshold_ = std::sqrt(chi_square_quantile(o.quantile, static_cast<double>(p)));
  } else {
    std::vector<double> dist(n);
    for (std::size_t i = 0; i < n; ++i)
      dist[i] = std::sqrt(m.squared_distance(samples[i].data()));
    m.threshold_ = sample_quantile(std::move(dist), o.quantile);
  }
  return m;
}

double anomaly_detector::squared_distance(const double* x) const noexcept {
  const std::size_t p = features_.size();
  std::array<double, max_features> z;
  for (std::size_t j = 0; j < p; ++j)
    z[j] = (x[j] - center_[j]) * inv_scale_[j];
  // Rows of L^-1 times z are independent: no serial division chain as in
  // forward substitution.
  double sum = 0.0;
  const double* w = whitening_.data();
  for (std::size_t i = 0; i < p; ++i, w += p) {
    double s = 0.0;
    for (std::size_t k = 0; k <= i; ++k)
      s += w[k] * z[k];
    sum += s * s;
  }
  return sum;
}

expected<anomaly_score> anomaly_detector::score(std::span<const double> x) const {
  if (x.size() != features_.size())
    return bad("sample has " + std::to_string(x.size()) + " values, the model "
                 + std::to_string(features_.size()) + " features",
               "ml.dimension");
  for (std::size_t j = 0; j < x.size(); ++j)
    if (!std::isfinite(x[j]))
      return bad("feature '" + features_[j] + "' is not finite", "ml.non-finite",
                 detail::slash(features_[j]));
  const double dist = std::sqrt(squared_distance(x.data()));
  return anomaly_score{dist, threshold_, dist > threshold_};
}

expected<anomaly_score> anomaly_detector::score_properties(const nlohmann::json& properties) const {
  auto x = extract_features(properties, features_);
  if (!x)
    return std::move(x).error();
  return score(std::span<const double>{*x});
}

nlohmann::json anomaly_detector::to_json() const {
  const std::size_t p = features_.size();
  auto j = write_header({std::string{kind_anomaly_mcd}, format_version, binding_, features_});
  auto rows = nlohmann::json::array();
  for (std::size_t i = 0; i < p; ++i)
    rows.push_back(std::vector<double>(covariance_.begin() + static_cast<std::ptrdiff_t>(i * p),
                                       covariance_.begin()
                                         + static_cast<std::ptrdiff_t>((i + 1) * p)));
  j["center"] = center_;
  j["scale"] = scale_;
  j["covariance"] = std::move(rows);
  j["threshold"] = threshold_;
  j["thresholdMethod"] = method_ == threshold_method::chi_square ? "chiSquare"
                                                                  : "trainingQuantile";
  j["quantile"] = quantile_;
  j["ridge"] = ridge_;
  j["trainedSamples"] = trained_samples_;
  j["support"] = support_;
  return j;
}

status anomaly_detector::factorize() {
  cholesky_ = covariance_;
  if (!detail::cholesky(cholesky_, features_.size()))
    return bad("the covariance is not positive definite", "ml.singular", "/covariance");
  whitening_ = detail::invert_lower(cholesky_, features_.size());
  return ok();
}

expected<anomaly_detector> anomaly_detector::from_json(const nlohmann::json& j) {
  auto h = read_header(j);
  if (!h)
    return std::move(h).error();
  if (h->kind != kind_anomaly_mcd)
    return bad_json("kind '" + h->kind + "' is not " + std::string{kind_anomaly_mcd}, "/kind");
  const std::size_t p = h->features.size();
  if (p > max_features)
    return bad_json("at most " + std::to_string(max_features) + " features", "/features");
  anomaly_detector m;
  m.binding_ = h->binding;
  m.features_ = h->features;
  auto center = detail::get_numbers(j, "center", p);
  if (!center)
    return center.error();
  auto scale = detail::get_numbers(j, "scale", p);
  if (!scale)
    return scale.error();
  for (std::size_t k = 0; k < p; ++k)
    if (!((*scale)[k] > 0.0))
      return bad_json("'scale' must be positive", "/scale/" + std::to_string(k));
  auto cov = j.find("covariance");
  if (cov == j.end() || !cov->is_array() || cov->size() != p)
    return bad_json("'covariance' must be " + std::to_string(p) + " rows", "/covariance");
  m.covariance_.reserve(p * p);
  for (std::size_t r = 0; r < p; ++r) {
    nlohmann::json row_holder = {{"row", (*cov)[r]}};
    auto row = detail::get_numbers(row_holder, "row", p);
    if (!row) {
      auto e = std::move(row).error();
      e.path = "/covariance/" + std::to_string(r);
      return e;
    }
    m.covariance_.insert(m.covariance_.end(), row->begin(), row->end());
  }
  for (std::size_t r = 0; r < p; ++r)
    for (std::size_t c = 0; c < r; ++c) {
      const double a = m.covariance_[r * p + c], b = m.covariance_[c * p + r];
      if (std::abs(a - b) > 1e-9 * std::max({1.0, std::abs(a), std::abs(b)}))
        return bad_json("'covariance' must be symmetric",
                        "/covariance/" + std::to_string(r) + "/" + std::to_string(c));
    }
  auto threshold = detail::get_number(j, "threshold");
  if (!threshold)
    return threshold.error();
  if (*threshold < 0.0)
    return bad_json("'threshold' must be >= 0", "/threshold");
  auto method = detail::get_string(j, "thresholdMethod");
  if (!method)
    return method.error();
  if (*method == "chiSquare")
    m.method_ = threshold_method::chi_square;
  else if (*method == "trainingQuantile")
    m.method_ = threshold_method::training_quantile;
  else
    return bad_json("'thresholdMethod' must be chiSquare or trainingQuantile",
                    "/thresholdMethod");
  auto quantile = detail::get_number(j, "quantile");
  if (!quantile)
    return quantile.error();
  auto ridge = detail::get_number(j, "ridge");
  if (!ridge)
    return ridge.error();
  auto trained = detail::get_count(j, "trainedSamples");
  if (!trained)
    return trained.error();
  auto support = detail::get_count(j, "support");
  if (!support)
    return support.error();
  m.center_ = std::move(*center);
  m.scale_ = std::move(*scale);
  m.inv_scale_.resize(p);
  for (std::size_t k = 0; k < p; ++k)
    m.inv_scale_[k] = 1.0 / m.scale_[k];
  m.threshold_ = *threshold;
  m.quantile_ = *quantile;
  m.ridge_ = *ridge;
  m.trained_samples_ = *trained;
  m.support_ = *support;
  if (auto s = m.factorize(); !s)
    return std::move(s).error();
  return m;
}

} // namespace twin::ml
