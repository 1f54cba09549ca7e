#include <boost/test/unit_test.hpp>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <limits>
#include <string>
#include <unistd.h>

#include "twin/sparkplug/tag_map.hpp"

using namespace twin::sparkplug;
using nlohmann::json;

namespace {

json example() {
  return json::parse(R"({"version": "2026.11.1", "mappings": [
    {"group": "PlantA", "edgeNode": "Turbine07", "device": "Gearbox_BearingA",
     "metric": "vibrationRms", "twin": "turbine07-bearing-a", "name": "vibrationRms",
     "scale": 1.0, "offset": 0.0},
    {"group": "PlantA", "edgeNode": "Turbine07", "device": "Gearbox_BearingA",
     "metric": "tempF", "twin": "turbine07-bearing-a", "name": "temperature",
     "scale": 0.5555555555555556, "offset": -17.77777777777778},
    {"group": "PlantA", "edgeNode": "Turbine07", "device": "Gearbox_BearingB",
     "metric": "vibrationRms", "twin": "turbine07-bearing-b", "name": "vibrationRms"},
    {"group": "PlantA", "edgeNode": "Turbine07", "metric": "Node/Power",
     "twin": "turbine07", "name": "power", "scale": 1000},
    {"group": "PlantA", "edgeNode": "Turbine08", "device": "", "metric": "Node/Power",
     "twin": "turbine08", "name": "power"}
  ]})");
}

twin::error error_of(const json& doc) {
  auto r = tag_map::from_json(doc);
  BOOST_REQUIRE(!r);
  return r.error();
}

tag_mapping identity() {
  return tag_mapping{"g", "e", "d", "m", "t", "n", 1.0, 0.0};
}

} // namespace

BOOST_AUTO_TEST_SUITE(sparkplug_tag_map)

BOOST_AUTO_TEST_CASE(the_issue_example_parses_with_its_version_and_defaults) {
  auto m = tag_map::from_json(example());
  BOOST_TEST_REQUIRE(m.has_value(), m);
  BOOST_TEST(m->version() == "2026.11.1");
  BOOST_TEST(m->size() == 5u);
  const auto* b = m->find("PlantA", "Turbine07", "Gearbox_BearingB", "vibrationRms");
  BOOST_REQUIRE(b);
  BOOST_TEST(b->twin == "turbine07-bearing-b");
  BOOST_TEST(b->scale == 1.0);
  BOOST_TEST(b->offset == 0.0);
  BOOST_TEST(b->is_identity());
  const auto* p = m->find("PlantA", "Turbine07", "", "Node/Power");
  BOOST_REQUIRE(p);
  BOOST_TEST(p->scale == 1000.0);
  BOOST_TEST(p->device.empty());
}

BOOST_AUTO_TEST_CASE(lookup_matches_all_four_parts_exactly) {
  auto m = tag_map::from_json(example());
  BOOST_REQUIRE(m);
  BOOST_TEST(m->find("PlantA", "Turbine07", "Gearbox_BearingA", "vibrationRms"));
  BOOST_TEST(!m->find("PlantB", "Turbine07", "Gearbox_BearingA", "vibrationRms"));
  BOOST_TEST(!m->find("PlantA", "Turbine08", "Gearbox_BearingA", "vibrationRms"));
  BOOST_TEST(!m->find("PlantA", "Turbine07", "", "vibrationRms"));
  BOOST_TEST(!m->find("PlantA", "Turbine07", "Gearbox_BearingA", "vibrationrms"));
  // Parts do not run into each other.
  BOOST_TEST(!m->find("PlantA", "Turbine07Gearbox_BearingA", "", "vibrationRms"));
  // string_view keys that are not NUL-terminated
  std::string buf = "PlantAxx";
  BOOST_TEST(m->find(std::string_view(buf).substr(0, 6), "Turbine07", "", "Node/Power"));
}

BOOST_AUTO_TEST_CASE(a_device_index_finds_what_the_four_part_lookup_finds) {
  auto m = tag_map::from_json(example());
  BOOST_REQUIRE(m);
  const auto* a = m->find_device("PlantA", "Turbine07", "Gearbox_BearingA");
  BOOST_REQUIRE(a);
  BOOST_TEST(a->size() == 2u);
  const auto* temp = m->find(*a, "tempF");
  BOOST_REQUIRE(temp);
  BOOST_TEST(temp == m->find("PlantA", "Turbine07", "Gearbox_BearingA", "tempF"));
  BOOST_TEST(temp->name == "temperature");
  BOOST_TEST(!m->find(*a, "Node/Power")); // another device's (the node's) metric
  const auto* node = m->find_device("PlantA", "Turbine07", "");
  BOOST_REQUIRE(node);
  BOOST_TEST(m->find(*node, "Node/Power")->twin == "turbine07");
  BOOST_TEST(!m->find(*node, "vibrationRms"));
  BOOST_TEST(!m->find_device("PlantA", "Turbine07", "Gearbox_BearingC"));
  BOOST_TEST(!m->find_device("PlantA", "Turbine07Gearbox_BearingA", ""));
  // A copy answers from its own mappings.
  tag_map copy = *m;
  const auto* ca = copy.find_device("PlantA", "Turbine07", "Gearbox_BearingA");
  BOOST_REQUIRE(ca);
  BOOST_TEST(copy.find(*ca, "tempF") == copy.find("PlantA", "Turbine07", "Gearbox_BearingA", "tempF"));
}

