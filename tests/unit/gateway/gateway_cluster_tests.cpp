// GET /api/v1/cluster: routing, auth, errors, metrics, the OpenAPI entry,
// the port's default (standalone) answer, and `twinctl cluster status`
// end to end against the gateway.

#include <array>
#include <cstdio>
#include <string>
#include <sys/wait.h>

#include <boost/test/unit_test.hpp>

#include "fake_fabric.hpp"

using namespace twin;
using namespace twin::test;

namespace {

json sample_cluster() {
  return json::parse(R"({
    "mode": "cluster", "nodeId": "node-a", "shards": 16, "forwarded": 12,
    "nodes": [
      {"id": "node-a", "endpoint": "127.0.0.1:7001", "http": "http://127.0.0.1:8081",
       "shards": [0, 1, 2, 3, 7], "lastSeenMs": 250, "alive": true, "self": true},
      {"id": "node-b", "endpoint": "127.0.0.1:7002", "http": "http://127.0.0.1:8082",
       "shards": [4, 5, 6], "lastSeenMs": 1800, "alive": false, "self": false}],
    "shardStates": [
      {"shard": 0, "owner": "node-a", "state": "serving", "lag": 12,
       "restore": {"records": 200, "total": 200, "elapsedMs": 40}},
      {"shard": 3, "owner": "node-a", "state": "restoring", "lag": null,
       "restore": {"records": 1200, "total": 2100, "elapsedMs": 900}},
      {"shard": 8, "owner": null, "state": "unassigned", "lag": null}]})");
}

} // namespace

BOOST_AUTO_TEST_SUITE(gateway_cluster)

BOOST_AUTO_TEST_CASE(get_cluster_returns_the_fabric_answer_for_a_viewer) {
  gateway_fixture f;
  f.fabric.cluster_doc = sample_cluster();
  auto r = f.get("/api/v1/cluster", viewer_token);
  BOOST_TEST(r.status == 200);
  BOOST_TEST(r.header("content-type") == "application/json");
  BOOST_TEST(r.json() == sample_cluster());
  BOOST_TEST(!r.header("x-request-id").empty());
  BOOST_REQUIRE(f.fabric.call_count() == 1u);
  auto c = f.fabric.last_call();
  BOOST_TEST(c.op == "cluster_status");
  BOOST_TEST(c.ctx.who.name == "victor");
  BOOST_TEST(c.ctx.request_id == r.header("x-request-id"));
}

BOOST_AUTO_TEST_CASE(get_cluster_with_asynchronous_replies) {
  gateway_fixture f;
  f.fabric.async_replies = true;
  f.fabric.cluster_doc = sample_cluster();
  auto r = f.get("/api/v1/cluster");
  BOOST_TEST(r.status == 200);
  BOOST_TEST(r.json()["shardStates"][1]["state"] == "restoring");
  BOOST_TEST(r.json()["nodes"][0]["shards"].size() == 5u);
}

BOOST_AUTO_TEST_CASE(get_cluster_without_a_valid_token_is_401_and_never_reaches_the_fabric) {
  gateway_fixture f;
  f.fabric.cluster_doc = sample_cluster();
  auto r = http(f.port(), "GET", "/api/v1/cluster");
  BOOST_TEST(r.status == 401);
  BOOST_TEST(r.header("content-type") == "application/problem+json");
  BOOST_TEST(r.header("www-authenticate") == "Bearer realm=\"twin-fabric\"");
  BOOST_TEST(r.json()["code"] == "unauthorized");
  BOOST_TEST(r.json()["instance"] == "/api/v1/cluster");
  auto bad = f.get("/api/v1/cluster", "not-a-known-token-at-all");
  BOOST_TEST(bad.status == 401);
  BOOST_TEST(bad.json()["code"] == "unauthorized");
  BOOST_TEST(f.fabric.call_count() == 0u);
}

BOOST_AUTO_TEST_CASE(the_port_default_answers_standalone) {
  gateway_fixture f; // no cluster_doc: actors::fabric::cluster_status answers
  auto r = f.get("/api/v1/cluster", viewer_token);
  BOOST_TEST(r.status == 200);
  BOOST_TEST(r.json() == json({{"mode", "standalone"}}));
  BOOST_TEST(f.fabric.last_call().op == "cluster_status");
}

