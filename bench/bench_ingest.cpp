// Updates/s through the whole actor path into RocksDB (acknowledged only when
// durable: WAL fsync per group commit), next to raw RocksDB batched puts of
// the same bytes with the same durability, measured in the same run.
//
//   bench_ingest [--twins N] [--updates N] [--window N]
//
// The fabric path: fabric::ingest -> shard region -> twin actor -> decide ->
// group commit (sync) -> evolve -> reply. Baselines: one writer thread doing
// WriteBatch puts of the fabric's own event bytes with sync=true, with the
// batch size the fabric's group commit reached on average.

#include <atomic>
#include <future>
#include <condition_variable>
#include <cstring>
#include <mutex>
#include <vector>

#include <rocksdb/db.h>
#include <rocksdb/write_batch.h>

#include "bench_common.hpp"
#include "twin/actors/node.hpp"

using namespace twin;
using json = nlohmann::json;

namespace {


long arg(int argc, char** argv, const char* name, long def) {
  for (int i = 1; i + 1 < argc; ++i)
    if (std::strcmp(argv[i], name) == 0)
      return std::atol(argv[i + 1]);
  return def;
}

} // namespace

int main(int argc, char** argv) {
  long twins = arg(argc, argv, "--twins", 10000);
  long updates = arg(argc, argv, "--updates", 200000);
  long window = arg(argc, argv, "--window", 4096);
  bench::print_machine();
  bench::temp_dir dir{"bench-ingest"};
  actors::node_options o;
  o.data_dir = dir.path.string();
  o.shards = 64;
  o.max_active_twins = static_cast<std::size_t>(twins) + 1000;
  auto n = actors::node::start(o);
  if (!n) {
    std::fprintf(stderr, "start: %s\n", n.error().describe().c_str());
    return 1;
  }
  auto& node = **n;
  actors::request_context ctx{security::principal{"bench", {security::role::admin}},
                              "bench"};
  auto sync_call = [&](auto&& f) {
    std::promise<expected<json>> p;
    auto fut = p.get_future();
    f([&p](expected<json> r) { p.set_value(std::move(r)); });
    auto r = fut.get();
    if (!r) {
      std::fprintf(stderr, "setup: %s\n", r.error().describe().c_str());
      std::exit(1);
    }
    return *r;
  };
  sync_call([&](actors::reply_fn f) { node.add_models(ctx, json::parse(twin::bench::sensor_model), f); });
  bench::run_window(twins, window, [&](long i, actors::reply_fn f) {
    node.create_twin(ctx, "s" + std::to_string(i),
                     json{{"$model", "dtmi:bench:Sensor;1"}}, f);
  });
  bench::run_window(twins, window, [&](long i, actors::reply_fn f) {
    node.transition(ctx, "s" + std::to_string(i),
                    json{{"to", "active"}, {"reason", "bench"}}, f);
  });
  std::printf("setup: %ld twins created and activated\n", twins);

  auto commits0 = node.health()["storeCommits"].get<std::uint64_t>();
  auto t0 = std::chrono::steady_clock::now();
  bench::run_window(updates, window, [&](long i, actors::reply_fn f) {
    node.ingest(ctx, "s" + std::to_string(i % twins),
                json{{"values", {{"temperature", 20.0 + (i % 100) * 0.5},
                                 {"vibrationRms", 0.1}}},
                     {"source", "bench-sensor"}},
                f);
  });
  double fabric_secs = bench::seconds_since(t0);
  auto commits = node.health()["storeCommits"].get<std::uint64_t>() - commits0;
  double fabric_rate = updates / fabric_secs;
  double avg_batch = commits ? double(updates) / double(commits) : 1.0;
  // One journal record as the fabric writes it, to size the baseline.
  json lin = sync_call([&](actors::reply_fn f) {
    node.lineage(ctx, "s0", "temperature", std::nullopt, f);
  });
  auto sample = json::to_cbor(lin["items"][0]);
  std::string value(sample.begin(), sample.end());
  node.stop();

  // Baselines: raw RocksDB, same bytes, same sync.
  bench::temp_dir raw_dir{"bench-raw"};
  rocksdb::Options ro;
  ro.create_if_missing = true;
  rocksdb::DB* raw = nullptr;
  auto st = rocksdb::DB::Open(ro, raw_dir.path.string(), &raw);
  if (!st.ok()) {
    std::fprintf(stderr, "raw open: %s\n", st.ToString().c_str());
    return 1;
  }
  rocksdb::WriteOptions wo;
  wo.sync = true;
  // Raw batched puts of the same bytes with the same sync: once with
  // batches of 100 (the reference of ../shared/STACK.md), once with the
  // batch size the fabric's group commit reached on its own.
  auto raw_rate_for = [&](long batch) -> double {
    auto t1 = std::chrono::steady_clock::now();
    static long seq = 0;
    for (long i = 0; i < updates;) {
      rocksdb::WriteBatch b;
      for (long k = 0; k < batch && i < updates; ++k, ++i, ++seq) {
        char key[64];
        int len = std::snprintf(key, sizeof key, "s%ld%c%016lx", i % twins, '\0', seq);
        b.Put(rocksdb::Slice(key, static_cast<size_t>(len)), value);
      }
      auto ws = raw->Write(wo, &b);
      if (!ws.ok()) {
        std::fprintf(stderr, "raw write: %s\n", ws.ToString().c_str());
        std::exit(1);
      }
    }
    return updates / bench::seconds_since(t1);
  };
  long batch = std::max(1L, static_cast<long>(avg_batch + 0.5));
  double raw100 = raw_rate_for(100);
  double raw_same = raw_rate_for(batch);
  delete raw;

  std::printf("updates: %ld over %ld twins, window %ld, record %zu B\n", updates,
              twins, window, value.size());
  std::printf("fabric (actor path, durable ack): %.0f updates/s, %llu group commits, "
              "%.1f updates/commit\n",
              fabric_rate, static_cast<unsigned long long>(commits), avg_batch);
  std::printf("raw RocksDB batched puts (sync, batch 100): %.0f puts/s\n", raw100);
  std::printf("raw RocksDB batched puts (sync, batch %ld = the fabric's): %.0f puts/s\n",
              batch, raw_same);
  std::printf("ratio fabric/raw(batch 100): %.1f%% (target >= 50%%)\n",
              100.0 * fabric_rate / raw100);
  std::printf("ratio fabric/raw(same batch): %.1f%%\n", 100.0 * fabric_rate / raw_same);
  return 0;
}
