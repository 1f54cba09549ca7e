// The behaviour runtime on a fake fabric: the real FMUs (in-process and in
// twin-fmu-worker), the real ML models; the fabric records writes/alerts and
// lets the test play the change stream.

#include <boost/test/unit_test.hpp>

#include <cstdlib>
#include <mutex>
#include <thread>

#include <prometheus/registry.h>

#include "twin/behaviours/logic.hpp"
#include "twin/behaviours/runtime.hpp"

using namespace twin::behaviours;
using namespace std::chrono_literals;
using json = nlohmann::json;
namespace actors = twin::actors;

namespace {

const std::string dtmi = "dtmi:fabric:example:GearboxBearing;1";
const std::int64_t t0 = 1764072000000LL; // 2026-11-25T12:00:00Z

struct write_record {
  std::string twin;
  actors::device_data data;
};

class fake_fabric final : public actors::fabric {
public:
  std::mutex mu;
  std::map<std::string, json> docs;
  std::vector<write_record> writes;
  std::vector<json> alerts;
  std::vector<std::pair<std::string, json>> attaches;
  std::function<void(const json&)> stream;
  std::uint64_t revision = 100;
  bool echo_writes = true; // play each write back on the stream (feedback)
  prometheus::Registry registry;

  struct sub final : actors::subscription {};

  void emit(const std::string& twin, const std::string& type, json data) {
    std::function<void(const json&)> s;
    {
      std::lock_guard lk{mu};
      s = stream;
    }
    if (s)
      s(json{{"specversion", "1.0"}, {"type", type}, {"subject", twin}, {"data", std::move(data)}});
  }
  /// A telemetry event from a sensor.
  void telemetry(const std::string& twin, json values, std::int64_t time_ms,
                 std::string source = "spBv1.0/PlantA/Turbine01/Gearbox_BearingA",
                 json origin = json{{"protocol", "sparkplugB"}}) {
    std::uint64_t rev;
    {
      std::lock_guard lk{mu};
      rev = ++revision;
    }
    emit(twin, "twin.telemetry_received",
         json{{"revision", rev}, {"type", "telemetry_received"}, {"changes", json::object()},
              {"telemetry", std::move(values)},
              {"lineage", {{"source", {{"kind", "sensor"}, {"id", source}}},
                           {"sourceTime", format_time_ms(time_ms)}, {"origin", origin}}}});
  }

