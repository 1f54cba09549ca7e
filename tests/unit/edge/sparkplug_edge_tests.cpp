#include <boost/test/unit_test.hpp>

#include <cmath>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "twin/edge/fleet.hpp"
#include "twin/edge/sparkplug_edge.hpp"
#include "twin/sparkplug/host_state.hpp"

using namespace twin::edge;
namespace sp = twin::sparkplug;

namespace {

edge_node_config two_devices() {
  edge_node_config c;
  c.group = "PlantA";
  c.edge_node = "Turbine07";
  const auto metrics = device_metric_names(default_bands());
  c.devices = {{"Gearbox_BearingA", metrics}, {"Gearbox_BearingB", metrics}};
  c.node_info = {{"Node Info/Software", "twin-edge test"}};
  return c;
}

sparkplug_edge_node make_node(edge_node_config c = two_devices()) {
  auto n = sparkplug_edge_node::create(std::move(c));
  BOOST_TEST_REQUIRE(n.has_value(), n);
  return std::move(n).value();
}

std::vector<double> values_for(double base, std::size_t n) {
  std::vector<double> v;
  for (std::size_t i = 0; i < n; ++i)
    v.push_back(base + static_cast<double>(i));
  return v;
}

sp::payload decode(const sp::outgoing_message& m) {
  auto p = sp::decode_payload(std::span<const std::uint8_t>{m.payload});
  BOOST_TEST_REQUIRE(p.has_value(), p);
  return std::move(p).value();
}

// Feeds messages to a real host core and tallies what it did.
struct host_probe {
  sp::host_state host;
  std::uint64_t now = 1'800'000'000'000ULL;
  std::map<std::string, sp::metric_value> last; // "device/metric" -> value
  std::vector<sp::dropped_action> drops;
  std::vector<sp::rebirth_action> rebirths;
  std::vector<sp::online_action> online;
  std::vector<sp::offline_action> offline;

  void feed(const sp::outgoing_message& m) {
    for (auto& a : host.handle(m.topic, std::span<const std::uint8_t>{m.payload}, ++now)) {
      if (auto* x = std::get_if<sp::apply_action>(&a))
        last[x->device + "/" + x->metric] = x->value;
      else if (auto* d = std::get_if<sp::dropped_action>(&a))
        drops.push_back(*d);
      else if (auto* r = std::get_if<sp::rebirth_action>(&a))
        rebirths.push_back(*r);
      else if (auto* on = std::get_if<sp::online_action>(&a))
        online.push_back(*on);
      else if (auto* off = std::get_if<sp::offline_action>(&a))
        offline.push_back(*off);
    }
  }
  void feed(const std::vector<sp::outgoing_message>& ms) {
    for (const auto& m : ms)
      feed(m);
  }
  double value(const std::string& key) {
    BOOST_TEST_REQUIRE(last.count(key) == 1u, key);
    return std::get<double>(last.at(key));
  }
};

} // namespace

BOOST_AUTO_TEST_SUITE(sparkplug_edge)

BOOST_AUTO_TEST_CASE(first_session_has_bdseq_zero_and_will_is_ndeath) {
  auto node = make_node();
  BOOST_TEST(!node.in_session());
  auto will = node.begin_session(1000);
  BOOST_TEST(will.topic == "spBv1.0/PlantA/NDEATH/Turbine07");
  auto p = decode(will);
  BOOST_TEST(!p.seq.has_value());
  BOOST_TEST_REQUIRE(p.metrics.size() == 1u);
  BOOST_TEST(*p.metrics[0].name == "bdSeq");
  BOOST_TEST((p.metrics[0].datatype == sp::data_type::uint64));
  BOOST_TEST(std::get<std::uint64_t>(p.metrics[0].value) == 0u);
  BOOST_TEST(node.bd_seq() == 0u);
}

