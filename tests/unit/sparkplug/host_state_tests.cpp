#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <string>
#include <type_traits>
#include <vector>

#include "metric_builders.hpp"
#include "twin/sparkplug/host_state.hpp"

using namespace twin::sparkplug;

namespace {

using twin::sparkplug::test::born;
using twin::sparkplug::test::by_alias;

template <class T>
std::vector<T> only(const std::vector<action>& actions) {
  std::vector<T> out;
  for (const auto& a : actions)
    if (const auto* x = std::get_if<T>(&a))
      out.push_back(*x);
  return out;
}

struct session {
  host_state host;
  std::uint64_t now = 1'700'000'000'000ULL;
  std::string node_topic(std::string_view type, std::string_view node = "gw1") {
    return "spBv1.0/plant/" + std::string{type} + "/" + std::string{node};
  }
  std::string dev_topic(std::string_view type, std::string_view dev = "pump") {
    return node_topic(type) + "/" + std::string{dev};
  }

  std::vector<action> send(const std::string& topic, std::optional<std::uint64_t> seq,
                           std::vector<metric> metrics) {
    payload p;
    p.timestamp = now;
    p.seq = seq;
    p.metrics = std::move(metrics);
    auto enc = encode_payload(p);
    BOOST_TEST_REQUIRE(enc.has_value());
    now += 10;
    return host.handle(topic, std::span<const std::uint8_t>{*enc}, now);
  }

  std::vector<action> nbirth(std::uint64_t bd_seq, std::string_view node = "gw1") {
    return send(node_topic("NBIRTH", node), 0,
                {born("bdSeq", data_type::uint64, bd_seq),
                 born("Node/Uptime", data_type::int64, std::int64_t{0}, 1)});
  }
  std::vector<action> ndeath(std::uint64_t bd_seq) {
    return send(node_topic("NDEATH"), std::nullopt, {born("bdSeq", data_type::uint64, bd_seq)});
  }
  std::vector<action> dbirth(std::uint64_t seq) {
    return send(dev_topic("DBIRTH"), seq,
                {born("Temperature", data_type::double_, 20.5, 10),
                 born("Running", data_type::boolean, true, 11),
                 born("Count", data_type::int16, std::int64_t{-3}, 12)});
  }
};

struct born_session : session {
  born_session() {
    nbirth(5);   // seq 0
    dbirth(1);   // seq 1
  }
};

std::uint64_t drops(const host_state& h, std::string_view reason) { return h.stats().get(reason); }

} // namespace

BOOST_AUTO_TEST_SUITE(sparkplug_host_state)

BOOST_FIXTURE_TEST_CASE(an_nbirth_with_bdseq_brings_the_node_online_and_applies_its_metrics, session) {
  auto acts = nbirth(5);
  auto online = only<online_action>(acts);
  BOOST_REQUIRE_EQUAL(online.size(), 1u);
  BOOST_TEST(online[0].edge_node == "gw1");
  BOOST_TEST(online[0].device.empty());
  BOOST_TEST(online[0].bd_seq == 5u);
  auto applied = only<apply_action>(acts);
  BOOST_REQUIRE_EQUAL(applied.size(), 2u);
  BOOST_TEST(applied[1].metric == "Node/Uptime");
  BOOST_TEST(applied[1].bd_seq == 5u);
  BOOST_TEST(applied[1].seq == 0);
  BOOST_TEST(host.is_online("plant", "gw1"));
  BOOST_TEST(host.bd_seq("plant", "gw1").value() == 5u);
}

BOOST_FIXTURE_TEST_CASE(a_dbirth_brings_the_device_online_and_applies_its_metrics_by_name, session) {
  nbirth(5);
  auto acts = dbirth(1);
  auto online = only<online_action>(acts);
  BOOST_REQUIRE_EQUAL(online.size(), 1u);
  BOOST_TEST(online[0].device == "pump");
  auto applied = only<apply_action>(acts);
  BOOST_REQUIRE_EQUAL(applied.size(), 3u);
  BOOST_TEST(applied[2].metric == "Count");
  BOOST_TEST(std::get<std::int64_t>(applied[2].value) == -3);
  BOOST_TEST(host.is_online("plant", "gw1", "pump"));
}

