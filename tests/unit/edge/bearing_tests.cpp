#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <cmath>
#include <numbers>
#include <vector>

#include "twin/edge/bearing.hpp"
#include "twin/edge/features.hpp"

namespace tt = boost::test_tools;
using namespace twin::edge;

namespace {

bearing_simulator make_sim(double wear, std::uint64_t seed = 7) {
  bearing_config c;
  c.initial_wear = wear;
  c.seed = seed;
  auto s = bearing_simulator::create(c);
  BOOST_TEST_REQUIRE(s.has_value());
  return std::move(s).value();
}

double median(std::vector<double> v) {
  std::nth_element(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(v.size() / 2), v.end());
  return v[v.size() / 2];
}

/// Squared-envelope spectrum: the power spectrum of x^2 (mean removed),
/// where a train of ringing impacts shows up as lines at its repetition rate.
std::vector<double> squared_envelope_spectrum(const std::vector<double>& x) {
  std::vector<double> y(x.size());
  double m = 0.0;
  for (std::size_t i = 0; i < x.size(); ++i)
    m += (y[i] = x[i] * x[i]);
  m /= static_cast<double>(y.size());
  for (auto& v : y)
    v -= m;
  auto fx = feature_extractor::create({10'000.0, y.size(), {}, window_function::hann, 16});
  BOOST_TEST_REQUIRE(fx.has_value());
  auto p = fx->power_spectrum(y);
  BOOST_TEST_REQUIRE(p.has_value());
  return *p;
}

/// Largest bin within +-2 bins of f, over the median of [5, 500) Hz.
double line_prominence(const std::vector<double>& p, double df, double f) {
  std::vector<double> floor(p.begin() + static_cast<std::ptrdiff_t>(5.0 / df),
                            p.begin() + static_cast<std::ptrdiff_t>(500.0 / df));
  const auto k = static_cast<std::size_t>(std::lround(f / df));
  double peak = 0.0;
  for (std::size_t j = k - 2; j <= k + 2; ++j)
    peak = std::max(peak, p[j]);
  return peak / median(floor);
}

} // namespace

BOOST_AUTO_TEST_SUITE(bearing)

BOOST_AUTO_TEST_CASE(bpfo_bpfi_bsf_and_ftf_of_a_6205_bearing_follow_the_standard_formulas) {
  bearing_geometry g{9, 7.94, 39.04, 0.0}; // SKF 6205-like, as in the CWRU data set
  const double fr = 1797.0 / 60.0;
  auto f = characteristic_frequencies(g, fr);
  BOOST_TEST_REQUIRE(f.has_value());
  const double r = 7.94 / 39.04;
  BOOST_TEST(f->bpfo == 9.0 / 2.0 * fr * (1.0 - r), tt::tolerance(1e-12));
  BOOST_TEST(f->bpfi == 9.0 / 2.0 * fr * (1.0 + r), tt::tolerance(1e-12));
  BOOST_TEST(f->ftf == fr / 2.0 * (1.0 - r), tt::tolerance(1e-12));
  BOOST_TEST(f->bsf == 39.04 / (2.0 * 7.94) * fr * (1.0 - r * r), tt::tolerance(1e-12));
  // The published multiples of shaft speed for this bearing (CWRU: BPFO
  // 3.5848, BPFI 5.4152, FTF 0.39828, 2xBSF 4.7135).
  BOOST_TEST(f->bpfo / fr == 3.5848, tt::tolerance(1e-4));
  BOOST_TEST(f->bpfi / fr == 5.4152, tt::tolerance(1e-4));
  BOOST_TEST(f->ftf / fr == 0.39828, tt::tolerance(1e-4));
  BOOST_TEST(2.0 * f->bsf / fr == 4.7135, tt::tolerance(1e-4));
  // BPFO + BPFI = n fr, and BPFO = n FTF.
  BOOST_TEST(f->bpfo + f->bpfi == 9.0 * fr, tt::tolerance(1e-12));
  BOOST_TEST(f->bpfo == 9.0 * f->ftf, tt::tolerance(1e-12));
}

BOOST_AUTO_TEST_CASE(a_contact_angle_shrinks_the_effective_ball_to_pitch_ratio) {
  const double phi = 15.0 * std::numbers::pi / 180.0;
  bearing_geometry g{12, 10.0, 50.0, phi};
  auto f = characteristic_frequencies(g, 25.0);
  BOOST_TEST_REQUIRE(f.has_value());
  const double r = 10.0 / 50.0 * std::cos(phi);
  BOOST_TEST(f->bpfo == 6.0 * 25.0 * (1.0 - r), tt::tolerance(1e-12));
  BOOST_TEST(f->bpfi == 6.0 * 25.0 * (1.0 + r), tt::tolerance(1e-12));
}

BOOST_AUTO_TEST_CASE(impossible_bearings_are_rejected) {
  BOOST_TEST(!characteristic_frequencies({2, 7.94, 39.04, 0.0}, 30.0).has_value());
  BOOST_TEST(!characteristic_frequencies({9, 40.0, 39.04, 0.0}, 30.0).has_value());
  BOOST_TEST(!characteristic_frequencies({9, 7.94, 39.04, 2.0}, 30.0).has_value());
  BOOST_TEST(!characteristic_frequencies({9, 7.94, 39.04, 0.0}, 0.0).has_value());
  bearing_config c;
  c.resonance_hz = 6000.0; // above Nyquist at 10 kHz
  BOOST_TEST(!bearing_simulator::create(c).has_value());
  c = {};
  c.initial_wear = 1.5;
  BOOST_TEST(!bearing_simulator::create(c).has_value());
}

BOOST_AUTO_TEST_CASE(the_simulator_is_deterministic_for_a_seed_and_continuous_across_calls) {
  auto a = make_sim(0.5, 11);
  auto b = make_sim(0.5, 11);
  auto c = make_sim(0.5, 12);
  auto xa = a.generate(3000);
  auto xa2 = a.generate(2000);
  xa.insert(xa.end(), xa2.begin(), xa2.end());
  auto xb = b.generate(5000);
  BOOST_TEST(xa == xb, tt::per_element());
  BOOST_TEST((xa != c.generate(5000)));
  BOOST_TEST(a.time_s() == 0.5, tt::tolerance(1e-12));
}

BOOST_AUTO_TEST_CASE(once_worn_the_squared_envelope_spectrum_has_a_line_family_at_bpfo) {
  auto worn = make_sim(0.6);
  auto healthy = make_sim(0.0);
  const std::size_t n = 65'536;
  const double df = 10'000.0 / static_cast<double>(n);
  const double bpfo = worn.frequencies().bpfo;
  BOOST_TEST(bpfo == 107.36, tt::tolerance(1e-3));
  auto pw = squared_envelope_spectrum(worn.generate(n));
  auto ph = squared_envelope_spectrum(healthy.generate(n));
  for (int h = 1; h <= 3; ++h) {
    const double pr = line_prominence(pw, df, h * bpfo);
    BOOST_TEST_MESSAGE(h << "x BPFO: worn " << pr << ", healthy " << line_prominence(ph, df, h * bpfo));
    BOOST_TEST(pr > 100.0, "worn, " << h << "x BPFO prominence " << pr);
    const double ph_pr = line_prominence(ph, df, h * bpfo);
    BOOST_TEST(ph_pr < 20.0, "healthy, " << h << "x BPFO prominence " << ph_pr);
  }
  // The impacts ring the 3 kHz resonance: the raw spectrum's energy moves there.
  auto fx = feature_extractor::create(
      {10'000.0, 4096, {{0, 1000, "low"}, {2500, 3500, "resonance"}}, window_function::hann, 16});
  BOOST_TEST_REQUIRE(fx.has_value());
  auto fw = fx->compute(worn.generate(4096));
  auto fh = fx->compute(healthy.generate(4096));
  BOOST_TEST_REQUIRE((fw && fh));
  BOOST_TEST(fw->band_energy[1] > 10.0 * fh->band_energy[1]);
}

BOOST_AUTO_TEST_CASE(kurtosis_and_rms_rise_with_wear) {
  auto fx = feature_extractor::create({10'000.0, 10'000, {}, window_function::hann, 16});
  BOOST_TEST_REQUIRE(fx.has_value());
  double last_k = 0.0, last_rms = 0.0;
  for (double w : {0.0, 0.1, 0.3, 0.6, 1.0}) {
    auto sim = make_sim(w);
    auto f = fx->compute(sim.generate(10'000));
    BOOST_TEST_REQUIRE(f.has_value());
    BOOST_TEST_MESSAGE("wear " << w << ": rms " << f->rms << " kurtosis " << f->kurtosis
                               << " crest " << f->crest_factor);
    BOOST_TEST(f->kurtosis > last_k, "wear " << w << " kurtosis " << f->kurtosis);
    BOOST_TEST(f->rms > last_rms);
    last_k = f->kurtosis;
    last_rms = f->rms;
  }
  BOOST_TEST(last_k > 5.0);
}

BOOST_AUTO_TEST_CASE(wear_temperature_and_load_drift_upward_as_the_bearing_runs) {
  bearing_config c;
  c.wear_rate = 1e-5;
  auto s = bearing_simulator::create(c);
  BOOST_TEST_REQUIRE(s.has_value());
  BOOST_TEST(s->temperature_c() == 45.0, tt::tolerance(1e-12)); // 25 ambient + 20 rise
  BOOST_TEST(s->load_kn() == 5.0, tt::tolerance(1e-12));
  BOOST_TEST(s->speed_hz() == 29.95);
  double w = s->wear(), t = s->temperature_c(), l = s->load_kn();
  for (int i = 0; i < 20; ++i) {
    s->advance_wear(60.0);
    BOOST_TEST(s->wear() > w);
    BOOST_TEST(s->temperature_c() > t);
    BOOST_TEST(s->load_kn() > l);
    w = s->wear();
    t = s->temperature_c();
    l = s->load_kn();
  }
  // dw/dt = r (1 + 9w) integrated exactly from w = 0 over 1200 s.
  BOOST_TEST(w == (std::exp(9.0 * 1e-5 * 1200.0) - 1.0) / 9.0, tt::tolerance(1e-9));
  s->advance_wear(1e6);
  BOOST_TEST(s->wear() == 1.0);
  s->set_wear(0.5);
  BOOST_TEST(s->temperature_c() == 45.0 + 40.0 * 0.25, tt::tolerance(1e-12));
}

BOOST_AUTO_TEST_SUITE_END()
