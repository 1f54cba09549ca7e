#define BOOST_TEST_MODULE fmu_tests
#include <boost/test/unit_test.hpp>

#include "twin/fmu/model_description.hpp"

using namespace twin;
using namespace twin::fmu;

namespace {

const char* fmi3_xml = R"(<?xml version="1.0" encoding="UTF-8"?>
<fmiModelDescription fmiVersion="3.0" modelName="demo" instantiationToken="{abc}"
    description="A demo">
  <CoSimulation modelIdentifier="demo" canHandleVariableCommunicationStepSize="true"
      hasEventMode="false" fixedInternalStepSize="0.01"/>
  <DefaultExperiment startTime="0" stopTime="10" stepSize="0.1" tolerance="1e-6"/>
  <ModelVariables>
    <Float64 name="time" valueReference="0" causality="independent" variability="continuous"/>
    <Float64 name="x" valueReference="1" causality="output" unit="m"/>
    <Float64 name="k" valueReference="2" causality="parameter" variability="fixed" start="2.5"/>
    <Int32 name="n" valueReference="3" causality="input" start="-4"/>
    <Boolean name="on" valueReference="4" causality="input" start="true"/>
    <String name="label" valueReference="5" causality="parameter" variability="fixed">
      <Start value="hello"/>
    </String>
    <Int64 name="big" valueReference="6" causality="local"/>
  </ModelVariables>
  <ModelStructure><Output valueReference="1"/></ModelStructure>
</fmiModelDescription>)";

const char* fmi2_xml = R"(<?xml version="1.0" encoding="UTF-8"?>
<fmiModelDescription fmiVersion="2.0" modelName="demo2" guid="{g-1}">
  <CoSimulation modelIdentifier="demo2" canBeInstantiatedOnlyOncePerProcess="true"/>
  <DefaultExperiment startTime="1" stopTime="2"/>
  <ModelVariables>
    <ScalarVariable name="x" valueReference="1" causality="output"><Real/></ScalarVariable>
    <ScalarVariable name="n" valueReference="1" causality="parameter" variability="fixed">
      <Integer start="7"/></ScalarVariable>
    <ScalarVariable name="b" valueReference="1" causality="input"><Boolean start="false"/></ScalarVariable>
    <ScalarVariable name="s" valueReference="1" causality="parameter" variability="fixed"><String start="x"/></ScalarVariable>
    <ScalarVariable name="xAlias" valueReference="1" causality="local"><Real/></ScalarVariable>
  </ModelVariables>
  <ModelStructure><Outputs><Unknown index="1"/></Outputs></ModelStructure>
</fmiModelDescription>)";

std::string with(std::string xml, const std::string& from, const std::string& to) {
  auto pos = xml.find(from);
  BOOST_TEST_REQUIRE(pos != std::string::npos);
  return xml.replace(pos, from.size(), to);
}

} // namespace

BOOST_AUTO_TEST_SUITE(model_description_parser)

BOOST_AUTO_TEST_CASE(fmi3_description_yields_variables_types_and_experiment) {
  auto md = parse_model_description(fmi3_xml);
  BOOST_TEST_REQUIRE(md.has_value(), md);
  BOOST_TEST((md->version == fmi_version::v3));
  BOOST_TEST(md->model_name == "demo");
  BOOST_TEST(md->instantiation_token == "{abc}");
  BOOST_TEST_REQUIRE(md->co_simulation.has_value());
  BOOST_TEST(md->co_simulation->model_identifier == "demo");
  BOOST_TEST(md->co_simulation->can_handle_variable_communication_step_size);
  BOOST_TEST(*md->co_simulation->fixed_internal_step_size == 0.01);
  BOOST_TEST(*md->experiment.stop_time == 10.0);
  BOOST_TEST(*md->experiment.step_size == 0.1);
  BOOST_TEST(*md->experiment.tolerance == 1e-6);
  BOOST_TEST_REQUIRE(md->variables.size() == 7u);
  const auto* k = md->find("k");
  BOOST_TEST_REQUIRE(k != nullptr);
  BOOST_TEST((k->type == value_type::float64));
  BOOST_TEST((k->causality_ == causality::parameter));
  BOOST_TEST((k->variability_ == variability::fixed));
  BOOST_TEST(*k->start == "2.5");
  const auto* x = md->find("x");
  BOOST_TEST((x->variability_ == variability::continuous)); // default for Float64
  BOOST_TEST(x->unit == "m");
  BOOST_TEST((md->find("n")->type == value_type::int32));
  BOOST_TEST((md->find("n")->variability_ == variability::discrete));
  BOOST_TEST((md->find("on")->type == value_type::boolean));
  BOOST_TEST(*md->find("label")->start == "hello");
  BOOST_TEST((md->find("big")->type == value_type::other));
  BOOST_TEST(md->find("big")->type_name == "Int64");
  BOOST_TEST(md->outputs().size() == 1u);
  BOOST_TEST(md->inputs().size() == 2u);
}

