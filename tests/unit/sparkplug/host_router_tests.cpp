#include <boost/test/unit_test.hpp>

#include <string>
#include <vector>

#include "twin/sparkplug/host_router.hpp"

using namespace twin::sparkplug;
using nlohmann::json;

namespace {

tag_map make_map() {
  auto m = tag_map::parse(R"({"version": "2026.11.1", "mappings": [
    {"group": "PlantA", "edgeNode": "Turbine07", "device": "BearingA", "metric": "vibrationRms",
     "twin": "bearing-a", "name": "vibrationRms"},
    {"group": "PlantA", "edgeNode": "Turbine07", "device": "BearingA", "metric": "tempF",
     "twin": "bearing-a", "name": "temperature", "scale": 0.5555555555555556,
     "offset": -17.77777777777778},
    {"group": "PlantA", "edgeNode": "Turbine07", "device": "BearingA", "metric": "speed",
     "twin": "shaft", "name": "rpm"},
    {"group": "PlantA", "edgeNode": "Turbine07", "device": "BearingB", "metric": "vibrationRms",
     "twin": "bearing-b", "name": "vibrationRms"},
    {"group": "PlantA", "edgeNode": "Turbine07", "metric": "Node/Power",
     "twin": "turbine07", "name": "power", "scale": 1000},
    {"group": "PlantA", "edgeNode": "Turbine07", "device": "BearingA", "metric": "blob",
     "twin": "bearing-a", "name": "blob"}
  ]})");
  BOOST_REQUIRE(m);
  return std::move(m).value();
}

// The names are string literals: they outlive the actions.
apply_action apply(name_view device, name_view metric, metric_value v, std::uint64_t ts,
                   bool historical = false) {
  apply_action a;
  a.group = "PlantA";
  a.edge_node = "Turbine07";
  a.device = device;
  a.metric = metric;
  a.value = std::move(v);
  a.timestamp = ts;
  a.seq = 7;
  a.bd_seq = 3;
  a.is_historical = historical;
  return a;
}

const std::string ddata = "spBv1.0/PlantA/DDATA/Turbine07/BearingA";

template <class T>
std::vector<T> ops_of(const routed_message& r) {
  std::vector<T> out;
  for (const auto& op : r.operations)
    if (const auto* x = std::get_if<T>(&op))
      out.push_back(*x);
  return out;
}

struct router_fixture {
  tag_map map = make_map();
  host_router router{map};
};

} // namespace

BOOST_AUTO_TEST_SUITE(sparkplug_host_router)

BOOST_FIXTURE_TEST_CASE(metrics_of_one_message_for_one_twin_form_one_batch_with_lineage,
                        router_fixture) {
  std::vector<action> acts{apply("BearingA", "vibrationRms", 1.25, 1000),
                           apply("BearingA", "speed", std::int64_t{1500}, 1001),
                           apply("BearingA", "tempF", 212.0, 1002)};
  auto r = router.route(ddata, std::move(acts), 5000);
  auto batches = ops_of<ingest_batch>(r);
  BOOST_REQUIRE_EQUAL(batches.size(), 2u);
  const auto& a = batches[0];
  BOOST_TEST(a.twin == "bearing-a");
  BOOST_TEST(a.values.size() == 2u);
  BOOST_TEST(a.values["vibrationRms"].get<double>() == 1.25);
  BOOST_TEST(a.values["temperature"].get<double>() == 100.0, boost::test_tools::tolerance(1e-9));
  BOOST_TEST(a.source_time_ms == 1002);
  BOOST_TEST(a.source == "spBv1.0/PlantA/Turbine07/BearingA");
  BOOST_TEST(a.pipeline_version == "tagmap/2026.11.1");
  BOOST_TEST(a.full_origin()["protocol"] == "sparkplugB");
  BOOST_TEST(a.full_origin()["group"] == "PlantA");
  BOOST_TEST(a.full_origin()["edgeNode"] == "Turbine07");
  BOOST_TEST(a.full_origin()["device"] == "BearingA");
  BOOST_TEST(a.full_origin()["messageType"] == "DDATA");
  BOOST_TEST(a.full_origin()["seq"] == 7);
  BOOST_TEST(a.full_origin()["bdSeq"] == 3);
  BOOST_TEST(a.full_origin()["metrics"]["temperature"] == "tempF");
  BOOST_TEST(!a.historical);
  BOOST_TEST(batches[1].twin == "shaft");
  BOOST_TEST(batches[1].values["rpm"].is_number_integer());
  BOOST_TEST(batches[1].values["rpm"].get<std::int64_t>() == 1500);
  BOOST_TEST(r.metrics_applied == 3u);
  BOOST_TEST(r.unmapped == 0u);
}

