#include <boost/test/unit_test.hpp>

#include "synthetic.hpp"
#include "twin/ml/anomaly.hpp"
#include "twin/ml/forecast.hpp"
#include "twin/ml/model_io.hpp"

namespace tt = boost::test_tools;
using namespace twin::ml;
using namespace twin::ml::test;
using twin::model::dtmi;

namespace {

anomaly_detector trained_detector(std::uint64_t seed = 1) {
  bearing_features f;
  gauss g(seed);
  auto m = anomaly_detector::train(bearing_binding(), f.names, f.healthy(300, g));
  BOOST_TEST_REQUIRE(m.has_value(), m);
  return std::move(m).value();
}

std::vector<observation> wear_series() {
  gauss g(5);
  return sample_curve([](double t) { return 0.1 + 1e-6 * t; }, 0.0, 2e5, 600.0, 0.01, false, g);
}

} // namespace

BOOST_AUTO_TEST_SUITE(model_io)

BOOST_AUTO_TEST_CASE(anomaly_model_round_trips_through_json_with_identical_scores) {
  auto m = trained_detector();
  const auto j = m.to_json();
  BOOST_TEST(j["kind"] == "twin.ml.anomaly.mcd");
  BOOST_TEST(j["format"] == 1);
  BOOST_TEST(j["version"] == "1.0.0");
  BOOST_TEST(j["boundModel"] == bearing_dtmi);
  BOOST_TEST(j["features"].size() == 5u);
  // Through text, as it is stored.
  auto back = anomaly_detector::from_json(nlohmann::json::parse(j.dump()));
  BOOST_TEST_REQUIRE(back.has_value(), back);
  BOOST_TEST(back->to_json() == j);
  bearing_features f;
  gauss g(77);
  for (auto& x : f.healthy(100, g)) {
    auto a = m.score(x), b = back->score(x);
    BOOST_TEST(a->distance == b->distance, tt::tolerance(1e-12));
    BOOST_TEST(a->anomalous == b->anomalous);
  }
}

BOOST_AUTO_TEST_CASE(holt_and_degradation_models_round_trip_through_json) {
  auto data = wear_series();
  auto h = holt_forecaster::fit(bearing_binding(), "wear", data);
  BOOST_TEST_REQUIRE(h.has_value(), h);
  auto hj = h->to_json();
  BOOST_TEST(hj["kind"] == "twin.ml.forecast.holt");
  auto h2 = holt_forecaster::from_json(nlohmann::json::parse(hj.dump()));
  BOOST_TEST_REQUIRE(h2.has_value(), h2);
  BOOST_TEST(h2->to_json() == hj);
  BOOST_TEST(h2->forecast(3e5) == h->forecast(3e5));
  // The restored model keeps learning where the original left off.
  BOOST_TEST(h2->update(2.1e5, 0.31).has_value());

  for (auto shape : {degradation_shape::linear, degradation_shape::exponential}) {
    degradation_options o;
    o.shape = shape;
    auto d = degradation_fit::fit(bearing_binding(), "wear", data, o);
    BOOST_TEST_REQUIRE(d.has_value(), d);
    auto dj = d->to_json();
    auto d2 = degradation_fit::from_json(nlohmann::json::parse(dj.dump()));
    BOOST_TEST_REQUIRE(d2.has_value(), d2);
    BOOST_TEST(d2->to_json() == dj);
    crossing_query q;
    q.limit = 1.0;
    BOOST_TEST(*d2->rul(q)->rul_s == *d->rul(q)->rul_s);
  }
}

BOOST_AUTO_TEST_CASE(a_model_runs_only_against_the_twin_model_version_it_was_trained_for) {
  const auto j = trained_detector().to_json();
  BOOST_TEST(check_binding(j, dtmi{bearing_dtmi}).has_value());

  auto v2 = check_binding(j, dtmi{"dtmi:com:example:Bearing;2"});
  BOOST_TEST_REQUIRE(!v2.has_value());
  BOOST_TEST(v2.error().code == twin::errc::model_violation);
  BOOST_TEST(v2.error().rule == "ml.binding");
  BOOST_TEST(v2.error().path == "/boundModel");
  BOOST_TEST(v2.error().message.find("another version") != std::string::npos);

  auto minor = check_binding(j, dtmi{"dtmi:com:example:Bearing;1.1"});
  BOOST_TEST(minor.error().rule == "ml.binding");

  auto other = check_binding(j, dtmi{"dtmi:com:example:Pump;1"});
  BOOST_TEST(other.error().code == twin::errc::model_violation);
  BOOST_TEST(other.error().message.find("another model") != std::string::npos);

  auto garbage = check_binding(j, dtmi{"not a dtmi"});
  BOOST_TEST(garbage.error().code == twin::errc::bad_request);
  BOOST_TEST(garbage.error().rule == "ml.bound-model");
}