BOOST_AUTO_TEST_CASE(fmi2_description_maps_real_integer_and_allows_aliases) {
  auto md = parse_model_description(fmi2_xml);
  BOOST_TEST_REQUIRE(md.has_value(), md);
  BOOST_TEST((md->version == fmi_version::v2));
  BOOST_TEST(md->instantiation_token == "{g-1}");
  BOOST_TEST(md->co_simulation->can_be_instantiated_only_once_per_process);
  BOOST_TEST(*md->experiment.start_time == 1.0);
  BOOST_TEST(!md->experiment.step_size.has_value());
  BOOST_TEST((md->find("x")->type == value_type::float64));
  BOOST_TEST(md->find("x")->type_name == "Real");
  BOOST_TEST((md->find("n")->type == value_type::int32));
  BOOST_TEST(*md->find("n")->start == "7");
  BOOST_TEST((md->find("b")->type == value_type::boolean));
  BOOST_TEST((md->find("s")->type == value_type::string));
  BOOST_TEST(md->find("xAlias") != nullptr);
}

BOOST_AUTO_TEST_CASE(errors_name_the_element_and_attribute) {
  auto check = [](const std::string& xml, const std::string& expected) {
    auto md = parse_model_description(xml);
    BOOST_TEST_REQUIRE(!md.has_value());
    BOOST_TEST((md.error().code == errc::bad_request));
    BOOST_TEST(md.error().message.find(expected) != std::string::npos,
               md.error().message << " should contain " << expected);
  };
  check("<fmiModelDescription", "malformed XML");
  check("<other/>", "<fmiModelDescription>");
  check(with(fmi3_xml, "fmiVersion=\"3.0\"", "fmiVersion=\"1.0\""), "fmiVersion=\"1.0\"");
  check(with(fmi3_xml, "instantiationToken=\"{abc}\"", ""), "instantiationToken is missing");
  check(with(fmi2_xml, "guid=\"{g-1}\"", ""), "guid is missing");
  check(with(fmi3_xml, "name=\"k\" valueReference=\"2\"", "name=\"k\""),
        "<Float64 name=\"k\">: attribute valueReference is missing");
  check(with(fmi3_xml, "valueReference=\"2\"", "valueReference=\"-2\""),
        "valueReference=\"-2\"");
  check(with(fmi3_xml, "causality=\"output\"", "causality=\"sideways\""),
        "unknown causality \"sideways\"");
  check(with(fmi3_xml, "variability=\"fixed\" start=\"2.5\"", "variability=\"sometimes\""),
        "unknown variability");
  check(with(fmi3_xml, "valueReference=\"2\"", "valueReference=\"1\""),
        "valueReference 1 is used twice");
  check(with(fmi3_xml, "start=\"2.5\"", "start=\"two\""), "start=\"two\" is not a valid Float64");
  check(with(fmi3_xml, "stepSize=\"0.1\"", "stepSize=\"fast\""),
        "<DefaultExperiment> attribute stepSize=\"fast\"");
  check(with(fmi3_xml, "name=\"label\"", "name=\"k\""), "\"k\" is used twice");
  check(with(fmi2_xml, "<Integer start=\"7\"/>", ""), "no type element");
}

BOOST_AUTO_TEST_CASE(values_parse_and_format_per_type) {
  BOOST_TEST(std::get<double>(*parse_value(value_type::float64, "1.5e3")) == 1500.0);
  BOOST_TEST(std::get<std::int32_t>(*parse_value(value_type::int32, "-12")) == -12);
  BOOST_TEST(std::get<bool>(*parse_value(value_type::boolean, "true")));
  BOOST_TEST(!std::get<bool>(*parse_value(value_type::boolean, "0")));
  BOOST_TEST(std::get<std::string>(*parse_value(value_type::string, "a b")) == "a b");
  BOOST_TEST(!parse_value(value_type::int32, "1.5").has_value());
  BOOST_TEST(!parse_value(value_type::int32, "99999999999").has_value());
  BOOST_TEST(!parse_value(value_type::boolean, "yes").has_value());
  BOOST_TEST(!parse_value(value_type::float64, "").has_value());
  BOOST_TEST(format_value(value{0.1}) == "0.10000000000000001");
  BOOST_TEST(format_value(value{true}) == "true");
}

BOOST_AUTO_TEST_SUITE_END()
