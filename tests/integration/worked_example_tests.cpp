// The worked example of issue 4 end to end, on the real binaries: twin-edge
// publishes bearing features over Sparkplug B -> mosquitto -> twin-node (the
// Sparkplug host updates the twin) -> the bearing-wear FMU (fmi3, in a
// twin-fmu-worker) steps and writes `wear` -> the forecast behaviour predicts
// when wear crosses 1.0 and writes `rul` -> RUL < 30 days raises
// twin.alert.rul_below_horizon -> GET /alerts, the SSE stream's webhook
// (a Boost.Beast listener here) gets it after one refused try, and
// lineage?property=rul leads back through the FMU to the Sparkplug readings.

#define BOOST_TEST_MODULE worked example
#include <boost/test/unit_test.hpp>

#include <signal.h>

#include <atomic>
#include <fstream>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <nlohmann/json.hpp>

#include "fixture.hpp"
#include "twin/test/child_process.hpp"
#include "twin/test/mosquitto.hpp"

using namespace twin::test;
using json = nlohmann::json;
namespace net = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using tcp = net::ip::tcp;

namespace {

const std::string gearbox_dtmi = "dtmi:fabric:example:GearboxBearing;1";
const std::string twin_id = "turbine01-bearing-a";

/// A webhook receiver on a loopback port: answers 503 to the first
/// `refuse_first` requests, then 200, and keeps the JSON bodies it accepted.
class hook_server {
public:
  explicit hook_server(int refuse_first) : refuse_(refuse_first) {
    acceptor_.open(tcp::v4());
    acceptor_.set_option(net::socket_base::reuse_address(true));
    acceptor_.bind({net::ip::make_address("127.0.0.1"), 0});
    acceptor_.listen();
    port_ = acceptor_.local_endpoint().port();
    thread_ = std::thread([this] { run(); });
  }
  ~hook_server() {
    stop_ = true;
    {
      std::lock_guard lk{mu_};
      if (active_ >= 0)
        ::shutdown(active_, SHUT_RDWR);
    }
    try { // wake accept()
      net::io_context io;
      tcp::socket s{io};
      s.connect({net::ip::make_address("127.0.0.1"), port_});
    } catch (...) {
    }
    thread_.join();
  }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_) + "/hooks/twin"; }
  std::vector<json> bodies() {
    std::lock_guard lk{mu_};
    return bodies_;
  }
  int requests() {
    std::lock_guard lk{mu_};
    return requests_;
  }
  std::string target() {
    std::lock_guard lk{mu_};
    return target_;
  }

private:
  void run() {
    while (!stop_) {
      tcp::socket s{io_};
      boost::system::error_code ec;
      acceptor_.accept(s, ec);
      if (ec || stop_)
        return;
      {
        std::lock_guard lk{mu_};
        active_ = s.native_handle();
      }
      serve(s);
      std::lock_guard lk{mu_};
      active_ = -1;
    }
  }
  void serve(tcp::socket& s) {
    beast::flat_buffer buf;
    for (;;) {
      bhttp::request<bhttp::string_body> req;
      boost::system::error_code ec;
      bhttp::read(s, buf, req, ec);
      if (ec)
        return;
      bool ok;
      {
        std::lock_guard lk{mu_};
        ++requests_;
        target_ = std::string(req.target());
        ok = refuse_ <= 0;
        if (!ok)
          --refuse_;
        else
          bodies_.push_back(json::parse(req.body(), nullptr, false));
      }
      bhttp::response<bhttp::string_body> res{
        ok ? bhttp::status::ok : bhttp::status::service_unavailable, req.version()};
      res.set(bhttp::field::content_type, "application/json");
      res.body() = "{}";
      res.keep_alive(req.keep_alive());
      res.prepare_payload();
      bhttp::write(s, res, ec);
      if (ec || !req.keep_alive())
        return;
    }
  }

  net::io_context io_;
  tcp::acceptor acceptor_{io_};
  unsigned short port_ = 0;
  std::thread thread_;
  std::atomic<bool> stop_{false};
  std::mutex mu_;
  int active_ = -1;
  int refuse_;
  int requests_ = 0;
  std::string target_;
  std::vector<json> bodies_;
};