BOOST_AUTO_TEST_CASE(a_model_from_another_major_behaviour_version_is_refused) {
  const auto j = trained_detector().to_json(); // trained by 1.0.0
  BOOST_TEST(check_binding(j, dtmi{bearing_dtmi}, "1.4.2").has_value());
  auto r = check_binding(j, dtmi{bearing_dtmi}, "2.0.0");
  BOOST_TEST(r.error().code == twin::errc::model_violation);
  BOOST_TEST(r.error().rule == "ml.behaviour-version");
  BOOST_TEST(check_binding(j, dtmi{bearing_dtmi}, "two").error().rule == "ml.version");
}

BOOST_AUTO_TEST_CASE(malformed_model_documents_are_refused_with_a_path) {
  const auto good = trained_detector().to_json();
  auto expect = [](nlohmann::json j, const std::string& rule, const std::string& path) {
    auto r = anomaly_detector::from_json(j);
    BOOST_TEST_REQUIRE(!r.has_value());
    BOOST_TEST(r.error().code == twin::errc::bad_request);
    BOOST_TEST(r.error().rule == rule);
    BOOST_TEST(r.error().path == path);
  };
  expect(nlohmann::json::array(), "ml.model-json", "");
  auto j = good;
  j["kind"] = "twin.ml.forecast.holt";
  expect(j, "ml.model-json", "/kind");
  j = good;
  j.erase("kind");
  expect(j, "ml.model-json", "/kind");
  j = good;
  j["format"] = 2;
  expect(j, "ml.model-json", "/format");
  j = good;
  j["version"] = "1.0";
  expect(j, "ml.version", "/version");
  j = good;
  j["boundModel"] = "dtmi:com:example:Bearing";
  expect(j, "ml.bound-model", "/boundModel");
  j = good;
  j["features"][1] = j["features"][0];
  expect(j, "ml.model-json", "/features/1");
  j = good;
  j["center"].erase(0);
  expect(j, "ml.model-json", "/center");
  j = good;
  j["scale"][2] = -1.0;
  expect(j, "ml.model-json", "/scale/2");
  j = good;
  j["covariance"][3][1] = "x";
  expect(j, "ml.model-json", "/covariance/3");
  j = good;
  j["covariance"][0][1] = 5.0;
  expect(j, "ml.model-json", "/covariance/1/0");
  j = good;
  j["threshold"] = "high";
  expect(j, "ml.model-json", "/threshold");
  j = good;
  j["thresholdMethod"] = "magic";
  expect(j, "ml.model-json", "/thresholdMethod");
  j = good;
  for (auto& row : j["covariance"])
    for (auto& v : row)
      v = 1.0; // symmetric but singular
  expect(j, "ml.singular", "/covariance");

  auto h = holt_forecaster::fit(bearing_binding(), "wear", wear_series())->to_json();
  h["alpha"] = 0.0;
  BOOST_TEST(holt_forecaster::from_json(h).error().path == "/alpha");
  auto d = degradation_fit::fit(bearing_binding(), "wear", wear_series())->to_json();
  d["shape"] = "quadratic";
  BOOST_TEST(degradation_fit::from_json(d).error().path == "/shape");
  BOOST_TEST(degradation_fit::from_json(good).error().path == "/kind");
}

BOOST_AUTO_TEST_CASE(semantic_versions_parse_strictly) {
  auto v = parse_semver("1.12.3-rc.1+build.5");
  BOOST_TEST_REQUIRE(v.has_value(), v);
  BOOST_TEST(v->major == 1u);
  BOOST_TEST(v->minor == 12u);
  BOOST_TEST(v->patch == 3u);
  for (const char* bad : {"", "1", "1.2", "01.2.3", "1.2.3.4", "1.2.x", "1.2.3-", "v1.2.3"})
    BOOST_TEST(!parse_semver(bad).has_value(), bad);
}

BOOST_AUTO_TEST_CASE(read_header_gives_the_binding_of_any_kind) {
  auto h = read_header(holt_forecaster::fit(bearing_binding(), "wear", wear_series())->to_json());
  BOOST_TEST_REQUIRE(h.has_value(), h);
  BOOST_TEST(h->kind == "twin.ml.forecast.holt");
  BOOST_TEST(h->binding.bound_model.value() == bearing_dtmi);
  BOOST_TEST(h->features == std::vector<std::string>{"wear"});
}

BOOST_AUTO_TEST_SUITE_END()
