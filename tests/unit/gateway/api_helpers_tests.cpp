// The transport-free helpers of the gateway (src/api.hpp).

#include <boost/test/unit_test.hpp>

#include "api.hpp"

using namespace twin;
using namespace twin::gateway::detail;

BOOST_AUTO_TEST_SUITE(gateway_helpers)

BOOST_AUTO_TEST_CASE(percent_decoding_handles_escapes_plus_and_broken_input) {
  BOOST_TEST(percent_decode("dtmi%3Aa%3Bb;1", false).value() == "dtmi:a;b;1");
  BOOST_TEST(percent_decode("a+b", false).value() == "a+b");
  BOOST_TEST(percent_decode("a+b", true).value() == "a b");
  BOOST_TEST(percent_decode("%e2%82%AC", false).value() == "\xe2\x82\xac");
  BOOST_TEST(!percent_decode("%", false));
  BOOST_TEST(!percent_decode("%4", false));
  BOOST_TEST(!percent_decode("%zz", false));
}

BOOST_AUTO_TEST_CASE(query_strings_are_split_and_decoded) {
  auto q = parse_query("a=1&b=x%20y&flag&c=&a=2").value();
  BOOST_TEST(q["a"] == "2");
  BOOST_TEST(q["b"] == "x y");
  BOOST_TEST(q.count("flag") == 1u);
  BOOST_TEST(q["c"] == "");
  BOOST_TEST(parse_query("").value().empty());
  BOOST_TEST(!parse_query("a=%G0"));
}

BOOST_AUTO_TEST_CASE(if_match_values_parse_to_revisions) {
  BOOST_TEST(parse_if_match("7").value().value() == 7u);
  BOOST_TEST(parse_if_match("\"7\"").value().value() == 7u);
  BOOST_TEST(parse_if_match("W/\"12\"").value().value() == 12u);
  BOOST_TEST(!parse_if_match("*").value().has_value());
  BOOST_TEST(!parse_if_match("x"));
  BOOST_TEST(parse_if_match("x").error().code == errc::bad_request);
  BOOST_TEST(!parse_if_match("18446744073709551616"));
}

BOOST_AUTO_TEST_CASE(a_problem_document_omits_empty_rule_and_path) {
  auto p = problem(make_error(errc::already_exists, "twin p1 exists"), "/api/v1/twins/p1");
  BOOST_TEST(p["status"] == 409);
  BOOST_TEST(p["title"] == "Conflict");
  BOOST_TEST(p["type"] == "urn:twin-fabric:error:already_exists");
  BOOST_TEST(!p.contains("rule"));
  BOOST_TEST(!p.contains("path"));
}

BOOST_AUTO_TEST_CASE(client_request_ids_are_kept_only_when_printable_and_short) {
  BOOST_TEST(choose_request_id("abc-1") == "abc-1");
  BOOST_TEST(choose_request_id("").size() == 32u);
  BOOST_TEST(choose_request_id("has space").size() == 32u);
  BOOST_TEST(choose_request_id(std::string(200, 'a')).size() == 32u);
}

BOOST_AUTO_TEST_SUITE_END()
