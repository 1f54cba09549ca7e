// Issue 5: three real twin-node processes on librdkafka's mock cluster
// (the kafka-mock-cluster helper, a separate process), mutual TLS between
// them. Twins spread over the nodes, any node reads and writes any twin;
// under steady telemetry a node is SIGKILLed, another stopped gracefully,
// and both rejoin: every acknowledged update is applied exactly once (the
// lineage of each twin holds exactly the values sent, in order, no gaps,
// no duplicates) and the twins' states agree on every node. A node with a
// certificate of another CA is refused.

#define BOOST_TEST_MODULE cluster_integration
#include <boost/test/unit_test.hpp>

#include <atomic>
#include <chrono>
#include <fstream>
#include <map>
#include <set>
#include <thread>

#include "fixture.hpp"
#include "twin/test/child_process.hpp"

using namespace twin::test;
using namespace std::chrono_literals;
using nlohmann::json;

namespace {

constexpr int shards = 12;

std::string mock_binary() {
  return TWIN_KAFKA_MOCK_BIN;
}

std::string certs_script() {
  return std::string{TWIN_SOURCE_DIR} + "/deploy/make-fabric-certs.sh";
}

struct cluster_fixture {
  temp_dir dir{"twin-cluster"};
  fs::path tokens_file = dir / "tokens";
  tokens tok = write_tokens_file(tokens_file);
  std::unique_ptr<child_process> mock;
  std::string bootstrap;
  std::map<std::string, std::unique_ptr<node_process>> nodes;
  std::map<std::string, std::string> old_logs;

  cluster_fixture() {
    auto made = run_process({"/bin/bash", certs_script(), (dir / "certs").string(), "node-a",
                             "node-b", "node-c"});
    BOOST_REQUIRE_MESSAGE(made.exit_code == 0, made.err);
    auto foreign = run_process({"/bin/bash", certs_script(), "--ca-name", "Rogue CA",
                                (dir / "foreign").string(), "node-d"});
    BOOST_REQUIRE_MESSAGE(foreign.exit_code == 0, foreign.err);
    mock = std::make_unique<child_process>(
      std::vector<std::string>{mock_binary(), "--brokers", "3", "--prefix", "twin.",
                               "--shards", std::to_string(shards)},
      dir / "mock.log");
    BOOST_REQUIRE(wait_until(
      [&] {
        auto text = read_text_file(dir / "mock.log");
        auto at = text.find("bootstrap ");
        auto end = text.find('\n', at);
        if (at == std::string::npos || end == std::string::npos)
          return false;
        bootstrap = text.substr(at + 10, end - at - 10);
        return text.find("ready") != std::string::npos;
      },
      20s));
  }

  ~cluster_fixture() {
    if (current_test_failed()) {
      for (auto& [id, log] : old_logs)
        std::cerr << "==== earlier log of " << id << " ====\n" << log;
      for (auto& [id, n] : nodes)
        if (n)
          n->print_log();
    }
    nodes.clear();
  }

  std::vector<std::string> args(const std::string& id, const fs::path& certs,
                                const std::string& cert_id) {
    return {"--shards", std::to_string(shards), "--kafka", bootstrap, "--node-id", id,
            "--cluster-cert", (certs / (cert_id + ".pem")).string(),
            "--cluster-key", (certs / (cert_id + ".key")).string(),
            "--cluster-ca", (certs / "ca.pem").string(),
            "--session-timeout", "2500ms", "--no-behaviours"};
  }

  node_process& start(const std::string& id) {
    if (auto it = nodes.find(id); it != nodes.end() && it->second) {
      old_logs[id] += it->second->log();
      it->second.reset();
    }
    node_options o;
    o.data_dir = dir / id;
    o.tokens_file = tokens_file;
    o.extra_args = args(id, dir / "certs", id);
    o.log_file = dir / (id + "-" + std::to_string(old_logs.count(id)) + ".log");
    o.start_timeout = 60s;
    fs::create_directories(o.data_dir);
    auto& slot = nodes[id];
    slot = std::make_unique<node_process>(std::move(o));
    return *slot;
  }

  api_client admin(const std::string& id) { return api_client{nodes.at(id)->base_url(), tok.admin}; }
  api_client op(const std::string& id) { return api_client{nodes.at(id)->base_url(), tok.operator_}; }

  /// Every shard served, only by `owners`, each of which serves some.
  bool settled(const std::string& via, const std::set<std::string>& owners,
               bool want_zero_lag = false) {
    auto r = admin(via).try_call("GET", "/api/v1/cluster", std::nullopt);
    if (!r || r->status != 200)
      return false;
    std::set<std::string> seen;
    for (auto& s : r->body["shardStates"]) {
      if (s["state"] != "serving" || !s["owner"].is_string())
        return false;
      auto o = s["owner"].get<std::string>();
      if (!owners.count(o))
        return false;
      if (want_zero_lag && (!s["lag"].is_number() || s["lag"].get<long>() != 0))
        return false;
      seen.insert(o);
    }
    return seen == owners;
  }