  void create_twin(const actors::request_context&, const std::string&, json, actors::reply_fn r) override {
    r(twin::make_error(twin::errc::unavailable, "fake"));
  }
  void get_twin(const actors::request_context&, const std::string& id, actors::reply_fn r) override {
    std::unique_lock lk{mu};
    auto it = docs.find(id);
    if (it == docs.end()) {
      lk.unlock();
      return r(twin::make_error(twin::errc::not_found, "no twin"));
    }
    auto d = it->second;
    lk.unlock();
    r(d);
  }
  void patch_twin(const actors::request_context&, const std::string&, json,
                  std::optional<std::uint64_t>, actors::reply_fn r) override {
    r(twin::make_error(twin::errc::unavailable, "fake"));
  }
  void ingest(const actors::request_context&, const std::string&, json, actors::reply_fn r) override {
    r(twin::make_error(twin::errc::unavailable, "fake"));
  }
  void transition(const actors::request_context&, const std::string&, json, actors::reply_fn r) override {
    r(twin::make_error(twin::errc::unavailable, "fake"));
  }
  void lineage(const actors::request_context&, const std::string&, const std::string&,
               const std::optional<std::string>&, actors::reply_fn r) override {
    r(twin::make_error(twin::errc::unavailable, "fake"));
  }
  void list_twins(const actors::request_context&, actors::list_query, actors::reply_fn r) override {
    json items = json::array();
    {
      std::lock_guard lk{mu};
      for (auto& [id, d] : docs) {
        // Like the node's index: the names of its bindings, if any.
        json item{{"$id", id}, {"$model", d["$model"]}, {"$lifecycle", "active"}};
        if (d.contains("$behaviours")) {
          json names = json::array();
          for (auto& [name, spec] : d["$behaviours"].items())
            names.push_back(name);
          item["$behaviours"] = std::move(names);
        }
        items.push_back(std::move(item));
      }
    }
    r(json{{"items", items}});
  }
  void ingest_data(const actors::request_context&, const std::string& id, actors::device_data d,
                   actors::reply_fn r) override {
    std::uint64_t rev;
    bool echo;
    {
      std::lock_guard lk{mu};
      rev = ++revision;
      writes.push_back({id, d});
      echo = echo_writes;
    }
    r(json{{"revision", rev}});
    if (echo)
      emit(id, "twin.telemetry_received",
           json{{"revision", rev}, {"changes", d.values}, {"telemetry", json::object()},
                {"lineage", {{"source", {{"kind", d.source_kind}, {"id", d.source}}},
                             {"sourceTime", format_time_ms(d.source_time_ms.value_or(0))},
                             {"pipelineVersion", d.pipeline_version}, {"origin", d.origin}}}});
  }
  void attach_behaviour(const actors::request_context&, const std::string& id, const std::string& name,
                        json spec, actors::reply_fn r) override {
    {
      std::lock_guard lk{mu};
      attaches.emplace_back(name, spec);
      docs[id]["$behaviours"][name] = spec;
    }
    r(json::object());
    emit(id, "twin.behaviour_attached", json{{"name", name}});
  }
  /// history(): points of a series keyed by name (tests fill it).
  std::map<std::string, json> series;
  std::vector<actors::history_request> history_calls;
  void history(const actors::request_context&, const std::string& id, actors::history_request q,
               actors::reply_fn r) override {
    json points;
    {
      std::lock_guard lk{mu};
      history_calls.push_back(q);
      points = series.count(q.name) ? series[q.name] : json::array();
    }
    r(json{{"twin", id}, {"name", q.name}, {"resolution", "raw"}, {"points", points}});
  }
  void raise_alert(const actors::request_context&, json alert, actors::reply_fn r) override {
    {
      std::lock_guard lk{mu};
      alerts.push_back(alert);
    }
    r(alert);
  }
  void add_models(const actors::request_context&, json, actors::reply_fn r) override {
    r(twin::make_error(twin::errc::unavailable, "fake"));
  }
  void list_models(const actors::request_context&, actors::reply_fn r) override {
    r(twin::make_error(twin::errc::unavailable, "fake"));
  }
  void get_model(const actors::request_context&, const std::string&, actors::reply_fn r) override {
    r(twin::make_error(twin::errc::unavailable, "fake"));
  }
  void delete_model(const actors::request_context&, const std::string&, actors::reply_fn r) override {
    r(twin::make_error(twin::errc::unavailable, "fake"));
  }
  void list_audit(const actors::request_context&, std::uint64_t, std::size_t, actors::reply_fn r) override {
    r(twin::make_error(twin::errc::unavailable, "fake"));
  }
  void verify_audit(const actors::request_context&, actors::reply_fn r) override {
    r(twin::make_error(twin::errc::unavailable, "fake"));
  }
  void list_alerts(const actors::request_context&, std::uint64_t, std::size_t, actors::reply_fn r) override {
    r(twin::make_error(twin::errc::unavailable, "fake"));
  }
  twin::expected<std::unique_ptr<actors::subscription>>
  subscribe(const actors::request_context&, std::function<void(const json&)> f) override {
    std::lock_guard lk{mu};
    stream = std::move(f);
    return std::unique_ptr<actors::subscription>(new sub);
  }
  json health() override { return json{{"status", "ok"}}; }
  prometheus::Registry& metrics() override { return registry; }