BOOST_FIXTURE_TEST_CASE(ddata_by_alias_is_resolved_to_the_birth_names_and_types, born_session) {
  auto acts = send(dev_topic("DDATA"), 2,
                   {by_alias(10, 21.25), by_alias(12, std::int64_t{-7}), by_alias(11, false)});
  auto applied = only<apply_action>(acts);
  BOOST_REQUIRE_EQUAL(applied.size(), 3u);
  BOOST_TEST(applied[0].metric == "Temperature");
  BOOST_TEST(applied[0].device == "pump");
  BOOST_TEST(std::get<double>(applied[0].value) == 21.25);
  BOOST_TEST(applied[1].metric == "Count");
  BOOST_TEST((applied[1].datatype == data_type::int16));
  BOOST_TEST(std::get<std::int64_t>(applied[1].value) == -7);
  BOOST_TEST(applied[2].metric == "Running");
  BOOST_TEST(std::get<bool>(applied[2].value) == false);
  BOOST_TEST(applied[0].seq == 2);
  BOOST_TEST(applied[0].bd_seq == 5u);
  BOOST_TEST(applied[0].timestamp == now - 10);  // the payload's timestamp
  BOOST_TEST(only<dropped_action>(acts).empty());
}

BOOST_FIXTURE_TEST_CASE(data_by_name_resolves_and_an_unknown_name_drops_the_whole_message,
                        born_session) {
  metric count;
  count.name = "Count";
  count.value = std::uint64_t{5};
  auto applied = only<apply_action>(send(dev_topic("DDATA"), 2, {count}));
  BOOST_REQUIRE_EQUAL(applied.size(), 1u);
  BOOST_TEST(applied[0].metric == "Count");
  BOOST_TEST((applied[0].datatype == data_type::int16));
  BOOST_TEST(std::get<std::int64_t>(applied[0].value) == 5);
  BOOST_TEST(host.stats().metrics_applied == 6u);  // 2 + 3 born, 1 here

  metric stranger;
  stranger.name = "Pressure";
  stranger.value = 1.0;
  auto acts = send(dev_topic("DDATA"), 3, {by_alias(10, 1.0), stranger});
  BOOST_TEST(only<apply_action>(acts).empty());
  auto dropped = only<dropped_action>(acts);
  BOOST_REQUIRE_EQUAL(dropped.size(), 1u);
  BOOST_TEST(dropped[0].reason == "unknown_metric");
  BOOST_TEST(dropped[0].detail == "metric 'Pressure' is not in the BIRTH");
  BOOST_TEST(host.stats().metrics_applied == 6u);  // nothing of the dropped message
}

BOOST_FIXTURE_TEST_CASE(applied_names_belong_to_the_host_not_to_the_message, born_session) {
  std::string topic = dev_topic("DDATA");
  payload p;
  p.timestamp = now;
  p.seq = 2;
  p.metrics = {by_alias(10, 1.0)};
  auto enc = encode_payload(p);
  BOOST_REQUIRE(enc);
  auto acts = host.handle(topic, std::span<const std::uint8_t>{*enc}, now);
  topic.assign(topic.size(), '?');
  enc->assign(enc->size(), 0);
  auto applied = only<apply_action>(acts);
  BOOST_REQUIRE_EQUAL(applied.size(), 1u);
  BOOST_TEST(applied[0].group == "plant");
  BOOST_TEST(applied[0].edge_node == "gw1");
  BOOST_TEST(applied[0].device == "pump");
  BOOST_TEST(applied[0].metric == "Temperature");
}

BOOST_FIXTURE_TEST_CASE(a_dbirth_rebinds_the_device_aliases, born_session) {
  // The device is born again with its aliases reassigned: 10 was Temperature.
  send(dev_topic("DBIRTH"), 2,
       {born("Running", data_type::boolean, true, 10),
        born("Pressure", data_type::double_, 1.5, 11)});
  auto applied =
      only<apply_action>(send(dev_topic("DDATA"), 3, {by_alias(10, false), by_alias(11, 2.5)}));
  BOOST_REQUIRE_EQUAL(applied.size(), 2u);
  BOOST_TEST(applied[0].metric == "Running");
  BOOST_TEST((applied[0].datatype == data_type::boolean));
  BOOST_TEST(applied[1].metric == "Pressure");
  BOOST_TEST(std::get<double>(applied[1].value) == 2.5);
  // Count (alias 12) is not in the new birth.
  auto gone = send(dev_topic("DDATA"), 4, {by_alias(12, std::int64_t{1})});
  BOOST_TEST(only<dropped_action>(gone).at(0).reason == "unknown_alias");
}

