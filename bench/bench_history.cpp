// bench_history: history samples appended through store::submit (group
// commit, one pending record per commit, Gorilla chunks and rollups in
// memory, checkpoints) against raw RocksDB with one key per sample, in the
// same run (an absolute rate on a shared machine means little; the ratio
// does).
//
//   baseline: one thread, WriteBatch of --batch puts per DB::Write, key
//             twin '\0' series '\0' be64(time), value the 8-byte double,
//             WriteOptions.sync as --sync.
//   store:    --threads submitters, each with at most --window requests in
//             flight; a request carries --twins-per-request twin_writes,
//             each with one sample of each of --series series (the
//             fleet: --twins twins). Every twin gets a new timestamp
//             (+1 s) per round over the fleet.
//
// Usage: bench_history [--samples N] [--twins T] [--series S]
//                      [--twins-per-request K] [--threads P] [--window W]
//                      [--batch B] [--sync 0|1] [--event-bytes E]
//                      [--rounds R] [--replay-samples N] [--dir /tmp]
//
// --event-bytes E > 0 adds one journal event of E bytes to every twin write
// of the store run (the whole ingest path: journal + history); the raw
// baseline stays samples only.
//
// Runs raw and store alternately R times and reports the medians.
//
// First (unless --replay-samples 0): the replay bound. A child process
// writes --replay-samples samples (default 2,000,000, the default
// history_checkpoint_samples) with no checkpoint and exits without closing
// (a crash after the last acknowledgement); the parent times store::open,
// which replays them, and checks that every sample is back.

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <semaphore>
#include <string>
#include <thread>
#include <vector>

#include <sys/wait.h>
#include <unistd.h>

#include <rocksdb/db.h>
#include <rocksdb/options.h>
#include <rocksdb/write_batch.h>

#include "bench_common.hpp"
#include "twin/persistence/store.hpp"