BOOST_AUTO_TEST_CASE(the_port_default_authorizes_read_first) {
  fake_fabric fab;
  actors::request_context nobody{security::principal{"mallory", {}}, "r1"};
  std::optional<expected<json>> got;
  fab.actors::fabric::cluster_status(nobody, [&](expected<json> r) { got = std::move(r); });
  BOOST_REQUIRE(got.has_value());
  BOOST_REQUIRE(!got->has_value());
  BOOST_TEST(got->error().code == errc::forbidden);

  actors::request_context viewer{
    security::principal{"victor", {security::role::viewer}}, "r2"};
  got.reset();
  fab.actors::fabric::cluster_status(viewer, [&](expected<json> r) { got = std::move(r); });
  BOOST_REQUIRE(got.has_value());
  BOOST_REQUIRE(got->has_value());
  BOOST_TEST(**got == json({{"mode", "standalone"}}));
}

BOOST_AUTO_TEST_CASE(fabric_errors_become_problem_json) {
  gateway_fixture f;
  f.fabric.respond = [](const fabric_call& c) -> expected<json> {
    if (c.op == "cluster_status")
      return make_error(errc::forbidden, "victor may not read the cluster");
    return json::object();
  };
  auto r = f.get("/api/v1/cluster", viewer_token);
  BOOST_TEST(r.status == 403);
  BOOST_TEST(r.header("content-type") == "application/problem+json");
  BOOST_TEST(r.json()["code"] == "forbidden");
  BOOST_TEST(r.json()["detail"] == "victor may not read the cluster");
  BOOST_TEST(r.json()["instance"] == "/api/v1/cluster");

  f.fabric.respond = [](const fabric_call&) -> expected<json> {
    return make_error(errc::unavailable, "cluster membership not known yet");
  };
  auto u = f.get("/api/v1/cluster");
  BOOST_TEST(u.status == 503);
  BOOST_TEST(u.json()["code"] == "unavailable");
}

BOOST_AUTO_TEST_CASE(only_get_is_allowed_and_subpaths_do_not_match) {
  gateway_fixture f;
  auto r = http(f.port(), "POST", "/api/v1/cluster", f.auth(), "{}");
  BOOST_TEST(r.status == 405);
  BOOST_TEST(r.header("allow") == "GET");
  BOOST_TEST(f.get("/api/v1/cluster/nodes").status == 404);
  BOOST_TEST(f.fabric.call_count() == 0u);
}

BOOST_AUTO_TEST_CASE(cluster_requests_are_counted_under_their_route_template) {
  gateway_fixture f;
  BOOST_TEST(f.get("/api/v1/cluster").status == 200);
  BOOST_TEST(http(f.port(), "GET", "/api/v1/cluster").status == 401);
  auto m = http(f.port(), "GET", "/metrics");
  BOOST_TEST(m.body.find(R"(http_requests_total{method="GET",route="/api/v1/cluster",status="2xx"} 1)")
             != std::string::npos);
  BOOST_TEST(m.body.find(R"(http_requests_total{method="GET",route="/api/v1/cluster",status="4xx"} 1)")
             != std::string::npos);
}

BOOST_AUTO_TEST_CASE(the_openapi_document_describes_the_cluster_route) {
  gateway_fixture f;
  auto doc = http(f.port(), "GET", "/api/v1/openapi.json").json();
  BOOST_REQUIRE(doc["paths"].contains("/api/v1/cluster"));
  auto& op = doc["paths"]["/api/v1/cluster"]["get"];
  BOOST_TEST(op["operationId"] == "clusterStatus");
  BOOST_TEST(op["responses"].contains("200"));
  BOOST_TEST(op["responses"].contains("401"));
  auto& schemas = doc["components"]["schemas"];
  BOOST_REQUIRE(schemas.contains("ClusterStatus"));
  BOOST_TEST(schemas["ClusterStatus"]["properties"]["mode"]["enum"]
             == json::array({"standalone", "cluster"}));
  BOOST_TEST(schemas["ShardState"]["properties"]["state"]["enum"]
             == json::array({"serving", "restoring", "unassigned"}));
  BOOST_TEST(schemas["ShardState"]["properties"]["lag"]["nullable"] == true);
  // The documented example has every field of the contract.
  auto& ex = schemas["ClusterStatus"]["example"];
  for (auto* k : {"mode", "nodeId", "shards", "forwarded", "nodes", "shardStates"})
    BOOST_TEST(ex.contains(k), k);
  for (auto* k : {"id", "endpoint", "http", "shards", "lastSeenMs", "alive", "self"})
    BOOST_TEST(ex["nodes"][0].contains(k), k);
  for (auto* k : {"shard", "owner", "state", "lag", "restore"})
    BOOST_TEST(ex["shardStates"][0].contains(k), k);
}

