#define BOOST_TEST_MODULE sparkplug_tests
#include <boost/test/unit_test.hpp>

#include "twin/sparkplug/topic.hpp"

using namespace twin::sparkplug;

BOOST_AUTO_TEST_SUITE(sparkplug_topics)

BOOST_AUTO_TEST_CASE(a_node_topic_parses_into_group_type_and_edge_node) {
  auto t = parse_topic("spBv1.0/plant1/NDATA/gw7");
  BOOST_REQUIRE(t);
  BOOST_TEST(t->group == "plant1");
  BOOST_TEST(to_string(t->type) == "NDATA");
  BOOST_TEST(t->edge_node == "gw7");
  BOOST_TEST(t->device.empty());
}

BOOST_AUTO_TEST_CASE(a_device_topic_parses_with_its_device_id) {
  auto t = parse_topic("spBv1.0/plant1/DBIRTH/gw7/pump-3");
  BOOST_REQUIRE(t);
  BOOST_TEST((t->type == message_type::dbirth));
  BOOST_TEST(t->device == "pump-3");
}

BOOST_AUTO_TEST_CASE(every_message_type_parses_and_prints_back_to_the_same_topic) {
  for (const char* s :
       {"spBv1.0/g/NBIRTH/e", "spBv1.0/g/NDEATH/e", "spBv1.0/g/NDATA/e", "spBv1.0/g/NCMD/e",
        "spBv1.0/g/DBIRTH/e/d", "spBv1.0/g/DDEATH/e/d", "spBv1.0/g/DDATA/e/d",
        "spBv1.0/g/DCMD/e/d", "spBv1.0/STATE/host-1"}) {
    auto t = parse_topic(s);
    BOOST_TEST_REQUIRE(t.has_value(), s);
    BOOST_TEST(to_mqtt_topic(*t) == s);
  }
}

BOOST_AUTO_TEST_CASE(a_state_topic_carries_the_host_id) {
  auto t = parse_topic("spBv1.0/STATE/scada");
  BOOST_REQUIRE(t);
  BOOST_TEST((t->type == message_type::state));
  BOOST_TEST(t->host_id == "scada");
}

BOOST_AUTO_TEST_CASE(malformed_topics_are_bad_requests_that_say_why) {
  for (const char* s : {"", "spBv1.0", "spAv1.0/g/NDATA/e", "spBv1.0/g/NDATA",
                        "spBv1.0/g/NDATA/e/d", "spBv1.0/g/DDATA/e", "spBv1.0/g/DDATA/e/d/x",
                        "spBv1.0/g/ndata/e", "spBv1.0/g/NFOO/e", "spBv1.0//NDATA/e",
                        "spBv1.0/g/NDATA/", "spBv1.0/g/DDATA/e/", "spBv1.0/+/NDATA/e",
                        "spBv1.0/g/NDATA/#", "spBv1.0/STATE", "spBv1.0/STATE/h/x",
                        "spBv1.0/g/STATE/e", "/spBv1.0/g/NDATA/e"}) {
    auto t = parse_topic(s);
    BOOST_TEST_REQUIRE(!t.has_value(), "accepted: '" << s << "'");
    BOOST_TEST((t.error().code == twin::errc::bad_request));
    BOOST_TEST(t.error().message.find("not a Sparkplug B topic") != std::string::npos);
  }
}

BOOST_AUTO_TEST_CASE(a_topic_view_parses_like_parse_topic_with_ids_pointing_into_the_topic) {
  for (std::string_view s : {"spBv1.0/plant1/NDATA/gw7", "spBv1.0/plant1/DDATA/gw7/pump-3",
                             "spBv1.0/STATE/scada"}) {
    auto v = parse_topic_view(s);
    auto t = parse_topic(s);
    BOOST_TEST_REQUIRE(v.has_value(), s);
    BOOST_REQUIRE(t);
    BOOST_TEST((v->type == t->type));
    BOOST_TEST(v->group == t->group);
    BOOST_TEST(v->edge_node == t->edge_node);
    BOOST_TEST(v->device == t->device);
    BOOST_TEST(v->host_id == t->host_id);
    auto inside = [&](std::string_view id) {
      return id.empty() || (id.data() >= s.data() && id.data() + id.size() <= s.data() + s.size());
    };
    for (std::string_view id : {v->group, v->edge_node, v->device, v->host_id})
      BOOST_TEST(inside(id), s);
  }
  for (const char* s : {"", "spBv1.0/g/DDATA/e/d/x/y/z", "spBv1.0/g/NDATA/e+",
                        "spBv1.0/g/NFOO/e", "spBv1.0/STATE/h/x"}) {
    auto v = parse_topic_view(s);
    auto t = parse_topic(s);
    BOOST_TEST_REQUIRE(!v.has_value(), "accepted: '" << s << "'");
    BOOST_REQUIRE(!t);
    BOOST_TEST(v.error().message == t.error().message);
  }
}

BOOST_AUTO_TEST_SUITE_END()
