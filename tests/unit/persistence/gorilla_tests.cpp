// The Gorilla chunk codec (pure): round trips, special values, late
// timestamps, malformed input, and how small a regular series gets.
#include <boost/test/unit_test.hpp>

#include <bit>
#include <cmath>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "twin/persistence/gorilla.hpp"

using namespace twin::persistence::gorilla;

namespace {

struct point {
  std::int64_t t;
  double v;
};

std::vector<point> decode_numbers(const std::string& chunk, bool* ok_out = nullptr) {
  std::vector<point> out;
  bool ok = decode(
    chunk, [&](std::int64_t t, double v) { out.push_back({t, v}); }, nullptr);
  if (ok_out)
    *ok_out = ok;
  else
    BOOST_REQUIRE(ok);
  return out;
}

// Exact bits: NaN payloads and -0.0 must survive.
void check_round_trip(const std::vector<point>& in) {
  chunk_encoder enc;
  for (auto& p : in)
    enc.append(p.t, p.v);
  std::string bytes;
  enc.serialize(bytes);
  BOOST_TEST(bytes.size() == enc.size());
  chunk_header h;
  BOOST_REQUIRE(read_header(bytes, h));
  BOOST_TEST(h.count == in.size());
  auto out = decode_numbers(bytes);
  BOOST_REQUIRE_EQUAL(out.size(), in.size());
  for (std::size_t i = 0; i < in.size(); ++i) {
    BOOST_TEST(out[i].t == in[i].t, "sample " << i);
    BOOST_TEST(std::bit_cast<std::uint64_t>(out[i].v)
                 == std::bit_cast<std::uint64_t>(in[i].v),
               "sample " << i);
  }
}

} // namespace

BOOST_AUTO_TEST_SUITE(gorilla_codec)

BOOST_AUTO_TEST_CASE(regular_series_round_trips_in_under_two_bytes_a_sample) {
  std::vector<point> in;
  for (int i = 0; i < 1000; ++i)
    in.push_back({1'700'000'000'000 + i * 1000LL, 20.0 + (i % 10) * 0.5});
  check_round_trip(in);
  chunk_encoder enc;
  for (auto& p : in)
    enc.append(p.t, p.v);
  // Timestamps cost one bit each; the values repeat every ten samples.
  BOOST_TEST(enc.size() < 2 * in.size());
}

BOOST_AUTO_TEST_CASE(special_values_keep_their_exact_bits) {
  const double nan = std::numeric_limits<double>::quiet_NaN();
  const double inf = std::numeric_limits<double>::infinity();
  check_round_trip({{0, 1.0},
                    {1, nan},
                    {2, -nan},
                    {3, inf},
                    {4, -inf},
                    {5, -0.0},
                    {6, 0.0},
                    {7, std::numeric_limits<double>::denorm_min()},
                    {8, std::numeric_limits<double>::max()},
                    {9, std::numeric_limits<double>::lowest()},
                    {10, std::bit_cast<double>(std::uint64_t{0x7ff0000000000001})},
                    {11, 1.0}});
}

BOOST_AUTO_TEST_CASE(late_duplicate_and_far_apart_timestamps_round_trip) {
  constexpr auto lo = std::numeric_limits<std::int64_t>::min();
  constexpr auto hi = std::numeric_limits<std::int64_t>::max();
  check_round_trip({{1000, 1},
                    {999, 2},   // one back
                    {999, 3},   // duplicate
                    {5, 4},     // far back
                    {hi, 5},    // huge gap forward
                    {lo, 6},    // and all the way back
                    {0, 7},
                    {-86'400'000, 8},
                    {1'700'000'000'000, 9},
                    {1'700'000'000'063, 10},
                    {1'700'000'000'127, 11}, // each dod class
                    {1'700'000'000'500, 12},
                    {1'700'000'004'000, 13},
                    {1'700'100'000'000, 14}});
}

BOOST_AUTO_TEST_CASE(random_series_round_trip) {
  std::mt19937_64 rng{42};
  std::vector<point> in;
  std::int64_t t = 1'700'000'000'000;
  for (int i = 0; i < 5000; ++i) {
    t += static_cast<std::int64_t>(rng() % 3000) - 500; // sometimes backwards
    double v;
    switch (rng() % 4) {
      case 0: v = std::bit_cast<double>(rng()); break; // any bit pattern
      case 1: v = static_cast<double>(rng() % 100); break;
      case 2: v = in.empty() ? 0 : in.back().v; break;
      default: v = std::ldexp(static_cast<double>(rng() % 1000), -20); break;
    }
    in.push_back({t, v});
  }
  check_round_trip(in);
}

BOOST_AUTO_TEST_CASE(string_chunks_round_trip) {
  chunk_encoder enc{chunk_kind::string};
  std::vector<std::pair<std::int64_t, std::string>> in{
    {10, "on"}, {20, ""}, {15, std::string("a\0b", 3)}, {30, std::string(300, 'x')},
    {40, "{\"json\":true}"}};
  for (auto& [t, v] : in)
    enc.append(t, std::string_view{v});
  std::string bytes;
  enc.serialize(bytes);
  std::vector<std::pair<std::int64_t, std::string>> out;
  BOOST_REQUIRE(decode(bytes, nullptr, [&](std::int64_t t, std::string_view v) {
    out.emplace_back(t, std::string{v});
  }));
  BOOST_TEST((out == in));
  chunk_header h;
  BOOST_REQUIRE(read_header(bytes, h));
  BOOST_TEST(h.min_time == 10);
  BOOST_TEST(h.max_time == 40);
}

BOOST_AUTO_TEST_CASE(truncated_or_unknown_chunks_are_rejected) {
  chunk_encoder enc;
  for (int i = 0; i < 100; ++i)
    enc.append(i * 7919LL, i * 1.1);
  std::string bytes;
  enc.serialize(bytes);
  bool ok = true;
  auto part = decode_numbers(bytes.substr(0, bytes.size() / 2), &ok);
  BOOST_TEST(!ok);
  BOOST_TEST(part.size() < 100u);
  std::string bad = bytes;
  bad[0] = 9;
  BOOST_TEST(!decode(bad, nullptr, nullptr));
  BOOST_TEST(!decode("short", nullptr, nullptr));
}

BOOST_AUTO_TEST_CASE(clear_starts_an_empty_chunk) {
  chunk_encoder enc;
  enc.append(1, 1.0);
  enc.clear(chunk_kind::numeric);
  enc.append(5, 2.5);
  std::string bytes;
  enc.serialize(bytes);
  auto out = decode_numbers(bytes);
  BOOST_REQUIRE_EQUAL(out.size(), 1u);
  BOOST_TEST(out[0].t == 5);
  BOOST_TEST(out[0].v == 2.5);
}

BOOST_AUTO_TEST_SUITE_END()