BOOST_FIXTURE_TEST_CASE(a_batch_is_byte_for_byte_what_the_journal_keeps, router_fixture) {
  auto r = router.route(ddata,
                        {apply("BearingA", "vibrationRms", 1.25, 1000),
                         apply("BearingA", "tempF", 212.0, 1002),
                         apply("BearingA", "speed", std::int64_t{1500}, 1001)},
                        5000);
  auto batches = ops_of<ingest_batch>(r);
  BOOST_REQUIRE_EQUAL(batches.size(), 2u);
  BOOST_TEST(batches[0].values.dump() == R"({"temperature":100.0,"vibrationRms":1.25})");
  BOOST_TEST(batches[0].full_origin().dump()
             == R"({"bdSeq":3,"device":"BearingA","edgeNode":"Turbine07","group":"PlantA",)"
                R"("historical":false,"messageType":"DDATA","metrics":{"temperature":"tempF"},)"
                R"("protocol":"sparkplugB","seq":7})");
  BOOST_TEST(batches[1].values.dump() == R"({"rpm":1500})");
  BOOST_TEST(batches[1].full_origin().dump()
             == R"({"bdSeq":3,"device":"BearingA","edgeNode":"Turbine07","group":"PlantA",)"
                R"("historical":false,"messageType":"DDATA","metrics":{"rpm":"speed"},)"
                R"("protocol":"sparkplugB","seq":7})");
  auto node = router.route("spBv1.0/PlantA/NDATA/Turbine07",
                           {apply("", "Node/Power", 2.5, 1, true)}, 5000);
  auto nb = ops_of<ingest_batch>(node);
  BOOST_REQUIRE_EQUAL(nb.size(), 1u);
  BOOST_TEST(nb[0].source == "spBv1.0/PlantA/Turbine07");
  BOOST_TEST(nb[0].full_origin().dump()
             == R"({"bdSeq":3,"device":"","edgeNode":"Turbine07","group":"PlantA",)"
                R"("historical":true,"messageType":"NDATA","metrics":{"power":"Node/Power"},)"
                R"("protocol":"sparkplugB","seq":7})");
}

BOOST_FIXTURE_TEST_CASE(a_device_shares_one_origin_base_per_message_type_and_kind,
                        router_fixture) {
  auto first = ops_of<ingest_batch>(
    router.route(ddata, {apply("BearingA", "vibrationRms", 1.0, 1000)}, 5000));
  auto again = ops_of<ingest_batch>(
    router.route(ddata, {apply("BearingA", "vibrationRms", 2.0, 1001)}, 5001));
  auto old = ops_of<ingest_batch>(
    router.route(ddata, {apply("BearingA", "vibrationRms", 0.5, 10, true)}, 5002));
  auto birth = ops_of<ingest_batch>(router.route("spBv1.0/PlantA/DBIRTH/Turbine07/BearingA",
                                                 {apply("BearingA", "vibrationRms", 3.0, 1002)},
                                                 5003));
  BOOST_REQUIRE(first.size() == 1u && again.size() == 1u && old.size() == 1u
                && birth.size() == 1u);
  BOOST_REQUIRE(first[0].origin_base);
  // Built once, referenced by every later batch of the same kind.
  BOOST_TEST(first[0].origin_base.get() == again[0].origin_base.get());
  BOOST_TEST(old[0].origin_base.get() != first[0].origin_base.get());
  BOOST_TEST(birth[0].origin_base.get() != first[0].origin_base.get());
  BOOST_TEST(old[0].full_origin()["historical"] == true);
  BOOST_TEST(birth[0].full_origin()["messageType"] == "DBIRTH");
  // Per message: only seq and bdSeq (and renamed metrics) are its own.
  BOOST_TEST(first[0].origin.dump() == R"({"bdSeq":3,"seq":7})");
}

