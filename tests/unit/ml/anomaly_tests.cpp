#define BOOST_TEST_MODULE ml_tests
#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <cmath>
#include <limits>

#include "synthetic.hpp"
#include "twin/ml/anomaly.hpp"
#include "twin/ml/stats.hpp"

namespace tt = boost::test_tools;
using namespace twin::ml;
using namespace twin::ml::test;

namespace {

struct labelled {
  std::vector<std::vector<double>> x;
  std::vector<bool> anomaly;
};

/// `healthy_n` healthy samples followed by `anomaly_n` anomalies of three
/// kinds in turn: a +6 sigma spike in one feature (cycling), a +5 sigma shift
/// of kurtosis and temperature together, and a correlation break (rms +3
/// sigma with bandEnergyHigh -3 sigma: each within 3 sigma on its own).
labelled test_set(const bearing_features& f, std::size_t healthy_n, std::size_t anomaly_n,
                  gauss& g) {
  labelled s;
  s.x = f.healthy(healthy_n + anomaly_n, g);
  s.anomaly.assign(healthy_n + anomaly_n, false);
  for (std::size_t k = 0; k < anomaly_n; ++k) {
    auto& x = s.x[healthy_n + k];
    s.anomaly[healthy_n + k] = true;
    switch (k % 3) {
      case 0:
        f.shift(x, (k / 3) % 5, 6.0);
        break;
      case 1:
        f.shift(x, 1, 5.0);
        f.shift(x, 4, 5.0);
        break;
      default:
        f.shift(x, 0, 3.0);
        f.shift(x, 3, -3.0);
        break;
    }
  }
  return s;
}

/// `n` healthy samples, each moved by `shifts` (feature, sigmas), appended
/// to `train`; returns them.
using sample = std::vector<double>;
std::vector<sample> add_outliers(const bearing_features& f, std::vector<sample>& train,
                                 std::size_t n,
                                 std::initializer_list<std::pair<std::size_t, double>> shifts,
                                 gauss& g) {
  auto bad = f.healthy(n, g);
  for (auto& x : bad) {
    for (auto [j, sigmas] : shifts)
      f.shift(x, j, sigmas);
    train.push_back(x);
  }
  return bad;
}

struct pr {
  double precision = 0.0;
  double recall = 0.0;
};

pr evaluate(const anomaly_detector& m, const labelled& s) {
  std::size_t tp = 0, fp = 0, fn = 0;
  for (std::size_t i = 0; i < s.x.size(); ++i) {
    auto r = m.score(s.x[i]);
    BOOST_TEST_REQUIRE(r.has_value());
    if (r->anomalous && s.anomaly[i])
      ++tp;
    else if (r->anomalous)
      ++fp;
    else if (s.anomaly[i])
      ++fn;
  }
  return {tp + fp ? static_cast<double>(tp) / static_cast<double>(tp + fp) : 0.0,
          tp + fn ? static_cast<double>(tp) / static_cast<double>(tp + fn) : 0.0};
}

anomaly_detector train_ok(const bearing_features& f, const std::vector<std::vector<double>>& x,
                          const anomaly_options& o = {}) {
  auto m = anomaly_detector::train(bearing_binding(), f.names, x, o);
  BOOST_TEST_REQUIRE(m.has_value(), m);
  return std::move(m).value();
}

} // namespace

BOOST_AUTO_TEST_SUITE(anomaly)

// The bar of issue 4: precision >= 0.9 and recall >= 0.9 on injected anomalies.
BOOST_AUTO_TEST_CASE(detects_injected_anomalies_with_precision_and_recall_at_least_0_9) {
  bearing_features f;
  gauss g(42);
  auto model = train_ok(f, f.healthy(1000, g));
  auto s = test_set(f, 2000, 300, g);
  auto r = evaluate(model, s);
  BOOST_TEST_MESSAGE("clean training: precision " << r.precision << ", recall " << r.recall
                                                  << ", threshold " << model.threshold());
  BOOST_TEST(r.precision >= 0.9);
  BOOST_TEST(r.recall >= 0.9);
  // The threshold is the chi-square(5) 0.999 quantile, in distance units.
  BOOST_TEST(model.threshold() == std::sqrt(20.515), tt::tolerance(1e-3));
}