  void wait_settled(const std::string& via, const std::set<std::string>& owners,
                    std::chrono::seconds limit = 60s) {
    bool ok = wait_until([&] { return settled(via, owners); }, limit, 100ms);
    BOOST_REQUIRE_MESSAGE(ok, "cluster did not settle on " << owners.size() << " owners: "
                                << admin(via).get("/api/v1/cluster").raw.body);
  }
};

/// Sends round after round of telemetry to every twin through the given
/// nodes; counts the acknowledged updates per twin.
struct telemetry_writer {
  cluster_fixture& f;
  std::vector<std::string> twins;
  std::map<std::string, int> acked;   // twin -> last value acknowledged
  std::map<std::string, int> failed;  // twin -> refused sends
  std::map<std::string, int> base;    // twin -> revision before any telemetry
  std::atomic<bool> stop{false};
  std::atomic<int> rounds{0};
  std::thread th;

  telemetry_writer(cluster_fixture& fx, std::vector<std::string> t) : f(fx), twins(std::move(t)) {
    for (auto& id : twins) {
      acked[id] = 0;
      base[id] = 2; // created, activated
    }
  }

  void run(std::vector<std::string> via, int max_rounds) {
    th = std::thread([this, via, max_rounds] {
      std::vector<api_client> clients;
      for (auto& v : via)
        clients.push_back(f.op(v));
      for (int k = 1; k <= max_rounds && !stop.load(); ++k) {
        for (std::size_t i = 0; i < twins.size(); ++i) {
          auto& id = twins[i];
          int value = acked[id] + 1;
          auto& c = clients[(i + k) % clients.size()];
          auto r = c.try_call("POST", twin_path(id) + "/telemetry",
                              json{{"values", {{"vibrationRms", value}}}});
          if (r && r->status == 202)
            acked[id] = value;
          else
            ++failed[id];
        }
        rounds = k;
      }
    });
  }

  void join() {
    if (th.joinable())
      th.join();
  }
  ~telemetry_writer() {
    stop = true;
    join();
  }
};

/// The values of vibrationRms in the twin's lineage, oldest first.
std::vector<int> lineage_values(api_client& c, const std::string& id) {
  auto r = c.get(twin_path(id) + "/lineage?property=vibrationRms");
  BOOST_REQUIRE_MESSAGE(r.status == 200, id << ": " << r.status << " " << r.raw.body);
  std::vector<int> out;
  for (auto& it : r.body["items"])
    out.push_back(static_cast<int>(it["telemetry"]["vibrationRms"].get<double>()));
  std::reverse(out.begin(), out.end());
  return out;
}

/// Every acknowledged update present exactly once, in order, and every
/// node's answer identical.
void check_exactly_once(cluster_fixture& f, const telemetry_writer& w,
                        const std::vector<std::string>& via) {
  // Everything applied: lag 0 on every shard.
  BOOST_REQUIRE_MESSAGE(
    wait_until(
      [&] {
        std::set<std::string> owners;
        auto r = f.admin(via.front()).try_call("GET", "/api/v1/cluster", std::nullopt);
        if (!r || r->status != 200)
          return false;
        for (auto& n : r->body["nodes"])
          if (n["alive"] == true && !n["shards"].empty())
            owners.insert(n["id"].get<std::string>());
        return f.settled(via.front(), owners, true);
      },
      60s, 100ms),
    "lag did not drain: " << f.admin(via.front()).get("/api/v1/cluster").raw.body);
  // Lag in the status view comes from announcements (up to a second old):
  // give each twin a bounded time to show all its acknowledged updates; the
  // assertions below then demand exactly those, no more.
  for (auto& [id, last] : w.acked) {
    auto c = f.admin(via.front());
    wait_until([&] { return static_cast<int>(lineage_values(c, id).size()) >= last; }, 30s,
               100ms);
  }
  for (auto& [id, last] : w.acked) {
    auto c = f.admin(via.front());
    auto values = lineage_values(c, id);
    std::vector<int> expected;
    for (int k = 1; k <= last; ++k)
      expected.push_back(k);
    BOOST_TEST_CONTEXT("twin " << id) {
      BOOST_TEST(values == expected, boost::test_tools::per_element());
      auto doc = c.get(twin_path(id));
      BOOST_REQUIRE(doc.status == 200);
      // create + activate + one event per acknowledged update: the state is
      // the replay of exactly these events.
      BOOST_TEST(doc.body["$revision"].get<int>() == w.base.at(id) + last);
      BOOST_TEST(doc.body["telemetry"]["vibrationRms"]["value"].get<double>() == last);
      for (auto& other : via) {
        auto o = f.admin(other).get(twin_path(id));
        BOOST_TEST(o.body["$revision"] == doc.body["$revision"]);
      }
    }
  }
}

} // namespace

