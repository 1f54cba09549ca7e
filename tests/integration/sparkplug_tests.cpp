// End to end on the real parts: twin-edge -> mosquitto -> twin-node (Sparkplug
// B host) -> REST. A real mosquitto on a free loopback port, the real
// twin-edge and twin-node binaries; nothing mocked.

#define BOOST_TEST_MODULE sparkplug end to end
#include <boost/test/unit_test.hpp>

#include <signal.h>

#include <fstream>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "fixture.hpp"
#include "twin/test/child_process.hpp"
#include "twin/test/mosquitto.hpp"

using namespace twin::test;
using json = nlohmann::json;

namespace {

const std::string gearbox_dtmi = "dtmi:fabric:example:GearboxBearing;1";
const std::string twin_a = "turbine01-bearing-a";
const std::string twin_b = "turbine01-bearing-b";

std::string edge_binary() {
  if (const char* e = std::getenv("TWIN_EDGE_BIN"))
    return e;
  return TWIN_EDGE_BIN;
}

/// The sample `name{labels}` (exact label text) of a Prometheus text page.
std::optional<double> labelled(const std::string& text, const std::string& series) {
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);)
    if (line.rfind(series + " ", 0) == 0)
      return std::stod(line.substr(series.size() + 1));
  return std::nullopt;
}

/// A broker, a node with the Sparkplug host on, the GearboxBearing model and
/// two active twins fed by one edge node with two devices.
struct spb_fixture {
  temp_dir dir{"twin-spb"};
  mosquitto_broker broker;
  fs::path tagmap = dir / "tagmap.json";
  std::unique_ptr<node_fixture> nf;
  std::unique_ptr<child_process> edge;
  int edge_runs = 0;

  spb_fixture() {
    broker.start();
    auto r = run_process({edge_binary(), "--tagmap-out", tagmap.string(), "--group",
                          "PlantA", "--turbines", "1", "--devices-per-turbine", "2",
                          "--tagmap-version", "it-1"});
    BOOST_REQUIRE_MESSAGE(r.exit_code == 0, "tagmap-out: " << r.err);
    nf = std::make_unique<node_fixture>(std::vector<std::string>{
      "--mqtt", broker.url(), "--tagmap", tagmap.string(), "--sparkplug-group", "PlantA"});
    auto admin = nf->admin();
    std::ifstream in(std::string{TWIN_SOURCE_DIR} + "/deploy/models/gearbox-bearing.json");
    auto model = json::parse(in);
    auto up = admin.post("/api/v1/models", json::array({model}));
    BOOST_REQUIRE_MESSAGE(up.status == 201, up.raw.body);
    for (const auto& id : {twin_a, twin_b}) {
      auto c = admin.put(twin_path(id), {{"$model", gearbox_dtmi}, {"properties", json::object()}});
      BOOST_REQUIRE_MESSAGE(c.status == 201, c.raw.body);
      nf->transition(id, "active", "commissioned");
    }
  }

  ~spb_fixture() {
    if (current_test_failed()) {
      if (edge)
        std::cerr << "--- twin-edge log ---\n" << edge->log();
      std::cerr << "--- mosquitto log ---\n" << broker.log();
    }
  }

  void start_edge(std::vector<std::string> extra = {}) {
    std::vector<std::string> argv{edge_binary(), "--mqtt", broker.url(), "--group", "PlantA",
                                  "--turbines", "1", "--devices-per-turbine", "2",
                                  "--rate", "10", "--status-interval", "2",
                                  "--client-id-prefix", "it" + std::to_string(edge_runs)};
    argv.insert(argv.end(), extra.begin(), extra.end());
    edge = std::make_unique<child_process>(
      argv, dir / ("edge-" + std::to_string(edge_runs++) + ".log"));
  }

  json twin(const std::string& id) {
    auto r = nf->admin().get(twin_path(id));
    BOOST_REQUIRE_MESSAGE(r.status == 200, r.raw.body);
    return r.body;
  }
  std::uint64_t revision(const std::string& id) {
    return twin(id).value("$revision", std::uint64_t{0});
  }
  std::string metrics() { return nf->anonymous().get("/metrics").raw.body; }
  double metric(const std::string& series) {
    return labelled(metrics(), series).value_or(-1);
  }
  /// Waits until the twin's revision grew by `n` from now.
  bool advances(const std::string& id, std::uint64_t n, std::chrono::seconds timeout = 20s) {
    auto from = revision(id);
    return wait_until([&] { return revision(id) >= from + n; }, timeout, 100ms);
  }
  std::string connectivity(const std::string& id) {
    auto t = twin(id);
    if (!t.contains("$connectivity"))
      return "";
    return t["$connectivity"].value("state", "");
  }
};

} // namespace