  std::vector<write_record> writes_of(const std::string& source) {
    std::lock_guard lk{mu};
    std::vector<write_record> out;
    for (auto& w : writes)
      if (w.data.source == source)
        out.push_back(w);
    return out;
  }
  std::vector<json> alerts_of(const std::string& type) {
    std::lock_guard lk{mu};
    std::vector<json> out;
    for (auto& a : alerts)
      if (a.value("type", "") == type)
        out.push_back(a);
    return out;
  }
};

json bearing_spec(const std::string& isolation, const std::string& file = "bearing-fmi3.fmu") {
  return json{{"kind", "fmu"},
              {"model", dtmi},
              {"fmu", file},
              {"inputs", {{"load", "load"}, {"shaftSpeed", "shaftSpeed"}, {"temperature", "temperature"}}},
              {"outputs", {{"wear", "wear"}, {"rul", "rul"}}},
              {"parameters", {{"ratedLoad", 40000}, {"initialWear", 0.5}}},
              {"step", 3600},
              {"timeScale", 1e5},
              {"isolation", isolation}};
}

json twin_doc(json behaviours, const std::string& model = dtmi) {
  return json{{"$id", "b1"}, {"$model", model}, {"$lifecycle", "active"}, {"$revision", 1},
              {"properties", json::object()}, {"telemetry", json::object()},
              {"$behaviours", std::move(behaviours)}};
}

struct runtime_fixture {
  fake_fabric fab;
  std::unique_ptr<behaviour_runtime> rt;

  void start() {
    runtime_options o;
    o.fmu_dir = TWIN_TEST_FMU_DIR;
    o.worker_executable = TWIN_TEST_FMU_WORKER;
    o.log = [](const std::string&) {};
    auto r = behaviour_runtime::start(fab, o);
    BOOST_REQUIRE_MESSAGE(r, r);
    rt = std::move(*r);
    BOOST_REQUIRE(rt->wait_loaded(10s));
  }
  void idle() { BOOST_REQUIRE(rt->wait_idle(20s)); }
  ~runtime_fixture() {
    if (rt)
      rt->stop();
  }
};

void check_fmu_binding(runtime_fixture& f, const std::string& isolation) {
  f.fab.docs["b1"] = twin_doc(json{{"wear", bearing_spec(isolation)}});
  f.start();
  BOOST_TEST(f.rt->stats().bindings == 1u);
  // Init contract: nothing happens until load, shaftSpeed and temperature
  // all have a value.
  f.fab.telemetry("b1", {{"load", 5000.0}, {"vibrationRms", 0.3}}, t0);
  f.fab.telemetry("b1", {{"shaftSpeed", 1797.0}}, t0 + 100);
  f.idle();
  BOOST_TEST(f.fab.writes_of("behaviour/wear").empty());
  f.fab.telemetry("b1", {{"temperature", 60.0}}, t0 + 200); // initializes, no step yet
  f.idle();
  BOOST_TEST(f.fab.writes_of("behaviour/wear").empty());
  for (int i = 1; i <= 10; ++i)
    f.fab.telemetry("b1", {{"load", 5000.0}, {"shaftSpeed", 1797.0}, {"temperature", 60.0}},
                    t0 + 200 + i * 100);
  f.idle();
  auto w = f.fab.writes_of("behaviour/wear");
  // One write per step; our own writes came back on the stream and did not
  // step again (no feedback loop).
  BOOST_REQUIRE_EQUAL(w.size(), 10u);
  const auto& d = w.back().data;
  BOOST_TEST(d.source_kind == "behaviour");
  BOOST_TEST(d.pipeline_version.rfind("fmu/bearing@", 0) == 0);
  BOOST_TEST(d.values["wear"].get<double>() > 0.5);
  BOOST_TEST(d.values["wear"].get<double>() < 1.0);
  BOOST_TEST(d.values["rul"].get<double>() > 0.0);
  BOOST_TEST(w.front().data.values["wear"].get<double>() < d.values["wear"].get<double>());
  BOOST_TEST(d.source_time_ms.value() == t0 + 1200);
  const auto& o = d.origin;
  BOOST_TEST(o["behaviour"] == "wear");
  BOOST_TEST(o["fmu"]["name"] == "bearing");
  BOOST_TEST(o["fmu"]["instantiationToken"].get<std::string>().size() > 10u);
  BOOST_TEST(o["fmu"]["sha256"].get<std::string>().size() == 64u);
  BOOST_TEST(o["isolation"] == isolation);
  // 100 ms of source time x 1e5 = 1e4 simulated s per update; step 3600.
  BOOST_TEST(o["steps"] == 3);
  BOOST_TEST(o["stepTime"].get<double>() == 10 * 1e4, boost::test_tools::tolerance(1e-9));
  BOOST_REQUIRE_EQUAL(o["inputs"].size(), 3u);
  for (auto& in : o["inputs"]) {
    BOOST_TEST(in["twin"] == "b1");
    BOOST_TEST(in["revision"].get<std::uint64_t>() > 100u);
  }
  BOOST_TEST(f.fab.alerts.empty());
}

} // namespace