BOOST_FIXTURE_TEST_CASE(an_nbirth_rebinds_the_node_aliases, born_session) {
  // Alias 1 was Node/Uptime (Int64): a Double would not fit it.
  send(node_topic("NBIRTH"), 0,
       {born("bdSeq", data_type::uint64, std::uint64_t{6}),
        born("Node/Load", data_type::double_, 0.5, 1)});
  auto applied = only<apply_action>(send(node_topic("NDATA"), 1, {by_alias(1, 0.75)}));
  BOOST_REQUIRE_EQUAL(applied.size(), 1u);
  BOOST_TEST(applied[0].metric == "Node/Load");
  BOOST_TEST(applied[0].device.empty());
  BOOST_TEST(std::get<double>(applied[0].value) == 0.75);
  BOOST_TEST(applied[0].bd_seq == 6u);
}

BOOST_AUTO_TEST_CASE(a_name_view_compares_and_concatenates_like_a_string) {
  const std::string device = "pump";
  const name_view d{device};
  const name_view m{"Temperature"};
  BOOST_TEST(d == "pump");
  BOOST_TEST(d + "/" + m == "pump/Temperature");
  BOOST_TEST(std::string{"gw1/"} + d == "gw1/pump");
  BOOST_TEST("gw1/" + d == "gw1/pump");
  BOOST_TEST(d + m == "pumpTemperature");
  // A temporary string would leave the view dangling.
  static_assert(!std::is_constructible_v<name_view, std::string&&>);
  static_assert(std::is_constructible_v<name_view, const std::string&>);
}

BOOST_FIXTURE_TEST_CASE(seq_wraps_from_255_to_0_without_a_gap, born_session) {
  for (std::uint64_t seq = 2; seq <= 256; ++seq) {
    auto acts = send(node_topic("NDATA"), seq % 256, {by_alias(1, std::int64_t(seq))});
    BOOST_TEST_REQUIRE(only<apply_action>(acts).size() == 1u, "seq " << seq);
  }
  BOOST_TEST(drops(host, "seq_gap") == 0u);
  BOOST_TEST(host.stats().rebirths_requested == 0u);
}

BOOST_FIXTURE_TEST_CASE(a_seq_gap_drops_the_message_and_asks_for_a_rebirth, born_session) {
  auto acts = send(dev_topic("DDATA"), 4, {by_alias(10, 1.0)});
  BOOST_TEST(only<apply_action>(acts).empty());
  auto dropped = only<dropped_action>(acts);
  BOOST_REQUIRE_EQUAL(dropped.size(), 1u);
  BOOST_TEST(dropped[0].reason == "seq_gap");
  BOOST_TEST(dropped[0].detail == "seq 4, expected 2");
  auto rebirth = only<rebirth_action>(acts);
  BOOST_REQUIRE_EQUAL(rebirth.size(), 1u);
  BOOST_TEST(rebirth[0].edge_node == "gw1");
  BOOST_TEST(drops(host, "seq_gap") == 1u);
  // Later messages are checked against the one that showed the gap.
  BOOST_TEST(only<apply_action>(send(dev_topic("DDATA"), 5, {by_alias(10, 2.0)})).size() == 1u);
}

BOOST_FIXTURE_TEST_CASE(data_before_any_birth_is_dropped_and_asks_for_a_rebirth, born_session) {
  auto acts = send(node_topic("NDATA", "gw2"), 0, {by_alias(1, std::int64_t{1})});
  BOOST_TEST(only<dropped_action>(acts).at(0).reason == "before_birth");
  BOOST_TEST(only<rebirth_action>(acts).at(0).edge_node == "gw2");

  auto dev = send(dev_topic("DDATA", "valve"), 2, {by_alias(10, 1.0)});  // no DBIRTH for valve
  BOOST_TEST(only<dropped_action>(dev).at(0).reason == "before_birth");
  BOOST_TEST(only<rebirth_action>(dev).size() == 1u);
  BOOST_TEST(drops(host, "before_birth") == 2u);
}

