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

#include "twin/persistence/store.hpp"

namespace {

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
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string k = argv[i];
    const char* v = argv[i + 1];
    if (k == "--values")
      c.values = std::strtoull(v, nullptr, 10);
    else if (k == "--threads")
      c.threads = std::atoi(v);
    else if (k == "--window")
      c.window = std::atoi(v);
    else if (k == "--batch")
      c.batch = std::strtoull(v, nullptr, 10);
    else if (k == "--value-size")
      c.value_size = std::strtoull(v, nullptr, 10);
    else if (k == "--sync")
      c.sync = std::atoi(v) != 0;
    else if (k == "--rounds")
      c.rounds = std::atoi(v);
    else if (k == "--dir")
      c.dir = v;
    else {
      std::fprintf(stderr, "unknown option %s\n", k.c_str());
      std::exit(2);
    }
  }
  if (c.threads < 1)
    c.threads = 1;
  if (c.window < 1)
    c.window = 1;
  if (c.rounds < 1)
    c.rounds = 1;
  return c;
}

std::string make_dir(const std::string& base, const char* name) {
  std::string tmpl = base + "/" + name + "-XXXXXX";
  if (mkdtemp(tmpl.data()) == nullptr) {
    std::perror("mkdtemp");
    std::exit(1);
  }
  return tmpl;
}

void put_be64(char* out, std::uint64_t v) {
  for (int i = 7; i >= 0; --i) {
    out[i] = static_cast<char>(v & 0xff);
    v >>= 8;
  }
}

std::string twin_name(int t) {
  return "bench-twin-" + std::to_string(t);
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
  auto secs = std::chrono::duration<double>(clock_type::now() - start).count();
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
  if (!opened) {
    std::fprintf(stderr, "store open: %s\n", opened.error().describe().c_str());
    std::exit(1);
  }
  auto& st = **opened;
  const std::uint64_t per_twin = c.values / c.threads;
  const std::string value(c.value_size, 'v');
  std::atomic<std::uint64_t> failed{0};
  std::vector<std::thread> workers;
  auto start = clock_type::now();
  for (int t = 0; t < c.threads; ++t) {
    workers.emplace_back([&, t] {
      // At most `window` requests in flight, like an actor that waits for
      // its journal appends to become durable before it replies.
      std::counting_semaphore<> slots{c.window};
      const auto twin = twin_name(t);
      for (std::uint64_t r = 1; r <= per_twin; ++r) {
        slots.acquire();
        write_request req;
        req.twins.resize(1);
        auto& tw = req.twins.front();
        tw.twin_id = twin;
        tw.events.emplace_back(r, value);
        st.submit(std::move(req), [&slots, &failed](const twin::status& s) {
          if (!s)
            failed.fetch_add(1, std::memory_order_relaxed);
          slots.release();
        });
      }
      for (int i = 0; i < c.window; ++i)
        slots.acquire(); // all of this thread's requests are durable
    });
  }
  for (auto& w : workers)
    w.join();
  auto secs = std::chrono::duration<double>(clock_type::now() - start).count();
  commits = st.stats().commits.load();
  if (failed.load() != 0)
    std::fprintf(stderr, "store: %llu requests failed\n",
                 static_cast<unsigned long long>(failed.load()));
  opened->reset();
  std::filesystem::remove_all(dir);
  return static_cast<double>(per_twin * c.threads) / secs;
}

} // namespace

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

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
