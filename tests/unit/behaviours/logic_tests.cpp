#include <boost/test/unit_test.hpp>

#include "twin/behaviours/logic.hpp"
#include "twin/behaviours/webhook.hpp"

using namespace twin::behaviours;
using json = nlohmann::json;

BOOST_AUTO_TEST_SUITE(logic)

BOOST_AUTO_TEST_CASE(init_contract_waits_for_every_required_input) {
  input_tracker t({"load", "shaftSpeed", "temperature"}, {"load", "shaftSpeed", "temperature"});
  BOOST_TEST(!t.ready());
  BOOST_TEST(t.observe("load", 5000.0, 3, 1000));
  BOOST_TEST(!t.observe("vibrationRms", 0.4, 3, 1000)); // not an input
  BOOST_TEST(!t.ready());
  BOOST_TEST(t.missing() == (std::vector<std::string>{"shaftSpeed", "temperature"}));
  t.observe("shaftSpeed", 1797.0, 4, 1100);
  t.observe("temperature", 0.0, 4, 1100); // a real zero counts
  BOOST_TEST(t.ready());
  BOOST_TEST(t.get("load")->revision == 3u);
  t.observe("temperature", nullptr, 5, 1200); // deleted: not ready again
  BOOST_TEST(!t.ready());
  // Optional inputs do not hold initialization back.
  input_tracker u({"a", "b"}, {"a"});
  u.observe("a", 1, 1, 1);
  BOOST_TEST(u.ready());
}

BOOST_AUTO_TEST_CASE(update_triggers_only_on_named_inputs) {
  trigger_spec t;
  t.names = {"load"};
  BOOST_TEST(triggers(t, {"temperature", "load"}));
  BOOST_TEST(!triggers(t, {"temperature"}));
  trigger_spec p;
  p.on = trigger_spec::mode::period;
  p.period_s = 1;
  BOOST_TEST(!triggers(p, {"load"}));
}

BOOST_AUTO_TEST_CASE(a_span_is_cut_into_communication_steps) {
  auto p = plan_steps(10000.0, 3600.0);
  BOOST_TEST(p.n == 3);
  BOOST_TEST(p.h == 10000.0 / 3, boost::test_tools::tolerance(1e-12));
  BOOST_TEST(plan_steps(3600.0, 3600.0).n == 1);
  BOOST_TEST(plan_steps(0.0, 1.0).n == 0);
  BOOST_TEST(plan_steps(-5.0, 1.0).n == 0);
  auto capped = plan_steps(1e9, 1.0, 100);
  BOOST_TEST(capped.n == 100);
  BOOST_TEST(capped.h == 1e7);
}

BOOST_AUTO_TEST_CASE(rul_alert_once_per_crossing_with_hysteresis) {
  level_alarm a(level_alarm::direction::falling, 30.0, 10.0, 0.1);
  BOOST_TEST(!a.update(45.0));
  BOOST_TEST(a.update(29.0).value() == "warning");
  BOOST_TEST(!a.update(28.0)); // not on every sample
  BOOST_TEST(!a.update(31.0)); // inside the hysteresis band: still raised
  BOOST_TEST(!a.update(25.0));
  BOOST_TEST(a.update(9.0).value() == "critical"); // escalates once
  BOOST_TEST(!a.update(5.0));
  BOOST_TEST(!a.update(34.0)); // above 33: re-armed
  BOOST_TEST(a.update(20.0).value() == "warning");
  BOOST_TEST(!a.update(std::nullopt)); // no crossing predicted: re-armed
  BOOST_TEST(a.update(3.0).value() == "critical"); // straight to critical
}

BOOST_AUTO_TEST_CASE(anomaly_alert_rises_once) {
  level_alarm a(level_alarm::direction::rising, 4.0, 8.0, 0.1);
  BOOST_TEST(!a.update(1.0));
  BOOST_TEST(a.update(5.0).value() == "warning");
  BOOST_TEST(!a.update(6.0));
  BOOST_TEST(!a.update(3.8)); // above 3.6
  BOOST_TEST(!a.update(3.0)); // re-armed
  BOOST_TEST(a.update(9.0).value() == "critical");
}

BOOST_AUTO_TEST_CASE(times_round_trip) {
  auto t = parse_time_ms("2026-11-25T12:00:00.123Z");
  BOOST_REQUIRE(t);
  BOOST_TEST(format_time_ms(*t) == "2026-11-25T12:00:00.123Z");
  BOOST_TEST(parse_time_ms("2026-11-25T13:00:00.123+01:00").value() == *t);
  BOOST_TEST(parse_time_ms("1764072000123").value() == 1764072000123LL);
  BOOST_TEST(!parse_time_ms("yesterday"));
}

BOOST_AUTO_TEST_CASE(event_values_merge_properties_and_telemetry) {
  json e{{"changes", {{"wear", 0.5}}}, {"telemetry", {{"load", 5000}}}};
  auto v = event_values(e);
  BOOST_TEST(v["wear"] == 0.5);
  BOOST_TEST(v["load"] == 5000);
  BOOST_TEST(event_values(json{{"type", "lifecycle_changed"}}).empty());
}

BOOST_AUTO_TEST_CASE(webhook_backoff_and_retry_policy) {
  using ms = std::chrono::milliseconds;
  BOOST_TEST(backoff_delay(1, ms{250}, ms{30000}).count() == 0);
  BOOST_TEST(backoff_delay(2, ms{250}, ms{30000}).count() == 250);
  BOOST_TEST(backoff_delay(4, ms{250}, ms{30000}).count() == 1000);
  BOOST_TEST(backoff_delay(40, ms{250}, ms{30000}).count() == 30000);
  BOOST_TEST(retryable_status(0));
  BOOST_TEST(retryable_status(503));
  BOOST_TEST(retryable_status(429));
  BOOST_TEST(!retryable_status(404));
  BOOST_TEST(!retryable_status(200));
}

BOOST_AUTO_TEST_SUITE_END()