namespace {

using namespace twin::bench;
using clock_type = std::chrono::steady_clock;

struct config {
  std::size_t samples = 2'000'000;
  int twins = 1000;
  int series = 10;
  int twins_per_request = 1;
  int threads = 4;
  int window = 512;
  std::size_t batch = 1000;
  bool sync = true;
  std::size_t event_bytes = 0;
  int rounds = 3;
  std::size_t replay_samples = 2'000'000;
  std::string dir = "/tmp";
};

config parse_args(int argc, char** argv) {
  config c;
  parse_options(argc, argv,
                {{"--samples", &c.samples}, {"--twins", &c.twins}, {"--series", &c.series},
                 {"--twins-per-request", &c.twins_per_request}, {"--threads", &c.threads},
                 {"--window", &c.window}, {"--batch", &c.batch}, {"--sync", &c.sync},
                 {"--event-bytes", &c.event_bytes}, {"--rounds", &c.rounds},
                 {"--replay-samples", &c.replay_samples}, {"--dir", &c.dir}});
  c.twins = std::max(c.twins, 1);
  c.series = std::max(c.series, 1);
  c.threads = std::clamp(c.threads, 1, c.twins);
  c.twins_per_request = std::max(c.twins_per_request, 1);
  c.window = std::max(c.window, 1);
  c.rounds = std::max(c.rounds, 1);
  return c;
}

constexpr std::int64_t t0 = 1'700'000'000'000;

std::string series_name(int s) {
  return "telemetry-" + std::to_string(s);
}

// Rounds over the whole fleet so that every twin/series gets `rounds` samples.
std::uint64_t fleet_rounds(const config& c) {
  auto per_round = static_cast<std::uint64_t>(c.twins) * c.series;
  return std::max<std::uint64_t>(1, c.samples / per_round);
}

double value_of(int twin, int series, std::uint64_t round) {
  return 20.0 + twin % 7 + series * 0.5 + static_cast<double>(round % 60) * 0.01;
}

double run_raw(const config& c) {
  auto dir = make_dir(c.dir, "bench-history-raw");
  rocksdb::Options opts;
  opts.create_if_missing = true;
  opts.max_background_jobs = 2;
  rocksdb::DB* db = nullptr;
  auto s = rocksdb::DB::Open(opts, dir, &db);
  if (!s.ok()) {
    std::fprintf(stderr, "raw open: %s\n", s.ToString().c_str());
    std::exit(1);
  }
  rocksdb::WriteOptions wo;
  wo.sync = c.sync;
  std::vector<std::string> prefixes;
  for (int t = 0; t < c.twins; ++t)
    for (int k = 0; k < c.series; ++k)
      prefixes.push_back(twin_name(t) + '\0' + series_name(k) + '\0');
  const auto rounds = fleet_rounds(c);
  rocksdb::WriteBatch batch;
  std::size_t in_batch = 0;
  std::string key;
  char value[8];
  auto start = clock_type::now();
  for (std::uint64_t r = 0; r < rounds; ++r) {
    const auto time = static_cast<std::uint64_t>(t0) + r * 1000;
    for (int t = 0; t < c.twins; ++t)
      for (int k = 0; k < c.series; ++k) {
        key = prefixes[static_cast<std::size_t>(t * c.series + k)];
        for (int i = 7; i >= 0; --i)
          key.push_back(static_cast<char>((time >> (i * 8)) & 0xff));
        double v = value_of(t, k, r);
        std::memcpy(value, &v, 8);
        if (!batch.Put(key, rocksdb::Slice{value, 8}).ok())
          std::abort();
        if (++in_batch == c.batch) {
          if (!db->Write(wo, &batch).ok())
            std::abort();
          batch.Clear();
          in_batch = 0;
        }
      }
  }
  if (in_batch > 0 && !db->Write(wo, &batch).ok())
    std::abort();
  auto secs = seconds_since(start);
  (void) db->Close();
  delete db;
  std::filesystem::remove_all(dir);
  return static_cast<double>(rounds * c.twins * c.series) / secs;
}

struct store_figures {
  double rate = 0;
  std::uint64_t commits = 0, checkpoints = 0;
};

/// Exits unless one series of the fleet's last twin holds every round's
/// sample (a sanity check of what was measured).
void require_complete(twin::persistence::store& st, const config& c, const char* what) {
  using namespace twin::persistence;
  const auto rounds = fleet_rounds(c);
  auto h = st.history({twin_name(c.twins - 1), series_name(0), INT64_MIN, INT64_MAX,
                       history_tier::raw, 1'000'000});
  if (!h || h->raw.size() != rounds) {
    std::fprintf(stderr, "%s: history has %zu samples, expected %llu\n", what,
                 h ? h->raw.size() : 0, static_cast<unsigned long long>(rounds));
    std::exit(1);
  }
}

/// `crash`: no checkpoint while writing, and the process exits right after
/// the last acknowledgement, without closing the store (in `dir`).
store_figures run_store(const config& c, bool crash = false, std::string dir = {}) {
  using namespace twin::persistence;
  if (dir.empty())
    dir = make_dir(c.dir, "bench-history-store");
  store_options opts;
  opts.path = dir;
  opts.sync = c.sync;
  opts.clock = [] { return t0; };
  if (crash) {
    opts.history_checkpoint_samples = UINT64_MAX;
    opts.history_checkpoint_interval = std::chrono::milliseconds{0};
  }
  auto opened = store::open(opts);
  auto& st = *value_or_exit(opened, "store open");
  std::vector<std::string> series;
  for (int k = 0; k < c.series; ++k)
    series.push_back(series_name(k));
  const auto rounds = fleet_rounds(c);
  const std::string event(c.event_bytes, 'e');
  std::atomic<std::uint64_t> failed{0};
  std::vector<std::thread> workers;
  auto start = clock_type::now();
  for (int p = 0; p < c.threads; ++p) {
    workers.emplace_back([&, p] {
      request_window requests{c.window, failed};
      // This submitter's share of the fleet: twins p, p+P, p+2P, ...
      std::vector<int> mine;
      for (int t = p; t < c.twins; t += c.threads)
        mine.push_back(t);
      std::vector<std::string> names;
      for (int t : mine)
        names.push_back(twin_name(t));
      for (std::uint64_t r = 0; r < rounds; ++r) {
        const auto time = t0 + static_cast<std::int64_t>(r) * 1000;
        for (std::size_t i = 0; i < mine.size();) {
          auto done = requests.next(); // a free slot
          write_request req;
          const auto n = std::min<std::size_t>(c.twins_per_request, mine.size() - i);
          req.twins.resize(n);
          for (std::size_t j = 0; j < n; ++j, ++i) {
            auto& tw = req.twins[j];
            tw.twin_id = names[i];
            if (c.event_bytes > 0)
              tw.events.emplace_back(r + 1, event);
            tw.samples.resize(series.size());
            for (std::size_t k = 0; k < series.size(); ++k) {
              tw.samples[k].series = series[k];
              tw.samples[k].time_ms = time;
              tw.samples[k].value = value_of(mine[i], static_cast<int>(k), r);
            }
          }
          st.submit(std::move(req), std::move(done));
        }
      }
      requests.drain();
    });
  }
  for (auto& w : workers)
    w.join();
  if (crash) {
    std::fflush(stdout);
    std::_Exit(failed.load() == 0 ? 0 : 1);
  }
  auto secs = seconds_since(start);
  store_figures f;
  f.rate = static_cast<double>(rounds * c.twins * c.series) / secs;
  f.commits = st.stats().commits.load();
  f.checkpoints = st.stats().history_checkpoints.load();
  if (failed.load() != 0)
    std::fprintf(stderr, "store: %llu requests failed\n",
                 static_cast<unsigned long long>(failed.load()));
  require_complete(st, c, "store");
  opened->reset();
  std::filesystem::remove_all(dir);
  return f;
}

/// Before any other RocksDB use (the child of a fork has none of the
/// parent's threads).
void run_replay(const config& base) {
  using namespace twin::persistence;
  config c = base;
  c.samples = base.replay_samples;
  const auto dir = make_dir(c.dir, "bench-history-replay");
  const auto pid = ::fork();
  if (pid < 0) {
    std::perror("fork");
    std::exit(1);
  }
  if (pid == 0)
    run_store(c, true, dir); // does not return
  int wstatus = 0;
  if (::waitpid(pid, &wstatus, 0) != pid || !WIFEXITED(wstatus)
      || WEXITSTATUS(wstatus) != 0) {
    std::fprintf(stderr, "replay: the writing child failed (status %d)\n", wstatus);
    std::exit(1);
  }
  store_options opts;
  opts.path = dir;
  opts.sync = c.sync;
  opts.clock = [] { return t0; };
  const auto start = clock_type::now();
  auto opened = store::open(opts);
  const auto secs = seconds_since(start);
  auto& st = *value_or_exit(opened, "store open after the crash");
  const auto rounds = fleet_rounds(c);
  require_complete(st, c, "replay");
  std::printf("  open after a crash with %llu samples pending (no checkpoint): %.2f s "
              "(%.0f samples/s replayed, WAL recovery included)\n",
              static_cast<unsigned long long>(rounds * c.twins * c.series), secs,
              static_cast<double>(rounds * c.twins * c.series) / secs);
  opened->reset();
  std::filesystem::remove_all(dir);
}

} // namespace