BOOST_AUTO_TEST_CASE(twins_of_a_device_an_edge_node_and_its_node_level_metrics) {
  auto m = tag_map::from_json(example());
  BOOST_REQUIRE(m);
  using v = std::vector<std::string>;
  BOOST_TEST(m->twins_of("PlantA", "Turbine07", "Gearbox_BearingA") == v{"turbine07-bearing-a"});
  BOOST_TEST(m->twins_of("PlantA", "Turbine07")
             == (v{"turbine07", "turbine07-bearing-a", "turbine07-bearing-b"}));
  BOOST_TEST(m->node_level_twins("PlantA", "Turbine07") == v{"turbine07"});
  BOOST_TEST(m->twins_of("PlantA", "Turbine08") == v{"turbine08"});
  BOOST_TEST(m->twins_of("PlantA", "Turbine09").empty());
  BOOST_TEST(m->twins_of("PlantA", "Turbine07", "NoSuchDevice").empty());
  BOOST_TEST(m->node_level_twins("PlantA", "Turbine09").empty());
}

BOOST_AUTO_TEST_CASE(a_missing_twin_is_named_with_its_index_and_pointer) {
  auto doc = example();
  doc["mappings"][2].erase("twin");
  auto e = error_of(doc);
  BOOST_TEST((e.code == twin::errc::bad_request));
  BOOST_TEST(e.message == "mappings[2].twin: missing");
  BOOST_TEST(e.path == "/mappings/2/twin");
}

