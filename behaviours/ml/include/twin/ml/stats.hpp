#pragma once
// Small distribution helpers the ML behaviours need for thresholds and
// uncertainty bands (the standard library has no incomplete gamma function).

#include <span>
#include <vector>

namespace twin::ml {

/// P(X <= x) for X ~ chi-square with `dof` degrees of freedom (dof > 0);
/// 0 for x <= 0. Regularized lower incomplete gamma P(dof/2, x/2), series
/// below a+1 and a continued fraction above; relative error ~1e-14.
double chi_square_cdf(double x, double dof) noexcept;

/// The q-quantile of chi-square(dof), 0 < q < 1 (bisection on the CDF to
/// ~1e-12 relative). Precondition: dof > 0, 0 < q < 1.
double chi_square_quantile(double q, double dof) noexcept;

/// The q-quantile of the standard normal distribution, 0 < q < 1 (bisection
/// on 0.5*erfc(-x/sqrt 2) to ~1e-12).
double normal_quantile(double q) noexcept;

/// The q-quantile (0 <= q <= 1) of a sample with linear interpolation
/// between order statistics (Hyndman & Fan type 7, R's default). Precondition:
/// the sample is not empty. Takes a copy because it partially sorts.
double sample_quantile(std::vector<double> sample, double q);

/// Median of a non-empty sample (sample_quantile(x, 0.5)).
double median(std::vector<double> sample);

} // namespace twin::ml