BOOST_AUTO_TEST_CASE(precision_and_recall_stay_at_least_0_9_over_ten_seeds) {
  bearing_features f;
  double min_p = 1.0, min_r = 1.0;
  for (std::uint64_t seed = 100; seed < 110; ++seed) {
    gauss g(seed);
    anomaly_options o;
    o.seed = seed;
    auto train = f.healthy(500, g);
    for (std::size_t i = 0; i < 15; ++i) // 3 % contamination
      f.shift(train[i], i % 5, 12.0);
    auto r = evaluate(train_ok(f, train, o), test_set(f, 1000, 150, g));
    min_p = std::min(min_p, r.precision);
    min_r = std::min(min_r, r.recall);
  }
  BOOST_TEST_MESSAGE("ten seeds, 500 training samples with 3% outliers: min precision "
                     << min_p << ", min recall " << min_r);
  BOOST_TEST(min_p >= 0.9);
  BOOST_TEST(min_r >= 0.9);
}

BOOST_AUTO_TEST_CASE(training_window_with_5_percent_outliers_keeps_precision_and_recall_at_least_0_9) {
  bearing_features f;
  gauss g(7);
  auto train = f.healthy(950, g);
  // A bad afternoon inside the "healthy" window: 50 samples (5 %) with rms
  // and high-band energy up 8 sigma, kurtosis up 6 sigma.
  auto bad = add_outliers(f, train, 50, {{0, 8.0}, {3, 8.0}, {1, 6.0}}, g);
  auto robust = train_ok(f, train);
  auto s = test_set(f, 2000, 300, g);
  auto r = evaluate(robust, s);
  // The classical estimate (support 1.0) on the same window, for contrast.
  anomaly_options classical_options;
  classical_options.support_fraction = 1.0;
  auto classical = train_ok(f, train, classical_options);
  auto c = evaluate(classical, s);
  BOOST_TEST_MESSAGE("5% contaminated training: robust precision " << r.precision << ", recall "
                                                                   << r.recall
                                                                   << "; classical precision "
                                                                   << c.precision << ", recall "
                                                                   << c.recall);
  BOOST_TEST(r.precision >= 0.9);
  BOOST_TEST(r.recall >= 0.9);
  // The robust centre stays within 0.25 sigma of the healthy mean; the
  // classical one is dragged ~0.4 sigma towards the bad samples.
  for (std::size_t j = 0; j < 5; ++j)
    BOOST_TEST(std::abs(robust.center()[j] - f.mean[j]) < 0.25 * f.sd[j]);
  for (std::size_t j : {0, 3})
    BOOST_TEST(std::abs(classical.center()[j] - f.mean[j])
               > 2.0 * std::abs(robust.center()[j] - f.mean[j]));
  // The bad afternoon itself is flagged by the robust model.
  std::size_t flagged = 0;
  for (auto& x : bad)
    flagged += robust.score(x)->anomalous ? 1 : 0;
  BOOST_TEST(flagged == bad.size());
  BOOST_TEST(robust.support() < train.size());
}

BOOST_AUTO_TEST_CASE(twenty_percent_contamination_with_support_0_75_still_finds_the_healthy_centre) {
  bearing_features f;
  gauss g(11);
  auto train = f.healthy(800, g);
  add_outliers(f, train, 200, {{2, 10.0}, {4, 10.0}}, g);
  auto m = train_ok(f, train);
  for (std::size_t j = 0; j < 5; ++j)
    BOOST_TEST(std::abs(m.center()[j] - f.mean[j]) < 0.25 * f.sd[j]);
  auto r = evaluate(m, test_set(f, 1000, 150, g));
  BOOST_TEST_MESSAGE("20% contaminated training: precision " << r.precision << ", recall "
                                                             << r.recall);
  BOOST_TEST(r.precision >= 0.9);
  BOOST_TEST(r.recall >= 0.9);
}

BOOST_AUTO_TEST_CASE(false_alarm_rate_on_healthy_data_matches_the_quantile) {
  bearing_features f;
  gauss g(5);
  anomaly_options o;
  o.quantile = 0.99;
  auto m = train_ok(f, f.healthy(2000, g), o);
  std::size_t alarms = 0;
  const auto fresh = f.healthy(20000, g);
  for (auto& x : fresh)
    alarms += m.score(x)->anomalous ? 1 : 0;
  const double rate = static_cast<double>(alarms) / static_cast<double>(fresh.size());
  BOOST_TEST_MESSAGE("false alarm rate at q=0.99: " << rate);
  BOOST_TEST(rate > 0.005);
  BOOST_TEST(rate < 0.02);
}

