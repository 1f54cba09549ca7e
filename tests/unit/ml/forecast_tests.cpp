#include <boost/test/unit_test.hpp>

#include <cmath>
#include <limits>

#include "synthetic.hpp"
#include "twin/ml/forecast.hpp"

namespace tt = boost::test_tools;
using namespace twin::ml;
using namespace twin::ml::test;

namespace {

constexpr double day = 86400.0;
constexpr double hour = 3600.0;

// Linear wear 0.1 -> 1.0 over 100 days: crosses the limit 1.0 at day 100.
double linear_wear(double t) { return 0.1 + 0.9 * t / (100.0 * day); }

// Accelerating degradation: 0.05 + exp(a + b t), crossing 1.0 at day 100,
// worth 0.1 above the floor at day 0 (b = ln(9.5) / 100 days).
constexpr double floor_level = 0.05;
double exp_wear(double t) {
  const double b = std::log(0.95 / 0.1) / (100.0 * day);
  return floor_level + 0.1 * std::exp(b * t);
}

// exp_wear over its first 50 days, with multiplicative 5 % noise on the part
// above the floor.
std::vector<observation> noisy_exp_wear_to_half_life(gauss& g) {
  auto data = sample_curve([](double t) { return exp_wear(t) - floor_level; }, 0.0, 50.0 * day,
                           2.0 * hour, 0.05, true, g);
  for (auto& o : data)
    o.value += floor_level;
  return data;
}

crossing_query at_limit(double limit) {
  crossing_query q;
  q.limit = limit;
  return q;
}

// The limit 1.0 queried at day 50: half of the wear curves' life.
crossing_query at_half_life() {
  auto q = at_limit(1.0);
  q.now = 50.0 * day;
  return q;
}

// Holt fitted on errors a quarter of the history ahead (one-step errors
// favour a jumpy trend on noisy data), initialised on a tenth of it.
void fit_far_ahead(holt_options& o, std::size_t samples) {
  o.fit_lead = samples / 4;
  o.init_points = samples / 10;
}

double relative_error(double estimate, double truth) {
  return std::abs(estimate - truth) / truth;
}

} // namespace

BOOST_AUTO_TEST_SUITE(degradation)

// Stated bar: RUL at 50 % life within 10 % of the true RUL (50 days).
BOOST_AUTO_TEST_CASE(linear_fit_rul_at_half_life_is_within_10_percent_and_inside_its_band) {
  gauss g(21);
  auto data = sample_curve(linear_wear, 0.0, 50.0 * day, 2.0 * hour, 0.03, false, g);
  auto m = degradation_fit::fit(bearing_binding(), "wear", data);
  BOOST_TEST_REQUIRE(m.has_value(), m);
  auto q = at_half_life();
  q.confidence = 0.99; // the band is asserted to hold the truth
  auto r = m->rul(q);
  BOOST_TEST_REQUIRE(r.has_value(), r);
  BOOST_TEST_REQUIRE(r->predicted());
  const double err = relative_error(*r->rul_s, 50.0 * day);
  BOOST_TEST_MESSAGE("linear fit: RUL " << *r->rul_s / day << " d (true 50 d), error "
                                        << err * 100 << " %, band [" << *r->rul_low_s / day
                                        << ", " << *r->rul_high_s / day << "] d");
  BOOST_TEST(err < 0.10);
  BOOST_TEST(*r->rul_low_s <= 50.0 * day);
  BOOST_TEST(*r->rul_high_s >= 50.0 * day);
  BOOST_TEST(*r->crossing_time == *q.now + *r->rul_s, tt::tolerance(1e-12));
}

