// Fabric ingest without a broker: Sparkplug B DDATA payloads decoded,
// applied to twins and made durable (journal + history), in metric
// updates/s, next to raw RocksDB batched puts measured in the same run.
//
//   bench_sparkplug [--edge-nodes N] [--devices N] [--messages N]
//                   [--window N] [--shards N] [--threads N] [--skip-raw]
//
// Path timed (one thread, as Paho's callback thread in mqtt_host):
//   host_state::handle (decode, seq, aliases) -> host_router::route (tag map,
//   JSON batch) -> fabric_sink::ingest (cli/node, what twin-node uses) ->
//   fabric::ingest_data -> shard region -> twin actor -> decide/validate ->
//   group commit (sync WAL: journal + history pending + snapshots) -> done.
// At most --window sink calls outstanding (mqtt_host's max_in_flight).
//
// Then, without the sink: decode only, handle (decode + session state) and
// handle + route, on the same messages. Baselines (fresh RocksDB, sync):
// (a) one 16-byte put per metric update, batches of 1000; (b) one put per
// message of the size of a journal event, batches of the fabric's own
// average group commit.

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstring>
#include <fstream>
#include <future>
#include <mutex>
#include <sstream>
#include <vector>

#include <fcntl.h>
#include <sys/resource.h>
#include <time.h>

#include <rocksdb/db.h>
#include <rocksdb/write_batch.h>

#include "bench_common.hpp"
#include "node/fabric_sink.hpp"
#include "sparkplug_fleet.hpp"
#include "twin/actors/node.hpp"
#include "twin/sparkplug/host_router.hpp"
#include "twin/sparkplug/host_state.hpp"
#include "twin/sparkplug/tag_map.hpp"

using namespace twin;
using json = nlohmann::json;
namespace sp = twin::sparkplug;

namespace {

long arg(int argc, char** argv, const char* name, long def) {
  for (int i = 1; i + 1 < argc; ++i)
    if (std::strcmp(argv[i], name) == 0)
      return std::atol(argv[i + 1]);
  return def;
}

bool flag(int argc, char** argv, const char* name) {
  for (int i = 1; i < argc; ++i)
    if (std::strcmp(argv[i], name) == 0)
      return true;
  return false;
}

std::int64_t wall_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
           std::chrono::system_clock::now().time_since_epoch())
    .count();
}