BOOST_FIXTURE_TEST_CASE(an_unknown_alias_drops_the_whole_message_and_asks_for_a_rebirth, born_session) {
  auto acts = send(dev_topic("DDATA"), 2, {by_alias(10, 1.0), by_alias(99, 2.0)});
  BOOST_TEST(only<apply_action>(acts).empty());
  BOOST_TEST(only<dropped_action>(acts).at(0).reason == "unknown_alias");
  BOOST_TEST(only<rebirth_action>(acts).size() == 1u);
  BOOST_TEST(drops(host, "unknown_alias") == 1u);
}

BOOST_FIXTURE_TEST_CASE(a_value_of_the_wrong_type_is_dropped_as_a_type_mismatch, born_session) {
  auto acts = send(dev_topic("DDATA"), 2, {by_alias(11, std::string{"on"})});
  BOOST_TEST(only<dropped_action>(acts).at(0).reason == "type_mismatch");
  BOOST_TEST(drops(host, "type_mismatch") == 1u);
}

BOOST_FIXTURE_TEST_CASE(an_ndeath_with_the_current_bdseq_takes_node_and_devices_offline, born_session) {
  auto acts = ndeath(5);
  auto offline = only<offline_action>(acts);
  BOOST_REQUIRE_EQUAL(offline.size(), 2u);
  BOOST_TEST(offline[0].device.empty());
  BOOST_TEST(offline[1].device == "pump");
  BOOST_TEST(!host.is_online("plant", "gw1"));
  BOOST_TEST(!host.is_online("plant", "gw1", "pump"));
  // Data after the death needs a new birth.
  auto late = send(dev_topic("DDATA"), 2, {by_alias(10, 1.0)});
  BOOST_TEST(only<dropped_action>(late).at(0).reason == "before_birth");
}

BOOST_FIXTURE_TEST_CASE(a_stale_ndeath_with_an_old_bdseq_is_ignored_and_counted, born_session) {
  nbirth(6);  // the edge reconnected: new session, bdSeq 6
  dbirth(1);
  auto acts = ndeath(5);  // the old session's will, delivered late
  BOOST_TEST(only<offline_action>(acts).empty());
  BOOST_TEST(only<dropped_action>(acts).at(0).reason == "stale_death");
  BOOST_TEST(drops(host, "stale_death") == 1u);
  BOOST_TEST(host.is_online("plant", "gw1"));
  BOOST_TEST(host.is_online("plant", "gw1", "pump"));
  BOOST_TEST(only<offline_action>(ndeath(6)).size() == 2u);
  BOOST_TEST(!host.is_online("plant", "gw1"));
  BOOST_TEST(only<dropped_action>(ndeath(6)).at(0).reason == "stale_death");  // a duplicate
}

BOOST_FIXTURE_TEST_CASE(a_rebirth_after_a_death_brings_node_and_devices_online_again, born_session) {
  ndeath(5);
  auto acts = nbirth(6);
  BOOST_TEST(only<online_action>(acts).size() == 1u);
  BOOST_TEST(host.is_online("plant", "gw1"));
  BOOST_TEST(!host.is_online("plant", "gw1", "pump"));
  dbirth(1);
  BOOST_TEST(host.is_online("plant", "gw1", "pump"));
  BOOST_TEST(host.bd_seq("plant", "gw1").value() == 6u);
  BOOST_TEST(only<apply_action>(send(dev_topic("DDATA"), 2, {by_alias(10, 3.0)})).size() == 1u);
}

BOOST_FIXTURE_TEST_CASE(an_nbirth_of_an_online_node_invalidates_its_device_births, born_session) {
  auto acts = nbirth(6);
  auto offline = only<offline_action>(acts);
  BOOST_REQUIRE_EQUAL(offline.size(), 1u);
  BOOST_TEST(offline[0].device == "pump");
  auto late = send(dev_topic("DDATA"), 1, {by_alias(10, 1.0)});
  BOOST_TEST(only<dropped_action>(late).at(0).reason == "before_birth");
}

