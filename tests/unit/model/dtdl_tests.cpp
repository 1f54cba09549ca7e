#define BOOST_TEST_MODULE model_tests
#include <fstream>

#include "model_test_util.hpp"

using namespace model_test;

namespace {

json read_fixture(const std::string& rel) {
  std::ifstream in(std::string{TWIN_TEST_DATA_DIR} + "/" + rel);
  BOOST_REQUIRE(in.good());
  return json::parse(in);
}

json chain(int n, int i) { // dtmi:test:C<i>;1 extends C<i+1> ... up to C<n-1>
  json j = itf(json::array({prop("p" + std::to_string(i))}),
               "dtmi:test:C" + std::to_string(i) + ";1");
  if (i + 1 < n)
    j["extends"] = "dtmi:test:C" + std::to_string(i + 1) + ";1";
  return j;
}

json nested_object(int levels) {
  json s = "double";
  for (int i = 0; i < levels; ++i)
    s = json{{"@type", "Object"}, {"fields", json::array({{{"name", "f"}, {"schema", s}}})}};
  return s;
}

} // namespace

BOOST_AUTO_TEST_SUITE(dtdl_valid_documents)

BOOST_AUTO_TEST_CASE(thermostat_v3_is_valid_and_resolved) {
  auto r = run(itf(json::array({
    {{"@type", "Telemetry"}, {"name", "temp"}, {"schema", "double"}},
    prop("setPointTemp", "double", true)})));
  CHECK_VALID(r);
  BOOST_REQUIRE_EQUAL(r.interfaces.size(), 1u);
  const auto& i = *r.interfaces[0];
  BOOST_TEST(i.id.value() == "dtmi:test:A;1");
  BOOST_TEST(i.dtdl_version == 3);
  BOOST_REQUIRE(i.find("setPointTemp"));
  BOOST_TEST(i.find("setPointTemp")->writable);
  BOOST_TEST((i.find("temp")->kind == content_kind::telemetry));
  BOOST_TEST(!i.find("nothing"));
}

BOOST_AUTO_TEST_CASE(bearing_fixture_is_valid_with_units_and_enum) {
  auto r = run(read_fixture("dtdl/bearing.json"));
  CHECK_VALID(r);
  BOOST_REQUIRE_EQUAL(r.interfaces.size(), 1u);
  const auto& b = *r.interfaces[0];
  BOOST_TEST(b.id.value() == "dtmi:example:Bearing;1");
  BOOST_TEST(b.find("temperature")->semantic_type == "Temperature");
  BOOST_TEST(b.find("temperature")->unit == "degreeCelsius");
  BOOST_TEST(b.find("speed")->unit == "revolutionPerMinute");
  BOOST_TEST(b.find("ratedLoad")->writable);
  BOOST_TEST(!b.find("serialNumber")->writable);
  BOOST_TEST((b.find("reset")->kind == content_kind::command));
  const auto& cond = *b.find("condition")->value_schema;
  BOOST_TEST((cond.k == schema::kind::enumeration));
  BOOST_TEST(cond.enum_values.size() == 3u);
}

BOOST_AUTO_TEST_CASE(v2_plug_and_play_thermostat_is_valid) {
  json doc = {
    {"@context", "dtmi:dtdl:context;2"},
    {"@id", "dtmi:com:example:Thermostat;1"},
    {"@type", "Interface"},
    {"displayName", "Thermostat"},
    {"description", "Reports current temperature and provides desired temperature control."},
    {"contents", json::array({
      {{"@type", json::array({"Telemetry", "Temperature"})}, {"name", "temperature"},
       {"displayName", "Temperature"}, {"schema", "double"}, {"unit", "degreeCelsius"}},
      {{"@type", json::array({"Property", "Temperature"})}, {"name", "targetTemperature"},
       {"schema", "double"}, {"unit", "degreeCelsius"}, {"writable", true}},
      {{"@type", json::array({"Property", "Temperature"})}, {"name", "maxTempSinceLastReboot"},
       {"schema", "double"}, {"unit", "degreeCelsius"}},
      {{"@type", "Command"}, {"name", "getMaxMinReport"}, {"commandType", "synchronous"},
       {"request", {{"name", "since"}, {"schema", "dateTime"}}},
       {"response", {{"name", "tempReport"}, {"schema", {{"@type", "Object"}, {"fields", json::array({
          {{"name", "maxTemp"}, {"schema", "double"}},
          {{"name", "minTemp"}, {"schema", "double"}},
          {{"name", "startTime"}, {"schema", "dateTime"}}})}}}}}}})}};
  auto r = run(doc);
  CHECK_VALID(r);
  BOOST_REQUIRE_EQUAL(r.interfaces.size(), 1u);
  BOOST_TEST(r.interfaces[0]->dtdl_version == 2);
  const auto* cmd = r.interfaces[0]->find("getMaxMinReport");
  BOOST_REQUIRE(cmd);
  BOOST_TEST((cmd->value_schema->k == schema::kind::date_time));
  BOOST_TEST((cmd->response_schema->k == schema::kind::object));
  BOOST_TEST(cmd->response_schema->fields.size() == 3u);
}

