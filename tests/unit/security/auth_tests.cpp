#define BOOST_TEST_MODULE security_tests
#include <boost/test/unit_test.hpp>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <set>
#include <string>

#include <unistd.h>

#include "twin/security/auth.hpp"

using namespace twin;
using namespace twin::security;

namespace {

const std::string good_file = "# fabric tokens\n"
                              "\n"
                              "0123456789abcdef0123 alice admin\n"
                              "   # indented comment\n"
                              "viewer-token-0000001\tbob\tviewer\n"
                              "op-token-00000000001 carol operator,viewer\r\n";

// Parses `text` and expects a bad_request naming `line`, whose message
// contains `fragment`.
void expect_line_error(const std::string& text, int line, const std::string& fragment) {
  auto t = token_table::parse(text);
  BOOST_TEST_INFO("text: " << text);
  BOOST_REQUIRE(!t);
  BOOST_TEST(t.error().code == errc::bad_request);
  BOOST_TEST(t.error().message.find("line " + std::to_string(line) + ":")
             != std::string::npos, t.error().message);
  BOOST_TEST(t.error().message.find(fragment) != std::string::npos,
             t.error().message);
}

} // namespace

BOOST_AUTO_TEST_SUITE(token_file)

BOOST_AUTO_TEST_CASE(a_good_file_yields_every_principal_with_its_roles) {
  auto t = token_table::parse(good_file);
  BOOST_REQUIRE_MESSAGE(t.has_value(), t);
  BOOST_TEST(t->size() == 3u);
  auto alice = t->authenticate("0123456789abcdef0123");
  BOOST_REQUIRE(alice);
  BOOST_TEST(alice->name == "alice");
  BOOST_TEST(alice->has(role::admin));
  BOOST_TEST(!alice->has(role::viewer));
  auto bob = t->authenticate("viewer-token-0000001");
  BOOST_REQUIRE(bob);
  BOOST_TEST(bob->name == "bob");
  BOOST_TEST(bob->roles.size() == 1u);
  auto carol = t->authenticate("op-token-00000000001");
  BOOST_REQUIRE(carol);
  BOOST_TEST(carol->has(role::operator_));
  BOOST_TEST(carol->has(role::viewer));
}

BOOST_AUTO_TEST_CASE(an_empty_file_yields_an_empty_table) {
  auto t = token_table::parse("");
  BOOST_REQUIRE(t);
  BOOST_TEST(t->size() == 0u);
  auto c = token_table::parse("# only a comment\n\n   \n");
  BOOST_REQUIRE(c);
  BOOST_TEST(c->size() == 0u);
}

BOOST_AUTO_TEST_CASE(an_unknown_token_is_unauthorized) {
  auto t = token_table::parse(good_file);
  BOOST_REQUIRE(t);
  for (auto bad : {"", "0123456789abcdef012", "0123456789abcdef0124",
                   "0123456789abcdef01234", "alice"}) {
    auto p = t->authenticate(bad);
    BOOST_REQUIRE(!p);
    BOOST_TEST(p.error().code == errc::unauthorized);
  }
}

BOOST_AUTO_TEST_CASE(a_line_with_missing_fields_is_rejected_with_its_line_number) {
  expect_line_error("# c\n0123456789abcdef0123 alice\n", 2, "missing fields");
  expect_line_error("0123456789abcdef0123\n", 1, "missing fields");
}

BOOST_AUTO_TEST_CASE(a_line_with_an_extra_field_is_rejected_with_its_line_number) {
  expect_line_error("\n\n0123456789abcdef0123 alice admin extra\n", 3, "extra");
}

BOOST_AUTO_TEST_CASE(an_unknown_role_is_rejected_with_its_line_number) {
  expect_line_error("0123456789abcdef0123 alice admin\n"
                    "0123456789abcdef0124 bob root\n",
                    2, "unknown role 'root'");
  expect_line_error("0123456789abcdef0123 alice admin,\n", 1, "unknown role ''");
  expect_line_error("0123456789abcdef0123 alice Admin\n", 1, "unknown role");
}

BOOST_AUTO_TEST_CASE(a_duplicate_token_is_rejected_with_its_line_number) {
  expect_line_error("0123456789abcdef0123 alice admin\n"
                    "# comment\n"
                    "0123456789abcdef0123 bob viewer\n",
                    3, "duplicate token");
}

