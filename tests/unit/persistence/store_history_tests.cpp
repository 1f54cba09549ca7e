// The store's time-series history: raw samples and rollups, late samples,
// retention (injected clock), durability across close/reopen and a crash,
// old databases without the history column family.
#include "store_fixture.hpp"

#include <atomic>
#include <chrono>
#include <cmath>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <future>
#include <map>
#include <random>
#include <thread>

#include <sys/wait.h>
#include <unistd.h>

using namespace twin;
using namespace twin::persistence;
using namespace twin::persistence::test;

namespace {

constexpr std::int64_t t0 = 1'699'999'200'000; // a whole hour (ms)
constexpr std::int64_t minute = 60'000;
constexpr std::int64_t hour = 3'600'000;
constexpr std::int64_t day = 24 * hour;

sample num(std::string series, std::int64_t t, double v) {
  return sample{std::move(series), t, v};
}

write_request samples_request(const std::string& twin, std::vector<sample> samples) {
  write_request req;
  twin_write tw;
  tw.twin_id = twin;
  tw.samples = std::move(samples);
  req.twins.push_back(std::move(tw));
  return req;
}

/// A stored raw chunk, from the closed store's history column family (key
/// 'r' twin NUL series NUL tsk(window) be64(seq); value header u8 kind,
/// u32le sample count, ...), in key order.
struct raw_chunk {
  std::string twin, series;
  std::uint32_t samples = 0;
};
std::vector<raw_chunk> raw_chunks(const temp_dir& dir) {
  std::vector<raw_chunk> out;
  raw_db raw{dir.path};
  std::unique_ptr<rocksdb::Iterator> it{raw.db->NewIterator({}, raw.cf("history"))};
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    const auto k = it->key().ToString();
    if (k[0] != 'r')
      continue;
    const auto names = k.substr(1, k.size() - 1 - 16 - 1);
    const auto nul = names.find('\0');
    raw_chunk c{names.substr(0, nul), names.substr(nul + 1)};
    std::memcpy(&c.samples, it->value().data() + 1, 4);
    out.push_back(std::move(c));
  }
  return out;
}

/// Options for a test that checkpoints only by compact_history() (and the
/// thresholds it sets): history clock one day after t0.
store_options manual_checkpoints(const temp_dir& dir) {
  store_options opts;
  opts.path = dir.path;
  opts.clock = [] { return t0 + day; };
  opts.history_checkpoint_interval = std::chrono::milliseconds{0};
  opts.history_idle_min = std::chrono::milliseconds{0};
  return opts;
}

history_result query(store& s, const std::string& twin, const std::string& series,
                     history_tier tier, std::int64_t from = INT64_MIN,
                     std::int64_t to = INT64_MAX, std::size_t limit = 1'000'000) {
  auto r = s.history({twin, series, from, to, tier, limit});
  BOOST_REQUIRE_MESSAGE(r, (r ? std::string{} : r.error().describe()));
  return std::move(r).value();
}

std::vector<std::pair<std::int64_t, double>> numbers(const history_result& r) {
  std::vector<std::pair<std::int64_t, double>> out;
  for (auto& p : r.raw)
    out.emplace_back(p.time_ms, std::get<double>(p.value));
  return out;
}

std::unique_ptr<store> open_with(store_options opts) {
  auto s = store::open(std::move(opts));
  BOOST_REQUIRE_MESSAGE(s, (s ? std::string{} : s.error().describe()));
  return std::move(s).value();
}

/// A store whose clock stands one day after t0 (so that nothing written
/// around t0 is past its retention).
std::unique_ptr<store> open_history_store(const std::string& dir) {
  store_options opts;
  opts.path = dir;
  opts.clock = [] { return t0 + day; };
  return open_with(std::move(opts));
}

