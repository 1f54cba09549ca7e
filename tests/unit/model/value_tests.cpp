#include <fstream>

#include "model_test_util.hpp"

using namespace model_test;

namespace {

schema_ptr prim(schema::kind k) {
  auto s = std::make_shared<schema>();
  s->k = k;
  return s;
}

bool accepts(schema::kind k, const json& v) { return static_cast<bool>(check_value(*prim(k), v, "/v")); }

std::string rule_of(const twin::status& s) { return s ? std::string{} : s.error().rule; }

interface_ptr bearing() {
  std::ifstream in(std::string{TWIN_TEST_DATA_DIR} + "/dtdl/bearing.json");
  auto r = validate({document{"bearing", json::parse(in)}});
  BOOST_REQUIRE(r.valid());
  return r.interfaces.at(0);
}

} // namespace

BOOST_AUTO_TEST_SUITE(value_checks)

BOOST_AUTO_TEST_CASE(integer_accepts_only_32_bit_integers) {
  using k = schema::kind;
  BOOST_TEST(accepts(k::integer, 42));
  BOOST_TEST(accepts(k::integer, -2147483648LL));
  BOOST_TEST(!accepts(k::integer, 2147483648LL));
  BOOST_TEST(!accepts(k::integer, 1.5));
  BOOST_TEST(!accepts(k::integer, "1"));
  BOOST_TEST(rule_of(check_value(*prim(k::integer), 1.5, "/p")) == "value-type");
  BOOST_TEST(accepts(k::long_, 9007199254740993LL));
  BOOST_TEST(!accepts(k::long_, 1.0));
}

BOOST_AUTO_TEST_CASE(double_float_boolean_and_string_check_their_json_types) {
  using k = schema::kind;
  BOOST_TEST(accepts(k::double_, 1));
  BOOST_TEST(accepts(k::double_, 61.5));
  BOOST_TEST(!accepts(k::double_, "61.5"));
  BOOST_TEST(accepts(k::float_, 1.25));
  BOOST_TEST(!accepts(k::float_, 1e300));
  BOOST_TEST(accepts(k::boolean, true));
  BOOST_TEST(!accepts(k::boolean, 1));
  BOOST_TEST(accepts(k::string, "x"));
  BOOST_TEST(!accepts(k::string, json::object()));
}

BOOST_AUTO_TEST_CASE(temporal_values_follow_rfc3339_and_iso8601) {
  using k = schema::kind;
  BOOST_TEST(accepts(k::date, "2024-02-29"));
  BOOST_TEST(!accepts(k::date, "2023-02-29"));
  BOOST_TEST(!accepts(k::date, "2024-13-01"));
  BOOST_TEST(accepts(k::date_time, "2026-11-25T12:00:00.000Z"));
  BOOST_TEST(accepts(k::date_time, "2026-11-25T12:00:00+01:00"));
  BOOST_TEST(!accepts(k::date_time, "2026-11-25 12:00:00Z"));
  BOOST_TEST(!accepts(k::date_time, "2026-11-25T12:00:00"));
  BOOST_TEST(accepts(k::time, "12:30:00"));
  BOOST_TEST(accepts(k::time, "12:30:00.5Z"));
  BOOST_TEST(!accepts(k::time, "25:00:00"));
  BOOST_TEST(accepts(k::duration, "PT5M"));
  BOOST_TEST(accepts(k::duration, "P1Y2M3DT4H5M6.5S"));
  BOOST_TEST(accepts(k::duration, "P2W"));
  BOOST_TEST(!accepts(k::duration, "P"));
  BOOST_TEST(!accepts(k::duration, "PT"));
  BOOST_TEST(!accepts(k::duration, "5M"));
  BOOST_TEST(!accepts(k::duration, "PT5M1H"));
  BOOST_TEST(rule_of(check_value(*prim(k::duration), "5 minutes", "/p")) == "value-format");
}

BOOST_AUTO_TEST_CASE(v4_primitives_and_geospatial_values_are_checked) {
  using k = schema::kind;
  BOOST_TEST(accepts(k::byte_, -128));
  BOOST_TEST(!accepts(k::byte_, 128));
  BOOST_TEST(accepts(k::unsigned_short, 65535));
  BOOST_TEST(!accepts(k::unsigned_short, -1));
  BOOST_TEST(accepts(k::uuid, "123e4567-e89b-12d3-a456-426614174000"));
  BOOST_TEST(!accepts(k::uuid, "123e4567"));
  BOOST_TEST(accepts(k::bytes, "aGVsbG8="));
  BOOST_TEST(accepts(k::point, json{{"type", "Point"}, {"coordinates", {47.6, -122.1}}}));
  BOOST_TEST(!accepts(k::point, json{{"type", "Point"}, {"coordinates", {47.6}}}));
  BOOST_TEST(!accepts(k::point, json{{"type", "LineString"}, {"coordinates", {47.6, 1.0}}}));
}

