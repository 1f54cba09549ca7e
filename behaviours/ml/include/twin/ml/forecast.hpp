#pragma once
// Trend models on a health indicator (or an FMU's wear output) and the
// remaining useful life (RUL) they predict: the time left until the
// indicator crosses a limit.
//
//  - holt_forecaster: Holt's linear exponential smoothing (level + trend per
//    second) for irregular timestamps, alpha/beta given or fitted by
//    minimizing the one-step-ahead SSE on a grid; O(1) per update, so it runs
//    on every twin update.
//  - degradation_fit: least-squares fit of a linear (y = a + b t) or
//    exponential (y = offset + exp(a + b t)) degradation path on
//    (time, indicator) pairs; the RUL band is the Fieller interval of the
//    crossing time (where the confidence band of the fitted path meets the
//    limit).
//
// Times are seconds on any fixed origin (e.g. Unix seconds); RUL is seconds.
// Pure value types, deterministic, no threads.

#include <cstddef>
#include <optional>
#include <ostream>
#include <span>
#include <string>

#include <nlohmann/json.hpp>

#include "twin/error.hpp"
#include "twin/ml/model_io.hpp"

namespace twin::ml {

/// One (time, indicator) pair. Timestamps may be irregular.
struct observation {
  double t = 0.0;     ///< seconds
  double value = 0.0; ///< the health indicator
};

/// On which side of the limit the asset has failed.
enum class failure_side {
  above, ///< failed once indicator >= limit (wear, vibration)
  below, ///< failed once indicator <= limit (health index, efficiency)
};

/// What to predict the crossing of.
struct crossing_query {
  double limit = 1.0;
  failure_side side = failure_side::above;
  /// Two-sided confidence of the RUL band (0 < c < 1).
  double confidence = 0.9;
  /// A crossing later than now + horizon counts as "no crossing". Default
  /// ten years.
  double horizon_s = 10.0 * 365.25 * 86400.0;
  /// Time the RUL is counted from; default the last observation.
  std::optional<double> now;
};

/// A RUL prediction. When outcome is no_crossing every optional is empty:
/// there is no number to show, not a large one.
struct rul_estimate {
  enum class outcome {
    predicted,       ///< the trend reaches the limit within the horizon
    already_crossed, ///< the model's current value is past the limit (rul 0)
    no_crossing,     ///< flat or receding trend, or beyond the horizon
  };
  outcome result = outcome::no_crossing;
  /// The time the RUL counts from.
  double now = 0.0;
  /// Predicted absolute crossing time (seconds).
  std::optional<double> crossing_time;
  /// crossing_time - now, seconds.
  std::optional<double> rul_s;
  /// Lower / upper end of the RUL band at the query's confidence. rul_low_s
  /// is 0 if the band already touches the limit; rul_high_s is empty if the
  /// pessimistic side of the band never reaches the limit within the
  /// horizon (the RUL is not bounded above by the data).
  std::optional<double> rul_low_s;
  std::optional<double> rul_high_s;

  bool predicted() const noexcept { return result == outcome::predicted; }
};

/// The stable string of an outcome ("predicted", "already_crossed",
/// "no_crossing"), e.g. for a twin property.
std::string_view to_string(rul_estimate::outcome o) noexcept;

inline std::ostream& operator<<(std::ostream& os, rul_estimate::outcome o) {
  return os << to_string(o);
}

/// Status of a crossing_query. Errors: bad_request, rule "ml.query", on a
/// non-finite limit/now, confidence outside (0,1), horizon <= 0.
status validate(const crossing_query& query);

/// Shape of a degradation path.
enum class degradation_shape {
  linear,      ///< y = a + b t
  exponential, ///< y = offset + exp(a + b t), fitted as ln(y - offset) = a + b t
};

struct holt_options {
  /// Level smoothing in (0, 1]; empty: fitted on the grid.
  std::optional<double> alpha;
  /// Trend smoothing in [0, 1]; empty: fitted on the grid.
  std::optional<double> beta;
  /// The fit minimizes the squared error of forecasts made `fit_lead` steps
  /// ahead (1: the classical one-step SSE). One-step errors are dominated by
  /// measurement noise and favour a jumpy trend; for RUL, a lead of the order
  /// of the horizon of interest (e.g. a quarter of the history) selects the
  /// smoothing whose trend extrapolates best. Grid: alpha in {0.001, 0.002,
  /// 0.005, 0.01, 0.02, 0.03, 0.05, 0.07, 0.1, 0.15, 0.2, 0.3, ..., 1},
  /// beta in {0} and the same values.
  std::size_t fit_lead = 1;
  /// Observations used to initialise level and trend (least-squares line
  /// over the first `init_points`); at least 2. Fitting needs
  /// init_points + fit_lead + 1 observations.
  std::size_t init_points = 10;
  /// linear: smooth the indicator itself; exponential: smooth
  /// ln(y - offset), i.e. a local exponential trend (every y > offset).
  degradation_shape shape = degradation_shape::linear;
  double offset = 0.0;
};

/// Holt's linear method for irregular timestamps, on u = y (linear shape) or
/// u = ln(y - offset) (exponential shape):
///   line(t)  = level + trend * (t - t_last)
///   level'   = alpha * u + (1 - alpha) * line(t)
///   trend'   = beta * (level' - level) / (t - t_last) + (1 - beta) * trend
/// sigma is the RMS of the one-step errors (in u units) after
/// initialisation; the mean interval converts a horizon to steps for the
/// ETS(A,A,N) forecast variance. Owned by one behaviour instance.
class holt_forecaster {
public:
  /// Fits (alpha, beta if not given) and runs the filter over `history`.
  /// Errors (bad_request): "ml.features" (empty name), binding errors,
  /// "ml.options" (alpha/beta out of range, init_points < 2, fit_lead 0),
  /// "ml.too-few-samples" (< init_points + fit_lead + 1), "ml.non-finite",
  /// "ml.offset" (exponential with some y <= offset), "ml.time-order"
  /// (timestamps not strictly increasing, path "/i").
  static expected<holt_forecaster> fit(model_binding binding, std::string feature,
                                       std::span<const observation> history,
                                       const holt_options& options = {});