BOOST_FIXTURE_TEST_CASE(edge_values_reach_the_twins_with_lineage_and_history, spb_fixture) {
  start_edge();
  BOOST_REQUIRE_MESSAGE(wait_until([&] {
                          auto t = twin(twin_a);
                          return t["telemetry"].contains("vibrationRms")
                                 && t["telemetry"].contains("bandEnergyHigh");
                        },
                        30s, 100ms),
                        "no telemetry arrived: " << twin(twin_a).dump());
  BOOST_TEST(connectivity(twin_a) == "online");
  BOOST_TEST(connectivity(twin_b) == "online");
  BOOST_REQUIRE(advances(twin_a, 20));

  // Lineage names the tag map version and the Sparkplug source.
  auto lin = nf->admin().get(twin_path(twin_a) + "/lineage?property=vibrationRms");
  BOOST_REQUIRE_EQUAL(lin.status, 200);
  const auto& ev = lin.body["items"][0];
  const auto& l = ev["lineage"];
  BOOST_TEST(l["pipelineVersion"] == "tagmap/it-1");
  BOOST_TEST(l["source"]["kind"] == "sensor");
  BOOST_TEST(l["source"]["id"] == "spBv1.0/PlantA/Turbine01/Gearbox_BearingA");
  BOOST_TEST(l["origin"]["protocol"] == "sparkplugB");
  BOOST_TEST(l["origin"]["edgeNode"] == "Turbine01");
  BOOST_TEST(l["origin"]["device"] == "Gearbox_BearingA");
  BOOST_TEST(l["origin"].contains("seq"));
  BOOST_TEST(l["origin"].contains("bdSeq"));
  BOOST_TEST(ev["telemetry"]["vibrationRms"].get<double>() > 0.0);

  // Stop the edge so the history is still, then compare tiers.
  edge->stop(SIGTERM);
  std::this_thread::sleep_for(500ms);
  auto raw = nf->admin().get(twin_path(twin_a) + "/history?name=vibrationRms&resolution=raw");
  BOOST_REQUIRE_MESSAGE(raw.status == 200, raw.raw.body);
  const auto& pts = raw.body["points"];
  BOOST_TEST(pts.size() >= 20u);
  double sum = 0;
  for (std::size_t i = 0; i < pts.size(); ++i) {
    sum += pts[i]["value"].get<double>();
    if (i > 0)
      BOOST_TEST(pts[i - 1]["time"].get<std::string>() <= pts[i]["time"].get<std::string>());
  }
  auto minute = nf->admin().get(twin_path(twin_a) + "/history?name=vibrationRms&resolution=1m");
  BOOST_REQUIRE_MESSAGE(minute.status == 200, minute.raw.body);
  BOOST_TEST(minute.body["resolution"] == "1m");
  std::uint64_t count = 0;
  double weighted = 0;
  for (const auto& b : minute.body["points"]) {
    count += b["count"].get<std::uint64_t>();
    weighted += b["mean"].get<double>() * b["count"].get<double>();
    BOOST_TEST(b["min"].get<double>() <= b["max"].get<double>());
  }
  BOOST_TEST(count == pts.size());
  BOOST_TEST(weighted == sum, boost::test_tools::tolerance(1e-9));

  // twinctl history prints the same raw points.
  auto ctl = run_twinctl({"--server", nf->url(), "--token", nf->tok.viewer, "history", twin_a,
                          "vibrationRms", "--resolution", "raw", "--from", "-1h"});
  BOOST_TEST(ctl.exit_code == 0, ctl.err);
  BOOST_TEST(ctl.err.find(std::to_string(pts.size()) + " points") != std::string::npos, ctl.err);
  // An unknown name is a clear 400.
  auto bad = nf->admin().get(twin_path(twin_a) + "/history?name=nope");
  BOOST_TEST(bad.status == 400);
}