BOOST_AUTO_TEST_SUITE(runtime)

BOOST_FIXTURE_TEST_CASE(an_fmu_in_a_worker_steps_on_updates_with_lineage, runtime_fixture) {
  check_fmu_binding(*this, "worker");
}

BOOST_FIXTURE_TEST_CASE(an_in_process_fmu_steps_the_same_way, runtime_fixture) {
  check_fmu_binding(*this, "in-process");
}

BOOST_FIXTURE_TEST_CASE(the_twin_document_primes_the_inputs, runtime_fixture) {
  auto doc = twin_doc(json{{"wear", bearing_spec("in-process")}});
  for (auto [n, v] : {std::pair{"load", 5000.0}, std::pair{"shaftSpeed", 1797.0},
                      std::pair{"temperature", 60.0}})
    doc["telemetry"][n] = json{{"value", v}, {"sourceTime", format_time_ms(t0)}, {"version", 7}};
  fab.docs["b1"] = doc;
  start();
  fab.telemetry("b1", {{"load", 5100.0}}, t0 + 1000);
  idle();
  auto w = fab.writes_of("behaviour/wear");
  BOOST_REQUIRE_EQUAL(w.size(), 1u);
  auto ins = w[0].data.origin["inputs"];
  BOOST_TEST(ins[1]["revision"] == 7); // shaftSpeed from the document
}

BOOST_FIXTURE_TEST_CASE(a_binding_for_another_model_version_is_refused, runtime_fixture) {
  fab.docs["b1"] = twin_doc(json{{"wear", bearing_spec("in-process")}},
                            "dtmi:fabric:example:GearboxBearing;2");
  start();
  BOOST_TEST(rt->stats().bindings == 0u);
  auto a = fab.alerts_of("twin.alert.behaviour_failed");
  BOOST_REQUIRE_EQUAL(a.size(), 1u);
  BOOST_TEST(a[0]["detail"]["code"] == "binding_model_mismatch");
  BOOST_TEST(a[0]["severity"] == "critical");
}