BOOST_AUTO_TEST_CASE(a_token_shorter_than_16_characters_is_rejected_with_its_line_number) {
  expect_line_error("short-token-1234 alice admin\n" // exactly 16: fine
                    "short-token-123 bob viewer\n",
                    2, "shorter than 16");
}

BOOST_AUTO_TEST_CASE(loading_a_file_reads_and_parses_it) {
  char path[] = "/tmp/twin-tokens-XXXXXX";
  int fd = mkstemp(path);
  BOOST_REQUIRE(fd >= 0);
  close(fd);
  {
    std::ofstream out{path};
    out << good_file;
  }
  auto t = token_table::load(path);
  BOOST_REQUIRE(t);
  BOOST_TEST(t->size() == 3u);
  {
    std::ofstream out{path};
    out << "0123456789abcdef0123 alice wizard\n";
  }
  auto bad = token_table::load(path);
  BOOST_REQUIRE(!bad);
  BOOST_TEST(bad.error().code == errc::bad_request);
  BOOST_TEST(bad.error().message.find(path) != std::string::npos);
  std::remove(path);
}

BOOST_AUTO_TEST_CASE(loading_a_missing_file_is_a_storage_failure) {
  auto t = token_table::load("/nonexistent/twin/tokens");
  BOOST_REQUIRE(!t);
  BOOST_TEST(t.error().code == errc::storage_failure);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(roles)

BOOST_AUTO_TEST_CASE(the_role_table_allows_exactly_what_is_documented) {
  const action all[] = {action::read,      action::write,         action::ingest,
                        action::lifecycle, action::manage_models, action::audit,
                        action::admin};
  auto allowed = [](role r, action a) {
    switch (r) {
      case role::viewer: return a == action::read;
      case role::operator_:
        return a == action::read || a == action::write || a == action::ingest
               || a == action::lifecycle;
      case role::admin: return true;
    }
    return false;
  };
  for (auto r : {role::viewer, role::operator_, role::admin}) {
    principal p{"p", {r}};
    for (auto a : all) {
      BOOST_TEST_CONTEXT("role " << to_string(r) << ", action " << to_string(a)) {
        auto s = authorize(p, a);
        BOOST_TEST(static_cast<bool>(s) == allowed(r, a));
        if (!s)
          BOOST_TEST(s.error().code == errc::forbidden);
      }
    }
  }
}

BOOST_AUTO_TEST_CASE(a_principal_without_roles_may_do_nothing) {
  principal nobody{"nobody", {}};
  for (auto a : {action::read, action::write, action::admin})
    BOOST_TEST(!authorize(nobody, a));
}

BOOST_AUTO_TEST_CASE(a_refusal_names_the_principal_the_action_and_the_roles_that_allow_it) {
  principal bob{"bob", {role::viewer}};
  auto s = authorize(bob, action::lifecycle);
  BOOST_REQUIRE(!s);
  const auto& m = s.error().message;
  BOOST_TEST(m.find("bob") != std::string::npos, m);
  BOOST_TEST(m.find("lifecycle") != std::string::npos, m);
  BOOST_TEST(m.find("operator") != std::string::npos, m);
  BOOST_TEST(m.find("admin") != std::string::npos, m);
}

BOOST_AUTO_TEST_CASE(roles_and_actions_have_stable_names) {
  BOOST_TEST(to_string(role::viewer) == "viewer");
  BOOST_TEST(to_string(role::operator_) == "operator");
  BOOST_TEST(to_string(role::admin) == "admin");
  BOOST_TEST(to_string(action::manage_models) == "manage_models");
  BOOST_TEST(to_string(action::audit) == "audit");
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_CASE(generated_tokens_are_32_hex_characters_and_distinct) {
  std::set<std::string> seen;
  for (int i = 0; i < 100; ++i) {
    auto t = generate_token();
    BOOST_TEST(t.size() == 32u);
    BOOST_TEST(t.find_first_not_of("0123456789abcdef") == std::string::npos);
    seen.insert(t);
  }
  BOOST_TEST(seen.size() == 100u);
  // and they are usable in a token file
  auto table = token_table::parse(generate_token() + " svc operator\n");
  BOOST_TEST(static_cast<bool>(table));
}