BOOST_AUTO_TEST_CASE(cluster_spreads_routes_fails_over_exactly_once) {
  cluster_fixture f;
  for (auto id : {"node-a", "node-b", "node-c"})
    f.start(id);
  f.wait_settled("node-a", {"node-a", "node-b", "node-c"});

  // Models uploaded on one node reach the others through the cluster topic.
  auto up = f.admin("node-a").post("/api/v1/models", json::array({bearing_model()}));
  BOOST_REQUIRE_MESSAGE(up.status == 201, up.raw.body);
  BOOST_REQUIRE(wait_until(
    [&] { return f.admin("node-c").get("/api/v1/models/" + bearing_dtmi).status == 200; }, 10s));

  // Twins created and activated through whichever node, spread over all.
  const std::vector<std::string> via_all{"node-a", "node-b", "node-c"};
  std::vector<std::string> twins;
  for (int i = 0; i < 36; ++i) {
    auto id = "bearing-" + std::to_string(i);
    twins.push_back(id);
    auto c = f.op(via_all[i % 3]);
    auto r = c.put(twin_path(id), {{"$model", bearing_dtmi}, {"properties", json::object()}});
    BOOST_REQUIRE_MESSAGE(r.status == 201, id << ": " << r.status << " " << r.raw.body);
    auto a = f.op(via_all[(i + 1) % 3])
               .post(twin_path(id) + "/lifecycle", {{"to", "active"}, {"reason", "commissioned"}});
    BOOST_REQUIRE_MESSAGE(a.status == 200, id << ": " << a.status << " " << a.raw.body);
  }
  // Every node owns some shards and holds some of the twins; every node
  // reads and writes every twin.
  auto status = f.admin("node-b").get("/api/v1/cluster");
  std::map<std::string, int> per_owner;
  for (auto& id : twins) {
    auto shard = 0;
    (void) shard;
    for (auto& other : via_all) {
      auto g = f.admin(other).get(twin_path(id));
      BOOST_REQUIRE_MESSAGE(g.status == 200, other << " " << id << ": " << g.raw.body);
      BOOST_TEST(g.body["$lifecycle"] == "active");
    }
  }
  for (auto& s : status.body["shardStates"])
    per_owner[s["owner"].get<std::string>()]++;
  BOOST_TEST(per_owner.size() == 3u);
  BOOST_TEST(status.body["forwarded"].get<int>() + 0 >= 0);
  auto p = f.op("node-c").patch(twin_path(twins[0]), json{{"location", "hall 3"}});
  BOOST_REQUIRE_MESSAGE(p.status == 200, p.raw.body);
  BOOST_TEST(f.admin("node-a").get(twin_path(twins[0])).body["properties"]["location"]["value"]
             == "hall 3");
  // A model violation is refused where the request arrives, whoever owns it.
  auto bad = f.op("node-b").patch(twin_path(twins[1]), json{{"noSuchProperty", 1}});
  BOOST_TEST(bad.status == 422);
  // The list is the whole fleet, paged, from any node.
  std::set<std::string> listed;
  std::string after;
  for (int page = 0; page < 10; ++page) {
    auto l = f.admin("node-b").get("/api/v1/twins?limit=10" + (after.empty() ? "" : "&pageToken=" + after));
    BOOST_REQUIRE_MESSAGE(l.status == 200, l.raw.body);
    for (auto& it : l.body["items"])
      listed.insert(it["$id"].get<std::string>());
    if (!l.body.contains("nextPageToken"))
      break;
    after = l.body["nextPageToken"].get<std::string>();
  }
  BOOST_TEST(listed.size() == twins.size());
  // twinctl shows the cluster.
  auto ctl = run_twinctl({"--server", f.nodes.at("node-a")->base_url(), "--token", f.tok.admin,
                          "cluster", "status"});
  BOOST_TEST(ctl.exit_code == 0);
  BOOST_TEST(ctl.out.find("node-b") != std::string::npos);

  // Phase 1: SIGKILL node-b under steady telemetry (sent through a and c).
  {
    telemetry_writer w{f, twins};
    w.base[twins[0]] = 3; // and patched
    w.run({"node-a", "node-c"}, 40);
    BOOST_REQUIRE(wait_until([&] { return w.rounds.load() >= 8; }, 60s));
    auto t0 = std::chrono::steady_clock::now();
    f.nodes.at("node-b")->kill();
    f.wait_settled("node-a", {"node-a", "node-c"});
    auto failover = std::chrono::duration_cast<std::chrono::milliseconds>(
                      std::chrono::steady_clock::now() - t0)
                      .count();
    BOOST_TEST_MESSAGE("failover after SIGKILL (kill to all shards served): " << failover << " ms");
    std::cout << "failover after SIGKILL: " << failover << " ms" << std::endl;
    BOOST_TEST(failover < 20000);
    w.join();
    BOOST_TEST(w.failed.empty());
    check_exactly_once(f, w, {"node-a", "node-c"});
  }

  // Phase 2: node-b rejoins on its old data dir (it died dirty: its shards
  // are restored from the changelog); node-c then stops gracefully.
  f.start("node-b");
  f.wait_settled("node-a", {"node-a", "node-b", "node-c"});
  {
    telemetry_writer w{f, twins};
    w.base[twins[0]] = 3;
    for (auto& id : twins)
      w.acked[id] = static_cast<int>(lineage_values(*std::make_unique<api_client>(f.admin("node-a")), id).size());
    w.run({"node-a", "node-b"}, 30);
    BOOST_REQUIRE(wait_until([&] { return w.rounds.load() >= 6; }, 60s));
    auto t0 = std::chrono::steady_clock::now();
    auto code = f.nodes.at("node-c")->terminate(30s);
    BOOST_TEST(code == 0);
    f.wait_settled("node-a", {"node-a", "node-b"});
    auto handover = std::chrono::duration_cast<std::chrono::milliseconds>(
                      std::chrono::steady_clock::now() - t0)
                      .count();
    std::cout << "hand-over after SIGTERM: " << handover << " ms" << std::endl;
    w.join();
    BOOST_TEST(w.failed.empty());
    check_exactly_once(f, w, {"node-a", "node-b"});
  }

  // Phase 3: node-c rejoins (clean checkpoints); all three agree.
  f.start("node-c");
  f.wait_settled("node-b", {"node-a", "node-b", "node-c"});
  {
    telemetry_writer w{f, twins};
    w.base[twins[0]] = 3;
    for (auto& id : twins)
      w.acked[id] = static_cast<int>(lineage_values(*std::make_unique<api_client>(f.admin("node-b")), id).size());
    w.run({"node-a", "node-b", "node-c"}, 5);
    w.join();
    BOOST_TEST(w.failed.empty());
    check_exactly_once(f, w, {"node-a", "node-b", "node-c"});
  }
  // /metrics carries the cluster figures.
  auto m = f.admin("node-a").get("/metrics");
  BOOST_TEST(m.raw.body.find("twin_cluster_shard_lag") != std::string::npos);
  BOOST_TEST(m.raw.body.find("twin_cluster_restore_seconds") != std::string::npos);
  BOOST_TEST(prometheus_value(m.raw.body, "twin_cluster_forwarded_total").value_or(0) > 0);
}

