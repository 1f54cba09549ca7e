#pragma once
// Seeded synthetic data for the ML tests: correlated Gaussian bearing
// features with injected anomalies, and noisy degradation curves. Gaussian
// draws use our own polar method so the data do not depend on the standard
// library's std::normal_distribution.

#include <cmath>
#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "twin/ml/forecast.hpp"

namespace twin::ml::test {

inline const std::string bearing_dtmi = "dtmi:com:example:Bearing;1";

inline model_binding bearing_binding() {
  return {"1.0.0", model::dtmi{bearing_dtmi}};
}

class gauss {
public:
  explicit gauss(std::uint64_t seed) : rng_(seed) {}
  double operator()() {
    if (has_spare_) {
      has_spare_ = false;
      return spare_;
    }
    double u, v, s;
    do {
      u = 2.0 * uniform() - 1.0;
      v = 2.0 * uniform() - 1.0;
      s = u * u + v * v;
    } while (s >= 1.0 || s == 0.0);
    const double f = std::sqrt(-2.0 * std::log(s) / s);
    spare_ = v * f;
    has_spare_ = true;
    return u * f;
  }
  double uniform() { return static_cast<double>(rng_() >> 11) * 0x1.0p-53; }
  std::uint64_t next() { return rng_(); }

private:
  std::mt19937_64 rng_;
  double spare_ = 0.0;
  bool has_spare_ = false;
};

/// Five bearing features with realistic scales and correlations:
/// rms ~ bandEnergyHigh (0.8), rms ~ temperature (0.5), kurtosis ~ crest (0.7).
struct bearing_features {
  std::vector<std::string> names{"vibrationRms", "kurtosis", "crestFactor", "bandEnergyHigh",
                                 "temperature"};
  std::vector<double> mean{0.15, 3.0, 2.5, 0.02, 45.0};
  std::vector<double> sd{0.01, 0.2, 0.15, 0.003, 1.5};
  // Lower Cholesky factor of the correlation matrix (computed by hand below).
  std::vector<double> corr{1.0, 0.0, 0.0, 0.8, 0.5, //
                           0.0, 1.0, 0.7, 0.0, 0.0, //
                           0.0, 0.7, 1.0, 0.0, 0.0, //
                           0.8, 0.0, 0.0, 1.0, 0.4, //
                           0.5, 0.0, 0.0, 0.4, 1.0};

  std::vector<double> chol() const {
    const std::size_t p = names.size();
    std::vector<double> l(p * p, 0.0);
    for (std::size_t j = 0; j < p; ++j) {
      double d = corr[j * p + j];
      for (std::size_t k = 0; k < j; ++k)
        d -= l[j * p + k] * l[j * p + k];
      l[j * p + j] = std::sqrt(d);
      for (std::size_t i = j + 1; i < p; ++i) {
        double s = corr[i * p + j];
        for (std::size_t k = 0; k < j; ++k)
          s -= l[i * p + k] * l[j * p + k];
        l[i * p + j] = s / l[j * p + j];
      }
    }
    return l;
  }

  /// n healthy samples.
  std::vector<std::vector<double>> healthy(std::size_t n, gauss& g) const {
    const std::size_t p = names.size();
    const auto l = chol();
    std::vector<std::vector<double>> out(n, std::vector<double>(p));
    std::vector<double> z(p);
    for (auto& x : out) {
      for (auto& v : z)
        v = g();
      for (std::size_t i = 0; i < p; ++i) {
        double c = 0.0;
        for (std::size_t k = 0; k <= i; ++k)
          c += l[i * p + k] * z[k];
        x[i] = mean[i] + sd[i] * c;
      }
    }
    return out;
  }

  /// Adds `sigmas` marginal standard deviations to feature j.
  void shift(std::vector<double>& x, std::size_t j, double sigmas) const {
    x[j] += sigmas * sd[j];
  }
};

/// Observations of `curve` at irregular times on [t0, t1): gaps uniform in
/// [0.5, 1.5] * mean_gap, additive Gaussian noise `sd` (or multiplicative
/// 1 + sd*N if `relative`).
template <class Curve>
std::vector<observation> sample_curve(Curve curve, double t0, double t1, double mean_gap,
                                      double sd, bool relative, gauss& g) {
  std::vector<observation> out;
  for (double t = t0; t < t1; t += mean_gap * (0.5 + g.uniform())) {
    const double y = curve(t);
    out.push_back({t, relative ? y * (1.0 + sd * g()) : y + sd * g()});
  }
  return out;
}

} // namespace twin::ml::test
