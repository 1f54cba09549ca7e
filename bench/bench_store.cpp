// bench_store: the store's group commit against raw RocksDB batched puts of
// the same bytes, in the same run (an absolute rate on a shared machine
// means little; the ratio does).
//
//   baseline: one thread, WriteBatch of --batch puts (journal-shaped keys,
//             --value-size byte values) per DB::Write, WriteOptions.sync as
//             --sync.
//   store:    --threads submitters, each with at most --window requests in
//             flight, each request one twin_write with one event of the same
//             key/value bytes, through store::submit and the group commit.
//
// Not wired into CMake here; link against twin_persistence, twin_security,
// twin_model, RocksDB::rocksdb-shared, OpenSSL::Crypto and Threads.
//
// Usage: bench_store [--values N] [--threads T] [--window W] [--batch B]
//                    [--value-size S] [--sync 0|1] [--rounds R] [--dir /tmp]
//
// Runs raw and store alternately R times and reports the medians, so that
// a burst of load from other processes skews one round, not the figure.

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <mutex>
#include <semaphore>
#include <string>
#include <thread>
#include <vector>

#include <rocksdb/db.h>
#include <rocksdb/options.h>
#include <rocksdb/write_batch.h>

#include "bench_common.hpp"
#include "twin/persistence/store.hpp"

namespace {

using namespace twin::bench;
using clock_type = std::chrono::steady_clock;

struct config {
  std::size_t values = 200'000;
  int threads = 8;
  int window = 256;
  std::size_t batch = 100;
  std::size_t value_size = 100;
  bool sync = true;
  int rounds = 3;
  std::string dir = "/tmp";
};

config parse_args(int argc, char** argv) {
  config c;
  parse_options(argc, argv,
                {{"--values", &c.values}, {"--threads", &c.threads}, {"--window", &c.window},
                 {"--batch", &c.batch}, {"--value-size", &c.value_size}, {"--sync", &c.sync},
                 {"--rounds", &c.rounds}, {"--dir", &c.dir}});
  if (c.threads < 1)
    c.threads = 1;
  if (c.window < 1)
    c.window = 1;
  if (c.rounds < 1)
    c.rounds = 1;
  return c;
}

void put_be64(char* out, std::uint64_t v) {
  for (int i = 7; i >= 0; --i) {
    out[i] = static_cast<char>(v & 0xff);
    v >>= 8;
  }
}


// The same key layout as the store's journal: twin_id '\0' be64(revision).
std::string journal_key(const std::string& twin, std::uint64_t rev) {
  std::string k = twin;
  k.push_back('\0');
  k.resize(twin.size() + 9);
  put_be64(k.data() + twin.size() + 1, rev);
  return k;
}

double run_raw(const config& c) {
  auto dir = make_dir(c.dir, "bench-raw");
  rocksdb::Options opts;
  opts.create_if_missing = true;
  opts.create_missing_column_families = true;
  opts.max_background_jobs = 2;
  std::vector<rocksdb::ColumnFamilyDescriptor> descs{
    {rocksdb::kDefaultColumnFamilyName, rocksdb::ColumnFamilyOptions{opts}},
    {"journal", rocksdb::ColumnFamilyOptions{opts}}};
  std::vector<rocksdb::ColumnFamilyHandle*> handles;
  rocksdb::DB* db = nullptr;
  auto s = rocksdb::DB::Open(rocksdb::DBOptions{opts}, dir, descs, &handles, &db);
  if (!s.ok()) {
    std::fprintf(stderr, "raw open: %s\n", s.ToString().c_str());
    std::exit(1);
  }
  rocksdb::WriteOptions wo;
  wo.sync = c.sync;
  const std::string value(c.value_size, 'v');
  // Same twins, same revisions as the store run: `threads` twins, each
  // with values/threads events.
  const std::uint64_t per_twin = c.values / c.threads;
  rocksdb::WriteBatch batch;
  std::size_t in_batch = 0;
  auto start = clock_type::now();
  for (int t = 0; t < c.threads; ++t) {
    auto twin = twin_name(t);
    for (std::uint64_t r = 1; r <= per_twin; ++r) {
      auto st = batch.Put(handles[1], journal_key(twin, r), value);
      if (!st.ok())
        std::abort();
      if (++in_batch == c.batch) {
        st = db->Write(wo, &batch);
        if (!st.ok())
          std::abort();
        batch.Clear();
        in_batch = 0;
      }
    }
  }
  if (in_batch > 0 && !db->Write(wo, &batch).ok())
    std::abort();
  auto secs = seconds_since(start);
  for (auto* h : handles)
    (void) db->DestroyColumnFamilyHandle(h);
  (void) db->Close();
  delete db;
  std::filesystem::remove_all(dir);
  return static_cast<double>(per_twin * c.threads) / secs;
}

double run_store(const config& c, std::uint64_t& commits) {
  using namespace twin::persistence;
  auto dir = make_dir(c.dir, "bench-store");
  store_options opts;
  opts.path = dir;
  opts.sync = c.sync;
  auto opened = store::open(opts);
  auto& st = *value_or_exit(opened, "store open");
  const std::uint64_t per_twin = c.values / c.threads;
  const std::string value(c.value_size, 'v');
  std::atomic<std::uint64_t> failed{0};
  std::vector<std::thread> workers;
  auto start = clock_type::now();
  for (int t = 0; t < c.threads; ++t) {
    workers.emplace_back([&, t] {
      // At most `window` requests in flight, like an actor that waits for
      // its journal appends to become durable before it replies.
      request_window requests{c.window, failed};
      const auto twin = twin_name(t);
      for (std::uint64_t r = 1; r <= per_twin; ++r) {
        auto done = requests.next(); // a free slot
        write_request req;
        req.twins.resize(1);
        auto& tw = req.twins.front();
        tw.twin_id = twin;
        tw.events.emplace_back(r, value);
        st.submit(std::move(req), std::move(done));
      }
      requests.drain(); // all of this thread's requests are durable
    });
  }
  for (auto& w : workers)
    w.join();
  auto secs = seconds_since(start);
  commits = st.stats().commits.load();
  if (failed.load() != 0)
    std::fprintf(stderr, "store: %llu requests failed\n",
                 static_cast<unsigned long long>(failed.load()));
  opened->reset();
  std::filesystem::remove_all(dir);
  return static_cast<double>(per_twin * c.threads) / secs;
}

} // namespace

int main(int argc, char** argv) {
  auto c = parse_args(argc, argv);
  std::printf("bench_store: %u cores, %zu values of %zu B, sync=%d, %d rounds\n",
              std::thread::hardware_concurrency(), c.values, c.value_size,
              c.sync ? 1 : 0, c.rounds);
  std::vector<double> raw, grouped;
  std::uint64_t commits = 0;
  for (int r = 0; r < c.rounds; ++r) {
    raw.push_back(run_raw(c));
    grouped.push_back(run_store(c, commits));
    std::printf("  round %d: raw %10.0f puts/s, store %10.0f puts/s (%llu commits)\n",
                r + 1, raw.back(), grouped.back(),
                static_cast<unsigned long long>(commits));
  }
  auto raw_m = median(raw);
  auto store_m = median(grouped);
  std::printf("  raw RocksDB, 1 writer, batches of %zu:          %10.0f puts/s (median)\n",
              c.batch, raw_m);
  std::printf("  store group commit, %d submitters x window %d:  %10.0f puts/s (median)\n",
              c.threads, c.window, store_m);
  std::printf("  ratio store/raw: %.2f\n", store_m / raw_m);
  return 0;
}