BOOST_FIXTURE_TEST_CASE(a_sequence_gap_makes_the_node_request_a_rebirth_and_recover, spb_fixture) {
  start_edge({"--skip-seq-after", "30"});
  // Wait for the gap itself: a rebirth may also have been requested earlier
  // for another reason (DATA that raced the host's subscription).
  BOOST_REQUIRE_MESSAGE(wait_until([&] { return metric("twin_sparkplug_dropped_total{reason=\"seq_gap\"}") >= 1; },
                                   30s, 100ms),
                        metrics());
  BOOST_TEST(metric("twin_sparkplug_rebirths_requested_total") >= 1);
  // The edge answers the rebirth and data flows again.
  BOOST_TEST(wait_until([&] { return edge->log().find("rebirth") != std::string::npos; }, 10s));
  BOOST_TEST(advances(twin_a, 20));
  BOOST_TEST(advances(twin_b, 20));
}

BOOST_FIXTURE_TEST_CASE(an_ungraceful_edge_disconnect_marks_the_twins_offline, spb_fixture) {
  start_edge();
  BOOST_REQUIRE(wait_until([&] { return connectivity(twin_a) == "online"; }, 30s, 100ms));
  edge->stop(SIGKILL); // the broker publishes the NDEATH will
  BOOST_TEST(wait_until([&] { return connectivity(twin_a) == "offline"
                                    && connectivity(twin_b) == "offline"; },
                        20s, 100ms),
             twin(twin_a).dump());
  BOOST_TEST(twin(twin_a)["$lifecycle"] == "active"); // not a lifecycle change
  // A new session (NBIRTH/DBIRTH) brings them back.
  start_edge();
  BOOST_TEST(wait_until([&] { return connectivity(twin_a) == "online"
                                    && connectivity(twin_b) == "online"; },
                        20s, 100ms));
  BOOST_TEST(advances(twin_a, 10));
}

BOOST_FIXTURE_TEST_CASE(data_for_a_retired_twin_raises_the_alert_and_is_not_applied, spb_fixture) {
  start_edge();
  BOOST_REQUIRE(wait_until([&] { return twin(twin_b)["telemetry"].contains("vibrationRms"); },
                           30s, 100ms));
  nf->transition(twin_b, "retired", "bearing replaced");
  auto before = twin(twin_b)["telemetry"]["vibrationRms"];
  BOOST_REQUIRE(wait_until([&] {
                  auto a = nf->admin().get("/api/v1/alerts");
                  for (const auto& item : a.body.value("items", json::array()))
                    if (item.value("twin", "") == twin_b
                        && item.value("type", "") == "twin.alert.unexpected_data")
                      return true;
                  return false;
                },
                20s, 200ms));
  BOOST_TEST(advances(twin_a, 20)); // the other twin keeps going meanwhile
  BOOST_TEST(twin(twin_b)["telemetry"]["vibrationRms"] == before);
  BOOST_TEST(metric("twin_sparkplug_ingest_failures_total{code=\"lifecycle_forbidden\"}") >= 1,
             metrics());
}

BOOST_FIXTURE_TEST_CASE(a_garbage_payload_is_counted_and_the_node_keeps_running, spb_fixture) {
  start_edge({"--publish-garbage-after", "20"});
  BOOST_REQUIRE_MESSAGE(wait_until([&] { return metric("twin_sparkplug_dropped_total{reason=\"bad_payload\"}") >= 1; },
                                   30s, 100ms),
                        metrics());
  BOOST_TEST(nf->node->running());
  BOOST_TEST(nf->anonymous().get("/healthz").status == 200);
  BOOST_TEST(advances(twin_a, 20));
}

BOOST_FIXTURE_TEST_CASE(a_broker_restart_mid_stream_is_survived, spb_fixture) {
  start_edge();
  BOOST_REQUIRE(advances(twin_a, 10, 30s));
  broker.restart();
  // Both the node and the edge reconnect; the edge re-births; data flows.
  BOOST_TEST(wait_until([&] { return metric("twin_sparkplug_reconnects_total") >= 1; }, 30s, 200ms),
             metrics());
  BOOST_TEST(advances(twin_a, 20, 30s));
  BOOST_TEST(advances(twin_b, 20, 30s));
  BOOST_TEST(metric("twin_sparkplug_connected") == 1);
}