BOOST_AUTO_TEST_CASE(exponential_fit_rul_at_half_life_is_within_10_percent) {
  gauss g(22);
  auto data = noisy_exp_wear_to_half_life(g);
  degradation_options o;
  o.shape = degradation_shape::exponential;
  o.offset = floor_level;
  auto m = degradation_fit::fit(bearing_binding(), "wear", data, o);
  BOOST_TEST_REQUIRE(m.has_value(), m);
  auto q = at_half_life();
  q.confidence = 0.99;
  auto r = m->rul(q);
  BOOST_TEST_REQUIRE(r->predicted());
  const double err = relative_error(*r->rul_s, 50.0 * day);
  BOOST_TEST_MESSAGE("exponential fit: RUL " << *r->rul_s / day << " d (true 50 d), error "
                                             << err * 100 << " %, band ["
                                             << *r->rul_low_s / day << ", "
                                             << *r->rul_high_s / day << "] d");
  BOOST_TEST(err < 0.10);
  BOOST_TEST(*r->rul_low_s <= 50.0 * day);
  BOOST_TEST(*r->rul_high_s >= 50.0 * day);
  BOOST_TEST(m->predict(100.0 * day) == 1.0, tt::tolerance(0.05));
  // A straight line through the same accelerating data is far too optimistic.
  auto line = degradation_fit::fit(bearing_binding(), "wear", data);
  auto lr = line->rul(q);
  BOOST_TEST_MESSAGE("linear fit on exponential data: RUL " << *lr->rul_s / day << " d");
  BOOST_TEST(*lr->rul_s > 1.3 * 50.0 * day);
}

BOOST_AUTO_TEST_CASE(a_falling_health_index_crosses_a_lower_limit) {
  gauss g(23);
  auto data = sample_curve([](double t) { return 1.0 - linear_wear(t) + 0.1; }, 0.0, 50.0 * day,
                           hour, 0.02, false, g);
  auto m = degradation_fit::fit(bearing_binding(), "healthIndex", data);
  auto q = at_limit(0.1); // 1.0 - 0.9 t / 100 d reaches 0.1 at day 100
  q.side = failure_side::below;
  q.now = 50.0 * day;
  auto r = m->rul(q);
  BOOST_TEST_REQUIRE(r->predicted());
  BOOST_TEST(relative_error(*r->rul_s, 50.0 * day) < 0.05);
}

BOOST_AUTO_TEST_CASE(a_flat_or_improving_trend_gives_no_crossing_and_no_number) {
  gauss g(24);
  auto flat = sample_curve([](double) { return 0.3; }, 0.0, 30.0 * day, hour, 0.01, false, g);
  // Force a slightly negative slope: no crossing of an upper limit.
  for (auto& o : flat)
    o.value -= 1e-9 * o.t;
  auto m = degradation_fit::fit(bearing_binding(), "wear", flat);
  auto r = m->rul(at_limit(1.0));
  BOOST_TEST_REQUIRE(r.has_value());
  BOOST_TEST(r->result == rul_estimate::outcome::no_crossing);
  BOOST_TEST(to_string(r->result) == "no_crossing");
  BOOST_TEST(!r->rul_s.has_value());
  BOOST_TEST(!r->crossing_time.has_value());
  BOOST_TEST(!r->rul_low_s.has_value());
  BOOST_TEST(!r->rul_high_s.has_value());
}

BOOST_AUTO_TEST_CASE(a_crossing_beyond_the_horizon_is_no_crossing) {
  gauss g(25);
  auto data = sample_curve(linear_wear, 0.0, 50.0 * day, 2.0 * hour, 0.03, false, g);
  auto m = degradation_fit::fit(bearing_binding(), "wear", data);
  auto q = at_limit(1.0);
  q.horizon_s = 10.0 * day;
  BOOST_TEST(m->rul(q)->result == rul_estimate::outcome::no_crossing);
}

BOOST_AUTO_TEST_CASE(past_the_limit_is_already_crossed_with_zero_rul) {
  gauss g(26);
  auto data = sample_curve(linear_wear, 0.0, 50.0 * day, 2.0 * hour, 0.03, false, g);
  auto m = degradation_fit::fit(bearing_binding(), "wear", data);
  auto r = m->rul(at_limit(0.4));
  BOOST_TEST(r->result == rul_estimate::outcome::already_crossed);
  BOOST_TEST(*r->rul_s == 0.0);
}