BOOST_AUTO_TEST_CASE(births_are_nbirth_seq0_then_dbirths_with_names_aliases_and_values) {
  auto node = make_node();
  const auto names = device_metric_names(default_bands());
  BOOST_TEST_REQUIRE(node.set_values(0, values_for(1.0, names.size())).has_value());
  (void)node.begin_session(1000);
  auto births = node.births(2000);
  BOOST_TEST_REQUIRE(births.has_value(), births);
  BOOST_TEST_REQUIRE(births->size() == 3u);
  BOOST_TEST((*births)[0].topic == "spBv1.0/PlantA/NBIRTH/Turbine07");
  BOOST_TEST((*births)[1].topic == "spBv1.0/PlantA/DBIRTH/Turbine07/Gearbox_BearingA");
  BOOST_TEST((*births)[2].topic == "spBv1.0/PlantA/DBIRTH/Turbine07/Gearbox_BearingB");

  auto nb = decode((*births)[0]);
  BOOST_TEST(*nb.seq == 0u);
  std::map<std::string, sp::metric> nm;
  for (const auto& m : nb.metrics)
    nm[*m.name] = m;
  BOOST_TEST(std::get<std::uint64_t>(nm.at("bdSeq").value) == 0u);
  BOOST_TEST((nm.at("Node Control/Rebirth").datatype == sp::data_type::boolean));
  BOOST_TEST(std::get<bool>(nm.at("Node Control/Rebirth").value) == false);
  BOOST_TEST(std::get<std::string>(nm.at("Node Info/Software").value) == "twin-edge test");

  std::set<std::uint64_t> aliases;
  for (std::size_t d = 0; d < 2; ++d) {
    auto db = decode((*births)[1 + d]);
    BOOST_TEST(*db.seq == 1u + d);
    BOOST_TEST_REQUIRE(db.metrics.size() == names.size());
    for (std::size_t i = 0; i < names.size(); ++i) {
      const auto& m = db.metrics[i];
      BOOST_TEST(*m.name == names[i]);
      BOOST_TEST((m.datatype == sp::data_type::double_));
      BOOST_TEST(*m.alias == node.alias(d, i));
      BOOST_TEST(aliases.insert(*m.alias).second); // unique per edge node
      BOOST_TEST(std::get<double>(m.value) == (d == 0 ? 1.0 + static_cast<double>(i) : 0.0));
    }
  }
}

BOOST_AUTO_TEST_CASE(ddata_uses_aliases_only_and_next_seq) {
  auto node = make_node();
  const auto n = device_metric_names(default_bands()).size();
  (void)node.begin_session(1);
  BOOST_TEST_REQUIRE(node.births(2).has_value());
  auto msg = node.data(1, values_for(5.0, n), 3);
  BOOST_TEST_REQUIRE(msg.has_value(), msg);
  BOOST_TEST(msg->topic == "spBv1.0/PlantA/DDATA/Turbine07/Gearbox_BearingB");
  auto p = decode(*msg);
  BOOST_TEST(*p.seq == 3u);
  BOOST_TEST(*p.timestamp == 3u);
  for (std::size_t i = 0; i < n; ++i) {
    BOOST_TEST(!p.metrics[i].name.has_value());
    BOOST_TEST((p.metrics[i].datatype == sp::data_type::unknown));
    BOOST_TEST(*p.metrics[i].alias == node.alias(1, i));
  }
}

BOOST_AUTO_TEST_CASE(misuse_is_an_error_not_a_message) {
  auto node = make_node();
  const auto n = device_metric_names(default_bands()).size();
  BOOST_TEST(!node.births(1).has_value());
  BOOST_TEST(!node.death(1).has_value());
  BOOST_TEST(!node.data(0, values_for(0, n), 1).has_value()); // no session
  (void)node.begin_session(1);
  BOOST_TEST(!node.data(0, values_for(0, n), 1).has_value()); // no births yet
  BOOST_TEST_REQUIRE(node.births(1).has_value());
  BOOST_TEST(!node.data(2, values_for(0, n), 1).has_value());     // no device 2
  BOOST_TEST(!node.data(0, values_for(0, n - 1), 1).has_value()); // wrong count

  auto c = two_devices();
  c.devices[1].id = "Gearbox_BearingA";
  BOOST_TEST(!sparkplug_edge_node::create(c).has_value());
  c = two_devices();
  c.edge_node = "Turbine/7";
  BOOST_TEST(!sparkplug_edge_node::create(c).has_value());
  c = two_devices();
  c.devices[0].metrics.push_back("kurtosis");
  BOOST_TEST(!sparkplug_edge_node::create(c).has_value());
  c = two_devices();
  c.node_info.push_back({"bdSeq", "x"});
  BOOST_TEST(!sparkplug_edge_node::create(c).has_value());
}

