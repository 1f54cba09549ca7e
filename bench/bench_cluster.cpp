// The cost per update of cluster mode's Kafka round trip, next to the
// single-node path, in one process and one run.
//
//   bench_cluster [--twins 1000] [--updates 20000] [--window 4096] [--shards 16]
//                 [--brokers 3] [--warmup 2000] [--quiet-cluster 1]
//                 [--max-in-flight N (cluster_options, default 20000)]
//                 [--kafka-opt KEY=VALUE]... (librdkafka, every client of the node)
//
// (a) baseline: an actors::node (fresh temp dir, fsync on) with T twins of a
//     two-telemetry model created and activated, then U updates through
//     node::ingest_data with at most --window in flight; timed until the last
//     one is acknowledged durable.
// (b) the same model, twins and U updates through a one-node
//     cluster::cluster_node on librdkafka's mock cluster started in this
//     process (rd_kafka_mock_cluster_new): cluster_node::ingest_data produces
//     each update to the telemetry topic (the reply is Kafka's ack; the same
//     window bounds those), the node's consumer takes it, applies it through
//     its local node (durable, fsync), replicates the twin write to the
//     changelog, and commits the offset. Timed until
//     twin_cluster_telemetry_total{outcome="applied"} reaches U (polled in
//     the node's registry every millisecond); afterwards the bench checks
//     the twins' revisions.
//
// Both paths first run --warmup updates untimed (first produce to the topic
// needs its metadata, etc.). CPU is also broken down by thread name
// (/proc/self/task): CAF workers, the store writer, librdkafka's threads
// (the mock's brokers run in this process too).
//
// Certificates for the node are made with deploy/make-fabric-certs.sh into a
// temp dir at start. Keep U under the mock's ~100 k messages per partition
// (the changelog gets one record per applied update as well).

#include <sys/resource.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iostream>
#include <future>
#include <map>
#include <sstream>
#include <cctype>
#include <memory>
#include <string>
#include <thread>

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>
#include <prometheus/registry.h>

#include "bench_common.hpp"
#include "twin/actors/node.hpp"
#include "twin/cluster/cluster.hpp"

using namespace twin;
using json = nlohmann::json;

namespace {


double cpu_seconds() {
  rusage u{};
  ::getrusage(RUSAGE_SELF, &u);
  return double(u.ru_utime.tv_sec + u.ru_stime.tv_sec)
         + 1e-6 * double(u.ru_utime.tv_usec + u.ru_stime.tv_usec);
}

/// The value of counter `name` with label outcome=`outcome` in `reg`.
double counter(prometheus::Registry& reg, const std::string& name, const std::string& outcome) {
  for (const auto& f : reg.Collect()) {
    if (f.name != name)
      continue;
    for (const auto& m : f.metric)
      for (const auto& l : m.label)
        if (l.name == "outcome" && l.value == outcome)
          return m.counter.value;
  }
  return 0;
}

actors::device_data update(long i) {
  actors::device_data d;
  d.values = json{{"temperature", 20.0 + double(i % 100) * 0.5}, {"vibrationRms", 0.1}};
  d.source = "bench-sensor";
  return d;
}

json sync_call(const std::function<void(actors::reply_fn)>& f) {
  std::promise<expected<json>> p;
  auto fut = p.get_future();
  f([&p](expected<json> r) { p.set_value(std::move(r)); });
  auto r = fut.get();
  if (!r) {
    std::fprintf(stderr, "setup: %s\n", r.error().describe().c_str());
    std::exit(1);
  }
  return *r;
}

/// Model, T twins created and activated, through `f` (node or cluster).
void setup(actors::fabric& f, const actors::request_context& ctx, long twins, long window) {
  sync_call([&](actors::reply_fn r) { f.add_models(ctx, json::parse(twin::bench::sensor_model), r); });
  bench::run_window(twins, window, [&](long i, actors::reply_fn r) {
    f.create_twin(ctx, bench::twin_name(int(i)), json{{"$model", "dtmi:bench:Sensor;1"}}, r);
  });
  bench::run_window(twins, window, [&](long i, actors::reply_fn r) {
    f.transition(ctx, bench::twin_name(int(i)), json{{"to", "active"}, {"reason", "bench"}},
                 r);
  });
}

/// Sum over the twins of their revision (one per event).
std::uint64_t revisions(actors::fabric& f, const actors::request_context& ctx, long twins) {
  std::atomic<std::uint64_t> sum{0};
  bench::run_window(twins, 256, [&](long i, actors::reply_fn r) {
    f.get_twin(ctx, bench::twin_name(int(i)), [&sum, r](expected<json> j) {
      if (j) {
        const json* rev = nullptr;
        if (j->contains("$metadata") && (*j)["$metadata"].contains("$revision"))
          rev = &(*j)["$metadata"]["$revision"];
        else if (j->contains("$revision"))
          rev = &(*j)["$revision"];
        else if (j->contains("revision"))
          rev = &(*j)["revision"];
        if (rev && rev->is_number())
          sum += rev->get<std::uint64_t>();
      }
      r(std::move(j));
    });
  });
  return sum.load();
}

/// CPU seconds per thread name (/proc/self/task/*/comm, digits dropped so
/// that e.g. "rdk:broker1" and "rdk:broker2" add up), this process.
std::map<std::string, double> thread_cpu() {
  std::map<std::string, double> out;
  static const double hz = double(::sysconf(_SC_CLK_TCK));
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator{"/proc/self/task", ec}) {
    std::ifstream c{e.path() / "comm"}, st{e.path() / "stat"};
    std::string name, line;
    std::getline(c, name);
    std::getline(st, line);
    auto rp = line.rfind(')');
    if (rp == std::string::npos)
      continue;
    std::istringstream in{line.substr(rp + 2)};
    std::string f;
    unsigned long long ut = 0, stt = 0;
    for (int i = 3; i <= 15 && in >> f; ++i) {
      if (i == 14)
        ut = std::stoull(f);
      if (i == 15)
        stt = std::stoull(f);
    }
    std::string key;
    for (char ch : name)
      if (!std::isdigit(static_cast<unsigned char>(ch)))
        key.push_back(ch);
    out[key] += double(ut + stt) / hz;
  }
  return out;
}