  /// Feeds one new observation (O(1)). Errors: bad_request "ml.non-finite",
  /// "ml.time-order" (t not after the last observation), "ml.offset"
  /// (exponential, y <= offset); the state is unchanged on error.
  status update(double t, double value);

  /// Point forecast of the indicator at time t (t may be any time; the line
  /// is extrapolated from the last observation).
  double forecast(double t) const noexcept;

  /// Standard deviation of the forecast error at time t, in u units
  /// (ETS(A,A,N) variance with h = (t - t_last) / mean interval, >= 1 step).
  double forecast_sd(double t) const noexcept;

  /// When the forecast crosses the limit. The band is where the prediction
  /// interval (line +/- z * forecast_sd, in u units) first reaches the limit.
  /// Errors: see validate(crossing_query); "ml.query" for an exponential
  /// limit <= offset.
  expected<rul_estimate> rul(const crossing_query& query) const;

  /// {"kind": "twin.ml.forecast.holt", header..., "alpha", "beta", "level",
  ///  "trend", "lastTime", "firstTime", "sse", "errors", "observations",
  ///  "shape", "offset"}.
  nlohmann::json to_json() const;
  /// Errors: bad_request "ml.model-json" with a JSON pointer.
  static expected<holt_forecaster> from_json(const nlohmann::json& model_json);

  const model_binding& binding() const noexcept { return binding_; }
  const std::string& feature() const noexcept { return feature_; }
  double alpha() const noexcept { return alpha_; }
  double beta() const noexcept { return beta_; }
  double level() const noexcept { return level_; }
  /// u units per second (u = y, or ln(y - offset) for the exponential shape).
  double trend() const noexcept { return trend_; }
  degradation_shape shape() const noexcept { return shape_; }
  double last_time() const noexcept { return last_t_; }
  /// RMS one-step-ahead error (0 until an error has been seen).
  double sigma() const noexcept;
  std::size_t observations() const noexcept { return observations_; }

private:
  holt_forecaster() = default;

  model_binding binding_;
  std::string feature_;
  double alpha_ = 0.5;
  double beta_ = 0.1;
  double level_ = 0.0;
  double trend_ = 0.0;
  double last_t_ = 0.0;
  double first_t_ = 0.0;
  double sse_ = 0.0;          // sum of squared one-step errors
  std::size_t errors_ = 0;    // how many errors sse_ holds
  std::size_t observations_ = 0;
  degradation_shape shape_ = degradation_shape::linear;
  double offset_ = 0.0;
};

struct degradation_options {
  degradation_shape shape = degradation_shape::linear;
  /// Exponential only: the indicator's healthy floor; every y must exceed it.
  double offset = 0.0;
};

/// A least-squares degradation path with its parameter uncertainty. The line
/// is stored centred (a at the mean time) so the band is exact.
class degradation_fit {
public:
  /// Errors (bad_request): "ml.features", binding errors,
  /// "ml.too-few-samples" (< 3), "ml.non-finite", "ml.time-spread" (all
  /// times equal), "ml.offset" (exponential with some y <= offset).
  static expected<degradation_fit> fit(model_binding binding, std::string feature,
                                       std::span<const observation> data,
                                       const degradation_options& options = {});

  /// The fitted path at time t.
  double predict(double t) const noexcept;

  /// Predicted crossing of the limit by the fitted path; band = Fieller
  /// interval (t-quantile replaced by the normal one) of the crossing time.
  /// Errors: validate(crossing_query); bad_request "ml.query" for an
  /// exponential limit <= offset (never reachable).
  expected<rul_estimate> rul(const crossing_query& query) const;

  /// {"kind": "twin.ml.rul.degradation", header..., "shape", "offset",
  ///  "intercept" (at meanTime), "slope", "meanTime", "sxx", "sigma",
  ///  "samples", "lastTime"}.
  nlohmann::json to_json() const;
  /// Errors: bad_request "ml.model-json" with a JSON pointer.
  static expected<degradation_fit> from_json(const nlohmann::json& model_json);

  const model_binding& binding() const noexcept { return binding_; }
  const std::string& feature() const noexcept { return feature_; }
  degradation_shape shape() const noexcept { return shape_; }
  /// Slope in transformed units (indicator or ln(indicator - offset)) per s.
  double slope() const noexcept { return slope_; }
  /// Residual standard deviation in transformed units.
  double sigma() const noexcept { return sigma_; }
  std::size_t samples() const noexcept { return n_; }
  double last_time() const noexcept { return last_t_; }

private:
  degradation_fit() = default;

  model_binding binding_;
  std::string feature_;
  degradation_shape shape_ = degradation_shape::linear;
  double offset_ = 0.0;
  double intercept_ = 0.0; // at mean_t_
  double slope_ = 0.0;
  double mean_t_ = 0.0;
  double sxx_ = 0.0;
  double sigma_ = 0.0;
  std::size_t n_ = 0;
  double last_t_ = 0.0;
};

} // namespace twin::ml