// Rollups computed from the raw points, the way the store must.
std::map<std::int64_t, rollup_point> expected_rollups(const history_result& raw,
                                                      std::int64_t len) {
  std::map<std::int64_t, rollup_point> out;
  std::map<std::int64_t, double> sums;
  for (auto& p : raw.raw) {
    const double v = std::get<double>(p.value);
    auto start = p.time_ms - (((p.time_ms % len) + len) % len);
    auto [it, fresh] = out.try_emplace(start, rollup_point{start, v, v, 0, 0, v, p.time_ms});
    auto& b = it->second;
    b.min = std::min(b.min, v);
    b.max = std::max(b.max, v);
    ++b.count;
    sums[start] += v;
    if (p.time_ms >= b.last_time_ms) {
      b.last = v;
      b.last_time_ms = p.time_ms;
    }
  }
  for (auto& [start, b] : out)
    b.mean = sums[start] / static_cast<double>(b.count);
  return out;
}

void check_rollups_match_raw(store& s, const std::string& twin,
                             const std::string& series) {
  auto raw = query(s, twin, series, history_tier::raw);
  BOOST_REQUIRE(!raw.raw.empty());
  for (auto [tier, len] : {std::pair{history_tier::minute, minute},
                           std::pair{history_tier::hour, hour}}) {
    auto want = expected_rollups(raw, len);
    auto got = query(s, twin, series, tier);
    BOOST_REQUIRE_EQUAL(got.rollups.size(), want.size());
    for (auto& b : got.rollups) {
      BOOST_REQUIRE(want.count(b.start_ms));
      auto& w = want[b.start_ms];
      BOOST_TEST(b.count == w.count, "bucket " << b.start_ms);
      BOOST_TEST(b.min == w.min, "bucket " << b.start_ms);
      BOOST_TEST(b.max == w.max, "bucket " << b.start_ms);
      BOOST_TEST(std::abs(b.mean - w.mean) <= 1e-9 * std::max(1.0, std::abs(w.mean)),
                 "bucket " << b.start_ms << " mean " << b.mean << " vs " << w.mean);
      BOOST_TEST(b.last == w.last, "bucket " << b.start_ms);
      BOOST_TEST(b.last_time_ms == w.last_time_ms, "bucket " << b.start_ms);
    }
  }
}

// Three hours of one sample every 7 s for two series, sent in writes of 10,
// with every 13th sample held back and sent late (after later ones).
void write_irregular_history(store& s, const std::string& twin) {
  std::mt19937 rng{7};
  std::vector<sample> held;
  std::vector<sample> batch;
  for (std::int64_t t = t0; t < t0 + 3 * hour; t += 7'000) {
    for (const char* series : {"temperature", "temp"}) {
      auto v = std::round(std::normal_distribution<double>{50, 10}(rng) * 100) / 100;
      auto smp = num(series, t, v);
      if (rng() % 13 == 0)
        held.push_back(std::move(smp));
      else
        batch.push_back(std::move(smp));
    }
    if (batch.size() >= 10) {
      require_ok(s.write(samples_request(twin, std::move(batch))));
      batch.clear();
    }
    if (held.size() >= 25) { // late by up to a few minutes, across windows
      require_ok(s.write(samples_request(twin, std::move(held))));
      held.clear();
    }
  }
  batch.insert(batch.end(), held.begin(), held.end());
  require_ok(s.write(samples_request(twin, std::move(batch))));
}

} // namespace

BOOST_AUTO_TEST_SUITE(store_history)

BOOST_AUTO_TEST_CASE(samples_are_queryable_per_twin_and_series) {
  temp_dir dir;
  auto s = open_history_store(dir.path);
  // ids and names that are prefixes of one another must not mix
  require_ok(s->write(samples_request("t1", {num("a", t0, 1), num("ab", t0, 2)})));
  require_ok(s->write(samples_request("t10", {num("a", t0, 3)})));
  require_ok(s->write(samples_request("t1", {num("a", t0 + 1000, 4)})));
  auto a = query(*s, "t1", "a", history_tier::raw);
  BOOST_TEST((numbers(a) == std::vector<std::pair<std::int64_t, double>>{
                {t0, 1}, {t0 + 1000, 4}}));
  BOOST_TEST(numbers(query(*s, "t1", "ab", history_tier::raw)).size() == 1u);
  BOOST_TEST(numbers(query(*s, "t10", "a", history_tier::raw)).front().second == 3);
  BOOST_TEST(query(*s, "t1", "nope", history_tier::raw).raw.empty());
  auto names = s->history_series("t1");
  BOOST_REQUIRE(names);
  BOOST_TEST((*names == std::vector<std::string>{"a", "ab"}));
  // the same after the open state went to the store
  require_ok(s->compact_history());
  BOOST_TEST(numbers(query(*s, "t1", "a", history_tier::raw)).size() == 2u);
  names = s->history_series("t1");
  BOOST_REQUIRE(names);
  BOOST_TEST((*names == std::vector<std::string>{"a", "ab"}));
  auto one = query(*s, "t1", "a", history_tier::raw, t0 + 1, t0 + 1000);
  BOOST_TEST(numbers(one).size() == 1u);
}

