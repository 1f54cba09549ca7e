#define BOOST_TEST_MODULE edge_tests
#include <boost/test/unit_test.hpp>

#include <cmath>
#include <limits>
#include <numbers>
#include <numeric>
#include <random>
#include <thread>
#include <vector>

#include "twin/edge/features.hpp"

namespace tt = boost::test_tools;
using namespace twin::edge;

namespace {

constexpr double fs = 10'000.0;

std::vector<double> sine(double amplitude, double f, std::size_t n, double phase = 0.0,
                         double offset = 0.0) {
  std::vector<double> x(n);
  for (std::size_t i = 0; i < n; ++i)
    x[i] = offset + amplitude * std::sin(2.0 * std::numbers::pi * f * static_cast<double>(i) / fs +
                                         phase);
  return x;
}

std::vector<double> gaussian_noise(std::size_t n, double sigma, unsigned seed) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> d(0.0, sigma);
  std::vector<double> x(n);
  for (auto& v : x)
    v = d(rng);
  return x;
}

std::vector<band> test_bands() {
  return {{0.0, 500.0, "b0"}, {500.0, 1500.0, "b1"}, {1500.0, 2500.0, "b2"},
          {2500.0, 5000.1, "b3"}};
}

feature_extractor make(std::size_t window = 4096, window_function w = window_function::hann,
                       std::vector<band> bands = test_bands()) {
  auto fx = feature_extractor::create({fs, window, std::move(bands), w, 16});
  BOOST_TEST_REQUIRE(fx.has_value());
  return std::move(fx).value();
}

} // namespace

BOOST_AUTO_TEST_SUITE(feature_extraction)