BOOST_AUTO_TEST_CASE(a_duplicate_key_names_both_mappings) {
  auto doc = example();
  auto dup = doc["mappings"][0];
  dup["twin"] = "other";
  doc["mappings"].push_back(dup);
  auto e = error_of(doc);
  BOOST_TEST(e.message
             == "mappings[5]: duplicate of mappings[0] (PlantA/Turbine07/Gearbox_BearingA/vibrationRms)");
  // Absent and empty device are the same key.
  doc = example();
  auto node = doc["mappings"][4];
  node.erase("device");
  doc["mappings"].push_back(node);
  BOOST_TEST(error_of(doc).message.find("duplicate of mappings[4]") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(non_finite_or_zero_scale_and_wrong_types_are_rejected) {
  auto doc = example();
  doc["mappings"][1]["scale"] = std::numeric_limits<double>::quiet_NaN();
  BOOST_TEST(error_of(doc).message == "mappings[1].scale: not finite");
  doc = example();
  doc["mappings"][1]["offset"] = std::numeric_limits<double>::infinity();
  BOOST_TEST(error_of(doc).message == "mappings[1].offset: not finite");
  doc = example();
  doc["mappings"][1]["scale"] = 0;
  BOOST_TEST(error_of(doc).message == "mappings[1].scale: must not be 0");
  doc = example();
  doc["mappings"][3]["scale"] = "1000";
  BOOST_TEST(error_of(doc).message == "mappings[3].scale: must be a number, not string");
  doc = example();
  doc["mappings"][0]["group"] = 7;
  BOOST_TEST(error_of(doc).message == "mappings[0].group: must be a string, not number");
  doc = example();
  doc["mappings"][0]["edgeNode"] = "";
  BOOST_TEST(error_of(doc).message == "mappings[0].edgeNode: must not be empty");
  doc = example();
  doc["mappings"][0]["device"] = "a/b";
  BOOST_TEST(error_of(doc).message == "mappings[0].device: must not contain '/', '+' or '#'");
  doc = example();
  doc["mappings"][0]["Scale"] = 2;
  BOOST_TEST(error_of(doc).message == "mappings[0].Scale: unknown key");
  doc = example();
  doc["mappings"][0] = "x";
  BOOST_TEST(error_of(doc).message == "mappings[0]: must be an object");
}

BOOST_AUTO_TEST_CASE(the_version_and_mappings_are_required) {
  auto doc = example();
  doc["version"] = "";
  BOOST_TEST(error_of(doc).message == "version: must be a non-empty string");
  doc.erase("version");
  BOOST_TEST(error_of(doc).path == "/version");
  doc = example();
  doc["version"] = 3;
  BOOST_TEST(error_of(doc).message == "version: must be a non-empty string");
  doc = example();
  doc.erase("mappings");
  BOOST_TEST(error_of(doc).message == "mappings: must be an array");
  BOOST_TEST(error_of(json::array()).message == "the tag map must be a JSON object");
  // An empty mapping list is a valid (if useless) map.
  auto m = tag_map::parse(R"({"version":"1","mappings":[]})");
  BOOST_TEST_REQUIRE(m.has_value());
  BOOST_TEST(m->size() == 0u);
}

BOOST_AUTO_TEST_CASE(garbage_and_truncated_json_are_bad_requests) {
  auto text = example().dump();
  for (auto input : {std::string{"not json"}, text.substr(0, text.size() / 2), std::string{},
                     std::string{"\x00\xff\xfe", 3}}) {
    auto r = tag_map::parse(input);
    BOOST_REQUIRE(!r);
    BOOST_TEST((r.error().code == twin::errc::bad_request));
  }
}

BOOST_AUTO_TEST_CASE(load_reads_a_file_and_names_it_in_errors) {
  auto dir = std::filesystem::temp_directory_path()
             / ("tagmap-test-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  auto good = dir / "good.json";
  std::ofstream(good) << example().dump(2);
  auto m = tag_map::load(good);
  BOOST_TEST_REQUIRE(m.has_value(), m);
  BOOST_TEST(m->version() == "2026.11.1");

  auto bad = dir / "bad.json";
  std::ofstream(bad) << R"({"version":"1","mappings":[{"group":"g"}]})";
  auto e = tag_map::load(bad);
  BOOST_REQUIRE(!e);
  BOOST_TEST(e.error().message == bad.string() + ": mappings[0].edgeNode: missing");

  auto missing = tag_map::load(dir / "nope.json");
  BOOST_REQUIRE(!missing);
  BOOST_TEST(missing.error().message.find("nope.json") != std::string::npos);
  std::filesystem::remove_all(dir);
}

BOOST_AUTO_TEST_CASE(identity_mappings_keep_integers_as_integers) {
  auto m = identity();
  auto i = convert_value(m, std::int64_t{-42});
  BOOST_TEST((i.outcome == converted_value::kind::value));
  BOOST_TEST(i.value.is_number_integer());
  BOOST_TEST(i.value.get<std::int64_t>() == -42);
  auto u = convert_value(m, std::uint64_t{18'000'000'000'000'000'000ULL});
  BOOST_TEST(u.value.is_number_unsigned());
  BOOST_TEST(u.value.get<std::uint64_t>() == 18'000'000'000'000'000'000ULL);
  auto d = convert_value(m, 2.5);
  BOOST_TEST(d.value.get<double>() == 2.5);
}

BOOST_AUTO_TEST_CASE(scale_and_offset_convert_numbers_to_doubles) {
  auto m = identity();
  m.scale = 5.0 / 9.0;
  m.offset = -160.0 / 9.0;  // °F → °C
  auto c = convert_value(m, 212.0);
  BOOST_TEST(c.value.is_number_float());
  BOOST_TEST(c.value.get<double>() == 100.0, boost::test_tools::tolerance(1e-9));
  auto i = convert_value(m, std::int64_t{32});
  BOOST_TEST(i.value.is_number_float());
  BOOST_TEST(i.value.get<double>() == 0.0, boost::test_tools::tolerance(1e-9));
  m.scale = 1000;
  m.offset = 0;
  BOOST_TEST(convert_value(m, std::uint64_t{3}).value.get<double>() == 3000.0);
  // Float widens through its shortest decimal form.
  BOOST_TEST(convert_value(identity(), 0.1f).value.get<double>() == 0.1);
}

BOOST_AUTO_TEST_CASE(booleans_and_strings_pass_unchanged_and_null_is_skipped) {
  auto m = identity();
  m.scale = 10;
  m.offset = 1;
  BOOST_TEST(convert_value(m, true).value == json(true));
  BOOST_TEST(convert_value(m, std::string{"RUNNING"}).value == json("RUNNING"));
  BOOST_TEST((convert_value(m, null_value{}).outcome == converted_value::kind::null));
  BOOST_TEST(convert_value(m, std::string{"Grüße ✓ 𝄞"}).value == json("Grüße ✓ 𝄞"));
}

BOOST_AUTO_TEST_CASE(strings_that_are_not_utf8_are_unsupported_not_a_crash_later) {
  auto m = identity();
  for (std::string bad : {std::string{"\xff"}, std::string{"ab\xc3"}, std::string{"\xc0\xaf"},
                          std::string{"\xed\xa0\x80"}, std::string{"\xf4\x90\x80\x80"}}) {
    auto c = convert_value(m, bad);
    BOOST_TEST((c.outcome == converted_value::kind::unsupported));
    BOOST_TEST(c.detail == "string value is not valid UTF-8");
  }
}

BOOST_AUTO_TEST_CASE(bytes_and_non_finite_values_are_unsupported) {
  auto m = identity();
  auto b = convert_value(m, bytes{1, 2, 3});
  BOOST_TEST((b.outcome == converted_value::kind::unsupported));
  BOOST_TEST(!b.detail.empty());
  BOOST_TEST((convert_value(m, std::numeric_limits<double>::quiet_NaN()).outcome
              == converted_value::kind::unsupported));
  BOOST_TEST((convert_value(m, std::numeric_limits<float>::infinity()).outcome
              == converted_value::kind::unsupported));
  m.scale = 1e300;
  BOOST_TEST((convert_value(m, 1e300).outcome == converted_value::kind::unsupported));
}

BOOST_AUTO_TEST_SUITE_END()