BOOST_AUTO_TEST_CASE(training_quantile_threshold_is_close_to_the_chi_square_one_on_gaussian_data) {
  bearing_features f;
  gauss g(3);
  const auto x = f.healthy(5000, g);
  anomaly_options o;
  o.quantile = 0.99;
  o.threshold = threshold_method::training_quantile;
  auto q = train_ok(f, x, o);
  o.threshold = threshold_method::chi_square;
  auto c = train_ok(f, x, o);
  BOOST_TEST(q.threshold() == c.threshold(), tt::tolerance(0.05));
  BOOST_TEST((q.method() == threshold_method::training_quantile));
}

BOOST_AUTO_TEST_CASE(training_is_deterministic_for_a_seed) {
  bearing_features f;
  gauss g(9);
  auto x = f.healthy(400, g);
  for (std::size_t i = 0; i < 20; ++i)
    f.shift(x[i], 0, 9.0);
  BOOST_TEST(train_ok(f, x).to_json() == train_ok(f, x).to_json());
}

BOOST_AUTO_TEST_CASE(a_distance_is_zero_at_the_centre_and_grows_with_the_shift) {
  bearing_features f;
  gauss g(1);
  auto m = train_ok(f, f.healthy(500, g));
  auto at = m.score(m.center());
  BOOST_TEST_REQUIRE(at.has_value());
  BOOST_TEST(at->distance == 0.0, tt::tolerance(1e-9));
  double last = 0.0;
  for (double k : {1.0, 2.0, 4.0, 8.0}) {
    auto x = m.center();
    x[4] += k * f.sd[4];
    const double d = m.score(x)->distance;
    BOOST_TEST(d > last);
    last = d;
  }
}

BOOST_AUTO_TEST_CASE(scoring_by_name_picks_features_out_of_a_json_object) {
  bearing_features f;
  gauss g(2);
  auto m = train_ok(f, f.healthy(300, g));
  nlohmann::json props = {{"temperature", 45.0},  {"vibrationRms", 0.15}, {"kurtosis", 3.0},
                          {"crestFactor", 2.5},   {"bandEnergyHigh", 0.02}, {"speed", 29.9}};
  auto by_name = m.score_properties(props);
  BOOST_TEST_REQUIRE(by_name.has_value(), by_name);
  auto by_order = m.score(std::vector<double>{0.15, 3.0, 2.5, 0.02, 45.0});
  BOOST_TEST(by_name->distance == by_order->distance);

  props.erase("kurtosis");
  auto missing = m.score_properties(props);
  BOOST_TEST_REQUIRE(!missing.has_value());
  BOOST_TEST(missing.error().code == twin::errc::bad_request);
  BOOST_TEST(missing.error().rule == "ml.missing-feature");
  BOOST_TEST(missing.error().path == "/kurtosis");

  props["kurtosis"] = "high";
  BOOST_TEST(m.score_properties(props).error().rule == "ml.feature-type");
}

BOOST_AUTO_TEST_CASE(bad_samples_are_refused_when_scoring) {
  bearing_features f;
  gauss g(2);
  auto m = train_ok(f, f.healthy(300, g));
  BOOST_TEST(m.score(std::vector<double>{1.0, 2.0}).error().rule == "ml.dimension");
  auto x = m.center();
  x[2] = std::numeric_limits<double>::quiet_NaN();
  BOOST_TEST(m.score(x).error().rule == "ml.non-finite");
  x[2] = std::numeric_limits<double>::infinity();
  BOOST_TEST(m.score(x).error().rule == "ml.non-finite");
}

BOOST_AUTO_TEST_CASE(too_few_samples_for_the_dimension_is_an_error) {
  bearing_features f;
  gauss g(2);
  auto r = anomaly_detector::train(bearing_binding(), f.names, f.healthy(24, g));
  BOOST_TEST_REQUIRE(!r.has_value());
  BOOST_TEST(r.error().code == twin::errc::bad_request);
  BOOST_TEST(r.error().rule == "ml.too-few-samples");
  BOOST_TEST(anomaly_detector::train(bearing_binding(), f.names, f.healthy(25, g)).has_value());
}

BOOST_AUTO_TEST_CASE(non_finite_or_ragged_training_data_is_an_error_naming_the_sample) {
  bearing_features f;
  gauss g(2);
  auto x = f.healthy(100, g);
  x[17][3] = std::numeric_limits<double>::quiet_NaN();
  auto r = anomaly_detector::train(bearing_binding(), f.names, x);
  BOOST_TEST(r.error().rule == "ml.non-finite");
  BOOST_TEST(r.error().path == "/samples/17/3");
  x[17][3] = 0.02;
  x[40].pop_back();
  r = anomaly_detector::train(bearing_binding(), f.names, x);
  BOOST_TEST(r.error().rule == "ml.dimension");
  BOOST_TEST(r.error().path == "/samples/40");
}