BOOST_AUTO_TEST_CASE(the_rms_of_a_sine_of_amplitude_a_over_whole_periods_is_a_over_root_two) {
  auto fx = make(10'000);
  for (double a : {0.01, 1.0, 2.5, 1000.0}) {
    auto f = fx.compute(sine(a, 100.0, 10'000, 0.3)); // 100 whole periods
    BOOST_TEST_REQUIRE(f.has_value());
    BOOST_TEST(f->rms == a / std::numbers::sqrt2, tt::tolerance(1e-12));
  }
}

BOOST_AUTO_TEST_CASE(the_crest_factor_of_a_sine_is_root_two) {
  auto fx = make(10'000);
  auto f = fx.compute(sine(2.5, 100.0, 10'000)); // a sample falls on every crest
  BOOST_TEST_REQUIRE(f.has_value());
  BOOST_TEST(f->peak == 2.5, tt::tolerance(1e-12));
  BOOST_TEST(f->crest_factor == std::numbers::sqrt2, tt::tolerance(1e-12));
}

BOOST_AUTO_TEST_CASE(the_kurtosis_of_a_sine_is_one_and_a_half) {
  auto fx = make(10'000);
  auto f = fx.compute(sine(3.0, 50.0, 10'000, 1.0, 7.0)); // DC does not matter
  BOOST_TEST_REQUIRE(f.has_value());
  BOOST_TEST(f->kurtosis == 1.5, tt::tolerance(1e-10));
  BOOST_TEST(f->mean == 7.0, tt::tolerance(1e-12));
}

BOOST_AUTO_TEST_CASE(the_kurtosis_of_gaussian_noise_is_about_three) {
  auto x = gaussian_noise(200'000, 0.7, 42);
  auto fx = make(4096);
  auto f = fx.compute(x);
  BOOST_TEST_REQUIRE(f.has_value());
  BOOST_TEST(std::abs(f->kurtosis - 3.0) < 0.1, "kurtosis " << f->kurtosis);
  BOOST_TEST(f->rms == 0.7, tt::tolerance(0.01));
  BOOST_TEST(std::abs(f->mean) < 0.01);
}

BOOST_AUTO_TEST_CASE(a_tone_lands_in_the_band_that_contains_its_frequency_and_almost_nowhere_else) {
  auto fx = make(4096);
  const double a = 2.0;
  for (auto [f0, expect] : std::vector<std::pair<double, std::size_t>>{
           {123.4, 0}, {1000.0, 1}, {1987.6, 2}, {3000.0, 2 + 1}}) {
    auto f = fx.compute(sine(a, f0, 4096, 0.7)); // frequencies not on a bin
    BOOST_TEST_REQUIRE(f.has_value());
    BOOST_TEST_REQUIRE(f->band_energy.size() == 4u);
    BOOST_TEST(f->band_energy[expect] == a * a / 2.0, tt::tolerance(2e-3));
    for (std::size_t b = 0; b < 4; ++b)
      if (b != expect)
        BOOST_TEST(f->band_energy[b] < 1e-6 * a * a, "tone " << f0 << " leaks "
                                                            << f->band_energy[b] << " into band "
                                                            << b);
  }
}

BOOST_AUTO_TEST_CASE(dc_lands_in_the_band_starting_at_zero) {
  auto fx = make(4096);
  std::vector<double> x(4096, 3.0);
  auto f = fx.compute(x);
  BOOST_TEST_REQUIRE(f.has_value());
  BOOST_TEST(f->band_energy[0] == 9.0, tt::tolerance(1e-12)); // mean^2
  for (std::size_t b = 1; b < 4; ++b)
    BOOST_TEST(f->band_energy[b] < 1e-20);
  BOOST_TEST(f->kurtosis == 0.0); // constant signal: documented as 0
  BOOST_TEST(f->crest_factor == 1.0, tt::tolerance(1e-12));
}

BOOST_AUTO_TEST_CASE(with_a_rectangular_window_the_bands_covering_all_bins_sum_to_the_mean_square) {
  // Parseval, even and odd lengths (the Nyquist bin counts once when N is even).
  for (std::size_t n : {4096u, 1001u, 64u}) {
    auto fx = make(n, window_function::rectangular);
    auto x = gaussian_noise(n, 1.3, static_cast<unsigned>(n));
    for (auto& v : x)
      v += 0.4; // with DC
    auto f = fx.compute(x);
    BOOST_TEST_REQUIRE(f.has_value());
    const double total = std::accumulate(f->band_energy.begin(), f->band_energy.end(), 0.0);
    BOOST_TEST(total == f->rms * f->rms, tt::tolerance(1e-10));
    auto p = fx.power_spectrum(x);
    BOOST_TEST_REQUIRE(p.has_value());
    BOOST_TEST(p->size() == n / 2 + 1);
    BOOST_TEST(std::accumulate(p->begin(), p->end(), 0.0) == f->rms * f->rms,
               tt::tolerance(1e-10));
  }
}

BOOST_AUTO_TEST_CASE(with_the_hann_window_a_tone_of_amplitude_a_has_total_energy_a_squared_over_two) {
  auto fx = make(4096);
  for (double f0 : {55.5, 777.7, 4321.0}) {
    auto p = fx.power_spectrum(sine(1.5, f0, 4096, 0.2));
    BOOST_TEST_REQUIRE(p.has_value());
    BOOST_TEST(std::accumulate(p->begin(), p->end(), 0.0) == 1.5 * 1.5 / 2.0,
               tt::tolerance(1e-3));
  }
  // Exact with whole periods on a bin.
  auto p = fx.power_spectrum(sine(1.5, 100.0 * fs / 4096.0, 4096, 0.2));
  BOOST_TEST_REQUIRE(p.has_value());
  BOOST_TEST(std::accumulate(p->begin(), p->end(), 0.0) == 1.125, tt::tolerance(1e-12));
}

BOOST_AUTO_TEST_CASE(empty_too_short_and_non_finite_windows_are_rejected) {
  auto fx = make(64);
  std::vector<double> empty;
  auto r = fx.compute(empty);
  BOOST_TEST_REQUIRE(!r.has_value());
  BOOST_TEST(r.error().code == twin::errc::bad_request);
  std::vector<double> shortw(15, 1.0);
  BOOST_TEST(!fx.compute(shortw).has_value());
  std::vector<double> ok(16, 1.0);
  BOOST_TEST(fx.compute(ok).has_value());
  auto x = sine(1.0, 100.0, 64);
  x[10] = std::numeric_limits<double>::quiet_NaN();
  auto nan = fx.compute(x);
  BOOST_TEST_REQUIRE(!nan.has_value());
  BOOST_TEST(nan.error().path == "/10");
  x[10] = std::numeric_limits<double>::infinity();
  BOOST_TEST(!fx.compute(x).has_value());
  BOOST_TEST(!fx.power_spectrum(x).has_value());
}

BOOST_AUTO_TEST_CASE(invalid_configurations_are_rejected) {
  BOOST_TEST(!feature_extractor::create({0.0, 4096, {}, window_function::hann, 16}).has_value());
  BOOST_TEST(!feature_extractor::create({fs, 8, {}, window_function::hann, 16}).has_value());
  BOOST_TEST(!feature_extractor::create({fs, 4096, {{500, 100, "x"}}, window_function::hann, 16})
                  .has_value());
  BOOST_TEST(!feature_extractor::create({fs, 4096, {{-1, 100, "x"}}, window_function::hann, 16})
                  .has_value());
  BOOST_TEST(!feature_extractor::create({fs, 4096, {{6000, 7000, "x"}}, window_function::hann, 16})
                  .has_value());
}

BOOST_AUTO_TEST_CASE(one_plan_is_cached_per_window_length) {
  auto fx = make(4096);
  BOOST_TEST(fx.cached_plans() == 1u);
  auto a = sine(1.0, 100.0, 4096);
  auto b = sine(1.0, 100.0, 1000);
  for (int i = 0; i < 3; ++i) {
    BOOST_TEST(fx.compute(a).has_value());
    BOOST_TEST(fx.compute(b).has_value());
  }
  BOOST_TEST(fx.cached_plans() == 2u);
  auto moved = std::move(fx); // plans move with the extractor
  BOOST_TEST(moved.compute(b).has_value());
  BOOST_TEST(moved.cached_plans() == 2u);
}

BOOST_AUTO_TEST_CASE(extractors_on_several_threads_plan_and_compute_concurrently) {
  std::vector<std::thread> threads;
  std::vector<int> good(4, 0);
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([t, &good] {
      for (std::size_t n = 100; n < 400; n += 37) {
        auto fx = feature_extractor::create({fs, n + static_cast<std::size_t>(t), test_bands(),
                                             window_function::hann, 16});
        if (!fx)
          return;
        auto f = fx->compute(sine(1.0, 1000.0, n + static_cast<std::size_t>(t) + 5));
        if (f && std::abs(f->band_energy[1] - 0.5) < 0.05)
          ++good[static_cast<std::size_t>(t)];
      }
    });
  for (auto& th : threads)
    th.join();
  for (int g : good)
    BOOST_TEST(g == 9);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(feature_streaming)

BOOST_AUTO_TEST_CASE(a_stream_emits_one_feature_set_per_hop_over_the_last_window) {
  auto st = feature_stream::create({fs, 1000, test_bands(), window_function::hann, 16}, 250);
  BOOST_TEST_REQUIRE(st.has_value());
  auto x = sine(1.0, 1000.0, 3000);
  for (std::size_t i = 0; i < x.size(); ++i)
    x[i] += static_cast<double>(i); // a ramp: each window's mean tells where it sits
  std::vector<features> all;
  for (std::size_t pos = 0; pos < x.size(); pos += 333) { // chunks unrelated to the hop
    const std::size_t n = std::min<std::size_t>(333, x.size() - pos);
    auto r = st->push(std::span<const double>(x).subspan(pos, n));
    BOOST_TEST_REQUIRE(r.has_value());
    all.insert(all.end(), r->begin(), r->end());
  }
  // Windows end at 1000, 1250, ..., 3000: 9 of them.
  BOOST_TEST_REQUIRE(all.size() == 9u);
  auto direct = feature_extractor::create({fs, 1000, test_bands(), window_function::hann, 16});
  BOOST_TEST_REQUIRE(direct.has_value());
  for (std::size_t w = 0; w < all.size(); ++w) {
    auto ref = direct->compute(std::span<const double>(x).subspan(w * 250, 1000));
    BOOST_TEST_REQUIRE(ref.has_value());
    BOOST_TEST(all[w].mean == ref->mean, tt::tolerance(1e-12));
    BOOST_TEST(all[w].kurtosis == ref->kurtosis, tt::tolerance(1e-12));
  }
  BOOST_TEST(st->buffered() == 750u);
}

BOOST_AUTO_TEST_CASE(a_hop_longer_than_the_window_skips_the_gap_even_across_chunks) {
  auto st = feature_stream::create({fs, 100, {}, window_function::hann, 16}, 1000);
  BOOST_TEST_REQUIRE(st.has_value());
  std::vector<double> x(3000);
  for (std::size_t i = 0; i < x.size(); ++i)
    x[i] = static_cast<double>(i);
  std::vector<features> all;
  for (std::size_t pos = 0; pos < x.size(); pos += 70) {
    auto r = st->push(std::span<const double>(x).subspan(pos, std::min<std::size_t>(70, 3000 - pos)));
    BOOST_TEST_REQUIRE(r.has_value());
    all.insert(all.end(), r->begin(), r->end());
  }
  BOOST_TEST_REQUIRE(all.size() == 3u);
  for (std::size_t w = 0; w < 3; ++w)
    BOOST_TEST(all[w].mean == 1000.0 * static_cast<double>(w) + 49.5, tt::tolerance(1e-12));
}

BOOST_AUTO_TEST_CASE(a_chunk_with_a_non_finite_sample_is_rejected_whole) {
  auto st = feature_stream::create({fs, 100, {}, window_function::hann, 16}, 100);
  BOOST_TEST_REQUIRE(st.has_value());
  std::vector<double> x(50, 1.0);
  x[49] = std::numeric_limits<double>::quiet_NaN();
  BOOST_TEST(!st->push(x).has_value());
  BOOST_TEST(st->buffered() == 0u);
  BOOST_TEST(!feature_stream::create({fs, 100, {}, window_function::hann, 16}, 0).has_value());
}

BOOST_AUTO_TEST_SUITE_END()