/// "name s, ..." of the CPU spent per thread group between two samples,
/// largest first.
std::string cpu_breakdown(const std::map<std::string, double>& a,
                          const std::map<std::string, double>& b, long updates) {
  std::vector<std::pair<double, std::string>> v;
  for (const auto& [k, x] : b) {
    auto it = a.find(k);
    double d = x - (it == a.end() ? 0.0 : it->second);
    if (d >= 0.01)
      v.emplace_back(d, k);
  }
  std::sort(v.rbegin(), v.rend());
  std::string out;
  char buf[128];
  for (const auto& [d, k] : v) {
    std::snprintf(buf, sizeof buf, "%s%s %.1f", out.empty() ? "" : ", ", k.c_str(),
                  1e6 * d / double(updates));
    out += buf;
  }
  return out + " (us/update)";
}

struct phase {
  double secs = 0, cpu = 0;
  double rate(long u) const { return secs > 0 ? double(u) / secs : 0; }
  double us(long u) const { return u > 0 ? 1e6 * secs / double(u) : 0; }
  double cpu_us(long u) const { return u > 0 ? 1e6 * cpu / double(u) : 0; }
};

} // namespace

int main(int argc, char** argv) {
  long twins = bench::arg(argc, argv, "--twins", 1000);
  long updates = bench::arg(argc, argv, "--updates", 20000);
  long window = bench::arg(argc, argv, "--window", 4096);
  long shards = bench::arg(argc, argv, "--shards", 16);
  long brokers = bench::arg(argc, argv, "--brokers", 3);
  long warmup = bench::arg(argc, argv, "--warmup", 2000);
  long max_in_flight = bench::arg(argc, argv, "--max-in-flight", 0);
  std::vector<std::string> kafka_opts; // --kafka-opt KEY=VALUE, repeatable
  for (int i = 1; i + 1 < argc; ++i)
    if (std::strcmp(argv[i], "--kafka-opt") == 0 && std::strchr(argv[i + 1], '='))
      kafka_opts.emplace_back(argv[i + 1]);
  bool quiet = bench::arg(argc, argv, "--quiet-cluster", 1) != 0;
  bench::print_machine();
  if (updates / shards > 90000)
    std::printf("warning: %ld updates per partition is near the mock's ~100k limit\n",
                updates / shards);
  actors::request_context ctx{security::principal{"bench", {security::role::admin}},
                              "bench"};

  // -- (a) baseline: the single node ---------------------------------------------
  phase base;
  std::uint64_t base_revs = 0;
  std::string base_threads, clu_threads;
  {
    bench::temp_dir dir{"bench-cluster-base"};
    actors::node_options o;
    o.data_dir = dir.path.string();
    o.shards = static_cast<std::size_t>(shards);
    o.max_active_twins = static_cast<std::size_t>(twins) + 1000;
    auto n = actors::node::start(o);
    auto& node = *bench::value_or_exit(n, "node start");
    setup(node, ctx, twins, window);
    bench::run_window(warmup, window, [&](long i, actors::reply_fn f) {
      node.ingest_data(ctx, bench::twin_name(int(i % twins)), update(i), f);
    });
    auto revs0 = revisions(node, ctx, twins);
    auto th0 = thread_cpu();
    auto c0 = cpu_seconds();
    auto t0 = std::chrono::steady_clock::now();
    bench::run_window(updates, window, [&](long i, actors::reply_fn f) {
      node.ingest_data(ctx, bench::twin_name(int(i % twins)), update(i), f);
    });
    base.secs = bench::seconds_since(t0);
    base.cpu = cpu_seconds() - c0;
    base_threads = cpu_breakdown(th0, thread_cpu(), updates);
    base_revs = revisions(node, ctx, twins) - revs0;
    node.stop();
  }
  std::printf("(a) single node: %ld twins, %ld updates (after %ld untimed), window %ld, "
              "%ld shards, fsync on\n",
              twins, updates, warmup, window, shards);
  std::printf("    %.0f updates/s, %.1f us/update, CPU %.1f us/update, revisions +%llu\n",
              base.rate(updates), base.us(updates), base.cpu_us(updates),
              static_cast<unsigned long long>(base_revs));
  std::printf("    CPU by thread: %s\n", base_threads.c_str());

  // -- (b) one cluster node on the in-process mock cluster ------------------------
  bench::temp_dir certs{"bench-cluster-certs"};
  std::string cmd = std::string{"'"} + TWIN_SOURCE_DIR + "/deploy/make-fabric-certs.sh' '"
                    + certs.path.string() + "' bench-node > '" + certs.path.string()
                    + "/certs.log' 2>&1";
  if (std::system(cmd.c_str()) != 0) {
    std::fprintf(stderr, "make-fabric-certs.sh failed (%s/certs.log)\n",
                 certs.path.string().c_str());
    return 1;
  }

  char errstr[512];
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  rd_kafka_conf_set(conf, "log_level", "3", errstr, sizeof errstr);
  rd_kafka_t* rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof errstr);
  if (!rk) {
    std::fprintf(stderr, "mock host handle: %s\n", errstr);
    return 1;
  }
  rd_kafka_mock_cluster_t* mc = rd_kafka_mock_cluster_new(rk, int(brokers));
  if (!mc) {
    std::fprintf(stderr, "rd_kafka_mock_cluster_new failed\n");
    return 1;
  }
  int rf = brokers < 3 ? int(brokers) : 3;
  for (auto [t, p] : {std::pair{"twin.telemetry", int(shards)},
                      std::pair{"twin.changelog", int(shards)},
                      std::pair{"twin.events", int(shards)}, std::pair{"twin.cluster", 1}})
    if (auto e = rd_kafka_mock_topic_create(mc, t, p, rf); e != RD_KAFKA_RESP_ERR_NO_ERROR) {
      std::fprintf(stderr, "topic %s: %s\n", t, rd_kafka_err2str(e));
      return 1;
    }
  std::string bootstrap = rd_kafka_mock_cluster_bootstraps(mc);

  phase clu, produced_phase;
  std::uint64_t clu_revs = 0;
  double applied = 0, rejected = 0;
  double start_secs = 0;
  {
    bench::temp_dir dir{"bench-cluster-node"};
    std::ofstream logf{dir.path / "cluster.log"};
    cluster::cluster_options co;
    co.node_id = "bench-node";
    co.bootstrap = bootstrap;
    co.tls = {(certs.path / "bench-node.pem").string(), (certs.path / "bench-node.key").string(),
              (certs.path / "ca.pem").string()};
    if (max_in_flight > 0)
      co.max_in_flight = static_cast<std::size_t>(max_in_flight);
    for (const auto& kv : kafka_opts)
      co.kafka_settings.emplace_back(kv.substr(0, kv.find('=')), kv.substr(kv.find('=') + 1));
    co.log = quiet ? static_cast<std::ostream*>(&logf) : &std::cerr;
    auto rep = cluster::replicator::create(co, static_cast<std::size_t>(shards));
    auto repl = bench::value_or_exit(rep, "replicator");
    actors::node_options o;
    o.data_dir = dir.path.string();
    o.shards = static_cast<std::size_t>(shards);
    o.max_active_twins = static_cast<std::size_t>(twins) + 1000;
    o.replicate = [repl](std::vector<persistence::twin_write> w,
                         std::function<void(status)> done) {
      repl->replicate(std::move(w), std::move(done));
    };
    auto n = actors::node::start(o);
    auto& node = *bench::value_or_exit(n, "cluster's node start");
    auto ts = std::chrono::steady_clock::now();
    auto c = cluster::cluster_node::start(node, repl, co);
    auto& cn = *bench::value_or_exit(c, "cluster_node start");
    // Every shard served (group joined, nothing to restore) before setup.
    for (;;) {
      auto h = cn.health();
      if (h["cluster"]["shardsServing"].get<std::size_t>() == std::size_t(shards))
        break;
      if (bench::seconds_since(ts) > 60) {
        std::fprintf(stderr, "cluster: not all shards served after 60 s (%s)\n",
                     h.dump().c_str());
        return 1;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds{20});
    }
    start_secs = bench::seconds_since(ts);
    setup(cn, ctx, twins, window);
    auto& reg = cn.metrics();
    // Warm-up, untimed: first produce to the telemetry topic (metadata,
    // producer id), first fetches, first changelog writes.
    bench::run_window(warmup, window, [&](long i, actors::reply_fn f) {
      cn.ingest_data(ctx, bench::twin_name(int(i % twins)), update(i), f);
    });
    while (counter(reg, "twin_cluster_telemetry_total", "applied") < double(warmup))
      std::this_thread::sleep_for(std::chrono::milliseconds{1});
    auto revs0 = revisions(cn, ctx, twins);
    double applied0 = counter(reg, "twin_cluster_telemetry_total", "applied");
    auto th0 = thread_cpu();
    auto c0 = cpu_seconds();
    auto t0 = std::chrono::steady_clock::now();
    bench::run_window(updates, window, [&](long i, actors::reply_fn f) {
      cn.ingest_data(ctx, bench::twin_name(int(i % twins)), update(i), f);
    });
    produced_phase.secs = bench::seconds_since(t0);
    produced_phase.cpu = cpu_seconds() - c0;
    for (;;) {
      applied = counter(reg, "twin_cluster_telemetry_total", "applied") - applied0;
      rejected = counter(reg, "twin_cluster_telemetry_total", "rejected");
      if (applied + rejected >= double(updates))
        break;
      if (bench::seconds_since(t0) > 600) {
        std::fprintf(stderr, "cluster: only %.0f of %ld applied after 600 s\n", applied,
                     updates);
        return 1;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds{1});
    }
    clu.secs = bench::seconds_since(t0);
    clu.cpu = cpu_seconds() - c0;
    clu_threads = cpu_breakdown(th0, thread_cpu(), updates);
    clu_revs = revisions(cn, ctx, twins) - revs0;
    cn.stop();
    node.stop();
  }
  rd_kafka_mock_cluster_destroy(mc);
  rd_kafka_destroy(rk);

  std::printf("(b) one cluster node on the in-process mock (%ld brokers, rf %d), group joined "
              "and %ld shards served in %.1f s\n",
              brokers, rf, shards, start_secs);
  std::printf("    produced (Kafka acks, window %ld): %.0f updates/s\n", window,
              produced_phase.rate(updates));
  std::printf("    applied %.0f, rejected %.0f: %.0f updates/s, %.1f us/update, CPU %.1f "
              "us/update, revisions +%llu\n",
              applied, rejected, clu.rate(updates), clu.us(updates), clu.cpu_us(updates),
              static_cast<unsigned long long>(clu_revs));
  std::printf("    CPU by thread (mock brokers included, they run in this process): %s\n",
              clu_threads.c_str());
  std::printf("cluster/single: %.1f%% of the rate; Kafka round trip costs %+.1f us/update "
              "wall (%.2fx), %+.1f us/update CPU\n",
              100.0 * clu.rate(updates) / base.rate(updates), clu.us(updates) - base.us(updates),
              clu.us(updates) / base.us(updates), clu.cpu_us(updates) - base.cpu_us(updates));
  if (rejected > 0 || applied < double(updates) || clu_revs != std::uint64_t(updates)
      || base_revs != std::uint64_t(updates)) {
    std::fprintf(stderr, "check failed: applied %.0f rejected %.0f revisions %llu / %llu of %ld\n",
                 applied, rejected, static_cast<unsigned long long>(clu_revs),
                 static_cast<unsigned long long>(base_revs), updates);
    return 1;
  }
  return 0;
}
