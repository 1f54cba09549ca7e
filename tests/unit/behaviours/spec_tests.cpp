#define BOOST_TEST_MODULE behaviours
#include <boost/test/unit_test.hpp>

#include "twin/behaviours/spec.hpp"

using namespace twin::behaviours;
using json = nlohmann::json;

namespace {

const std::string dtmi = "dtmi:fabric:example:GearboxBearing;1";

json fmu_spec() {
  return json{{"kind", "fmu"},
              {"model", dtmi},
              {"fmu", "bearing-fmi3.fmu"},
              {"inputs", {{"load", "load"}, {"shaftSpeed", "shaftSpeed"}, {"temperature", "temperature"}}},
              {"outputs", {{"wear", "wear"}}},
              {"parameters", {{"ratedLoad", 40000}}},
              {"step", 3600}};
}

/// The error path of parsing `spec` (fails the test if it parses).
std::string error_path(const json& spec, const std::string& name = "b") {
  auto r = parse_binding(name, spec);
  BOOST_REQUIRE_MESSAGE(!r, "expected an error for " << spec.dump());
  BOOST_TEST(r.error().code == twin::errc::bad_request);
  BOOST_TEST(r.error().message.find("behaviour '" + name + "'") != std::string::npos,
             r.error().message);
  return r.error().path;
}

} // namespace

BOOST_AUTO_TEST_SUITE(spec)

BOOST_AUTO_TEST_CASE(an_fmu_spec_parses_with_defaults) {
  auto r = parse_binding("wear", fmu_spec());
  BOOST_REQUIRE_MESSAGE(r, r);
  BOOST_TEST(r->kind == behaviour_kind::fmu);
  BOOST_TEST(r->model == dtmi);
  const auto* f = r->fmu();
  BOOST_REQUIRE(f);
  BOOST_TEST(f->inputs.size() == 3u);
  BOOST_TEST(f->required.size() == 3u); // default: every input
  BOOST_TEST((f->trigger.on == trigger_spec::mode::update));
  BOOST_TEST(f->trigger.names.size() == 3u);
  BOOST_TEST(f->time_scale == 1.0);
  BOOST_TEST(!f->in_process);
  BOOST_TEST(f->step_s == 3600.0);
}

BOOST_AUTO_TEST_CASE(trigger_required_and_isolation_are_read) {
  auto s = fmu_spec();
  s["required"] = {"load", "shaftSpeed"};
  s["trigger"] = {{"on", "update"}, {"names", {"load"}}};
  s["isolation"] = "in-process";
  s["timeScale"] = 1e5;
  auto r = parse_binding("wear", s);
  BOOST_REQUIRE_MESSAGE(r, r);
  BOOST_TEST(r->fmu()->required.size() == 2u);
  BOOST_TEST(r->fmu()->trigger.names == std::vector<std::string>{"load"});
  BOOST_TEST(r->fmu()->in_process);
  BOOST_TEST(r->fmu()->time_scale == 1e5);
  s["trigger"] = {{"period", 2.5}};
  auto p = parse_binding("wear", s);
  BOOST_REQUIRE_MESSAGE(p, p);
  BOOST_TEST((p->fmu()->trigger.on == trigger_spec::mode::period));
  BOOST_TEST(p->fmu()->trigger.period_s == 2.5);
}

BOOST_AUTO_TEST_CASE(errors_name_the_bad_field) {
  auto s = fmu_spec();
  s.erase("fmu");
  BOOST_TEST(error_path(s) == "/fmu");
  s = fmu_spec();
  s["fmu"] = "bearing.zip";
  BOOST_TEST(error_path(s) == "/fmu");
  s = fmu_spec();
  s["inputs"]["load"] = 3;
  BOOST_TEST(error_path(s) == "/inputs/load");
  s = fmu_spec();
  s["outputs"] = json::object();
  BOOST_TEST(error_path(s) == "/outputs");
  s = fmu_spec();
  s["required"] = {"vibrationRms"};
  BOOST_TEST(error_path(s) == "/required/0");
  s = fmu_spec();
  s["trigger"] = {{"on", "update"}, {"period", 3}};
  BOOST_TEST(error_path(s) == "/trigger");
  s = fmu_spec();
  s["trigger"] = {{"on", "update"}, {"names", {"load", "nope"}}};
  BOOST_TEST(error_path(s) == "/trigger/names/1");
  s = fmu_spec();
  s["trigger"] = {{"period", -1}};
  BOOST_TEST(error_path(s) == "/trigger/period");
  s = fmu_spec();
  s["step"] = 0;
  BOOST_TEST(error_path(s) == "/step");
  s = fmu_spec();
  s["isolation"] = "sandbox";
  BOOST_TEST(error_path(s) == "/isolation");
  s = fmu_spec();
  s["model"] = "dtmi:fabric:example:GearboxBearing";
  BOOST_TEST(error_path(s) == "/model");
  s = fmu_spec();
  s["colour"] = "red";
  BOOST_TEST(error_path(s) == "/colour");
  s = fmu_spec();
  s["kind"] = "neural";
  BOOST_TEST(error_path(s) == "/kind");
  s = fmu_spec();
  s["parameters"]["ratedLoad"] = json::array();
  BOOST_TEST(error_path(s) == "/parameters/ratedLoad");
  BOOST_TEST(error_path(json::array()) == "");
}