BOOST_FIXTURE_TEST_CASE(a_crashing_fmu_raises_behaviour_failed_and_is_restarted, runtime_fixture) {
  json spec{{"kind", "fmu"}, {"model", dtmi}, {"fmu", "crashing-fmi3.fmu"},
            {"inputs", json::object()}, {"outputs", {{"x", "wear"}}},
            {"parameters", {{"failAfter", 2}}}, {"step", 1.0}, {"trigger", {{"period", 0.05}}}};
  fab.echo_writes = false;
  fab.docs["b1"] = twin_doc(json{{"crash", spec}});
  start();
  BOOST_TEST(rt->stats().bindings == 1u);
  // It crashes after two steps, is restarted after 100 ms, crashes again...
  auto deadline = std::chrono::steady_clock::now() + 15s;
  while (fab.alerts_of("twin.alert.behaviour_failed").size() < 2
         && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(50ms);
  auto a = fab.alerts_of("twin.alert.behaviour_failed");
  BOOST_REQUIRE_GE(a.size(), 2u);
  BOOST_TEST(a[0]["cause"].get<std::string>().find("signal") != std::string::npos, a[0].dump());
  BOOST_TEST(a[1]["detail"]["retryInMs"].get<int>() > a[0]["detail"]["retryInMs"].get<int>());
  BOOST_TEST(fab.writes_of("behaviour/crash").size() >= 2u); // it ran between the crashes
}

BOOST_FIXTURE_TEST_CASE(forecast_writes_rul_and_alerts_once_below_the_horizon, runtime_fixture) {
  json spec{{"kind", "forecast"}, {"model", dtmi}, {"version", "1.0.0"}, {"indicator", "wear"},
            {"limit", 1.0}, {"output", "rul"}, {"horizonDays", 30}, {"minPoints", 5}};
  fab.docs["b1"] = twin_doc(json{{"rul", spec}});
  start();
  // wear rises 0.01 per day: crossing of 1.0 from 0.5 in 50 days.
  const std::int64_t day = 86'400'000;
  for (int i = 0; i <= 90; ++i) {
    double wear = 0.5 + 0.01 * i * 0.5; // every half day
    fab.telemetry("b1", {{"wear", wear}}, t0 + i * day / 2, "behaviour/wear",
                  json{{"behaviour", "wear"}, {"fmu", {{"name", "bearing"}}}});
  }
  idle();
  auto w = fab.writes_of("behaviour/rul");
  BOOST_REQUIRE_GE(w.size(), 50u);
  // First prediction after 5 points (2 days in): 48 days left.
  BOOST_TEST(w.front().data.values["rul"].get<double>() == 48.0, boost::test_tools::tolerance(1e-6));
  BOOST_TEST(w.front().data.pipeline_version == "ml/forecast@1.0.0");
  BOOST_TEST(w.front().data.origin["inputs"][0]["fmu"]["name"] == "bearing");
  auto a = fab.alerts_of("twin.alert.rul_below_horizon");
  // RUL went below 30 d (warning) and below 10 d (critical), once each.
  BOOST_REQUIRE_EQUAL(a.size(), 2u);
  BOOST_TEST(a[0]["severity"] == "warning");
  BOOST_TEST(a[0]["detail"]["rulDays"].get<double>() < 30.0);
  BOOST_TEST(a[0]["detail"]["rulDays"].get<double>() > 29.0);
  BOOST_TEST(a[1]["severity"] == "critical");
  BOOST_TEST(a[0]["twin"] == "b1");
  BOOST_TEST(a[0]["lineage"]["behaviour"] == "rul");
}

BOOST_FIXTURE_TEST_CASE(anomaly_trains_stores_its_model_and_scores, runtime_fixture) {
  json spec{{"kind", "anomaly"}, {"model", dtmi}, {"version", "1.0.0"},
            {"features", {"vibrationRms", "kurtosis"}}, {"training", {{"samples", 60}}}};
  fab.docs["b1"] = twin_doc(json{{"anomaly", spec}});
  start();
  std::uint64_t seed = 7;
  auto noise = [&] {
    seed = seed * 6364136223846793005ULL + 1442695040888963407ULL;
    return static_cast<double>((seed >> 33) % 1000) / 1000.0 - 0.5;
  };
  for (int i = 0; i < 60; ++i)
    fab.telemetry("b1", {{"vibrationRms", 0.3 + 0.02 * noise()}, {"kurtosis", 3.0 + 0.2 * noise()}},
                  t0 + i * 100);
  idle();
  {
    std::lock_guard lk{fab.mu};
    BOOST_REQUIRE_EQUAL(fab.attaches.size(), 1u);
    BOOST_TEST(fab.attaches[0].second["trained"]["kind"] == "twin.ml.anomaly.mcd");
    BOOST_TEST(fab.attaches[0].second["trained"]["boundModel"] == dtmi);
  }
  // The stored model is loaded back (behaviour_attached) and scores.
  fab.telemetry("b1", {{"vibrationRms", 0.3}, {"kurtosis", 3.0}}, t0 + 10000);
  fab.telemetry("b1", {{"vibrationRms", 0.9}, {"kurtosis", 9.0}}, t0 + 10100);
  fab.telemetry("b1", {{"vibrationRms", 0.95}, {"kurtosis", 9.5}}, t0 + 10200);
  idle();
  auto w = fab.writes_of("behaviour/anomaly");
  BOOST_REQUIRE_EQUAL(w.size(), 3u);
  BOOST_TEST(w[0].data.values["anomalyScore"].get<double>() < 3.0);
  BOOST_TEST(w[1].data.values["anomalyScore"].get<double>() > 10.0);
  auto a = fab.alerts_of("twin.alert.anomaly");
  BOOST_REQUIRE_EQUAL(a.size(), 1u); // once per crossing
  BOOST_TEST(a[0]["severity"] == "critical");
}

BOOST_FIXTURE_TEST_CASE(anomaly_trains_on_a_history_window, runtime_fixture) {
  json spec{{"kind", "anomaly"}, {"model", dtmi}, {"version", "1.0.0"},
            {"features", {"vibrationRms", "kurtosis"}},
            {"training", {{"from", "2026-11-01T00:00:00Z"}, {"to", "2026-11-08T00:00:00Z"}}}};
  std::uint64_t seed = 11;
  auto noise = [&] {
    seed = seed * 6364136223846793005ULL + 1442695040888963407ULL;
    return static_cast<double>((seed >> 33) % 1000) / 1000.0 - 0.5;
  };
  json rms = json::array(), kurt = json::array();
  for (int i = 0; i < 80; ++i) {
    auto t = format_time_ms(t0 - 86'400'000LL * 10 + i * 1000);
    rms.push_back(json{{"time", t}, {"value", 0.3 + 0.02 * noise()}});
    if (i % 10 != 3) // a gap: that sample is not complete and is left out
      kurt.push_back(json{{"time", t}, {"value", 3.0 + 0.2 * noise()}});
  }
  fab.series["vibrationRms"] = rms;
  fab.series["kurtosis"] = kurt;
  fab.docs["b1"] = twin_doc(json{{"anomaly", spec}});
  start();
  idle();
  {
    std::lock_guard lk{fab.mu};
    BOOST_REQUIRE_EQUAL(fab.history_calls.size(), 2u);
    BOOST_TEST(fab.history_calls[0].from == "2026-11-01T00:00:00Z");
    BOOST_TEST(fab.history_calls[0].resolution == "raw");
    BOOST_REQUIRE_EQUAL(fab.attaches.size(), 1u);
    BOOST_TEST(fab.attaches[0].second["trained"]["trainedSamples"] == 72);
  }
  fab.telemetry("b1", {{"vibrationRms", 0.3}, {"kurtosis", 3.0}}, t0);
  idle();
  BOOST_TEST(fab.writes_of("behaviour/anomaly").size() == 1u);
}

BOOST_FIXTURE_TEST_CASE(a_stored_model_for_another_model_version_refuses_to_run, runtime_fixture) {
  json spec{{"kind", "anomaly"}, {"model", dtmi}, {"version", "1.0.0"},
            {"features", {"vibrationRms", "kurtosis"}}, {"training", {{"samples", 60}}},
            {"trained", {{"kind", "twin.ml.anomaly.mcd"}, {"format", 1}, {"version", "1.0.0"},
                         {"boundModel", "dtmi:fabric:example:GearboxBearing;2"},
                         {"features", {"vibrationRms", "kurtosis"}}}}};
  fab.docs["b1"] = twin_doc(json{{"anomaly", spec}});
  start();
  fab.telemetry("b1", {{"vibrationRms", 0.3}, {"kurtosis", 3.0}}, t0);
  idle();
  BOOST_TEST(fab.writes_of("behaviour/anomaly").empty());
  auto a = fab.alerts_of("twin.alert.behaviour_failed");
  BOOST_REQUIRE_EQUAL(a.size(), 1u);
  BOOST_TEST(a[0]["cause"].get<std::string>().find("refuses") != std::string::npos, a[0].dump());
}

BOOST_FIXTURE_TEST_CASE(a_period_trigger_waits_while_the_twin_is_not_active, runtime_fixture) {
  auto spec = bearing_spec("in-process");
  spec["trigger"] = {{"period", 0.05}};
  auto doc = twin_doc(json{{"wear", spec}});
  doc["$lifecycle"] = "passive";
  for (auto [n, v] : {std::pair{"load", 5000.0}, std::pair{"shaftSpeed", 1797.0},
                      std::pair{"temperature", 60.0}})
    doc["telemetry"][n] = json{{"value", v}, {"sourceTime", format_time_ms(t0)}, {"version", 7}};
  fab.echo_writes = false;
  fab.docs["b1"] = doc;
  start();
  std::this_thread::sleep_for(400ms);
  BOOST_TEST(fab.writes_of("behaviour/wear").empty()); // passive: no outputs
  fab.emit("b1", "twin.lifecycle_changed", json{{"from", "passive"}, {"to", "active"}});
  auto deadline = std::chrono::steady_clock::now() + 5s;
  while (fab.writes_of("behaviour/wear").size() < 2 && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(20ms);
  BOOST_TEST(fab.writes_of("behaviour/wear").size() >= 2u);
}

BOOST_FIXTURE_TEST_CASE(detach_stops_the_behaviour, runtime_fixture) {
  fab.docs["b1"] = twin_doc(json{{"wear", bearing_spec("in-process")}});
  start();
  BOOST_TEST(rt->stats().bindings == 1u);
  fab.docs["b1"]["$behaviours"] = json::object();
  fab.emit("b1", "twin.behaviour_detached", json{{"name", "wear"}});
  idle();
  BOOST_TEST(rt->stats().bindings == 0u);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(throughput)

// Figures for the report (not a benchmark: 2 shared cores): events played
// into the runtime as fast as it takes them, each one FMU step (3 substeps)
// or one anomaly score, with the write through the (fake) fabric.
BOOST_FIXTURE_TEST_CASE(steps_and_scores_per_second, runtime_fixture) {
  json anomaly{{"kind", "anomaly"}, {"model", dtmi}, {"version", "1.0.0"},
               {"features", {"vibrationRms", "kurtosis", "crestFactor", "temperature"}},
               {"training", {{"samples", 100}}}};
  fab.echo_writes = false;
  fab.docs["b1"] = twin_doc(json{{"wear", bearing_spec("worker")}});
  fab.docs["b2"] = twin_doc(json{{"wear", bearing_spec("in-process")}});
  fab.docs["b2"]["$id"] = "b2";
  fab.docs["b3"] = twin_doc(json{{"anomaly", anomaly}});
  fab.docs["b3"]["$id"] = "b3";
  start();
  auto values = json{{"load", 5000.0}, {"shaftSpeed", 1797.0}, {"temperature", 60.0},
                     {"vibrationRms", 0.3}, {"kurtosis", 3.0}, {"crestFactor", 3.5}};
  std::uint64_t seed = 3;
  auto noise = [&] {
    seed = seed * 6364136223846793005ULL + 1442695040888963407ULL;
    return static_cast<double>((seed >> 33) % 1000) / 1000.0 - 0.5;
  };
  for (int i = 0; i < 200; ++i) { // trains b3
    auto v = values;
    v["vibrationRms"] = 0.3 + 0.02 * noise();
    v["kurtosis"] = 3.0 + 0.2 * noise();
    v["crestFactor"] = 3.5 + 0.1 * noise();
    v["temperature"] = 60.0 + noise();
    fab.telemetry("b3", v, t0 + i);
  }
  idle();
  for (const char* id : {"b1", "b2", "b3"}) {
    const int n = 2000;
    auto before = fab.writes_of(std::string{"behaviour/"} + (std::string{id} == "b3" ? "anomaly" : "wear")).size();
    auto start_t = std::chrono::steady_clock::now();
    for (int i = 1; i <= n; ++i)
      fab.telemetry(id, values, t0 + 1000 + i * 100);
    idle();
    double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_t).count();
    auto after = fab.writes_of(std::string{"behaviour/"} + (std::string{id} == "b3" ? "anomaly" : "wear")).size();
    BOOST_TEST(after - before >= static_cast<std::size_t>(n - 1));
    BOOST_TEST_MESSAGE(id << (std::string{id} == "b1"   ? " FMU in a worker"
                              : std::string{id} == "b2" ? " FMU in-process"
                                                        : " anomaly (4 features)")
                          << ": " << static_cast<long>(n / s) << " updates/s (each "
                          << (std::string{id} == "b3" ? "one score" : "3 doSteps")
                          << " + one output write)");
  }
}

BOOST_AUTO_TEST_SUITE_END()
