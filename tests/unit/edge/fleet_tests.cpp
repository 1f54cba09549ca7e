#include <boost/test/unit_test.hpp>

#include <nlohmann/json.hpp>

#include "twin/edge/fleet.hpp"

using namespace twin::edge;

BOOST_AUTO_TEST_SUITE(fleet)

BOOST_AUTO_TEST_CASE(names_follow_the_fleet_shape) {
  BOOST_TEST(edge_node_name(7, 10) == "Turbine07");
  BOOST_TEST(edge_node_name(7, 120) == "Turbine007");
  BOOST_TEST(device_name(0) == "Gearbox_BearingA");
  BOOST_TEST(device_name(2) == "Gearbox_BearingC");
  fleet_shape s;
  s.turbines = 10;
  s.devices_per_turbine = 3;
  BOOST_TEST(*twin_id(s, 7, 0) == "turbine07-bearing-a");
  s.twin_id_pattern = "{group}-{edge_node}-{device_id}-{device:03}";
  BOOST_TEST(*twin_id(s, 7, 1) == "planta-turbine07-gearbox_bearingb-002");
  s.twin_id_pattern = "t{nope}";
  BOOST_TEST(!validate(s).has_value());
  s.twin_id_pattern = "t{turbine";
  BOOST_TEST(!validate(s).has_value());
  s = {};
  s.devices_per_turbine = 27;
  BOOST_TEST(!validate(s).has_value());
}

BOOST_AUTO_TEST_CASE(bands_parse_and_name_the_metrics) {
  auto b = parse_band("10:1000:bandEnergyLow");
  BOOST_TEST_REQUIRE(b.has_value(), b);
  BOOST_TEST(b->lo_hz == 10.0);
  BOOST_TEST(b->hi_hz == 1000.0);
  BOOST_TEST(b->name == "bandEnergyLow");
  BOOST_TEST(!parse_band("10:1000").has_value());
  BOOST_TEST(!parse_band("1000:10:x").has_value());
  BOOST_TEST(!parse_band("a:10:x").has_value());
  BOOST_TEST(!parse_band("0:10:").has_value());
  BOOST_TEST(!parse_band("0:10:has space").has_value());
  const auto names = device_metric_names(default_bands());
  const std::vector<std::string> want{"vibrationRms",  "vibrationPeak", "crestFactor",
                                      "kurtosis",      "bandEnergyLow", "bandEnergyMid",
                                      "bandEnergyHigh", "temperature",  "load",
                                      "shaftSpeed"};
  BOOST_TEST(names == want, boost::test_tools::per_element());

  features f;
  f.rms = 1;
  f.peak = 2;
  f.crest_factor = 3;
  f.kurtosis = 4;
  f.band_energy = {5, 6, 7};
  const std::vector<double> v = device_metric_values(f, 8, 9, 10);
  BOOST_TEST(v == std::vector<double>({1, 2, 3, 4, 5, 6, 7, 8, 9, 10}),
             boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(tag_map_has_one_mapping_per_device_metric) {
  fleet_shape s;
  s.turbines = 10;
  s.devices_per_turbine = 3;
  const auto metrics = device_metric_names(default_bands());
  auto text = make_tag_map(s, metrics, default_tagmap_version(s));
  BOOST_TEST_REQUIRE(text.has_value(), text);
  auto doc = nlohmann::json::parse(*text);
  BOOST_TEST(doc["version"] == "twin-edge-PlantA-10x3");
  BOOST_TEST_REQUIRE(doc["mappings"].size() == 10u * 3u * metrics.size());
  const auto& m = doc["mappings"][6 * 3 * metrics.size()]; // turbine 7, bearing A, first
  BOOST_TEST(m["group"] == "PlantA");
  BOOST_TEST(m["edgeNode"] == "Turbine07");
  BOOST_TEST(m["device"] == "Gearbox_BearingA");
  BOOST_TEST(m["metric"] == "vibrationRms");
  BOOST_TEST(m["twin"] == "turbine07-bearing-a");
  BOOST_TEST(m["name"] == "vibrationRms");
  BOOST_TEST(m["scale"].get<double>() == 1.0);
  BOOST_TEST(m["offset"].get<double>() == 0.0);
}

BOOST_AUTO_TEST_SUITE_END()