BOOST_AUTO_TEST_CASE(a_binding_that_reads_what_it_writes_is_refused) {
  auto s = fmu_spec();
  s["outputs"] = {{"wear", "load"}};
  BOOST_TEST(error_path(s) == "/inputs/load");
}

BOOST_AUTO_TEST_CASE(names_are_checked) {
  auto r = parse_binding("a/b", fmu_spec());
  BOOST_REQUIRE(!r);
  BOOST_TEST(r.error().rule == "behaviour-name");
  BOOST_TEST(valid_behaviour_name("bearing-wear.v1"));
  BOOST_TEST(!valid_behaviour_name(""));
  BOOST_TEST(!valid_behaviour_name(std::string(65, 'a')));
}

BOOST_AUTO_TEST_CASE(anomaly_and_forecast_specs) {
  json a{{"kind", "anomaly"}, {"model", dtmi}, {"version", "1.0.0"},
         {"features", {"vibrationRms", "kurtosis"}}, {"training", {{"samples", 50}}}};
  auto r = parse_binding("anomaly", a);
  BOOST_REQUIRE_MESSAGE(r, r);
  BOOST_TEST(r->anomaly()->training_samples == 50u);
  BOOST_TEST(r->anomaly()->output == "anomalyScore");
  BOOST_TEST(r->anomaly()->trained.is_null());
  a["training"]["samples"] = 5; // < 5 per feature
  BOOST_TEST(error_path(a) == "/training/samples");
  a["training"] = {{"from", "2026-11-01T00:00:00Z"}, {"to", 1764000000000LL}};
  BOOST_REQUIRE(parse_binding("anomaly", a));
  BOOST_TEST(parse_binding("anomaly", a)->anomaly()->training_to == "1764000000000");
  a["training"] = {{"from", "x"}, {"samples", 50}};
  BOOST_TEST(error_path(a) == "/training");
  a["training"] = {{"samples", 50}};
  a["version"] = "1.0";
  BOOST_TEST(error_path(a) == "/version");
  a["version"] = "2.1.0-rc.1";
  BOOST_TEST(bool(parse_binding("anomaly", a)));
  a["output"] = "kurtosis";
  BOOST_TEST(error_path(a) == "/output");

  json f{{"kind", "forecast"}, {"model", dtmi}, {"version", "1.0.0"}, {"indicator", "wear"},
         {"limit", 1.0}, {"output", "rul"}};
  auto g = parse_binding("rul", f);
  BOOST_REQUIRE_MESSAGE(g, g);
  BOOST_TEST(g->forecast()->horizon_days == 30.0);
  BOOST_TEST(g->forecast()->critical_days == 10.0);
  BOOST_TEST(g->forecast()->above);
  BOOST_TEST(g->forecast()->method == "linear");
  f["criticalDays"] = 40;
  BOOST_TEST(error_path(f) == "/criticalDays");
  f.erase("criticalDays");
  f["method"] = "lstm";
  BOOST_TEST(error_path(f) == "/method");
  f["method"] = "holt";
  f["window"] = 2;
  BOOST_TEST(error_path(f) == "/window");
  f.erase("window");
  f.erase("limit");
  BOOST_TEST(error_path(f) == "/limit");
}

BOOST_AUTO_TEST_CASE(a_binding_refuses_another_model_version) {
  auto r = parse_binding("wear", fmu_spec());
  BOOST_REQUIRE(r);
  BOOST_TEST(bool(check_model(*r, dtmi)));
  auto st = check_model(*r, "dtmi:fabric:example:GearboxBearing;2");
  BOOST_REQUIRE(!st);
  BOOST_TEST(st.error().code == twin::errc::binding_model_mismatch);
}

BOOST_AUTO_TEST_SUITE_END()