BOOST_AUTO_TEST_CASE(bad_feature_names_and_options_are_errors) {
  bearing_features f;
  gauss g(2);
  auto x = f.healthy(100, g);
  auto names = f.names;
  names[4] = "kurtosis";
  BOOST_TEST(anomaly_detector::train(bearing_binding(), names, x).error().rule == "ml.features");
  BOOST_TEST(anomaly_detector::train(bearing_binding(), {}, x).error().rule == "ml.features");
  anomaly_options o;
  o.support_fraction = 0.4;
  BOOST_TEST(anomaly_detector::train(bearing_binding(), f.names, x, o).error().rule
             == "ml.options");
  o = {};
  o.quantile = 1.0;
  BOOST_TEST(anomaly_detector::train(bearing_binding(), f.names, x, o).error().rule
             == "ml.options");
  model_binding unversioned{"1.0.0", twin::model::dtmi{"dtmi:com:example:Bearing"}};
  BOOST_TEST(anomaly_detector::train(unversioned, f.names, x).error().rule == "ml.bound-model");
  model_binding bad_version{"1.0", twin::model::dtmi{bearing_dtmi}};
  BOOST_TEST(anomaly_detector::train(bad_version, f.names, x).error().rule == "ml.version");
}

BOOST_AUTO_TEST_CASE(singular_covariance_is_regularized_not_refused) {
  bearing_features f;
  gauss g(4);
  auto x = f.healthy(200, g);
  // A constant feature and an exact copy of another one: rank 3 of 5.
  for (auto& s : x) {
    s[2] = 2.5;
    s[4] = 300.0 * s[0];
  }
  anomaly_options o;
  o.ridge = 0.0;
  auto m = anomaly_detector::train(bearing_binding(), f.names, x, o);
  BOOST_TEST_REQUIRE(m.has_value(), m);
  BOOST_TEST(m->ridge() > 0.0);
  BOOST_TEST(m->ridge() <= 0.1);
  auto healthy = x[0];
  BOOST_TEST(!m->score(healthy)->anomalous);
  auto broken = x[0];
  broken[4] += 10.0 * f.sd[4]; // breaks the exact copy
  BOOST_TEST(m->score(broken)->anomalous);
}

BOOST_AUTO_TEST_CASE(single_feature_model_works) {
  gauss g(8);
  std::vector<std::vector<double>> x;
  for (int i = 0; i < 200; ++i)
    x.push_back({10.0 + g()});
  auto m = anomaly_detector::train(bearing_binding(), {"temperature"}, x);
  BOOST_TEST_REQUIRE(m.has_value(), m);
  BOOST_TEST(m->score(std::vector<double>{10.0})->distance < 0.5);
  BOOST_TEST(m->score(std::vector<double>{16.0})->anomalous);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(distributions)

BOOST_AUTO_TEST_CASE(chi_square_and_normal_quantiles_match_tables) {
  BOOST_TEST(chi_square_quantile(0.5, 5) == 4.35146, tt::tolerance(1e-5));
  BOOST_TEST(chi_square_quantile(0.975, 5) == 12.8325, tt::tolerance(1e-5));
  BOOST_TEST(chi_square_quantile(0.999, 5) == 20.5150, tt::tolerance(1e-5));
  BOOST_TEST(chi_square_quantile(0.99, 10) == 23.2093, tt::tolerance(1e-5));
  BOOST_TEST(chi_square_quantile(0.95, 1) == 3.84146, tt::tolerance(1e-5));
  BOOST_TEST(chi_square_cdf(3.84146, 1) == 0.95, tt::tolerance(1e-5));
  BOOST_TEST(normal_quantile(0.975) == 1.959964, tt::tolerance(1e-6));
  BOOST_TEST(normal_quantile(0.05) == -1.644854, tt::tolerance(1e-6));
  BOOST_TEST(median({3.0, 1.0, 2.0, 10.0}) == 2.5);
  BOOST_TEST(sample_quantile({1.0, 2.0, 3.0, 4.0, 5.0}, 0.9) == 4.6, tt::tolerance(1e-12));
}

BOOST_AUTO_TEST_SUITE_END()