/// CPU seconds of the whole process (all threads) and of this thread: the
/// machine is shared, so wall-clock rates depend on what else runs; CPU per
/// message does much less.
double process_cpu() {
  rusage u{};
  ::getrusage(RUSAGE_SELF, &u);
  return double(u.ru_utime.tv_sec + u.ru_stime.tv_sec)
         + double(u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6;
}
double thread_cpu() {
  timespec ts{};
  ::clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return double(ts.tv_sec) + double(ts.tv_nsec) / 1e9;
}

/// perf record --control: with TWIN_PERF_CTL=FIFO (and TWIN_PERF_ACK=FIFO)
/// the timed phase alone is profiled (perf started with -D -1).
void perf_control(const char* cmd) {
  const char* ctl = std::getenv("TWIN_PERF_CTL");
  if (!ctl)
    return;
  int fd = ::open(ctl, O_WRONLY);
  if (fd < 0)
    return;
  std::string line = std::string{cmd} + "\n";
  (void) !::write(fd, line.data(), line.size());
  ::close(fd);
  if (const char* ack = std::getenv("TWIN_PERF_ACK")) {
    int afd = ::open(ack, O_RDONLY);
    if (afd >= 0) {
      char buf[16];
      (void) !::read(afd, buf, sizeof buf);
      ::close(afd);
    }
  }
}

std::span<const std::uint8_t> bytes_of(const std::string& s) {
  return {reinterpret_cast<const std::uint8_t*>(s.data()), s.size()};
}

/// Sink calls outstanding, as mqtt_host's `flight`: the feeding thread waits
/// at `window`; `done` runs on fabric threads.
struct flight {
  std::mutex m;
  std::condition_variable cv;
  long outstanding = 0;
  long window = 4096;
  long failures = 0;
  long waits = 0;
  std::string first_error;

  void acquire() {
    std::unique_lock lk{m};
    if (outstanding >= window) {
      ++waits;
      cv.wait(lk, [&] { return outstanding < window; });
    }
    ++outstanding;
  }
  void complete(const status& s) {
    {
      std::lock_guard lk{m};
      --outstanding;
      if (!s && failures++ == 0)
        first_error = s.error().describe();
    }
    cv.notify_all();
  }
  void drain() {
    std::unique_lock lk{m};
    cv.wait(lk, [&] { return outstanding == 0; });
  }
};

/// What one pass of messages through host_state + host_router gave.
struct pass_result {
  long messages = 0;
  long metrics_applied = 0;
  long batches = 0;
  long connectivity = 0;
  long drops = 0;
  std::string first_drop;
};

/// handle -> route -> (sink, if any) for each message, on this thread.
pass_result run_pass(const std::vector<bench::spb::message>& msgs, sp::host_state& state,
                     sp::host_router& router, sp::host_sink* sink, flight* fl) {
  pass_result r;
  for (const auto& m : msgs) {
    auto now = wall_ms();
    auto actions = state.handle(m.topic, bytes_of(m.payload), static_cast<std::uint64_t>(now));
    auto routed = router.route(m.topic, std::move(actions), now);
    ++r.messages;
    r.metrics_applied += static_cast<long>(routed.metrics_applied);
    if (!routed.drops.empty() && r.drops == 0)
      r.first_drop = routed.drops.front().reason + ": " + routed.drops.front().detail;
    r.drops += static_cast<long>(routed.drops.size());
    for (auto& op : routed.operations) {
      if (auto* b = std::get_if<sp::ingest_batch>(&op)) {
        ++r.batches;
        if (sink) {
          fl->acquire();
          sink->ingest(std::move(*b), [fl](const status& s) { fl->complete(s); });
        }
      } else {
        auto& c = std::get<sp::connectivity_change>(op);
        ++r.connectivity;
        if (sink) {
          fl->acquire();
          sink->connectivity(c.twin, c.online, std::move(c.reason), c.time_ms,
                             [fl](const status& s) { fl->complete(s); });
        }
      }
    }
  }
  return r;
}

std::string read_file(const std::string& path) {
  std::ifstream in{path};
  if (!in) {
    std::fprintf(stderr, "cannot read %s\n", path.c_str());
    std::exit(1);
  }
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

/// Journal statistics of the node's database, read after the node stopped.
struct journal_stats {
  long entries = 0;
  double bytes = 0;
  std::size_t last_event_bytes = 0;
  long history_keys = 0;
  double history_bytes = 0;
};

journal_stats read_journal(const std::string& db_path, const std::string& twin) {
  journal_stats js;
  std::vector<std::string> names;
  auto st = rocksdb::DB::ListColumnFamilies(rocksdb::DBOptions{}, db_path, &names);
  if (!st.ok()) {
    std::fprintf(stderr, "list column families: %s\n", st.ToString().c_str());
    return js;
  }
  std::vector<rocksdb::ColumnFamilyDescriptor> cfs;
  for (const auto& n : names)
    cfs.emplace_back(n, rocksdb::ColumnFamilyOptions{});
  std::vector<rocksdb::ColumnFamilyHandle*> handles;
  rocksdb::DB* db = nullptr;
  st = rocksdb::DB::OpenForReadOnly(rocksdb::DBOptions{}, db_path, cfs, &handles, &db);
  if (!st.ok()) {
    std::fprintf(stderr, "open read-only: %s\n", st.ToString().c_str());
    return js;
  }
  for (std::size_t i = 0; i < names.size(); ++i) {
    if (names[i] != "journal" && names[i] != "history")
      continue;
    std::unique_ptr<rocksdb::Iterator> it{db->NewIterator(rocksdb::ReadOptions{}, handles[i])};
    for (it->SeekToFirst(); it->Valid(); it->Next()) {
      if (names[i] == "journal") {
        ++js.entries;
        js.bytes += static_cast<double>(it->value().size());
        auto k = it->key();
        if (k.size() == twin.size() + 9 && std::memcmp(k.data(), twin.data(), twin.size()) == 0)
          js.last_event_bytes = it->value().size();
      } else {
        ++js.history_keys;
        js.history_bytes += static_cast<double>(it->value().size());
      }
    }
  }
  for (auto* h : handles)
    db->DestroyColumnFamilyHandle(h);
  delete db;
  return js;
}

} // namespace

int main(int argc, char** argv) {
  bench::spb::fleet fl_shape;
  fl_shape.edge_nodes = static_cast<int>(arg(argc, argv, "--edge-nodes", 100));
  fl_shape.devices = static_cast<int>(std::clamp(arg(argc, argv, "--devices", 10), 1L, 26L));
  long messages = arg(argc, argv, "--messages", 200000);
  long window = arg(argc, argv, "--window", 4096);
  long shards = arg(argc, argv, "--shards", 64);
  long threads = arg(argc, argv, "--threads", 0);
  bool skip_raw = flag(argc, argv, "--skip-raw");
  long twins = fl_shape.twins();
  bench::print_machine();

  // -- the node, as twin-node runs it (sync group commits) ---------------------
  bench::temp_dir dir{"bench-sparkplug"};
  actors::node_options o;
  o.data_dir = dir.path.string();
  o.shards = static_cast<std::size_t>(shards);
  o.threads = static_cast<std::size_t>(threads);
  o.max_active_twins = static_cast<std::size_t>(twins) + 1000;
  o.sync = true;
  auto n = actors::node::start(o);
  if (!n) {
    std::fprintf(stderr, "start: %s\n", n.error().describe().c_str());
    return 1;
  }
  auto& node = **n;
  actors::request_context admin{security::principal{"bench", {security::role::admin}}, "bench"};
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
  auto model = json::parse(read_file(TWIN_SOURCE_DIR "/deploy/models/gearbox-bearing.json"));
  sync_call([&](actors::reply_fn f) { node.add_models(admin, model, f); });
  bench::run_window(twins, window, [&](long i, actors::reply_fn f) {
    node.create_twin(admin, fl_shape.twin_of(static_cast<int>(i)),
                     json{{"$model", bench::spb::model_id}}, f);
  });
  bench::run_window(twins, window, [&](long i, actors::reply_fn f) {
    node.transition(admin, fl_shape.twin_of(static_cast<int>(i)),
                    json{{"to", "active"}, {"reason", "bench"}}, f);
  });

  // -- tag map and pre-encoded payloads --------------------------------------
  auto map = sp::tag_map::parse(fl_shape.tag_map_json().dump());
  if (!map) {
    std::fprintf(stderr, "tag map: %s\n", map.error().describe().c_str());
    return 1;
  }
  auto t_data0 = static_cast<std::uint64_t>(wall_ms()) - 3'600'000;  // an hour of past data
  auto births = fl_shape.births(t_data0);
  auto data = fl_shape.ddata(messages, t_data0);
  double payload_bytes = 0;
  for (const auto& m : data)
    payload_bytes += static_cast<double>(m.payload.size());
  std::printf("setup: %ld twins (%d edge nodes x %d devices) created and activated; "
              "%zu mappings; %zu births + %ld DDATA pre-encoded (%.0f B each, %zu metrics)\n",
              twins, fl_shape.edge_nodes, fl_shape.devices, map->size(), births.size(),
              messages, payload_bytes / static_cast<double>(messages),
              bench::spb::metric_names().size());

  // -- births through the same path (untimed): sessions + connectivity -------
  node::fabric_sink sink{node, "sparkplug-host"};
  sp::host_state state;
  sp::host_router router{*map};
  flight fl;
  fl.window = window;
  auto br = run_pass(births, state, router, &sink, &fl);
  fl.drain();
  if (fl.failures || br.drops) {
    std::fprintf(stderr, "births: %ld failures (%s), %ld drops (%s)\n", fl.failures,
                 fl.first_error.c_str(), br.drops, br.first_drop.c_str());
    return 1;
  }

  // -- timed: DDATA -> twins, durable ------------------------------------------
  auto commits0 = node.health()["storeCommits"].get<std::uint64_t>();
  perf_control("enable");
  double cpu0 = process_cpu(), feed_cpu0 = thread_cpu();
  auto t0 = std::chrono::steady_clock::now();
  auto r = run_pass(data, state, router, &sink, &fl);
  double feed_secs = bench::seconds_since(t0);
  double feed_cpu = thread_cpu() - feed_cpu0;
  fl.drain();
  double fabric_secs = bench::seconds_since(t0);
  double fabric_cpu = process_cpu() - cpu0;
  perf_control("disable");
  if (flag(argc, argv, "--fabric-only")) {
    std::printf("fabric: %ld messages, %ld metric updates in %.2f s: %.0f metric updates/s; "
                "CPU %.2f s (feeding thread %.2f s); failures %ld, drops %ld\n",
                r.messages, r.metrics_applied, fabric_secs, r.metrics_applied / fabric_secs,
                fabric_cpu, feed_cpu, fl.failures, r.drops);
    node.stop();
    return fl.failures || r.drops ? 1 : 0;
  }
  auto commits = node.health()["storeCommits"].get<std::uint64_t>() - commits0;
  double events_per_commit = commits ? double(r.batches) / double(commits) : 1.0;

  // Did history really get written? Every series of one twin, raw tier.
  const std::string probe = fl_shape.twin_of(0);
  long history_points = 0;
  for (const auto& name : bench::spb::metric_names()) {
    actors::history_request q;
    q.name = name;
    q.from = std::to_string(t_data0 - 1000);
    q.to = std::to_string(wall_ms() + 1000);
    q.resolution = "raw";
    q.limit = 100000;
    auto h = sync_call([&](actors::reply_fn f) { node.history(admin, probe, q, f); });
    history_points += static_cast<long>(h["points"].size());
  }
  long expected_points = static_cast<long>(bench::spb::metric_names().size())
                         * (1 + (messages + twins - 1) / twins);  // DBIRTH + DDATA
  node.stop();
  auto js = read_journal((dir.path / "db").string(), probe);

  // -- decode / handle / route only (no sink) ----------------------------------
  double decode_secs = 0, handle_secs = 0, route_secs = 0;
  double decode_cpu = 0, handle_cpu = 0, route_cpu = 0;
  {
    long ok = 0;
    auto t1 = std::chrono::steady_clock::now();
    double c1 = thread_cpu();
    for (const auto& m : data)
      ok += sp::decode_payload(bytes_of(m.payload)).has_value();
    decode_secs = bench::seconds_since(t1);
    decode_cpu = thread_cpu() - c1;
    if (ok != messages) {
      std::fprintf(stderr, "decode: %ld of %ld failed\n", messages - ok, messages);
      return 1;
    }
  }
  {
    sp::host_state s2;
    for (const auto& m : births)
      s2.handle(m.topic, bytes_of(m.payload), static_cast<std::uint64_t>(wall_ms()));
    auto t1 = std::chrono::steady_clock::now();
    double c1 = thread_cpu();
    std::size_t actions = 0;
    for (const auto& m : data)
      actions += s2.handle(m.topic, bytes_of(m.payload), static_cast<std::uint64_t>(wall_ms()))
                   .size();
    handle_secs = bench::seconds_since(t1);
    handle_cpu = thread_cpu() - c1;
    if (actions != static_cast<std::size_t>(messages) * bench::spb::metric_names().size()) {
      std::fprintf(stderr, "handle: %zu actions, expected %zu\n", actions,
                   static_cast<std::size_t>(messages) * bench::spb::metric_names().size());
      return 1;
    }
  }
  pass_result rr;
  {
    sp::host_state s3;
    sp::host_router r3{*map};
    run_pass(births, s3, r3, nullptr, nullptr);
    auto t1 = std::chrono::steady_clock::now();
    double c1 = thread_cpu();
    rr = run_pass(data, s3, r3, nullptr, nullptr);
    route_secs = bench::seconds_since(t1);
    route_cpu = thread_cpu() - c1;
  }

  // -- raw RocksDB baselines -------------------------------------------------
  double raw_metric = 0, raw_event = 0;
  long metric_updates = r.metrics_applied;
  long event_batch = std::max(1L, static_cast<long>(events_per_commit + 0.5));
  std::size_t event_bytes = js.last_event_bytes ? js.last_event_bytes : 600;
  if (!skip_raw) {
    bench::temp_dir raw_dir{"bench-sparkplug-raw"};
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
    auto raw_puts = [&](long count, long batch, const std::string& value) {
      static long seq = 0;
      auto t1 = std::chrono::steady_clock::now();
      for (long i = 0; i < count;) {
        rocksdb::WriteBatch b;
        for (long k = 0; k < batch && i < count; ++k, ++i, ++seq) {
          char key[64];
          int len = std::snprintf(key, sizeof key, "%s%c%016lx",
                                  fl_shape.twin_of(static_cast<int>(i % twins)).c_str(), '\0',
                                  seq);
          b.Put(rocksdb::Slice(key, static_cast<size_t>(len)), value);
        }
        auto ws = raw->Write(wo, &b);
        if (!ws.ok()) {
          std::fprintf(stderr, "raw write: %s\n", ws.ToString().c_str());
          std::exit(1);
        }
      }
      return count / bench::seconds_since(t1);
    };
    raw_metric = raw_puts(metric_updates, 1000, std::string(16, 'v'));
    raw_event = raw_puts(r.batches, event_batch, std::string(event_bytes, 'e'));
    delete raw;
  }

  // -- report ----------------------------------------------------------------
  double mps = r.messages / fabric_secs;
  double ups = r.metrics_applied / fabric_secs;
  std::printf("fabric (DDATA -> host_state -> host_router -> fabric_sink -> twin actors -> "
              "sync group commit), window %ld:\n", window);
  std::printf("  %ld messages, %ld metric updates, %ld events in %.2f s "
              "(feeding thread done after %.2f s, %ld backpressure waits)\n",
              r.messages, r.metrics_applied, r.batches, fabric_secs, feed_secs, fl.waits);
  std::printf("  messages/s:        %10.0f\n", mps);
  std::printf("  metric updates/s:  %10.0f   (goal >= 1,000,000)\n", ups);
  std::printf("  events/s:          %10.0f\n", r.batches / fabric_secs);
  std::printf("  failures: %ld%s%s, drops: %ld%s%s\n", fl.failures,
              fl.failures ? " first: " : "", fl.first_error.c_str(), r.drops,
              r.drops ? " first: " : "", r.first_drop.c_str());
  double cores = std::max(1u, std::thread::hardware_concurrency());
  std::printf("  CPU: %.2f s for the process (%.1f us per message, %.2f us per metric update; "
              "feeding thread %.2f s = %.1f us per message); CPU-bound estimate with %.0f "
              "idle cores: %.0f metric updates/s\n",
              fabric_cpu, 1e6 * fabric_cpu / r.messages, 1e6 * fabric_cpu / r.metrics_applied,
              feed_cpu, 1e6 * feed_cpu / r.messages, cores,
              cores * r.metrics_applied / fabric_cpu);
  std::printf("  group commits: %llu, %.1f events/commit, %.0f metric updates/commit\n",
              static_cast<unsigned long long>(commits), events_per_commit,
              commits ? double(r.metrics_applied) / double(commits) : 0.0);
  std::printf("  durable: journal %ld entries (%.0f MB, event %zu B); history CF %ld keys "
              "(%.1f MB); history of %s: %ld raw points over %zu series (expected %ld)\n",
              js.entries, js.bytes / 1e6, js.last_event_bytes, js.history_keys,
              js.history_bytes / 1e6, probe.c_str(), history_points,
              bench::spb::metric_names().size(), expected_points);
  std::printf("no sink, same messages, one thread:\n");
  std::printf("  (wall rate; CPU per message of this thread)\n");
  std::printf("  decode_payload only:           %10.0f messages/s  %10.0f metrics/s  %6.2f us\n",
              messages / decode_secs, messages * 10.0 / decode_secs, 1e6 * decode_cpu / messages);
  std::printf("  host_state::handle:            %10.0f messages/s  %10.0f metrics/s  %6.2f us\n",
              messages / handle_secs, messages * 10.0 / handle_secs, 1e6 * handle_cpu / messages);
  std::printf("  handle + host_router::route:   %10.0f messages/s  %10.0f metrics/s  %6.2f us "
              "(%ld applied, %ld drops)\n",
              messages / route_secs, rr.metrics_applied / route_secs, 1e6 * route_cpu / messages,
              rr.metrics_applied, rr.drops);
  if (!skip_raw) {
    std::printf("raw RocksDB, fresh dir, sync WriteBatch:\n");
    std::printf("  (a) one 16 B put per metric update, batch 1000: %10.0f puts/s; "
                "fabric/raw = %.1f%%\n", raw_metric, 100.0 * ups / raw_metric);
    std::printf("  (b) one %zu B put per message, batch %ld (fabric's): %10.0f puts/s; "
                "fabric/raw = %.1f%% (events)\n",
                event_bytes, event_batch, raw_event, 100.0 * (r.batches / fabric_secs) / raw_event);
  }
  bool honest = fl.failures == 0 && r.drops == 0 && history_points == expected_points;
  if (!honest)
    std::fprintf(stderr, "FAILED: failures, drops or missing history points\n");
  return honest ? 0 : 1;
}