BOOST_AUTO_TEST_CASE(enum_object_map_and_array_values_are_checked_recursively) {
  auto r = validate({document{"d", itf(json::array({
    prop("e", {{"@type", "Enum"}, {"valueSchema", "integer"}, {"enumValues", json::array({
      {{"name", "off"}, {"enumValue", 0}}, {{"name", "on"}, {"enumValue", 1}}})}}, true),
    prop("o", {{"@type", "Object"}, {"fields", json::array({{{"name", "x"}, {"schema", "double"}},
      {{"name", "tags"}, {"schema", {{"@type", "Array"}, {"elementSchema", "string"}}}}})}}, true),
    prop("m", {{"@type", "Map"}, {"mapKey", {{"name", "k"}, {"schema", "string"}}},
               {"mapValue", {{"name", "v"}, {"schema", "integer"}}}}, true)}))}});
  BOOST_REQUIRE(r.valid());
  const auto& i = *r.interfaces[0];
  auto write = [&](const char* n, const json& v) { return check_property_write(i, nullptr, n, v, writer::human); };
  BOOST_TEST(static_cast<bool>(write("e", 1)));
  BOOST_TEST(rule_of(write("e", 2)) == "enum-value");
  BOOST_TEST(rule_of(write("e", "on")) == "value-type");
  BOOST_TEST(static_cast<bool>(write("o", json{{"x", 1.5}, {"tags", {"a", "b"}}})));
  auto bad_field = write("o", json{{"x", 1.5}, {"y", 2}});
  BOOST_TEST(rule_of(bad_field) == "object-field");
  BOOST_TEST(bad_field.error().path == "/properties/o/y");
  auto bad_elem = write("o", json{{"tags", {"a", 3}}});
  BOOST_TEST(rule_of(bad_elem) == "value-type");
  BOOST_TEST(bad_elem.error().path == "/properties/o/tags/1");
  BOOST_TEST(static_cast<bool>(write("m", json{{"a", 1}, {"b", 2}})));
  BOOST_TEST(rule_of(write("m", json{{"a", "x"}})) == "value-type");
  BOOST_TEST(rule_of(write("m", json::array())) == "value-type");
}

BOOST_AUTO_TEST_CASE(human_write_of_read_only_property_is_rejected_with_rule_not_writable) {
  auto b = bearing();
  auto r = check_property_write(*b, nullptr, "serialNumber", "SN-1", writer::human);
  BOOST_REQUIRE(!r);
  BOOST_TEST(r.error().rule == "not-writable");
  BOOST_TEST((r.error().code == twin::errc::model_violation));
  BOOST_TEST(r.error().path == "/properties/serialNumber");
  BOOST_TEST(static_cast<bool>(check_property_write(*b, nullptr, "serialNumber", "SN-1", writer::device)));
  BOOST_TEST(static_cast<bool>(check_property_write(*b, nullptr, "ratedLoad", 1200.0, writer::human)));
  BOOST_TEST(static_cast<bool>(check_property_write(*b, nullptr, "condition", "worn", writer::human)));
  BOOST_TEST(rule_of(check_property_write(*b, nullptr, "condition", "broken", writer::human)) == "enum-value");
  BOOST_TEST(rule_of(check_property_write(*b, nullptr, "ratedLoad", "heavy", writer::human)) == "value-type");
}

BOOST_AUTO_TEST_CASE(unknown_names_and_wrong_kinds_are_rejected_by_name) {
  auto b = bearing();
  BOOST_TEST(rule_of(check_property_write(*b, nullptr, "colour", 1, writer::human)) == "unknown-name");
  BOOST_TEST(rule_of(check_property_write(*b, nullptr, "temperature", 1.0, writer::human)) == "not-a-property");
  BOOST_TEST(rule_of(check_property_write(*b, nullptr, "reset", 1, writer::human)) == "not-a-property");
  BOOST_TEST(static_cast<bool>(check_telemetry(*b, nullptr, "temperature", 61.5)));
  BOOST_TEST(static_cast<bool>(check_telemetry(*b, nullptr, "serialNumber", "SN")));
  BOOST_TEST(rule_of(check_telemetry(*b, nullptr, "temperature", "hot")) == "value-type");
  BOOST_TEST(rule_of(check_telemetry(*b, nullptr, "nope", 1)) == "unknown-name");
  BOOST_TEST(rule_of(check_telemetry(*b, nullptr, "reset", 1)) == "not-telemetry");
}

BOOST_AUTO_TEST_CASE(component_value_is_an_object_of_the_component_properties) {
  json cam = itf(json::array({prop("zoom", "double", true), prop("model", "string")}), "dtmi:test:Cam;1");
  json phone = itf(json::array({{{"@type", "Component"}, {"name", "cam"}, {"schema", "dtmi:test:Cam;1"}}}),
                   "dtmi:test:Phone;1");
  auto r = validate({document{"a", cam}, document{"b", phone}});
  BOOST_REQUIRE(r.valid());
  interface_ptr p;
  for (const auto& i : r.interfaces)
    if (i->id.value() == "dtmi:test:Phone;1")
      p = i;
  BOOST_REQUIRE(p);
  BOOST_TEST(static_cast<bool>(check_property_write(*p, nullptr, "cam", json{{"zoom", 2.0}}, writer::human)));
  auto ro = check_property_write(*p, nullptr, "cam", json{{"model", "x"}}, writer::human);
  BOOST_TEST(rule_of(ro) == "not-writable");
  BOOST_TEST(ro.error().path == "/properties/cam/model");
  BOOST_TEST(rule_of(check_property_write(*p, nullptr, "cam", 2.0, writer::human)) == "value-type");
  BOOST_TEST(rule_of(check_property_write(*p, nullptr, "cam", json{{"iso", 1}}, writer::human)) == "unknown-name");
}

BOOST_AUTO_TEST_CASE(null_write_of_a_writable_property_is_a_removal) {
  auto b = bearing();
  BOOST_TEST(static_cast<bool>(check_property_write(*b, nullptr, "location", nullptr, writer::human)));
  BOOST_TEST(rule_of(check_property_write(*b, nullptr, "serialNumber", nullptr, writer::human)) == "not-writable");
}

BOOST_AUTO_TEST_SUITE_END()
