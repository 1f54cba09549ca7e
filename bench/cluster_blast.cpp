// cluster_blast: produces telemetry records straight to the cluster's
// telemetry topic at full speed, in exactly the format twin-node produces
// (twin::cluster::encode(ingest_record), key = twin id, partition =
// actors::shard_of(twin, S)), for bench/run_cluster.sh.
//
//   cluster_blast --bootstrap HOST:PORT,... --shards S [--twins 1000]
//                 [--updates 100000] [--topic twin.telemetry]
//
// Twin ids are bench-twin-0 .. bench-twin-(T-1) (bench::twin_name); update i
// goes to twin i % T. Prints "produced N in S s: R records/s, F failed" once
// every record is acknowledged (acks=all, idempotent, like the nodes).

#include <atomic>
#include <chrono>
#include <cstdio>
#include <string>
#include <vector>

#include "bench_common.hpp"
#include "twin/actors/sharding.hpp"
#include "twin/cluster/records.hpp"
#include "twin/kafka/kafka.hpp"

using namespace twin;

int main(int argc, char** argv) {
  std::string bootstrap = bench::sarg(argc, argv, "--bootstrap", "");
  std::string topic = bench::sarg(argc, argv, "--topic", "twin.telemetry");
  long shards = bench::arg(argc, argv, "--shards", 0);
  long twins = bench::arg(argc, argv, "--twins", 1000);
  long updates = bench::arg(argc, argv, "--updates", 100000);
  if (bootstrap.empty() || shards <= 0 || twins <= 0) {
    std::fprintf(stderr, "usage: cluster_blast --bootstrap B --shards S [--twins T] "
                         "[--updates U] [--topic twin.telemetry]\n");
    return 2;
  }
  auto p = kafka::producer::create(bootstrap, {{"linger.ms", "5"}}, true);
  auto& prod = *bench::value_or_exit(p, "producer");

  // Records are encoded as they go (values differ per update, i % 100), as
  // a node's ingest path does.
  std::vector<std::string> ids(static_cast<std::size_t>(twins));
  std::vector<std::int32_t> part(ids.size());
  for (long t = 0; t < twins; ++t) {
    ids[std::size_t(t)] = bench::twin_name(int(t));
    part[std::size_t(t)]
      = std::int32_t(actors::shard_of(ids[std::size_t(t)], std::uint32_t(shards)));
  }
  std::atomic<long> failed{0};
  std::string first_error;
  auto t0 = std::chrono::steady_clock::now();
  for (long i = 0; i < updates; ++i) {
    auto t = std::size_t(i % twins);
    cluster::ingest_record r;
    r.twin = ids[t];
    r.principal = "bench-blast";
    r.request_id = "blast-" + std::to_string(i);
    r.via = "cluster-blast";
    r.data.values = nlohmann::json{{"temperature", 20.0 + double(i % 100) * 0.5},
                                   {"vibrationRms", 0.1}};
    r.data.source = "bench-sensor";
    prod.produce(topic, r.twin, cluster::encode(r),
                 [&failed](const kafka::delivery& d) {
                   if (!d.result)
                     failed.fetch_add(1);
                 },
                 part[t]);
  }
  auto st = prod.flush(std::chrono::seconds{120});
  double secs = bench::seconds_since(t0);
  std::printf("produced %ld in %.3f s: %.0f records/s, %ld failed%s\n", updates, secs,
              updates / secs, failed.load(), st ? "" : " (flush timed out)");
  return failed.load() == 0 && st ? 0 : 1;
}