BOOST_AUTO_TEST_CASE(foreign_certificates_are_refused) {
  cluster_fixture f;
  f.start("node-a");
  f.wait_settled("node-a", {"node-a"});
  // A node with its own CA, certificate and key: its CA does not vouch for
  // the cluster's nodes, so it refuses to join (and the cluster would refuse
  // its TLS handshake).
  {
    node_options o;
    o.data_dir = f.dir / "node-d";
    o.tokens_file = f.tokens_file;
    o.extra_args = f.args("node-d", f.dir / "foreign", "node-d");
    o.log_file = f.dir / "node-d.log";
    fs::create_directories(o.data_dir);
    std::string why;
    try {
      node_process d{std::move(o)};
    } catch (const std::exception& ex) {
      why = ex.what();
    }
    BOOST_TEST(why.find("refusing to join") != std::string::npos, why);
  }
  // A foreign certificate with the fabric's CA file fails its own check.
  {
    node_options o;
    o.data_dir = f.dir / "node-e";
    o.tokens_file = f.tokens_file;
    auto a = f.args("node-d", f.dir / "foreign", "node-d");
    for (std::size_t i = 0; i + 1 < a.size(); ++i)
      if (a[i] == "--cluster-ca")
        a[i + 1] = (f.dir / "certs" / "ca.pem").string();
    o.extra_args = a;
    o.log_file = f.dir / "node-e.log";
    fs::create_directories(o.data_dir);
    std::string why;
    try {
      node_process e{std::move(o)};
    } catch (const std::exception& ex) {
      why = ex.what();
    }
    BOOST_TEST(why.find("fabric CA") != std::string::npos, why);
  }
  // The cluster still has exactly its one node.
  auto st = f.admin("node-a").get("/api/v1/cluster");
  for (auto& n : st.body["nodes"])
    BOOST_TEST(n["id"] == "node-a");
}
