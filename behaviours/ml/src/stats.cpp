// Chi-square and normal quantiles by bisection on the CDF: a few hundred
// CDF evaluations per call, only at training time or per RUL query, so
// simplicity wins over a rational approximation.

#include "twin/ml/stats.hpp"

#include <algorithm>
#include <cassert>
#include <cmath>
#include <limits>

namespace twin::ml {

namespace {

// Regularized lower incomplete gamma P(a, x), a > 0, x >= 0.
double gamma_p(double a, double x) {
  if (x <= 0.0)
    return 0.0;
  const double log_prefix = a * std::log(x) - x - std::lgamma(a);
  if (x < a + 1.0) {
    // Series: P = x^a e^-x / Gamma(a+1) * sum_k x^k / ((a+1)...(a+k)).
    double term = 1.0 / a;
    double sum = term;
    for (int k = 1; k < 1000; ++k) {
      term *= x / (a + k);
      sum += term;
      if (std::abs(term) < std::abs(sum) * 1e-16)
        break;
    }
    return std::min(1.0, sum * std::exp(log_prefix));
  }
  // Continued fraction for Q = 1 - P (modified Lentz).
  constexpr double tiny = 1e-300;
  double b = x + 1.0 - a;
  double c = 1.0 / tiny;
  double d = 1.0 / b;
  double h = d;
  for (int i = 1; i < 1000; ++i) {
    const double an = -i * (i - a);
    b += 2.0;
    d = an * d + b;
    if (std::abs(d) < tiny)
      d = tiny;
    c = b + an / c;
    if (std::abs(c) < tiny)
      c = tiny;
    d = 1.0 / d;
    const double delta = d * c;
    h *= delta;
    if (std::abs(delta - 1.0) < 1e-16)
      break;
  }
  return std::max(0.0, 1.0 - std::exp(log_prefix) * h);
}

template <class Cdf>
double invert(Cdf cdf, double q, double lo, double hi) {
  while (cdf(hi) < q)
    hi *= 2.0;
  for (int i = 0; i < 200 && hi - lo > 1e-13 * std::max(1.0, std::abs(hi)); ++i) {
    const double mid = 0.5 * (lo + hi);
    (cdf(mid) < q ? lo : hi) = mid;
  }
  return 0.5 * (lo + hi);
}

} // namespace

double chi_square_cdf(double x, double dof) noexcept {
  return gamma_p(0.5 * dof, 0.5 * x);
}

double chi_square_quantile(double q, double dof) noexcept {
  assert(dof > 0.0 && q > 0.0 && q < 1.0);
  return invert([dof](double x) { return chi_square_cdf(x, dof); }, q, 0.0,
                std::max(1.0, 2.0 * dof));
}

double normal_quantile(double q) noexcept {
  assert(q > 0.0 && q < 1.0);
  auto cdf = [](double x) { return 0.5 * std::erfc(-x / std::sqrt(2.0)); };
  if (q == 0.5)
    return 0.0;
  if (q > 0.5)
    return invert(cdf, q, 0.0, 1.0);
  return -invert(cdf, 1.0 - q, 0.0, 1.0);
}

double sample_quantile(std::vector<double> sample, double q) {
  assert(!sample.empty());
  q = std::clamp(q, 0.0, 1.0);
  const double pos = q * static_cast<double>(sample.size() - 1);
  const auto lo = static_cast<std::size_t>(std::floor(pos));
  const double frac = pos - static_cast<double>(lo);
  std::nth_element(sample.begin(), sample.begin() + static_cast<std::ptrdiff_t>(lo),
                   sample.end());
  const double a = sample[lo];
  if (frac == 0.0 || lo + 1 >= sample.size())
    return a;
  const double b = *std::min_element(sample.begin() + static_cast<std::ptrdiff_t>(lo) + 1,
                                     sample.end());
  return a + frac * (b - a);
}

double median(std::vector<double> sample) {
  return sample_quantile(std::move(sample), 0.5);
}

} // namespace twin::ml