BOOST_AUTO_TEST_CASE(host_applies_a_whole_session_without_drops) {
  auto node = make_node();
  const auto n = device_metric_names(default_bands()).size();
  host_probe host;
  (void)node.begin_session(host.now);
  auto births = node.births(host.now);
  BOOST_TEST_REQUIRE(births.has_value());
  host.feed(*births);
  for (int k = 0; k < 600; ++k) { // more than 256 messages: seq wraps twice
    auto m = node.data(static_cast<std::size_t>(k % 2), values_for(k, n), host.now);
    BOOST_TEST_REQUIRE(m.has_value());
    host.feed(*m);
  }
  BOOST_TEST(host.drops.empty());
  BOOST_TEST(host.rebirths.empty());
  BOOST_TEST(host.host.is_online("PlantA", "Turbine07", "Gearbox_BearingA"));
  BOOST_TEST(host.host.is_online("PlantA", "Turbine07", "Gearbox_BearingB"));
  BOOST_TEST(host.value("Gearbox_BearingA/vibrationRms") == 598.0);
  BOOST_TEST(host.value("Gearbox_BearingB/shaftSpeed") == 599.0 + static_cast<double>(n - 1));
  BOOST_TEST(host.host.stats().metrics_applied == 3u + 2u * n + 600u * n);
}

BOOST_AUTO_TEST_CASE(seq_wraps_from_255_to_0) {
  auto node = make_node();
  const auto n = device_metric_names(default_bands()).size();
  (void)node.begin_session(1);
  BOOST_TEST_REQUIRE(node.births(1).has_value()); // seq 0, 1, 2
  std::vector<std::uint64_t> seqs;
  for (int k = 0; k < 256; ++k)
    seqs.push_back(*decode(*node.data(0, values_for(0, n), 1)).seq);
  BOOST_TEST(seqs.front() == 3u);
  BOOST_TEST(seqs[252] == 255u);
  BOOST_TEST(seqs[253] == 0u);
  BOOST_TEST(seqs.back() == 2u);
}

BOOST_AUTO_TEST_CASE(rebirth_command_restarts_seq_and_keeps_bdseq) {
  auto node = make_node();
  const auto n = device_metric_names(default_bands()).size();
  host_probe host;
  (void)node.begin_session(host.now);
  host.feed(*node.births(host.now));
  for (int k = 0; k < 10; ++k)
    host.feed(*node.data(0, values_for(k, n), host.now));

  // The host's own rebirth command, as it would arrive over MQTT.
  auto cmd = sp::make_rebirth_command("PlantA", "Turbine07", host.now);
  auto answer = node.handle_command(cmd.topic, cmd.payload, host.now);
  BOOST_TEST_REQUIRE(answer.has_value(), answer);
  BOOST_TEST_REQUIRE(answer->size() == 3u);
  auto nb = decode((*answer)[0]);
  BOOST_TEST(*nb.seq == 0u);
  BOOST_TEST(node.bd_seq() == 0u);
  for (const auto& m : nb.metrics)
    if (*m.name == "bdSeq")
      BOOST_TEST(std::get<std::uint64_t>(m.value) == 0u);
  host.feed(*answer);
  // Device values survive the rebirth: the DBIRTH carries the current ones.
  BOOST_TEST(host.value("Gearbox_BearingA/vibrationRms") == 9.0);
  host.feed(*node.data(1, values_for(42, n), host.now));
  BOOST_TEST(host.value("Gearbox_BearingB/vibrationRms") == 42.0);
  BOOST_TEST(host.drops.empty());
  BOOST_TEST(host.host.is_online("PlantA", "Turbine07", "Gearbox_BearingA"));
}