BOOST_FIXTURE_TEST_CASE(metrics_in_another_order_than_last_time_still_find_their_mappings,
                        router_fixture) {
  // The router remembers the mapping at each position of a device's last
  // message; other orders, unmapped metrics and more metrics than the
  // device has mappings (4 for BearingA) must not pick a stale one.
  router.route(ddata,
               {apply("BearingA", "vibrationRms", 1.0, 1), apply("BearingA", "tempF", 32.0, 1),
                apply("BearingA", "speed", std::int64_t{1}, 1)},
               10);
  auto r = router.route(ddata,
                        {apply("BearingA", "tempF", 212.0, 2), apply("BearingA", "other", 1.0, 2),
                         apply("BearingA", "x", 1.0, 2), apply("BearingA", "y", 1.0, 2),
                         apply("BearingA", "z", 1.0, 2), apply("BearingA", "vibrationRms", 2.0, 2),
                         apply("BearingA", "speed", std::int64_t{3}, 2)},
                        11);
  BOOST_TEST(r.unmapped == 4u);
  auto batches = ops_of<ingest_batch>(r);
  BOOST_REQUIRE_EQUAL(batches.size(), 2u);
  BOOST_TEST(batches[0].values.dump() == R"({"temperature":100.0,"vibrationRms":2.0})");
  BOOST_TEST(batches[1].values.dump() == R"({"rpm":3})");
  // Another device at the same positions.
  r = router.route("spBv1.0/PlantA/DDATA/Turbine07/BearingB",
                   {apply("BearingB", "tempF", 1.0, 3), apply("BearingB", "vibrationRms", 4.0, 3)},
                   12);
  BOOST_TEST(r.unmapped == 1u);
  batches = ops_of<ingest_batch>(r);
  BOOST_REQUIRE_EQUAL(batches.size(), 1u);
  BOOST_TEST(batches[0].twin == "bearing-b");
  BOOST_TEST(batches[0].values.dump() == R"({"vibrationRms":4.0})");
}

BOOST_FIXTURE_TEST_CASE(equal_names_in_different_storage_are_the_same_device, router_fixture) {
  const std::string first = "BearingA", second = "BearingA";
  auto a = apply("", "vibrationRms", 1.0, 1);
  auto b = apply("", "tempF", 32.0, 2);
  a.device = first;
  b.device = second;
  auto batches = ops_of<ingest_batch>(router.route(ddata, {a, b}, 10));
  BOOST_REQUIRE_EQUAL(batches.size(), 1u);
  BOOST_TEST(batches[0].values.size() == 2u);
}

BOOST_FIXTURE_TEST_CASE(historical_metrics_come_first_in_timestamp_order_one_batch_each,
                        router_fixture) {
  std::vector<action> acts{apply("BearingA", "vibrationRms", 3.0, 3000),
                           apply("BearingA", "vibrationRms", 2.0, 200, true),
                           apply("BearingA", "tempF", 32.0, 200, true),
                           apply("BearingA", "vibrationRms", 1.0, 100, true)};
  auto r = router.route(ddata, std::move(acts), 5000);
  auto batches = ops_of<ingest_batch>(r);
  BOOST_REQUIRE_EQUAL(batches.size(), 3u);
  BOOST_TEST(batches[0].historical);
  BOOST_TEST(batches[0].source_time_ms == 100);
  BOOST_TEST(batches[0].values["vibrationRms"].get<double>() == 1.0);
  BOOST_TEST(batches[1].source_time_ms == 200);
  BOOST_TEST(batches[1].values.size() == 2u);
  BOOST_TEST(batches[1].full_origin()["historical"] == true);
  BOOST_TEST(!batches[2].historical);
  BOOST_TEST(batches[2].values["vibrationRms"].get<double>() == 3.0);
}

BOOST_FIXTURE_TEST_CASE(unmapped_metrics_are_counted_but_session_metrics_are_not,
                        router_fixture) {
  std::vector<action> acts{apply("", "bdSeq", std::uint64_t{3}, 1),
                           apply("", "Node Control/Rebirth", false, 1),
                           apply("", "Node/Power", 2.5, 1),
                           apply("", "Node/Firmware", std::string{"1.2"}, 1),
                           apply("", "Node/Serial", std::string{"x"}, 1)};
  auto r = router.route("spBv1.0/PlantA/NBIRTH/Turbine07", std::move(acts), 5000);
  BOOST_TEST(r.unmapped == 2u);
  BOOST_TEST(r.control_metrics == 2u);
  BOOST_TEST(r.first_unmapped == "PlantA/Turbine07/Node/Firmware");
  auto batches = ops_of<ingest_batch>(r);
  BOOST_REQUIRE_EQUAL(batches.size(), 1u);
  BOOST_TEST(batches[0].values["power"].get<double>() == 2500.0);
  BOOST_TEST(batches[0].source == "spBv1.0/PlantA/Turbine07");
  BOOST_TEST(batches[0].full_origin()["messageType"] == "NBIRTH");
}