BOOST_FIXTURE_TEST_CASE(rebirth_requests_are_rate_limited_per_edge_node, born_session) {
  auto first = send(dev_topic("DDATA"), 9, {by_alias(10, 1.0)});
  auto second = send(dev_topic("DDATA"), 20, {by_alias(10, 1.0)});
  BOOST_TEST(only<rebirth_action>(first).size() == 1u);
  BOOST_TEST(only<rebirth_action>(second).empty());
  BOOST_TEST(host.stats().rebirths_suppressed == 1u);
  BOOST_TEST(drops(host, "seq_gap") == 2u);
  now += 10'000;
  BOOST_TEST(only<rebirth_action>(send(dev_topic("DDATA"), 40, {by_alias(10, 1.0)})).size() == 1u);
}

BOOST_FIXTURE_TEST_CASE(births_without_bdseq_or_names_are_dropped, session) {
  auto acts = send(node_topic("NBIRTH"), 0, {born("x", data_type::int32, std::int64_t{1})});
  BOOST_TEST(only<dropped_action>(acts).at(0).reason == "missing_bdseq");
  metric nameless = born("y", data_type::int32, std::int64_t{1});
  nameless.name.reset();
  acts = send(node_topic("NBIRTH"), 0, {born("bdSeq", data_type::uint64, std::uint64_t{1}), nameless});
  BOOST_TEST(only<dropped_action>(acts).at(0).reason == "bad_birth");
  BOOST_TEST(!host.is_online("plant", "gw1"));
}

BOOST_FIXTURE_TEST_CASE(a_rejected_nbirth_invalidates_the_previous_birth, born_session) {
  send(node_topic("NBIRTH"), 0, {born("x", data_type::int32, std::int64_t{1})});  // no bdSeq
  auto acts = send(node_topic("NDATA"), 1, {by_alias(1, std::int64_t{1})});
  BOOST_TEST(only<apply_action>(acts).empty());
  BOOST_TEST(only<dropped_action>(acts).at(0).reason == "before_birth");
}

BOOST_FIXTURE_TEST_CASE(bad_topics_bad_payloads_and_commands_are_dropped_and_counted, born_session) {
  const std::vector<std::uint8_t> garbage{0xff, 0xff, 0xff};
  auto acts = host.handle("spBv1.0/plant/NOPE/gw1", garbage, now);
  BOOST_TEST(only<dropped_action>(acts).at(0).reason == "bad_topic");
  acts = host.handle(dev_topic("DDATA"), garbage, now);
  BOOST_TEST(only<dropped_action>(acts).at(0).reason == "bad_payload");
  acts = host.handle(node_topic("NCMD"), garbage, now);
  BOOST_TEST(only<dropped_action>(acts).at(0).reason == "not_for_host");
  BOOST_TEST(drops(host, "bad_topic") == 1u);
  BOOST_TEST(drops(host, "bad_payload") == 1u);
  BOOST_TEST(drops(host, "not_for_host") == 1u);
  BOOST_TEST(host.stats().messages == 5u);  // 2 births + 3 here
}

BOOST_AUTO_TEST_CASE(stats_expose_a_counter_for_every_drop_reason) {
  host_state h;
  std::vector<std::string> names;
  for (const auto& [name, value] : h.stats().counters()) {
    names.emplace_back(name);
    BOOST_TEST(value == 0u);
  }
  for (const char* reason :
       {"bad_topic", "bad_payload", "bad_birth", "missing_bdseq", "missing_seq", "seq_gap",
        "before_birth", "unknown_alias", "unknown_metric", "type_mismatch", "stale_death",
        "unknown_node", "unknown_device", "not_for_host"})
    BOOST_TEST((std::find(names.begin(), names.end(), reason) != names.end()), reason);
}

BOOST_AUTO_TEST_CASE(the_ncmd_rebirth_command_decodes_to_node_control_rebirth_true) {
  auto cmd = make_rebirth_command("plant", "gw1", 1234);
  BOOST_TEST(cmd.topic == "spBv1.0/plant/NCMD/gw1");
  auto p = decode_payload(std::span<const std::uint8_t>{cmd.payload});
  BOOST_REQUIRE(p);
  BOOST_REQUIRE_EQUAL(p->metrics.size(), 1u);
  const metric& m = p->metrics[0];
  BOOST_TEST(m.name.value() == "Node Control/Rebirth");
  BOOST_TEST((m.datatype == data_type::boolean));
  BOOST_TEST(std::get<bool>(m.value) == true);
  BOOST_TEST(p->timestamp.value() == 1234u);
}

BOOST_AUTO_TEST_SUITE_END()