int main(int argc, char** argv) {
  auto c = parse_args(argc, argv);
  std::printf("bench_history: %u cores, %d twins x %d series, %llu rounds over the "
              "fleet (%llu samples), sync=%d, event bytes %zu, %d rounds\n",
              std::thread::hardware_concurrency(), c.twins, c.series,
              static_cast<unsigned long long>(fleet_rounds(c)),
              static_cast<unsigned long long>(fleet_rounds(c) * c.twins * c.series),
              c.sync ? 1 : 0, c.event_bytes, c.rounds);
  std::fflush(stdout);
  if (c.replay_samples > 0)
    run_replay(c);
  std::vector<double> raw, hist;
  for (int r = 0; r < c.rounds; ++r) {
    raw.push_back(run_raw(c));
    auto f = run_store(c);
    hist.push_back(f.rate);
    std::printf("  round %d: raw %10.0f samples/s, store %10.0f samples/s "
                "(%llu commits, %llu checkpoints)\n",
                r + 1, raw.back(), hist.back(), static_cast<unsigned long long>(f.commits),
                static_cast<unsigned long long>(f.checkpoints));
  }
  auto raw_m = median(raw);
  auto store_m = median(hist);
  std::printf("  raw RocksDB, one key per sample, batches of %zu: %10.0f samples/s "
              "(median)\n",
              c.batch, raw_m);
  std::printf("  store history, %d submitters x window %d, %d twin(s)/request: %10.0f "
              "samples/s (median)\n",
              c.threads, c.window, c.twins_per_request, store_m);
  std::printf("  ratio store/raw: %.2f\n", store_m / raw_m);
  return 0;
}
