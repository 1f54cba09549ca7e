#pragma once
// Anomaly detection on a fixed feature vector with a robust Mahalanobis
// distance: location and scatter are the reweighted Minimum Covariance
// Determinant (MCD) estimate, found with FAST-MCD style concentration steps
// (Rousseeuw & Van Driessen 1999) from seeded random starts plus one
// deterministic start. Why MCD and not median/MAD + shrinkage covariance: the
// features of a bearing are strongly correlated (rms, band energy and
// kurtosis rise together), so a diagonal robust scale misses anomalies that
// break the correlation, and a shrunk classical covariance is pulled by the
// few per cent of bad samples a "healthy" window always holds. MCD keeps the
// full covariance and ignores up to 1 - support_fraction of the window.
// See behaviours/ml/README.md for the algorithm and its figures.
//
// Pure value type: training is deterministic for a seed; scoring is const,
// allocation-free and safe to call from several threads on one model.

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "twin/error.hpp"
#include "twin/ml/model_io.hpp"

namespace twin::ml {

/// How the alert threshold on the distance is calibrated.
enum class threshold_method {
  /// sqrt of the q-quantile of chi-square(p): exact for Gaussian healthy
  /// data, independent of the training sample size.
  chi_square,
  /// The q-quantile of the distances of the training samples themselves
  /// (for non-Gaussian features; needs many samples for a high q).
  training_quantile,
};

struct anomaly_options {
  /// Fraction of the training window the MCD subset covers (h = ceil(f*n),
  /// at least (n+p+1)/2). 0.5 tolerates the most outliers, 1.0 is the
  /// classical (non-robust) mean and covariance. Default 0.75: tolerates 25 %
  /// bad samples with better efficiency than 0.5.
  double support_fraction = 0.75;
  /// Random (p+1)-subsets tried as starts (two C-steps each; the best 10 are
  /// iterated to convergence), besides the deterministic median/MAD start.
  int random_starts = 50;
  /// Seed of the start subsets (std::mt19937_64).
  std::uint64_t seed = 1;
  /// One reweighting step: keep samples with d^2 <= chi2(p, 0.975) of the raw
  /// MCD and re-estimate (raises efficiency to near the classical one).
  bool reweight = true;
  threshold_method threshold = threshold_method::chi_square;
  /// Quantile q of the threshold, 0.5 < q < 1. Default 0.999: one false alarm
  /// in a thousand healthy samples for Gaussian data.
  double quantile = 0.999;
  /// Added to the diagonal of the covariance of the standardized features
  /// (unit variance scale), so a constant or collinear feature does not make
  /// it singular. Raised x10 (up to 0.1) if Cholesky still fails; the value
  /// used is kept in the model.
  double ridge = 1e-6;
  /// Training needs at least max(p + 2, min_samples_per_feature * p) samples.
  std::size_t min_samples_per_feature = 5;
};

/// One scored sample.
struct anomaly_score {
  /// Robust Mahalanobis distance sqrt((x-m)' S^-1 (x-m)), in [0, inf).
  double distance = 0.0;
  /// The model's calibrated threshold, in the same unit.
  double threshold = 0.0;
  /// distance > threshold.
  bool anomalous = false;
};

/// A trained robust-Mahalanobis anomaly model. Value type; owned by whoever
/// holds it (the ML behaviour of one twin).
class anomaly_detector {
public:
  /// Trains on a window declared healthy: `samples[i][j]` is feature
  /// `features[j]` of sample i.
  /// Errors (bad_request, path to the offending item):
  ///  - "ml.features": no features, an empty or duplicate name;
  ///  - "ml.version" / "ml.bound-model": see validate(model_binding);
  ///  - "ml.options": support_fraction outside (0.5, 1], quantile outside
  ///    (0.5, 1), random_starts < 0, ridge < 0;
  ///  - "ml.too-few-samples": fewer than max(p+2, min_samples_per_feature*p);
  ///  - "ml.dimension": a sample with another number of values;
  ///  - "ml.non-finite": a NaN or infinite value;
  ///  - "ml.singular": the covariance is singular even with ridge 0.1.
  static expected<anomaly_detector> train(model_binding binding,
                                          std::vector<std::string> features,
                                          std::span<const std::vector<double>> samples,
                                          const anomaly_options& options = {});

  /// Scores one sample given in feature order. Errors: bad_request,
  /// "ml.dimension" on a wrong size, "ml.non-finite" on NaN/inf.
  expected<anomaly_score> score(std::span<const double> sample) const;

  /// Scores the features picked by name out of a JSON object (see
  /// extract_features: missing → "ml.missing-feature").
  expected<anomaly_score> score_properties(const nlohmann::json& properties) const;

  /// The squared distance without checks (precondition: size p, finite).
  double squared_distance(const double* sample) const noexcept;

  /// {"kind": "twin.ml.anomaly.mcd", header..., "center", "scale",
  ///  "covariance" (p x p rows, standardized units), "threshold",
  ///  "thresholdMethod", "quantile", "ridge", "trainedSamples", "support"}.
  nlohmann::json to_json() const;

  /// Reads to_json()'s output. Errors: bad_request with rule
  /// "ml.model-json" and a JSON pointer (wrong kind, missing/mistyped field,
  /// sizes not matching the features, non-positive scale, non-finite
  /// number), or "ml.singular" if the covariance is not positive definite.
  static expected<anomaly_detector> from_json(const nlohmann::json& model_json);

  const model_binding& binding() const noexcept { return binding_; }
  const std::vector<std::string>& features() const noexcept { return features_; }
  std::size_t dimension() const noexcept { return features_.size(); }
  /// Robust location, in feature units.
  const std::vector<double>& center() const noexcept { return center_; }
  /// Per-feature scale of the standardization (1.4826 MAD, else the standard
  /// deviation, else 1 for a constant feature).
  const std::vector<double>& scale() const noexcept { return scale_; }
  /// Covariance of the standardized features, p*p row-major, ridge included.
  const std::vector<double>& covariance() const noexcept { return covariance_; }
  double threshold() const noexcept { return threshold_; }
  threshold_method method() const noexcept { return method_; }
  double quantile() const noexcept { return quantile_; }
  /// The ridge actually added (options.ridge or more).
  double ridge() const noexcept { return ridge_; }
  std::size_t trained_samples() const noexcept { return trained_samples_; }
  /// Samples the final estimate rests on (reweighted inliers, or h).
  std::size_t support() const noexcept { return support_; }

private:
  anomaly_detector() = default;
  status factorize(); // covariance_ -> cholesky_, whitening_

  model_binding binding_;
  std::vector<std::string> features_;
  std::vector<double> center_;
  std::vector<double> inv_scale_;
  std::vector<double> scale_;
  std::vector<double> covariance_;
  std::vector<double> cholesky_;  // lower triangle L, L L' = covariance_
  std::vector<double> whitening_; // L^-1 (lower): d^2 = |L^-1 z|^2, no division chain
  double threshold_ = 0.0;
  threshold_method method_ = threshold_method::chi_square;
  double quantile_ = 0.999;
  double ridge_ = 0.0;
  std::size_t trained_samples_ = 0;
  std::size_t support_ = 0;
};

} // namespace twin::ml