BOOST_AUTO_TEST_CASE(fit_input_errors) {
  std::vector<observation> two{{0.0, 0.1}, {1.0, 0.2}};
  BOOST_TEST(degradation_fit::fit(bearing_binding(), "wear", two).error().rule
             == "ml.too-few-samples");
  std::vector<observation> same_time{{5.0, 0.1}, {5.0, 0.2}, {5.0, 0.3}};
  BOOST_TEST(degradation_fit::fit(bearing_binding(), "wear", same_time).error().rule
             == "ml.time-spread");
  std::vector<observation> nan{{0.0, 0.1}, {1.0, std::nan("")}, {2.0, 0.3}};
  auto e = degradation_fit::fit(bearing_binding(), "wear", nan);
  BOOST_TEST(e.error().rule == "ml.non-finite");
  BOOST_TEST(e.error().path == "/1");
  std::vector<observation> ok{{0.0, 0.1}, {1.0, 0.2}, {2.0, 0.3}};
  degradation_options o;
  o.shape = degradation_shape::exponential;
  o.offset = 0.15;
  BOOST_TEST(degradation_fit::fit(bearing_binding(), "wear", ok, o).error().rule == "ml.offset");
  BOOST_TEST(degradation_fit::fit(bearing_binding(), "", ok).error().rule == "ml.features");
  auto m = degradation_fit::fit(bearing_binding(), "wear", ok);
  auto q = at_limit(std::numeric_limits<double>::infinity());
  BOOST_TEST(m->rul(q).error().rule == "ml.query");
  q = at_limit(1.0);
  q.confidence = 1.0;
  BOOST_TEST(m->rul(q).error().rule == "ml.query");
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(holt)

// Stated bar: RUL at 50 % life within 10 % of the true RUL (50 days).
// Noisy 2-hourly data: alpha/beta fitted on 150-step-ahead errors (a
// quarter of the history), since one-step errors favour a jumpy trend.
BOOST_AUTO_TEST_CASE(holt_rul_at_half_life_is_within_10_percent_and_inside_its_band) {
  gauss g(31);
  auto data = sample_curve(linear_wear, 0.0, 50.0 * day, 2.0 * hour, 0.03, false, g);
  holt_options o;
  fit_far_ahead(o, data.size());
  auto m = holt_forecaster::fit(bearing_binding(), "wear", data, o);
  BOOST_TEST_REQUIRE(m.has_value(), m);
  auto q = at_half_life();
  auto r = m->rul(q);
  BOOST_TEST_REQUIRE(r.has_value(), r);
  BOOST_TEST_REQUIRE(r->predicted());
  const double err = relative_error(*r->rul_s, 50.0 * day);
  BOOST_TEST_MESSAGE("Holt (alpha " << m->alpha() << ", beta " << m->beta() << "): RUL "
                                    << *r->rul_s / day << " d (true 50 d), error " << err * 100
                                    << " %, band [" << *r->rul_low_s / day << ", "
                                    << (r->rul_high_s ? *r->rul_high_s / day : -1.0) << "] d");
  BOOST_TEST(err < 0.10);
  BOOST_TEST(*r->rul_low_s <= 50.0 * day);
  BOOST_TEST((!r->rul_high_s || *r->rul_high_s >= 50.0 * day));
  BOOST_TEST(m->sigma() == 0.03, tt::tolerance(0.2));

  // The classical one-step fit on the same data, for the record.
  auto one_step = holt_forecaster::fit(bearing_binding(), "wear", data);
  auto r1 = one_step->rul(q);
  BOOST_TEST_MESSAGE("Holt one-step fit (alpha " << one_step->alpha() << ", beta "
                                                 << one_step->beta() << "): RUL "
                                                 << (r1->rul_s ? *r1->rul_s / day : -1.0)
                                                 << " d");
}

// Stated bar: within 10 % at 50 % life, Holt on ln(y - floor).
BOOST_AUTO_TEST_CASE(holt_on_the_log_scale_follows_an_exponential_curve_within_10_percent) {
  gauss g(32);
  auto data = noisy_exp_wear_to_half_life(g);
  holt_options o;
  o.shape = degradation_shape::exponential;
  o.offset = floor_level;
  fit_far_ahead(o, data.size());
  auto m = holt_forecaster::fit(bearing_binding(), "wear", data, o);
  BOOST_TEST_REQUIRE(m.has_value(), m);
  auto q = at_half_life();
  auto r = m->rul(q);
  BOOST_TEST_REQUIRE(r->predicted());
  const double err = relative_error(*r->rul_s, 50.0 * day);
  BOOST_TEST_MESSAGE("Holt log-scale (alpha " << m->alpha() << ", beta " << m->beta()
                                              << ") on exponential curve: RUL "
                                              << *r->rul_s / day << " d (true 50 d), error "
                                              << err * 100 << " %");
  BOOST_TEST(err < 0.10);
  BOOST_TEST(m->forecast(100.0 * day) == 1.0, tt::tolerance(0.1));
}

BOOST_AUTO_TEST_CASE(updating_one_by_one_equals_fitting_the_whole_series) {
  gauss g(33);
  auto data = sample_curve(linear_wear, 0.0, 20.0 * day, hour, 0.02, false, g);
  holt_options o;
  o.alpha = 0.2;
  o.beta = 0.05;
  auto whole = holt_forecaster::fit(bearing_binding(), "wear", data, o);
  auto half = holt_forecaster::fit(bearing_binding(), "wear",
                                   std::span{data}.first(data.size() / 2), o);
  BOOST_TEST_REQUIRE(half.has_value(), half);
  for (std::size_t i = data.size() / 2; i < data.size(); ++i)
    BOOST_TEST_REQUIRE(half->update(data[i].t, data[i].value).has_value());
  BOOST_TEST(half->level() == whole->level(), tt::tolerance(1e-9));
  BOOST_TEST(half->trend() == whole->trend(), tt::tolerance(1e-9));
  BOOST_TEST(half->forecast(30.0 * day) == whole->forecast(30.0 * day), tt::tolerance(1e-9));
}

BOOST_AUTO_TEST_CASE(a_flat_series_predicts_no_crossing) {
  gauss g(34);
  auto data = sample_curve([](double) { return 0.5; }, 0.0, 10.0 * day, hour, 0.01, false, g);
  holt_options o;
  o.alpha = 0.3;
  o.beta = 0.0; // keep the initial (noise) trend; force it non-positive below
  auto m = holt_forecaster::fit(bearing_binding(), "wear", data, o);
  BOOST_TEST_REQUIRE(m.has_value());
  // A falling value after the fit turns the trend down.
  o.beta = 0.5;
  auto falling = holt_forecaster::fit(bearing_binding(), "wear", data, o);
  for (int i = 1; i <= 50; ++i)
    BOOST_TEST_REQUIRE(falling->update(10.0 * day + i * hour, 0.5 - 0.01 * i).has_value());
  auto r = falling->rul(at_limit(1.0));
  BOOST_TEST(r->result == rul_estimate::outcome::no_crossing);
  BOOST_TEST(!r->rul_s.has_value());
}

BOOST_AUTO_TEST_CASE(holt_input_errors_leave_the_state_unchanged) {
  gauss g(35);
  auto data = sample_curve(linear_wear, 0.0, 5.0 * day, hour, 0.02, false, g);
  auto m = holt_forecaster::fit(bearing_binding(), "wear", data);
  BOOST_TEST_REQUIRE(m.has_value());
  const auto before = m->to_json();
  BOOST_TEST(m->update(m->last_time(), 0.5).error().rule == "ml.time-order");
  BOOST_TEST(m->update(m->last_time() + 1.0, std::nan("")).error().rule == "ml.non-finite");
  BOOST_TEST(m->to_json() == before);

  auto unordered = data;
  std::swap(unordered[3], unordered[4]);
  auto e = holt_forecaster::fit(bearing_binding(), "wear", unordered);
  BOOST_TEST(e.error().rule == "ml.time-order");
  BOOST_TEST(e.error().path == "/4");
  BOOST_TEST(holt_forecaster::fit(bearing_binding(), "wear", std::span{data}.first(10))
               .error()
               .rule
             == "ml.too-few-samples");
  holt_options o;
  o.alpha = 0.0;
  BOOST_TEST(holt_forecaster::fit(bearing_binding(), "wear", data, o).error().rule
             == "ml.options");
}

BOOST_AUTO_TEST_SUITE_END()