BOOST_AUTO_TEST_CASE(language_maps_and_extension_context_are_accepted) {
  json doc = itf(json::array({
    {{"@type", json::array({"Telemetry", "Temperature"})}, {"name", "t"}, {"schema", "float"},
     {"unit", "kelvin"}, {"displayName", {{"en", "Temp"}, {"it", "Temperatura"}, {"pt-BR", "Temperatura"}}},
     {"description", json::array({"plain", {{"@value", "Temp"}, {"@language", "de"}}})}}}),
    "dtmi:test:A;1", quant_ctx());
  doc["displayName"] = {{"en", "Sensor"}, {"fr", "Capteur"}};
  doc["comment"] = "A comment for model authors.";
  CHECK_VALID(run(doc));
}

BOOST_AUTO_TEST_CASE(json_ld_single_values_where_arrays_are_usual_are_accepted) {
  json base = itf(prop("a"), "dtmi:test:Base;1"); // contents as one object
  json derived = {{"@context", json::array({"dtmi:dtdl:context;3"})},
                  {"@id", "dtmi:test:Derived;1"},
                  {"@type", json::array({"Interface"})},
                  {"extends", json::array({"dtmi:test:Base;1",
                     {{"@id", "dtmi:test:Inline;1"}, {"@type", "Interface"},
                      {"contents", json::array({prop("b")})}}})},
                  {"contents", json::array({prop("c")})}};
  auto r = run_set({base, derived});
  CHECK_VALID(r);
  interface_ptr d;
  for (const auto& i : r.interfaces)
    if (i->id.value() == "dtmi:test:Derived;1")
      d = i;
  BOOST_REQUIRE(d);
  BOOST_TEST(d->contents.size() == 3u);
  BOOST_TEST(d->find("a"));
  BOOST_TEST(d->find("b"));
  BOOST_TEST(d->find("a")->declared_in == "dtmi:test:Base;1");
  BOOST_TEST(d->extends.size() == 2u);
}

BOOST_AUTO_TEST_CASE(diamond_inheritance_of_the_same_content_is_not_a_duplicate) {
  json root = itf(json::array({prop("id")}), "dtmi:test:Root;1");
  json l = itf(json::array(), "dtmi:test:L;1");
  l["extends"] = "dtmi:test:Root;1";
  json rr = itf(json::array(), "dtmi:test:R;1");
  rr["extends"] = "dtmi:test:Root;1";
  json d = itf(json::array(), "dtmi:test:D;1");
  d["extends"] = json::array({"dtmi:test:L;1", "dtmi:test:R;1"});
  CHECK_VALID(run_set({d, l, rr, root}));
}