BOOST_FIXTURE_TEST_CASE(null_values_are_skipped_and_bytes_dropped_as_unsupported,
                        router_fixture) {
  std::vector<action> acts{apply("BearingA", "vibrationRms", null_value{}, 1),
                           apply("BearingA", "blob", bytes{1, 2}, 1)};
  auto r = router.route(ddata, std::move(acts), 5000);
  BOOST_TEST(r.operations.empty());
  BOOST_TEST(r.null_values == 1u);
  BOOST_REQUIRE_EQUAL(r.drops.size(), 1u);
  BOOST_TEST(r.drops[0].reason == "unsupported_value");
}

BOOST_FIXTURE_TEST_CASE(deaths_take_mapped_twins_offline_and_births_bring_them_online,
                        router_fixture) {
  auto conn = [](const routed_message& r) {
    std::vector<std::pair<std::string, bool>> out;
    for (const auto& c : ops_of<connectivity_change>(r))
      out.emplace_back(c.twin, c.online);
    return out;
  };
  using v = std::vector<std::pair<std::string, bool>>;
  // NBIRTH: only the node-level twins come online.
  auto r = router.route("spBv1.0/PlantA/NBIRTH/Turbine07",
                        {online_action{"PlantA", "Turbine07", "", 3}}, 10);
  BOOST_TEST(conn(r) == (v{{"turbine07", true}}));
  BOOST_TEST(ops_of<connectivity_change>(r)[0].reason == "NBIRTH PlantA/Turbine07");
  BOOST_TEST(ops_of<connectivity_change>(r)[0].time_ms == 10);
  // DBIRTH: the device's twins.
  r = router.route("spBv1.0/PlantA/DBIRTH/Turbine07/BearingA",
                   {online_action{"PlantA", "Turbine07", "BearingA", 3}}, 11);
  BOOST_TEST(conn(r) == (v{{"bearing-a", true}, {"shaft", true}}));
  // The same state again is not reported twice.
  r = router.route("spBv1.0/PlantA/DBIRTH/Turbine07/BearingA",
                   {online_action{"PlantA", "Turbine07", "BearingA", 3}}, 12);
  BOOST_TEST(conn(r).empty());
  // DDEATH: the device's twins go offline.
  r = router.route("spBv1.0/PlantA/DDEATH/Turbine07/BearingA",
                   {offline_action{"PlantA", "Turbine07", "BearingA", 3}}, 13);
  BOOST_TEST(conn(r) == (v{{"bearing-a", false}, {"shaft", false}}));
  BOOST_TEST(ops_of<connectivity_change>(r)[0].reason == "DDEATH PlantA/Turbine07/BearingA");
  // NDEATH: every twin under the node; those already offline are not repeated.
  r = router.route("spBv1.0/PlantA/NDEATH/Turbine07",
                   {offline_action{"PlantA", "Turbine07", "BearingB", 3},
                    offline_action{"PlantA", "Turbine07", "", 3}},
                   14);
  BOOST_TEST(conn(r) == (v{{"bearing-b", false}, {"turbine07", false}}));
}

BOOST_FIXTURE_TEST_CASE(connectivity_comes_before_the_birth_values, router_fixture) {
  auto r = router.route("spBv1.0/PlantA/DBIRTH/Turbine07/BearingA",
                        {online_action{"PlantA", "Turbine07", "BearingA", 3},
                         apply("BearingA", "vibrationRms", 0.5, 1)},
                        10);
  BOOST_REQUIRE_EQUAL(r.operations.size(), 3u);
  BOOST_TEST(std::holds_alternative<connectivity_change>(r.operations[0]));
  BOOST_TEST(std::holds_alternative<connectivity_change>(r.operations[1]));
  BOOST_TEST(std::holds_alternative<ingest_batch>(r.operations[2]));
}

BOOST_FIXTURE_TEST_CASE(rebirths_and_drops_pass_through, router_fixture) {
  auto r = router.route(ddata,
                        {dropped_action{"PlantA", "Turbine07", "BearingA", "seq_gap", "9 after 7"},
                         rebirth_action{"PlantA", "Turbine07", "seq_gap"}},
                        10);
  BOOST_TEST(r.operations.empty());
  BOOST_REQUIRE_EQUAL(r.rebirths.size(), 1u);
  BOOST_TEST(r.rebirths[0].edge_node == "Turbine07");
  BOOST_REQUIRE_EQUAL(r.drops.size(), 1u);
  BOOST_TEST(r.drops[0].reason == "seq_gap");
}

BOOST_AUTO_TEST_SUITE_END()