std::string edge_binary() {
  if (const char* e = std::getenv("TWIN_EDGE_BIN"))
    return e;
  return TWIN_EDGE_BIN;
}

/// How many events set `name` (lineage items, up to 10000).
std::size_t item_count(api_client&& c, const std::string& name) {
  auto r = c.get(twin_path(twin_id) + "/lineage?property=" + name);
  if (r.status != 200)
    return 0;
  return r.body["items"].size();
}

/// The lineage item of `name` set at `revision` (the newest-first list).
json item_at(api_client& c, const std::string& name, std::uint64_t revision) {
  auto r = c.get(twin_path(twin_id) + "/lineage?property=" + name);
  BOOST_REQUIRE_MESSAGE(r.status == 200, r.raw.body);
  for (auto& it : r.body["items"])
    if (it.value("revision", std::uint64_t{0}) == revision)
      return it;
  return json();
}

struct worked_example {
  hook_server hook{1}; // outlives the node: its connection closes first
  temp_dir dir{"twin-worked"};
  mosquitto_broker broker;
  fs::path tagmap = dir / "tagmap.json";
  std::unique_ptr<node_fixture> nf;
  std::unique_ptr<child_process> edge;

  worked_example() {
    broker.start();
    auto r = run_process({edge_binary(), "--tagmap-out", tagmap.string(), "--group", "PlantA",
                          "--turbines", "1", "--devices-per-turbine", "1",
                          "--tagmap-version", "we-1"});
    BOOST_REQUIRE_MESSAGE(r.exit_code == 0, "tagmap-out: " << r.err);
    nf = std::make_unique<node_fixture>(std::vector<std::string>{
      "--mqtt", broker.url(), "--tagmap", tagmap.string(), "--sparkplug-group", "PlantA",
      "--fmu-dir", TWIN_FMU_DIR, "--fmu-worker", TWIN_FMU_WORKER_BIN,
      "--alert-webhook", hook.url()});
    auto admin = nf->admin();
    std::ifstream in(std::string{TWIN_SOURCE_DIR} + "/deploy/models/gearbox-bearing.json");
    auto up = admin.post("/api/v1/models", json::array({json::parse(in)}));
    BOOST_REQUIRE_MESSAGE(up.status == 201, up.raw.body);
    auto c = admin.put(twin_path(twin_id), {{"$model", gearbox_dtmi}, {"properties", json::object()}});
    BOOST_REQUIRE_MESSAGE(c.status == 201, c.raw.body);
    nf->transition(twin_id, "active", "commissioned");
  }
  ~worked_example() {
    if (current_test_failed()) {
      if (edge)
        std::cerr << "--- twin-edge log ---\n" << edge->log();
    }
  }
  json twin() {
    auto r = nf->admin().get(twin_path(twin_id));
    BOOST_REQUIRE_MESSAGE(r.status == 200, r.raw.body);
    return r.body;
  }
  std::optional<double> prop(const std::string& name) {
    auto t = twin();
    if (t["properties"].contains(name))
      return t["properties"][name]["value"].get<double>();
    return std::nullopt;
  }
};

// The FMU: bearing wear at 1000x (timeScale), inputs from the edge's
// telemetry, wear written back. ratedLoad 20 kN and initialWear 0.5 put the
// RUL at days to weeks, inside the 30-day horizon.
json fmu_spec() {
  return json{{"kind", "fmu"},
              {"model", gearbox_dtmi},
              {"fmu", "bearing-fmi3.fmu"},
              {"inputs", {{"load", "load"}, {"shaftSpeed", "shaftSpeed"}, {"temperature", "temperature"}}},
              {"outputs", {{"wear", "wear"}}},
              {"parameters", {{"ratedLoad", 20000}, {"initialWear", 0.5}}},
              {"required", {"load", "shaftSpeed", "temperature"}},
              {"step", 600},
              {"trigger", {{"on", "update"}, {"names", {"load"}}}},
              {"timeScale", 1000}};
}