BOOST_AUTO_TEST_CASE(components_relationships_maps_arrays_and_reusable_schemas_validate) {
  json cam = itf(json::array({prop("resolution", "integer")}), "dtmi:test:Camera;1");
  json phone = itf(json::array({
    {{"@type", "Component"}, {"name", "front"}, {"schema", "dtmi:test:Camera;1"}},
    {{"@type", "Component"}, {"name", "inlineCam"}, {"schema",
      {{"@id", "dtmi:test:InlineCam;1"}, {"@type", "Interface"}, {"contents", json::array({prop("zoom")})}}}},
    {{"@type", "Relationship"}, {"name", "pairedWith"}, {"target", "dtmi:test:Watch;1"},
     {"minMultiplicity", 0}, {"maxMultiplicity", 3},
     {"properties", json::array({prop("since", "dateTime")})}},
    prop("modules", {{"@type", "Map"}, {"mapKey", {{"name", "k"}, {"schema", "string"}}},
                     {"mapValue", {{"name", "v"}, {"schema", "string"}}}}, true),
    prop("leds", {{"@type", "Array"}, {"elementSchema", "boolean"}}),
    prop("where", "point"),
    {{"@type", "Telemetry"}, {"name", "accel"}, {"schema", "dtmi:test:Phone:accel;1"}}}),
    "dtmi:test:Phone;1");
  phone["schemas"] = json::array({{{"@id", "dtmi:test:Phone:accel;1"}, {"@type", "Object"},
    {"fields", json::array({{{"name", "x"}, {"schema", "double"}}, {{"name", "y"}, {"schema", "double"}}})}}});
  auto r = run_set({phone, cam});
  CHECK_VALID(r);
  BOOST_TEST(r.interfaces.size() == 3u); // Phone, its inline component, Camera
  for (const auto& i : r.interfaces)
    if (i->id.value() == "dtmi:test:Phone;1") {
      BOOST_TEST(i->find("front")->resolved_component);
      BOOST_TEST(i->find("pairedWith")->max_multiplicity.value() == 3u);
      BOOST_TEST(i->find("pairedWith")->target->value() == "dtmi:test:Watch;1");
      BOOST_TEST((i->find("accel")->value_schema->k == schema::kind::object));
    }
}

BOOST_AUTO_TEST_CASE(extends_resolves_against_the_resolver_after_the_set) {
  auto base = run(itf(json::array({prop("a")}), "dtmi:test:Base;1"));
  BOOST_REQUIRE(base.valid());
  struct one : resolver {
    interface_ptr i;
    interface_ptr find(const dtmi& id) const override { return id == i->id ? i : nullptr; }
  } known;
  known.i = base.interfaces[0];
  json d = itf(json::array({prop("b")}), "dtmi:test:D;1");
  d["extends"] = "dtmi:test:Base;1";
  auto r = run(d, &known);
  CHECK_VALID(r);
  BOOST_TEST(r.interfaces[0]->find("a"));
}

BOOST_AUTO_TEST_CASE(v3_two_part_version_is_accepted) {
  CHECK_VALID(run(itf(json::array({prop("a")}), "dtmi:test:A;1.2")));
}

BOOST_AUTO_TEST_CASE(v4_document_may_use_byte_and_uuid) {
  CHECK_VALID(run(itf(json::array({prop("b", "byte"), prop("u", "uuid")}), "dtmi:test:A;1",
                      "dtmi:dtdl:context;4")));
}