// Twins interleaved in requests, each with several series named in varying
// orders; a checkpoint frees the series idle since the one before (and a
// twin left without any), and every sample stays queryable.
BOOST_AUTO_TEST_CASE(idle_series_leave_memory_at_a_checkpoint_and_stay_queryable) {
  temp_dir dir;
  auto opts = manual_checkpoints(dir);
  auto s = open_with(opts);
  // twin -> the series it writes, in this order
  using twins_series = std::vector<std::pair<std::string, std::vector<std::string>>>;
  std::map<std::pair<std::string, std::string>,
           std::vector<std::pair<std::int64_t, double>>>
    want;
  double value = 0;
  auto write = [&](const twins_series& twins, std::int64_t t) {
    write_request req;
    for (auto& [twin, series] : twins) {
      twin_write tw;
      tw.twin_id = twin;
      for (auto& name : series) {
        tw.samples.push_back(num(name, t, ++value));
        want[{twin, name}].emplace_back(t, value);
      }
      req.twins.push_back(std::move(tw));
    }
    require_ok(s->write(std::move(req)));
  };
  auto check = [&] {
    for (auto& [key, points] : want) {
      auto raw = query(*s, key.first, key.second, history_tier::raw);
      BOOST_TEST((numbers(raw) == points), key.first << "/" << key.second);
      check_rollups_match_raw(*s, key.first, key.second);
    }
  };
  write({{"pump", {"a", "b", "c"}}, {"fan", {"a", "b"}}, {"valve", {"x"}}}, t0);
  write({{"fan", {"b", "a"}}, {"pump", {"c", "a", "b"}}}, t0 + 1'000);
  require_ok(s->compact_history()); // all dirty: stored and kept
  write({{"pump", {"b", "d"}}, {"valve", {"x"}}}, t0 + 2'000);
  require_ok(s->compact_history()); // frees pump/a, pump/c and fan
  // pump/a restarts, pump/e is new; fan/b reloads its stored minute and
  // fan/a starts the next one
  write({{"pump", {"e", "a", "b"}}, {"fan", {"b"}}}, t0 + 3'000);
  write({{"fan", {"a"}}}, t0 + minute);
  check();
  for (auto& [twin, series] : twins_series{
         {"pump", {"a", "b", "c", "d", "e"}}, {"fan", {"a", "b"}}, {"valve", {"x"}}}) {
    auto names = s->history_series(twin);
    BOOST_REQUIRE(names);
    BOOST_TEST((*names == series), twin);
  }
  require_ok(s->compact_history());
  check();
  s.reset();
  // A freed series that came back wrote a second chunk of the same window;
  // a kept one rewrote its open chunk.
  std::map<std::string, int> chunks; // twin '/' series -> raw chunks
  for (const auto& c : raw_chunks(dir))
    ++chunks[c.twin + "/" + c.series];
  BOOST_TEST((chunks == std::map<std::string, int>{{"fan/a", 2},
                                                  {"fan/b", 2},
                                                  {"pump/a", 2},
                                                  {"pump/b", 1},
                                                  {"pump/c", 1},
                                                  {"pump/d", 1},
                                                  {"pump/e", 1},
                                                  {"valve/x", 1}}));
  s = open_with(opts);
  check();
}

// A checkpoint seals an open chunk that holds history_checkpoint_seal_samples
// or more (written once; the next sample starts a second chunk in the same
// window) and writes a smaller one open, overwriting it at the next.
BOOST_AUTO_TEST_CASE(a_checkpoint_seals_open_chunks_of_a_fair_size) {
  temp_dir dir;
  auto opts = manual_checkpoints(dir);
  opts.history_checkpoint_seal_samples = 10;
  std::map<std::string, std::vector<std::pair<std::int64_t, double>>> want;
  std::int64_t t = t0;
  auto s = open_with(opts);
  auto put = [&](int big, int small) {
    for (int i = 0; i < std::max(big, small); ++i) {
      t += 100;
      std::vector<sample> smp;
      if (i < big)
        smp.push_back(num("big", t, i * 1.5));
      if (i < small)
        smp.push_back(num("small", t, -i * 0.5));
      for (auto& x : smp)
        want[x.series].emplace_back(t, std::get<double>(x.value));
      require_ok(s->write(samples_request("t", std::move(smp))));
    }
  };
  auto check = [&] {
    for (auto& [series, points] : want) {
      BOOST_TEST((numbers(query(*s, "t", series, history_tier::raw)) == points), series);
      check_rollups_match_raw(*s, "t", series);
    }
  };
  put(15, 3);
  require_ok(s->compact_history()); // big: 15 sealed; small: 3 written open
  check();
  put(5, 4);
  require_ok(s->compact_history()); // big: a second chunk of 5, open; small: 7 open
  check();
  put(0, 4);
  require_ok(s->compact_history()); // small reaches 11: sealed under its first key
  check();
  s.reset();
  std::map<std::string, std::vector<std::uint32_t>> chunks; // series -> sample counts
  for (const auto& c : raw_chunks(dir))
    chunks[c.series].push_back(c.samples);
  BOOST_TEST((chunks["big"] == std::vector<std::uint32_t>{15, 5}));
  BOOST_TEST((chunks["small"] == std::vector<std::uint32_t>{11}));
  s = open_with(opts);
  check();
}

// A fleet being created is all new, dirty series: more than
// history_max_open_series of them checkpoint before the interval (none is
// idle yet), so they can leave memory early; every sample stays queryable.
BOOST_AUTO_TEST_CASE(a_burst_of_new_series_checkpoints_before_the_interval) {
  temp_dir dir;
  auto opts = manual_checkpoints(dir);
  opts.history_checkpoint_samples = 1'000'000;
  opts.history_max_open_series = 100;
  auto s = open_with(opts);
  for (int twin = 0; twin < 40; ++twin) {
    std::vector<sample> smp;
    for (int k = 0; k < 5; ++k)
      smp.push_back(num("s" + std::to_string(k), t0 + twin, twin * 10.0 + k));
    require_ok(s->write(samples_request("t" + std::to_string(twin), std::move(smp))));
  }
  // 200 new series, none idle: over the cap with half of it new.
  BOOST_TEST(s->stats().history_checkpoints.load() >= 1u);
  for (int twin = 0; twin < 40; twin += 13)
    for (int k = 0; k < 5; ++k) {
      auto pts = numbers(query(*s, "t" + std::to_string(twin), "s" + std::to_string(k),
                               history_tier::raw));
      BOOST_TEST((pts == std::vector<std::pair<std::int64_t, double>>{
                           {t0 + twin, twin * 10.0 + k}}));
    }
}

// A fleet larger than the cap whose series are written in turns: each
// over-capacity checkpoint finds the half not written since the previous
// one untouched, but those series are not idle (they are written again
// 250 ms later), so they stay in memory: one chunk per series, not a new
// chunk (and a reloaded bucket) every time a series comes back.
BOOST_AUTO_TEST_CASE(an_over_capacity_checkpoint_keeps_series_between_two_samples) {
  temp_dir dir;
  auto opts = manual_checkpoints(dir);
  opts.history_checkpoint_samples = 1'000'000;
  opts.history_max_open_series = 100;
  opts.history_idle_min = std::chrono::milliseconds{2000};
  auto s = open_with(opts);
  auto write_half = [&](int half, int round) {
    write_request req;
    for (int twin = half; twin < 60; twin += 2) {
      twin_write tw;
      tw.twin_id = "t" + std::to_string(twin);
      for (int k = 0; k < 5; ++k)
        tw.samples.push_back(num("s" + std::to_string(k), t0 + round, round + k));
      req.twins.push_back(std::move(tw));
    }
    require_ok(s->write(std::move(req)));
  };
  constexpr int rounds = 6;
  for (int round = 0; round < rounds; ++round) {
    write_half(round % 2, round);
    std::this_thread::sleep_for(std::chrono::milliseconds{250});
  }
  // 300 series over a cap of 100: over-capacity checkpoints ran.
  const auto checkpoints = s->stats().history_checkpoints.load();
  BOOST_TEST(checkpoints >= 1u);
  s.reset();
  std::map<std::string, int> chunks; // twin '/' series -> raw chunks
  for (const auto& c : raw_chunks(dir))
    ++chunks[c.twin + "/" + c.series];
  BOOST_TEST(chunks.size() == 300u);
  for (const auto& [series, n] : chunks)
    BOOST_TEST(n == 1, series << " has " << n << " chunks");
}

BOOST_AUTO_TEST_CASE(samples_ride_along_with_events_in_one_atomic_write) {
  temp_dir dir;
  auto s = open_history_store(dir.path);
  auto req = event_request("pump", 1, "evt");
  req.twins[0].samples.push_back(num("flow", t0, 12.5));
  req.twins[0].samples.push_back(sample{"mode", t0, std::string{"auto"}});
  require_ok(s->write(std::move(req)));
  auto journal = s->read_journal("pump", 0);
  BOOST_REQUIRE(journal);
  BOOST_TEST(journal->size() == 1u);
  BOOST_TEST(numbers(query(*s, "pump", "flow", history_tier::raw)).size() == 1u);
  auto mode = query(*s, "pump", "mode", history_tier::raw);
  BOOST_REQUIRE_EQUAL(mode.raw.size(), 1u);
  BOOST_TEST(std::get<std::string>(mode.raw[0].value) == "auto");
  // strings have no rollups
  BOOST_TEST(query(*s, "pump", "mode", history_tier::minute).rollups.empty());
  BOOST_TEST(query(*s, "pump", "flow", history_tier::minute).rollups.size() == 1u);
}

BOOST_AUTO_TEST_CASE(a_sample_with_a_bad_series_name_rejects_only_its_request) {
  temp_dir dir;
  auto s = open_history_store(dir.path);
  std::promise<status> bad_p, good_p;
  s->submit(samples_request("t", {num("", t0, 1)}),
            [&](const status& st) { bad_p.set_value(st); });
  s->submit(samples_request("t", {num(std::string("a\0b", 3), t0, 1)}), nullptr);
  s->submit(samples_request("t", {num("ok", t0, 2)}),
            [&](const status& st) { good_p.set_value(st); });
  auto bad = bad_p.get_future().get();
  BOOST_REQUIRE(!bad);
  BOOST_TEST(bad.error().code == errc::bad_request);
  require_ok(good_p.get_future().get());
  BOOST_TEST(numbers(query(*s, "t", "ok", history_tier::raw)).size() == 1u);
  auto names = s->history_series("t");
  BOOST_REQUIRE(names);
  BOOST_TEST((*names == std::vector<std::string>{"ok"}));
}

BOOST_AUTO_TEST_CASE(rollups_equal_those_computed_from_the_raw_samples) {
  temp_dir dir;
  store_options opts;
  opts.path = dir.path;
  opts.clock = [] { return t0 + 4 * hour; };
  opts.history_chunk_samples = 64;      // many chunks, sealed mid-window
  opts.history_checkpoint_samples = 500; // many checkpoints, evicted buckets
  opts.sync = false;                     // not about durability: keep it fast
  auto s = open_with(opts);
  write_irregular_history(*s, "bearing-1");
  BOOST_TEST(s->stats().history_checkpoints.load() > 0u);
  auto raw = query(*s, "bearing-1", "temperature", history_tier::raw);
  BOOST_TEST(raw.raw.size() == (3u * hour + 6'999) / 7'000);
  BOOST_TEST(std::is_sorted(raw.raw.begin(), raw.raw.end(),
                            [](auto& a, auto& b) { return a.time_ms < b.time_ms; }));
  check_rollups_match_raw(*s, "bearing-1", "temperature");
  check_rollups_match_raw(*s, "bearing-1", "temp");
  // and after a clean reopen
  s.reset();
  s = open_with(opts);
  check_rollups_match_raw(*s, "bearing-1", "temperature");
  check_rollups_match_raw(*s, "bearing-1", "temp");
  // a late sample after the reopen joins its stored bucket, not a new one
  require_ok(s->write(samples_request("bearing-1", {num("temp", t0 + 30'001, 1e6)})));
  check_rollups_match_raw(*s, "bearing-1", "temp");
  auto m = query(*s, "bearing-1", "temp", history_tier::minute, t0, t0);
  BOOST_REQUIRE_EQUAL(m.rollups.size(), 1u);
  BOOST_TEST(m.rollups[0].max == 1e6);
}

BOOST_AUTO_TEST_CASE(limit_returns_the_earliest_points_and_says_truncated) {
  temp_dir dir;
  store_options opts;
  opts.path = dir.path;
  opts.clock = [] { return t0 + 10 * hour; };
  opts.history_chunk_samples = 50;
  auto s = open_with(opts);
  std::vector<sample> v;
  for (int i = 0; i < 3000; ++i)
    v.push_back(num("x", t0 + i * 5'000LL, i));
  require_ok(s->write(samples_request("t", std::move(v))));
  require_ok(s->compact_history());
  auto r = query(*s, "t", "x", history_tier::raw, INT64_MIN, INT64_MAX, 100);
  BOOST_TEST(r.truncated);
  BOOST_REQUIRE_EQUAL(r.raw.size(), 100u);
  BOOST_TEST(r.raw.front().time_ms == t0);
  BOOST_TEST(r.raw.back().time_ms == t0 + 99 * 5'000);
  auto m = query(*s, "t", "x", history_tier::minute, INT64_MIN, INT64_MAX, 10);
  BOOST_TEST(m.truncated);
  BOOST_REQUIRE_EQUAL(m.rollups.size(), 10u);
  BOOST_TEST(m.rollups[9].start_ms == t0 + 9 * minute);
  auto all = query(*s, "t", "x", history_tier::hour);
  BOOST_TEST(!all.truncated);
  BOOST_TEST(all.rollups.size() == 5u); // 3000 * 5 s = 4 h 10 min
}

BOOST_AUTO_TEST_CASE(retention_removes_what_is_past_its_age_and_keeps_the_rest) {
  temp_dir dir;
  auto now = std::make_shared<std::atomic<std::int64_t>>(t0);
  store_options opts;
  opts.path = dir.path;
  opts.clock = [now] { return now->load(); };
  opts.retention.raw_ms = 2 * day;
  opts.retention.minute_ms = 10 * day;
  opts.retention.hour_ms = 30 * day;
  {
    auto s = open_with(opts);
    // one sample per hour for 40 days, ending now
    std::vector<sample> v;
    for (std::int64_t t = t0 - 40 * day; t < t0; t += hour)
      v.push_back(num("load", t, static_cast<double>((t - t0) / hour)));
    require_ok(s->write(samples_request("press", std::move(v))));
    require_ok(s->compact_history());
    BOOST_TEST(query(*s, "press", "load", history_tier::raw).raw.size() == 48u);
    BOOST_TEST(query(*s, "press", "load", history_tier::minute).rollups.size() == 240u);
    BOOST_TEST(query(*s, "press", "load", history_tier::hour).rollups.size() == 720u);
    BOOST_TEST(s->stats().history_expired.load() > 0u);
    // ten days later: raw gone, minutes reduced, hours kept from 30 days back
    now->store(t0 + 10 * day);
    require_ok(s->compact_history());
    BOOST_TEST(query(*s, "press", "load", history_tier::raw).raw.empty());
    auto m = query(*s, "press", "load", history_tier::minute);
    BOOST_TEST(m.rollups.empty());
    auto h = query(*s, "press", "load", history_tier::hour);
    BOOST_TEST(h.rollups.size() == 20u * 24);
    BOOST_TEST(h.rollups.front().start_ms == t0 - 20 * day);
    // new data is kept
    require_ok(s->write(samples_request("press", {num("load", now->load(), 1)})));
    require_ok(s->compact_history());
    BOOST_TEST(query(*s, "press", "load", history_tier::raw).raw.size() == 1u);
  }
  // The bytes are gone, not just hidden: count the stored records per tier.
  raw_db raw{dir.path};
  std::map<char, int> per_tier;
  std::unique_ptr<rocksdb::Iterator> it{raw.db->NewIterator({}, raw.cf("history"))};
  for (it->SeekToFirst(); it->Valid(); it->Next())
    ++per_tier[it->key()[0]];
  BOOST_TEST(per_tier['r'] == 1);  // the new sample's chunk
  BOOST_TEST(per_tier['m'] == 1);  // its minute
  BOOST_TEST(per_tier['h'] == 20 * 24 + 1);
  BOOST_TEST(per_tier['p'] == 0);  // every pending record was checkpointed
}

BOOST_AUTO_TEST_CASE(history_survives_close_and_reopen) {
  temp_dir dir;
  store_options opts;
  opts.path = dir.path;
  opts.clock = [] { return t0 + day; };
  opts.history_checkpoint_samples = 1'000'000; // all of it still pending at close
  std::vector<std::pair<std::int64_t, double>> want;
  {
    auto s = open_with(opts);
    for (int i = 0; i < 200; ++i) {
      require_ok(s->write(samples_request("t", {num("v", t0 + i * 1000LL, i * 0.25)})));
      want.emplace_back(t0 + i * 1000LL, i * 0.25);
    }
  }
  {
    auto s = open_with(opts);
    BOOST_TEST((numbers(query(*s, "t", "v", history_tier::raw)) == want));
    check_rollups_match_raw(*s, "t", "v");
    // more samples in the same window after the reopen
    require_ok(s->write(samples_request("t", {num("v", t0 + 500'000, 7)})));
    want.emplace_back(t0 + 500'000, 7);
  }
  auto s = open_with(opts);
  BOOST_TEST((numbers(query(*s, "t", "v", history_tier::raw)) == want));
  check_rollups_match_raw(*s, "t", "v");
}

// The child half of the crash test below: does nothing in a normal run.
BOOST_AUTO_TEST_CASE(crash_child) {
  const char* dir = std::getenv("TWIN_HISTORY_CRASH_DIR");
  const char* fd_text = std::getenv("TWIN_HISTORY_CRASH_FD");
  if (dir == nullptr || fd_text == nullptr)
    return;
  const int fd = std::atoi(fd_text);
  store_options opts;
  opts.path = dir;
  opts.clock = [] { return t0 + day; };
  opts.history_chunk_samples = 100;
  opts.history_checkpoint_samples = 500; // some checkpointed, some pending
  auto s = open_with(opts);
  for (std::uint32_t i = 0;; ++i) {
    require_ok(s->write(samples_request(
      "crash", {num("a", t0 + i * 250LL, i), num("b", t0 + i * 250LL, -double(i))})));
    // acknowledged (durable): tell the parent
    if (::write(fd, &i, sizeof i) != sizeof i)
      _exit(4);
  }
}

BOOST_AUTO_TEST_CASE(acknowledged_samples_survive_a_crash) {
  temp_dir dir;
  int fds[2];
  BOOST_REQUIRE(pipe(fds) == 0);
  // Everything exec needs is built before fork (the child only calls
  // async-signal-safe functions until execve).
  std::string exe = "/proc/self/exe";
  std::string arg1 = "--run_test=store_history/crash_child";
  std::string env_dir = "TWIN_HISTORY_CRASH_DIR=" + dir.path;
  std::string env_fd = "TWIN_HISTORY_CRASH_FD=" + std::to_string(fds[1]);
  char* argv[] = {exe.data(), arg1.data(), nullptr};
  char* envp[] = {env_dir.data(), env_fd.data(), nullptr};
  pid_t pid = fork();
  BOOST_REQUIRE(pid >= 0);
  if (pid == 0) {
    ::close(fds[0]);
    execve(exe.c_str(), argv, envp);
    _exit(5);
  }
  ::close(fds[1]);
  std::uint32_t acked = 0, got = 0;
  bool any = false;
  while (!any || acked < 800) {
    auto n = ::read(fds[0], &got, sizeof got);
    if (n != sizeof got)
      break;
    acked = got;
    any = true;
  }
  ::kill(pid, SIGKILL);
  int wstatus = 0;
  waitpid(pid, &wstatus, 0);
  // acknowledgements reported before the kill that we have not read yet
  while (::read(fds[0], &got, sizeof got) == sizeof got)
    acked = got;
  ::close(fds[0]);
  BOOST_REQUIRE_MESSAGE(any && acked >= 800, "child acknowledged " << acked);
  BOOST_TEST(WIFSIGNALED(wstatus));

  store_options opts;
  opts.path = dir.path;
  opts.clock = [] { return t0 + day; };
  auto s = open_with(opts);
  for (const char* series : {"a", "b"}) {
    auto r = query(*s, "crash", series, history_tier::raw);
    // every acknowledged sample is there, once, in order; one more
    // (written but not yet reported) may be there too
    BOOST_REQUIRE_GE(r.raw.size(), acked + 1u);
    BOOST_REQUIRE_LE(r.raw.size(), acked + 2u);
    for (std::uint32_t i = 0; i < r.raw.size(); ++i) {
      BOOST_REQUIRE_EQUAL(r.raw[i].time_ms, t0 + i * 250LL);
      BOOST_REQUIRE_EQUAL(std::abs(std::get<double>(r.raw[i].value)), double(i));
    }
    check_rollups_match_raw(*s, "crash", series);
  }
}

BOOST_AUTO_TEST_CASE(a_database_without_the_history_column_family_opens) {
  temp_dir dir;
  {
    // The layout before history: eight column families, format version 1.
    rocksdb::DBOptions dbo;
    dbo.create_if_missing = true;
    dbo.create_missing_column_families = true;
    std::vector<rocksdb::ColumnFamilyDescriptor> descs;
    for (const char* n : {"default", "journal", "snapshots", "twins", "models", "audit",
                          "alerts", "meta"})
      descs.emplace_back(n, rocksdb::ColumnFamilyOptions{});
    std::vector<rocksdb::ColumnFamilyHandle*> handles;
    rocksdb::DB* raw = nullptr;
    BOOST_REQUIRE(rocksdb::DB::Open(dbo, dir.path, descs, &handles, &raw).ok());
    BOOST_REQUIRE(raw->Put({}, handles[7], "format_version", "1").ok());
    BOOST_REQUIRE(raw->Put({}, handles[1], std::string("old\0", 4) + be64(1), "e").ok());
    for (auto* h : handles)
      BOOST_REQUIRE(raw->DestroyColumnFamilyHandle(h).ok());
    BOOST_REQUIRE(raw->Close().ok());
    delete raw;
  }
  auto s = open_history_store(dir.path);
  auto j = s->read_journal("old", 0);
  BOOST_REQUIRE(j);
  BOOST_TEST(j->size() == 1u);
  require_ok(s->write(samples_request("old", {num("x", t0, 1)})));
  BOOST_TEST(query(*s, "old", "x", history_tier::raw).raw.size() == 1u);
}

BOOST_AUTO_TEST_CASE(history_after_close_is_unavailable) {
  temp_dir dir;
  auto s = open_history_store(dir.path);
  s->close();
  auto r = s->history({"t", "x", 0, 1, history_tier::raw});
  BOOST_REQUIRE(!r);
  BOOST_TEST(r.error().code == errc::unavailable);
  BOOST_TEST(!s->compact_history());
  BOOST_TEST(!s->history_series("t"));
}

BOOST_AUTO_TEST_SUITE_END()