json forecast_spec() {
  return json{{"kind", "forecast"}, {"model", gearbox_dtmi}, {"version", "1.0.0"},
              {"indicator", "wear"}, {"limit", 1.0},       {"output", "rul"},
              {"horizonDays", 30},   {"timeScale", 1000},  {"minPoints", 10}};
}

} // namespace

BOOST_FIXTURE_TEST_CASE(bearing_wear_fmu_forecast_rul_alert_and_lineage, worked_example) {
  auto t_start = std::chrono::steady_clock::now();
  // Attach both with twinctl (the spec is checked locally first).
  write_json_file(dir / "fmu.json", fmu_spec());
  auto a1 = run_twinctl({"--server", nf->url(), "--token", nf->tok.operator_, "behaviour", "attach",
                         twin_id, "bearing-wear", "--spec", (dir / "fmu.json").string()});
  BOOST_REQUIRE_MESSAGE(a1.exit_code == 0, a1.out << a1.err);
  auto a2 = run_twinctl({"--server", nf->url(), "--token", nf->tok.operator_, "behaviour", "attach",
                         twin_id, "rul-forecast", "--spec", forecast_spec().dump()});
  BOOST_REQUIRE_MESSAGE(a2.exit_code == 0, a2.out << a2.err);
  // A spec with a bad field is refused before it is sent, naming the field.
  auto bad = fmu_spec();
  bad["inputs"]["load"] = 42;
  auto a3 = run_twinctl({"--server", nf->url(), "--token", nf->tok.operator_, "behaviour", "attach",
                         twin_id, "broken", "--spec", bad.dump()});
  BOOST_TEST(a3.exit_code == 2);
  BOOST_TEST(a3.err.find("/inputs/load") != std::string::npos, a3.err);
  // Another model version: 409 binding_model_mismatch from the node.
  auto other = forecast_spec();
  other["model"] = "dtmi:fabric:example:GearboxBearing;2";
  auto mm = nf->operator_().put(twin_path(twin_id) + "/behaviours/other", other);
  BOOST_TEST(mm.status == 409, mm.raw.body);
  BOOST_TEST(mm.code() == "binding_model_mismatch");
  auto ls = run_twinctl({"--server", nf->url(), "--token", nf->tok.viewer, "behaviour", "list", twin_id});
  BOOST_TEST(ls.exit_code == 0);
  BOOST_TEST(ls.out.find("bearing-wear") != std::string::npos, ls.out);
  BOOST_TEST(ls.out.find("rul-forecast") != std::string::npos, ls.out);

  edge = std::make_unique<child_process>(
    std::vector<std::string>{edge_binary(), "--mqtt", broker.url(), "--group", "PlantA",
                             "--turbines", "1", "--devices-per-turbine", "1", "--rate", "10",
                             "--speedup", "1000", "--initial-wear", "0.2", "--status-interval", "5",
                             "--client-id-prefix", "we"},
    dir / "edge.log");

  // The FMU writes wear, the forecast writes rul.
  BOOST_REQUIRE_MESSAGE(wait_until([&] { return prop("rul").has_value(); }, 40s, 200ms),
                        "no rul: " << twin().dump());
  auto wear = prop("wear");
  BOOST_REQUIRE(wear);
  BOOST_TEST(*wear > 0.5);
  BOOST_TEST(*wear < 1.0);

  // Lineage: rul <- forecast of wear (names the FMU) <- wear <- FMU step
  // (name, token, sha256, step time, inputs) <- load/shaftSpeed/temperature
  // from Sparkplug.
  auto admin = nf->admin();
  auto lin = admin.get(twin_path(twin_id) + "/lineage?property=rul");
  BOOST_REQUIRE_EQUAL(lin.status, 200);
  const auto rul_ev = lin.body["items"][0];
  const auto& rl = rul_ev["lineage"];
  BOOST_TEST(rl["source"]["kind"] == "behaviour", rl.dump());
  BOOST_TEST(rl["source"]["id"] == "behaviour/rul-forecast");
  BOOST_TEST(rl["pipelineVersion"] == "ml/forecast@1.0.0");
  BOOST_TEST(rl["origin"]["fmu"]["name"] == "bearing");
  BOOST_TEST(rl["origin"]["fmu"]["sha256"].get<std::string>().size() == 64u);
  BOOST_TEST(!rl["origin"]["fmu"]["instantiationToken"].get<std::string>().empty());
  auto wear_rev = rl["origin"]["inputs"][0]["revision"].get<std::uint64_t>();
  BOOST_TEST(rl["origin"]["inputs"][0]["name"] == "wear");
  auto wear_ev = item_at(admin, "wear", wear_rev);
  BOOST_REQUIRE_MESSAGE(wear_ev.is_object(), "wear revision " << wear_rev << " not in lineage");
  const auto& wl = wear_ev["lineage"];
  BOOST_TEST(wl["source"]["id"] == "behaviour/bearing-wear");
  BOOST_TEST(wl["pipelineVersion"].get<std::string>().rfind("fmu/bearing@", 0) == 0);
  BOOST_TEST(wl["origin"]["fmu"]["sha256"] == rl["origin"]["fmu"]["sha256"]);
  BOOST_TEST(wl["origin"]["stepTime"].get<double>() > 0.0);
  BOOST_REQUIRE_EQUAL(wl["origin"]["inputs"].size(), 3u);
  for (const auto& in : wl["origin"]["inputs"]) {
    auto ev = item_at(admin, in["name"].get<std::string>(), in["revision"].get<std::uint64_t>());
    BOOST_REQUIRE_MESSAGE(ev.is_object(), "input " << in.dump() << " not in lineage");
    BOOST_TEST(ev["lineage"]["origin"]["protocol"] == "sparkplugB");
    BOOST_TEST(ev["lineage"]["source"]["id"] == "spBv1.0/PlantA/Turbine01/Gearbox_BearingA");
    BOOST_TEST(ev["lineage"]["pipelineVersion"] == "tagmap/we-1");
  }

  // RUL is below 30 days: one alert (not one per sample), in /alerts and at
  // the webhook (after one 503, retried).
  auto rul_alerts = [&] {
    std::vector<json> out;
    auto r = admin.get("/api/v1/alerts?limit=1000");
    for (const auto& a : r.body.value("items", json::array()))
      if (a.value("type", "") == "twin.alert.rul_below_horizon")
        out.push_back(a);
    return out;
  };
  BOOST_REQUIRE_MESSAGE(wait_until([&] { return !rul_alerts().empty(); }, 20s, 200ms),
                        "no rul alert; rul " << prop("rul").value_or(-1));
  auto alerts = rul_alerts();
  const auto& al = alerts[0];
  BOOST_TEST(al["twin"] == twin_id);
  BOOST_TEST((al["severity"] == "warning" || al["severity"] == "critical"));
  BOOST_TEST(al["detail"]["rulDays"].get<double>() < 30.0);
  BOOST_TEST(al["source"] == "behaviour/rul-forecast");
  BOOST_TEST(wait_until([&] {
               for (auto& b : hook.bodies())
                 if (b.value("type", "") == "twin.alert.rul_below_horizon"
                     && b["data"].value("twin", "") == twin_id)
                   return true;
               return false;
             }, 15s, 100ms),
             "webhook got " << hook.requests() << " requests");
  BOOST_TEST(hook.requests() >= 2); // the refused one and its retry
  BOOST_TEST(hook.target() == "/hooks/twin");

  // Throughput through the fabric: FMU steps written as wear per second.
  auto rev0 = twin()["properties"]["wear"]["version"].get<std::uint64_t>();
  auto n0 = item_count(nf->admin(), "wear");
  std::this_thread::sleep_for(3s);
  auto n1 = item_count(nf->admin(), "wear");
  BOOST_TEST_MESSAGE("FMU steps written through the fabric: " << (n1 - n0) / 3.0
                     << "/s (edge at 10 Hz; wear revision " << rev0 << ")");
  BOOST_TEST(n1 > n0);
  // Alerts are raised once per crossing, not on every sample.
  BOOST_TEST(rul_alerts().size() <= 2u);

  // Anomaly detection trained on the next 30 samples (declared healthy); the
  // trained model is stored with the twin, then every sample is scored.
  json anomaly{{"kind", "anomaly"}, {"model", gearbox_dtmi}, {"version", "1.0.0"},
               {"features", {"vibrationRms", "kurtosis", "crestFactor", "temperature"}},
               {"training", {{"samples", 30}}}};
  auto at = nf->operator_().put(twin_path(twin_id) + "/behaviours/bearing-anomaly", anomaly);
  BOOST_REQUIRE_MESSAGE(at.status == 200, at.raw.body);
  BOOST_REQUIRE_MESSAGE(wait_until([&] { return prop("anomalyScore").has_value(); }, 20s, 200ms),
                        "no anomalyScore: " << twin().dump());
  auto stored = twin()["$behaviours"]["bearing-anomaly"];
  BOOST_TEST(stored["trained"]["kind"] == "twin.ml.anomaly.mcd");
  BOOST_TEST(stored["trained"]["boundModel"] == gearbox_dtmi);
  BOOST_TEST(stored["trained"]["version"] == "1.0.0");
  auto al2 = admin.get(twin_path(twin_id) + "/lineage?property=anomalyScore");
  BOOST_TEST(al2.body["items"][0]["lineage"]["pipelineVersion"] == "ml/anomaly@1.0.0");
  BOOST_TEST(al2.body["items"][0]["lineage"]["origin"]["model"]["trainedSamples"] == 30);

  // The bindings survive a restart and the FMU runs again.
  edge->stop(SIGTERM);
  BOOST_REQUIRE_EQUAL(nf->node->terminate(), 0);
  nf->start();
  auto t = twin();
  BOOST_TEST(t["$behaviours"].contains("bearing-wear"));
  BOOST_TEST(t["$behaviours"].contains("rul-forecast"));
  auto before = item_count(nf->admin(), "wear");
  edge = std::make_unique<child_process>(
    std::vector<std::string>{edge_binary(), "--mqtt", broker.url(), "--group", "PlantA",
                             "--turbines", "1", "--devices-per-turbine", "1", "--rate", "10",
                             "--speedup", "1000", "--initial-wear", "0.2", "--client-id-prefix", "we2"},
    dir / "edge2.log");
  auto scores = item_count(nf->admin(), "anomalyScore");
  BOOST_TEST(wait_until([&] { return item_count(nf->admin(), "wear") > before + 5; }, 20s, 200ms));
  // The stored anomaly model is loaded back and scores without retraining.
  BOOST_TEST(wait_until([&] { return item_count(nf->admin(), "anomalyScore") > scores + 5; }, 10s,
                        200ms));
  // Detach stops it.
  auto d = run_twinctl({"--server", nf->url(), "--token", nf->tok.operator_, "behaviour", "detach",
                        twin_id, "bearing-wear"});
  BOOST_TEST(d.exit_code == 0, d.err);
  BOOST_TEST(!twin()["$behaviours"].contains("bearing-wear"));
  BOOST_TEST_MESSAGE("worked example took "
                     << std::chrono::duration_cast<std::chrono::seconds>(
                          std::chrono::steady_clock::now() - t_start).count() << " s");
}