BOOST_AUTO_TEST_CASE(commands_without_rebirth_true_or_for_another_node_do_nothing) {
  auto node = make_node();
  (void)node.begin_session(1);
  BOOST_TEST_REQUIRE(node.births(1).has_value());
  sp::payload p;
  p.timestamp = 1;
  sp::metric m;
  m.name = "Node Control/Rebirth";
  m.datatype = sp::data_type::boolean;
  m.value = false;
  p.metrics.push_back(m);
  auto bytes = *sp::encode_payload(p);
  auto r = node.handle_command("spBv1.0/PlantA/NCMD/Turbine07", bytes, 1);
  BOOST_TEST_REQUIRE(r.has_value());
  BOOST_TEST(r->empty());

  auto other = sp::make_rebirth_command("PlantA", "Turbine08", 1);
  BOOST_TEST(!node.handle_command(other.topic, other.payload, 1).has_value());
  const std::vector<std::uint8_t> garbage{0xff, 0x00, 0x13};
  BOOST_TEST(!node.handle_command("spBv1.0/PlantA/NCMD/Turbine07", garbage, 1).has_value());
  BOOST_TEST(node.next_seq() == 3u); // nothing was consumed
}

BOOST_AUTO_TEST_CASE(new_session_increments_bdseq_and_host_drops_the_old_will) {
  auto node = make_node();
  const auto n = device_metric_names(default_bands()).size();
  host_probe host;
  auto will0 = node.begin_session(host.now);
  host.feed(*node.births(host.now));
  host.feed(*node.data(0, values_for(1, n), host.now));

  // Connection lost; a new session reconnects before the broker sends will0.
  auto will1 = node.begin_session(host.now);
  BOOST_TEST(node.bd_seq() == 1u);
  BOOST_TEST(std::get<std::uint64_t>(decode(will1).metrics[0].value) == 1u);
  auto births = *node.births(host.now);
  BOOST_TEST(*decode(births[0]).seq == 0u);
  host.feed(births);
  BOOST_TEST(host.host.bd_seq("PlantA", "Turbine07").value_or(99) == 1u);
  host.feed(will0); // stale: ignored
  BOOST_TEST(host.host.stats().stale_death == 1u);
  BOOST_TEST(host.host.is_online("PlantA", "Turbine07"));
  host.feed(will1); // the current session's will takes the node offline
  BOOST_TEST(!host.host.is_online("PlantA", "Turbine07"));
  BOOST_TEST(!host.host.is_online("PlantA", "Turbine07", "Gearbox_BearingB"));
  BOOST_TEST(host.drops.size() == 1u); // the stale death only
}

BOOST_AUTO_TEST_CASE(explicit_death_matches_the_session_will) {
  auto node = make_node();
  (void)node.begin_session(5);
  auto will = node.begin_session(5);
  auto death = node.death(5);
  BOOST_TEST_REQUIRE(death.has_value());
  BOOST_TEST(death->topic == will.topic);
  BOOST_TEST(death->payload == will.payload);
}

BOOST_AUTO_TEST_CASE(skipped_seq_makes_the_host_see_a_gap_and_ask_for_rebirth) {
  auto node = make_node();
  const auto n = device_metric_names(default_bands()).size();
  host_probe host;
  (void)node.begin_session(host.now);
  host.feed(*node.births(host.now));
  host.feed(*node.data(0, values_for(1, n), host.now));
  node.skip_seq();
  host.feed(*node.data(0, values_for(2, n), host.now));
  BOOST_TEST_REQUIRE(host.drops.size() == 1u);
  BOOST_TEST(host.drops[0].reason == "seq_gap");
  BOOST_TEST_REQUIRE(host.rebirths.size() == 1u);
  auto cmd = sp::make_rebirth_command("PlantA", "Turbine07", host.now);
  host.feed(*node.handle_command(cmd.topic, cmd.payload, host.now));
  host.feed(*node.data(0, values_for(3, n), host.now));
  BOOST_TEST(host.value("Gearbox_BearingA/vibrationRms") == 3.0);
  BOOST_TEST(host.drops.size() == 1u);
}

BOOST_AUTO_TEST_SUITE_END()