BOOST_AUTO_TEST_CASE(inline_v2_interface_in_a_v3_component_takes_its_own_context) {
  json doc = itf(json::array({{{"@type", "Component"}, {"name", "sub"}, {"schema",
    {{"@context", "dtmi:dtdl:context;2"}, {"@id", "dtmi:test:Old;1"}, {"@type", "Interface"},
     {"contents", json::array({prop("data", "integer")})}}}}}));
  auto r = run(doc);
  CHECK_VALID(r);
  for (const auto& i : r.interfaces)
    if (i->id.value() == "dtmi:test:Old;1")
      BOOST_TEST(i->dtdl_version == 2);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(dtdl_rules)

BOOST_AUTO_TEST_CASE(id_without_dtmi_scheme_is_rejected_with_rule_dtmi_syntax) {
  CHECK_REJECTED(run(itf(json::array(), "urn:test:A;1")), "dtmi-syntax", "/@id");
}

BOOST_AUTO_TEST_CASE(segment_ending_in_underscore_is_rejected_with_rule_dtmi_syntax) {
  CHECK_REJECTED(run(itf(json::array(), "dtmi:test_:A;1")), "dtmi-syntax", "/@id");
  CHECK_REJECTED(run(itf(json::array(), "dtmi:9test:A;1")), "dtmi-syntax", "/@id");
}

BOOST_AUTO_TEST_CASE(interface_without_version_is_rejected_with_rule_dtmi_version) {
  CHECK_REJECTED(run(itf(json::array(), "dtmi:test:A")), "dtmi-version", "/@id");
}

BOOST_AUTO_TEST_CASE(v2_minor_version_is_rejected_with_rule_dtmi_version) {
  CHECK_REJECTED(run(itf(json::array(), "dtmi:test:A;1.1", "dtmi:dtdl:context;2")),
                 "dtmi-version", "/@id");
}

BOOST_AUTO_TEST_CASE(interface_id_over_128_characters_is_rejected_with_rule_dtmi_length) {
  std::string id = "dtmi:test:" + std::string(120, 'a') + ";1";
  CHECK_REJECTED(run(itf(json::array(), id)), "dtmi-length", "/@id");
}

BOOST_AUTO_TEST_CASE(reserved_dtdl_prefix_is_rejected_with_rule_reserved_word) {
  CHECK_REJECTED(run(itf(json::array(), "dtmi:dtdl:mine;1")), "reserved-word", "/@id");
}

BOOST_AUTO_TEST_CASE(reserved_term_as_cotype_is_rejected_with_rule_reserved_word) {
  json p = prop("a");
  p["@type"] = json::array({"Property", "Telemetry"});
  CHECK_REJECTED(run(itf(json::array({p}))), "reserved-word", "/contents/0/@type/1");
}

BOOST_AUTO_TEST_CASE(name_starting_with_digit_is_rejected_with_rule_name_pattern) {
  CHECK_REJECTED(run(itf(json::array({prop("ok"), prop("1bad")}))), "name-pattern",
                 "/contents/1/name");
  CHECK_REJECTED(run(itf(json::array({prop("bad_")}))), "name-pattern", "/contents/0/name");
}

BOOST_AUTO_TEST_CASE(name_over_512_characters_in_v3_is_rejected_with_rule_name_length) {
  CHECK_VALID(run(itf(json::array({prop("a" + std::string(511, 'b'))}))));
  CHECK_REJECTED(run(itf(json::array({prop("a" + std::string(512, 'b'))}))), "name-length",
                 "/contents/0/name");
}

BOOST_AUTO_TEST_CASE(name_over_64_characters_in_v2_is_rejected_with_rule_name_length) {
  CHECK_REJECTED(run(itf(json::array({prop("a" + std::string(64, 'b'))}), "dtmi:test:A;1",
                         "dtmi:dtdl:context;2")),
                 "name-length", "/contents/0/name");
}

BOOST_AUTO_TEST_CASE(duplicate_content_name_is_rejected_with_rule_duplicate_name) {
  CHECK_REJECTED(run(itf(json::array({prop("a"), prop("a", "string")}))), "duplicate-name",
                 "/contents/1/name");
}

BOOST_AUTO_TEST_CASE(duplicate_field_name_is_rejected_with_rule_duplicate_name) {
  json obj = {{"@type", "Object"}, {"fields", json::array({{{"name", "x"}, {"schema", "double"}},
                                                          {{"name", "x"}, {"schema", "long"}}})}};
  CHECK_REJECTED(run(itf(json::array({prop("o", obj)}))), "duplicate-name",
                 "/contents/0/schema/fields/1/name");
}

BOOST_AUTO_TEST_CASE(inherited_name_clash_is_rejected_with_rule_duplicate_name) {
  json base = itf(json::array({prop("a")}), "dtmi:test:Base;1");
  json d = itf(json::array({prop("a")}), "dtmi:test:D;1");
  d["extends"] = "dtmi:test:Base;1";
  auto r = run_set({base, d});
  CHECK_REJECTED(r, "duplicate-name", "/contents/0/name");
  BOOST_TEST(r.documents[0].valid());
  BOOST_TEST(!r.documents[1].valid());
}

BOOST_AUTO_TEST_CASE(extends_cycle_across_documents_is_rejected_with_rule_extends_cycle) {
  json a = itf(json::array(), "dtmi:test:A;1");
  a["extends"] = "dtmi:test:B;1";
  json b = itf(json::array(), "dtmi:test:B;1");
  b["extends"] = "dtmi:test:A;1";
  CHECK_REJECTED(run_set({a, b}), "extends-cycle", "/extends");
}

BOOST_AUTO_TEST_CASE(self_extension_is_rejected_with_rule_extends_cycle) {
  json a = itf(json::array(), "dtmi:test:A;1");
  a["extends"] = json::array({"dtmi:test:A;1"});
  CHECK_REJECTED(run(a), "extends-cycle", "/extends/0");
}

BOOST_AUTO_TEST_CASE(extends_deeper_than_10_levels_is_rejected_with_rule_extends_depth) {
  std::vector<json> ok_set, bad_set;
  for (int i = 0; i < 11; ++i)
    ok_set.push_back(chain(11, i)); // C0 is 10 levels above C10
  CHECK_VALID(run_set(ok_set));
  for (int i = 0; i < 12; ++i)
    bad_set.push_back(chain(12, i));
  auto r = run_set(bad_set);
  CHECK_REJECTED(r, "extends-depth", "/extends");
  BOOST_TEST(!r.documents[0].valid());
  BOOST_TEST(r.documents[1].valid());
}

BOOST_AUTO_TEST_CASE(v2_extends_of_three_interfaces_is_rejected_with_rule_extends_limit) {
  json d = itf(json::array(), "dtmi:test:D;1", "dtmi:dtdl:context;2");
  d["extends"] = json::array({"dtmi:test:X;1", "dtmi:test:Y;1", "dtmi:test:Z;1"});
  CHECK_REJECTED(run(d), "extends-limit", "/extends");
}

BOOST_AUTO_TEST_CASE(unresolved_extends_is_rejected_with_rule_unresolved_reference) {
  json d = itf(json::array(), "dtmi:test:D;1");
  d["extends"] = "dtmi:test:Missing;1";
  CHECK_REJECTED(run(d), "unresolved-reference", "/extends");
}

BOOST_AUTO_TEST_CASE(unresolved_component_and_schema_are_rejected_with_rule_unresolved_reference) {
  CHECK_REJECTED(run(itf(json::array({{{"@type", "Component"}, {"name", "c"},
                                       {"schema", "dtmi:test:Nope;1"}}}))),
                 "unresolved-reference", "/contents/0/schema");
  CHECK_REJECTED(run(itf(json::array({prop("p", "dtmi:test:NoSchema;1")}))),
                 "unresolved-reference", "/contents/0/schema");
}

BOOST_AUTO_TEST_CASE(complex_schema_nesting_over_5_levels_in_v3_is_rejected_with_rule_schema_depth) {
  CHECK_VALID(run(itf(json::array({prop("o", nested_object(5))}))));
  CHECK_REJECTED(run(itf(json::array({prop("o", nested_object(6))}))), "schema-depth",
                 "/contents/0/schema");
}

BOOST_AUTO_TEST_CASE(v2_interface_with_301_contents_is_rejected_with_rule_contents_limit) {
  json contents = json::array();
  for (int i = 0; i < 301; ++i)
    contents.push_back(prop("p" + std::to_string(i)));
  CHECK_REJECTED(run(itf(contents, "dtmi:test:A;1", "dtmi:dtdl:context;2")), "contents-limit",
                 "/contents");
}

BOOST_AUTO_TEST_CASE(v3_hierarchy_over_100000_elements_is_rejected_with_rule_contents_limit) {
  json values = json::array();
  for (int i = 0; i < 100000; ++i)
    values.push_back({{"name", "v" + std::to_string(i)}, {"enumValue", i}});
  json e = {{"@type", "Enum"}, {"valueSchema", "integer"}, {"enumValues", values}};
  CHECK_REJECTED(run(itf(json::array({prop("e", e)}))), "contents-limit", "/contents");
}

BOOST_AUTO_TEST_CASE(unknown_content_type_is_rejected_with_rule_unknown_type) {
  CHECK_REJECTED(run(itf(json::array({{{"@type", "Sensor"}, {"name", "s"}, {"schema", "double"}}}))),
                 "unknown-type", "/contents/0/@type");
  json notitf = itf(json::array());
  notitf["@type"] = "Object";
  CHECK_REJECTED(run(notitf), "unknown-type", "/@type");
}

BOOST_AUTO_TEST_CASE(unknown_primitive_schema_is_rejected_with_rule_unknown_schema) {
  CHECK_REJECTED(run(itf(json::array({prop("p", "int32")}))), "unknown-schema", "/contents/0/schema");
}

BOOST_AUTO_TEST_CASE(v4_only_byte_schema_in_v3_is_rejected_with_rule_unknown_schema) {
  CHECK_REJECTED(run(itf(json::array({prop("p", "byte")}))), "unknown-schema", "/contents/0/schema");
}

BOOST_AUTO_TEST_CASE(property_without_schema_is_rejected_with_rule_missing_property) {
  CHECK_REJECTED(run(itf(json::array({{{"@type", "Property"}, {"name", "p"}}}))),
                 "missing-property", "/contents/0/schema");
  json noid = itf(json::array());
  noid.erase("@id");
  CHECK_REJECTED(run(noid), "missing-property", "/@id");
}

BOOST_AUTO_TEST_CASE(temperature_in_newton_is_rejected_with_rule_unit_mismatch) {
  json t = {{"@type", json::array({"Telemetry", "Temperature"})}, {"name", "t"},
            {"schema", "double"}, {"unit", "newton"}};
  CHECK_REJECTED(run(itf(json::array({t}), "dtmi:test:A;1", quant_ctx())), "unit-mismatch",
                 "/contents/0/unit");
}

BOOST_AUTO_TEST_CASE(semantic_type_without_extension_is_rejected_with_rule_extension_missing) {
  json t = {{"@type", json::array({"Telemetry", "Temperature"})}, {"name", "t"},
            {"schema", "double"}, {"unit", "degreeCelsius"}};
  CHECK_REJECTED(run(itf(json::array({t}))), "extension-missing", "/contents/0/@type/1");
}

BOOST_AUTO_TEST_CASE(semantic_type_without_unit_is_rejected_with_rule_missing_property) {
  json t = {{"@type", json::array({"Telemetry", "Temperature"})}, {"name", "t"}, {"schema", "double"}};
  CHECK_REJECTED(run(itf(json::array({t}), "dtmi:test:A;1", quant_ctx())), "missing-property",
                 "/contents/0/unit");
}

BOOST_AUTO_TEST_CASE(semantic_type_on_string_schema_is_rejected_with_rule_semantic_schema) {
  json t = {{"@type", json::array({"Telemetry", "Temperature"})}, {"name", "t"},
            {"schema", "string"}, {"unit", "kelvin"}};
  CHECK_REJECTED(run(itf(json::array({t}), "dtmi:test:A;1", quant_ctx())), "semantic-schema",
                 "/contents/0/schema");
}

BOOST_AUTO_TEST_CASE(missing_context_is_rejected_with_rule_context_missing) {
  json d = itf(json::array());
  d.erase("@context");
  CHECK_REJECTED(run(d), "context-missing", "/@context");
  CHECK_REJECTED(run(itf(json::array(), "dtmi:test:A;1",
                         json::array({"dtmi:dtdl:extension:quantitativeTypes;1"}))),
                 "context-missing", "/@context");
}

BOOST_AUTO_TEST_CASE(extension_before_dtdl_context_is_rejected_with_rule_context_order) {
  CHECK_REJECTED(run(itf(json::array(), "dtmi:test:A;1",
                         json::array({"dtmi:dtdl:extension:quantitativeTypes;1",
                                      "dtmi:dtdl:context;3"}))),
                 "context-order", "/@context/1");
}

BOOST_AUTO_TEST_CASE(unknown_extension_context_is_rejected_with_rule_unknown_extension) {
  CHECK_REJECTED(run(itf(json::array(), "dtmi:test:A;1",
                         json::array({"dtmi:dtdl:context;3", "dtmi:example:flavors;1"}))),
                 "unknown-extension", "/@context/1");
}

BOOST_AUTO_TEST_CASE(duplicate_enum_names_and_values_are_rejected_with_rule_enum_duplicate) {
  json e = {{"@type", "Enum"}, {"valueSchema", "string"}, {"enumValues", json::array({
    {{"name", "a"}, {"enumValue", "x"}}, {{"name", "a"}, {"enumValue", "y"}},
    {{"name", "c"}, {"enumValue", "x"}}})}};
  auto r = run(itf(json::array({prop("e", e)})));
  CHECK_REJECTED(r, "enum-duplicate", "/contents/0/schema/enumValues/1/name");
  BOOST_TEST(has_rule(r, "enum-duplicate", "/contents/0/schema/enumValues/2/enumValue"));
}

BOOST_AUTO_TEST_CASE(enum_with_double_value_schema_is_rejected_with_rule_enum_value_schema) {
  json e = {{"@type", "Enum"}, {"valueSchema", "double"}, {"enumValues", json::array()}};
  CHECK_REJECTED(run(itf(json::array({prop("e", e)}))), "enum-value-schema",
                 "/contents/0/schema/valueSchema");
}

BOOST_AUTO_TEST_CASE(string_value_in_integer_enum_is_rejected_with_rule_enum_value_type) {
  json e = {{"@type", "Enum"}, {"valueSchema", "integer"},
            {"enumValues", json::array({{{"name", "a"}, {"enumValue", "1"}}})}};
  CHECK_REJECTED(run(itf(json::array({prop("e", e)}))), "enum-value-type",
                 "/contents/0/schema/enumValues/0/enumValue");
}

BOOST_AUTO_TEST_CASE(map_with_integer_key_is_rejected_with_rule_map_key_schema) {
  json m = {{"@type", "Map"}, {"mapKey", {{"name", "k"}, {"schema", "integer"}}},
            {"mapValue", {{"name", "v"}, {"schema", "double"}}}};
  CHECK_REJECTED(run(itf(json::array({prop("m", m)}))), "map-key-schema",
                 "/contents/0/schema/mapKey/schema");
}

BOOST_AUTO_TEST_CASE(min_multiplicity_other_than_zero_is_rejected_with_rule_multiplicity) {
  json rel = {{"@type", "Relationship"}, {"name", "r"}, {"minMultiplicity", 1}};
  CHECK_REJECTED(run(itf(json::array({rel}))), "multiplicity", "/contents/0/minMultiplicity");
  json rel2 = {{"@type", "Relationship"}, {"name", "r"}, {"maxMultiplicity", 0}};
  CHECK_REJECTED(run(itf(json::array({rel2}))), "multiplicity", "/contents/0/maxMultiplicity");
  json rel3 = {{"@type", "Relationship"}, {"name", "r"}, {"maxMultiplicity", 501}};
  CHECK_REJECTED(run(itf(json::array({rel3}), "dtmi:test:A;1", "dtmi:dtdl:context;2")),
                 "multiplicity", "/contents/0/maxMultiplicity");
}

BOOST_AUTO_TEST_CASE(v3_component_with_components_is_rejected_with_rule_component_nesting) {
  json leaf = itf(json::array({prop("x")}), "dtmi:test:Leaf;1");
  json mid = itf(json::array({{{"@type", "Component"}, {"name", "leaf"}, {"schema", "dtmi:test:Leaf;1"}}}),
                 "dtmi:test:Mid;1");
  json top = itf(json::array({{{"@type", "Component"}, {"name", "mid"}, {"schema", "dtmi:test:Mid;1"}}}),
                 "dtmi:test:Top;1");
  CHECK_REJECTED(run_set({top, mid, leaf}), "component-nesting", "/contents/0/schema");
}

BOOST_AUTO_TEST_CASE(v2_component_cycle_is_rejected_with_rule_component_cycle) {
  json a = itf(json::array({{{"@type", "Component"}, {"name", "b"}, {"schema", "dtmi:test:B;1"}}}),
               "dtmi:test:A;1", "dtmi:dtdl:context;2");
  json b = itf(json::array({{{"@type", "Component"}, {"name", "a"}, {"schema", "dtmi:test:A;1"}}}),
               "dtmi:test:B;1", "dtmi:dtdl:context;2");
  CHECK_REJECTED(run_set({a, b}), "component-cycle", "/contents/0/schema");
}

BOOST_AUTO_TEST_CASE(v2_property_holding_an_array_is_rejected_with_rule_schema_not_allowed) {
  json arr = {{"@type", "Array"}, {"elementSchema", "double"}};
  CHECK_REJECTED(run(itf(json::array({prop("a", arr)}), "dtmi:test:A;1", "dtmi:dtdl:context;2")),
                 "schema-not-allowed", "/contents/0/schema");
  // ... while v2 Telemetry may hold one.
  CHECK_VALID(run(itf(json::array({{{"@type", "Telemetry"}, {"name", "a"}, {"schema", arr}}}),
                      "dtmi:test:A;1", "dtmi:dtdl:context;2")));
}

BOOST_AUTO_TEST_CASE(unknown_member_is_rejected_with_rule_unknown_member) {
  json p = prop("a");
  p["colour"] = "red";
  CHECK_REJECTED(run(itf(json::array({p}))), "unknown-member", "/contents/0/colour");
}

BOOST_AUTO_TEST_CASE(long_display_name_and_description_are_rejected_with_rule_text_length) {
  json d = itf(json::array());
  d["displayName"] = std::string(65, 'x');
  CHECK_REJECTED(run(d), "text-length", "/displayName");
  json e = itf(json::array());
  e["description"] = {{"en", std::string(513, 'x')}};
  CHECK_REJECTED(run(e), "text-length", "/description/en");
}

BOOST_AUTO_TEST_CASE(bad_language_tag_is_rejected_with_rule_language_tag) {
  json d = itf(json::array());
  d["displayName"] = {{"English", "Thing"}};
  CHECK_REJECTED(run(d), "language-tag", "/displayName/English");
}

BOOST_AUTO_TEST_CASE(same_id_twice_in_a_set_is_rejected_with_rule_duplicate_id) {
  CHECK_REJECTED(run_set({itf(json::array()), itf(json::array())}), "duplicate-id", "/@id");
}

BOOST_AUTO_TEST_CASE(v2_interface_extending_v3_is_rejected_with_rule_version_mismatch) {
  json base = itf(json::array(), "dtmi:test:Base;1");
  json d = itf(json::array(), "dtmi:test:D;1", "dtmi:dtdl:context;2");
  d["extends"] = "dtmi:test:Base;1";
  CHECK_REJECTED(run_set({base, d}), "version-mismatch", "/extends");
}

BOOST_AUTO_TEST_CASE(self_referencing_reusable_schema_is_rejected_with_rule_schema_cycle) {
  json d = itf(json::array({prop("n", "dtmi:test:A:node;1")}));
  d["schemas"] = json::array({{{"@id", "dtmi:test:A:node;1"}, {"@type", "Object"},
    {"fields", json::array({{{"name", "next"}, {"schema", "dtmi:test:A:node;1"}}})}}});
  CHECK_REJECTED(run(d), "schema-cycle", "/schemas/0/fields/0/schema");
}

BOOST_AUTO_TEST_CASE(non_boolean_writable_is_rejected_with_rule_member_type) {
  json p = prop("a");
  p["writable"] = "yes";
  CHECK_REJECTED(run(itf(json::array({p}))), "member-type", "/contents/0/writable");
}

BOOST_AUTO_TEST_CASE(document_that_is_not_an_object_is_rejected_with_rule_root_type) {
  CHECK_REJECTED(run(json(42)), "root-type", "");
  CHECK_REJECTED(run(json::array({itf(json::array()), 7})), "root-type", "/1");
}

BOOST_AUTO_TEST_CASE(array_document_reports_paths_with_the_element_index) {
  auto r = run(json::array({itf(json::array(), "dtmi:test:A;1"),
                            itf(json::array({prop("bad name")}), "dtmi:test:B;1")}));
  CHECK_REJECTED(r, "name-pattern", "/1/contents/0/name");
}

BOOST_AUTO_TEST_CASE(several_errors_in_one_document_are_all_reported) {
  auto r = run(itf(json::array({prop("1a"), prop("b", "nope"), prop("b")})));
  BOOST_TEST(!r.valid());
  BOOST_TEST(r.documents[0].errors.size() >= 3u, dump(r));
  BOOST_TEST(has_rule(r, "name-pattern", "/contents/0/name"));
  BOOST_TEST(has_rule(r, "unknown-schema", "/contents/1/schema"));
  BOOST_TEST(has_rule(r, "duplicate-name", "/contents/2/name"));
}

BOOST_AUTO_TEST_CASE(one_invalid_document_rejects_the_whole_set) {
  auto r = run_set({itf(json::array(), "dtmi:test:Good;1"), itf(json::array({prop("_x")}), "dtmi:test:Bad;1")});
  BOOST_TEST(r.documents[0].valid());
  BOOST_TEST(!r.documents[1].valid());
  BOOST_TEST(r.interfaces.empty());
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(dtmi_parsing)

BOOST_AUTO_TEST_CASE(parse_dtmi_enforces_version_ranges) {
  BOOST_TEST(static_cast<bool>(parse_dtmi("dtmi:com:example:Thermostat;1")));
  BOOST_TEST(static_cast<bool>(parse_dtmi("dtmi:foo_bar:baz33:qux;999999999")));
  BOOST_TEST(static_cast<bool>(parse_dtmi("dtmi:a:b;2.999999")));
  BOOST_TEST(static_cast<bool>(parse_dtmi("dtmi:a:b")));
  for (const char* bad : {"dtmi:a:b;0", "dtmi:a:b;01", "dtmi:a:b;1000000000", "dtmi:a:b;1.0",
                          "dtmi:a:b;1.1234567", "dtmi:a::b;1", "dtmi:_a;1", "DTMI:a;1",
                          "dtmi:a-b;1", "dtmi:;1"}) {
    auto r = parse_dtmi(bad);
    BOOST_TEST(!r, bad);
    if (!r) {
      BOOST_TEST((r.error().code == twin::errc::model_violation));
      BOOST_TEST((r.error().rule == "dtmi-syntax" || r.error().rule == "dtmi-version"), bad);
    }
  }
  BOOST_TEST(!parse_dtmi("dtmi:a:b", 2, false));
  BOOST_TEST(!parse_dtmi("dtmi:a:b;1.2", 2, false));
  BOOST_TEST(!parse_dtmi("dtmi:a:b", 3, true));
}

BOOST_AUTO_TEST_SUITE_END()