#ifdef TWINCTL_PATH
namespace {

struct run_result {
  int exit_code = -1;
  std::string out;
};

/// Runs twinctl with `args` (stdout is a pipe, so not a terminal).
run_result twinctl(const std::string& args) {
  std::string cmd = std::string(TWINCTL_PATH) + " " + args + " 2>/dev/null";
  run_result r;
  FILE* p = ::popen(cmd.c_str(), "r");
  BOOST_REQUIRE(p);
  std::array<char, 4096> buf{};
  std::size_t n;
  while ((n = std::fread(buf.data(), 1, buf.size(), p)) > 0)
    r.out.append(buf.data(), n);
  int st = ::pclose(p);
  r.exit_code = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
  return r;
}

std::string server_args(const gateway_fixture& f, const char* token = admin_token) {
  return "--server http://127.0.0.1:" + std::to_string(f.port()) + " --token " + token;
}

} // namespace

BOOST_AUTO_TEST_CASE(twinctl_cluster_status_prints_tables_once_without_a_terminal) {
  gateway_fixture f;
  f.fabric.cluster_doc = sample_cluster();
  auto r = twinctl(server_args(f, viewer_token) + " cluster status");
  BOOST_TEST(r.exit_code == 0);
  BOOST_TEST(r.out.rfind("mode: cluster  this node: node-a  shards: 16  forwarded requests: 12\n", 0) == 0,
             r.out);
  BOOST_TEST(r.out.find("node-a (self)") != std::string::npos);
  BOOST_TEST(r.out.find("0-3,7") != std::string::npos);
  BOOST_TEST(r.out.find("57% 1200/2100") != std::string::npos);
  BOOST_TEST(r.out.find("unassigned") != std::string::npos);
  // Not a terminal and no --watch: a single request, no progress bars.
  BOOST_TEST(f.fabric.call_count() == 1u);
  BOOST_TEST(r.out.find('[') == std::string::npos);
}

BOOST_AUTO_TEST_CASE(twinctl_cluster_status_json_and_standalone) {
  gateway_fixture f;
  auto s = twinctl(server_args(f) + " cluster status");
  BOOST_TEST(s.exit_code == 0);
  BOOST_TEST(s.out == "standalone node: not part of a cluster\n");
  auto j = twinctl(server_args(f) + " -o json cluster status");
  BOOST_TEST(j.exit_code == 0);
  BOOST_TEST(json::parse(j.out) == json({{"mode", "standalone"}}));
  f.fabric.cluster_doc = sample_cluster();
  auto c = twinctl(server_args(f) + " --output json cluster status");
  BOOST_TEST(c.exit_code == 0);
  BOOST_TEST(json::parse(c.out) == sample_cluster());
}

BOOST_AUTO_TEST_CASE(twinctl_cluster_status_watch_polls_until_no_shard_restores) {
  gateway_fixture f;
  std::atomic<int> polls{0};
  f.fabric.respond = [&](const fabric_call&) -> expected<json> {
    int n = polls++;
    auto doc = sample_cluster();
    auto& s3 = doc["shardStates"][1];
    if (n == 0) {
      s3["restore"] = {{"records", 500}, {"total", 2000}, {"elapsedMs", 10}};
    } else if (n == 1) {
      s3["restore"] = {{"records", 1500}, {"total", 2000}, {"elapsedMs", 510}};
    } else {
      s3["state"] = "serving";
      s3["lag"] = 0;
      s3["restore"] = {{"records", 2000}, {"total", 2000}, {"elapsedMs", 900}};
    }
    return doc;
  };
  auto r = twinctl(server_args(f) + " cluster status --watch");
  BOOST_TEST(r.exit_code == 0);
  BOOST_TEST(polls.load() == 3);
  BOOST_TEST(r.out.find("restoring 1 shard: shard 3 [############....] 75% 1500/2000\n")
               != std::string::npos, r.out);
  BOOST_TEST(r.out.find("no shard restoring\n") != std::string::npos, r.out);
  // No terminal: plain lines, no cursor movement.
  BOOST_TEST(r.out.find('\033') == std::string::npos);
}

BOOST_AUTO_TEST_CASE(twinctl_cluster_status_exit_codes) {
  gateway_fixture f;
  BOOST_TEST(twinctl(server_args(f, "not-a-known-token-at-all") + " cluster status").exit_code == 1);
  f.fabric.respond = [](const fabric_call&) -> expected<json> {
    return make_error(errc::unavailable, "not yet");
  };
  BOOST_TEST(twinctl(server_args(f) + " cluster status").exit_code == 3);
  auto port = f.port();
  f.gw->stop();
  BOOST_TEST(twinctl("--timeout 2 --server http://127.0.0.1:" + std::to_string(port)
                     + " --token x cluster status")
               .exit_code == 3);
  BOOST_TEST(twinctl("cluster").exit_code == 2);
}
#endif

BOOST_AUTO_TEST_SUITE_END()
