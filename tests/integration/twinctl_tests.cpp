// twinctl against the real twin-node: the admin flows, exit codes and output.
#define BOOST_TEST_MODULE twinctl_tests
#include <boost/test/unit_test.hpp>

#include <fstream>

#include "fixture.hpp"

using namespace twin::test;
using nlohmann::json;

namespace twin::test {

/// For failure messages (found by ADL).
std::ostream& operator<<(std::ostream& os, const command_result& r) {
  return os << "exit " << r.exit_code << "\n--- stdout\n" << r.out << "--- stderr\n" << r.err;
}

} // namespace twin::test

namespace {

bool contains(const std::string& hay, const std::string& needle) {
  return hay.find(needle) != std::string::npos;
}

/// A node plus a twinctl runner that passes --server and a token.
struct ctl_fixture : node_fixture {
  fs::path model_file = dir / "bearing.json";
  ctl_fixture() { write_json_file(model_file, bearing_model()); }

  command_result ctl(std::vector<std::string> args, const std::string& token) {
    std::vector<std::string> all{"--server", url(), "--token", token};
    all.insert(all.end(), args.begin(), args.end());
    auto r = run_twinctl(all);
    BOOST_TEST_MESSAGE("twinctl " << args.front() << "...: exit " << r.exit_code);
    return r;
  }
  command_result as_admin(std::vector<std::string> args) { return ctl(std::move(args), tok.admin); }
};

} // namespace

BOOST_AUTO_TEST_SUITE(offline)

BOOST_AUTO_TEST_CASE(model_validate_reports_valid_and_invalid_files_without_a_server) {
  temp_dir dir{"twinctl-validate"};
  auto valid = dir / "bearing.json";
  write_json_file(valid, bearing_model());
  auto invalid = dir / "broken.json";
  auto broken = bearing_model();
  broken["@id"] = "dtmi:example:Broken;1";
  broken["contents"].push_back({{"@type", "Property"}, {"name", "1 bad name"}, {"schema", "double"}});
  write_json_file(invalid, broken);
  auto not_json = dir / "garbage.json";
  std::ofstream(not_json) << "{ this is not json";

  // An unroutable server proves no request is made.
  env_changes env{{"TWIN_SERVER", "http://127.0.0.1:1"}};
  auto ok = run_twinctl({"model", "validate", valid.string()}, env);
  BOOST_TEST(ok.exit_code == 0, ok);
  BOOST_TEST(contains(ok.out, "VALID " + valid.string()), ok);

  auto bad = run_twinctl({"model", "validate", invalid.string()}, env);
  BOOST_TEST(bad.exit_code == 1, bad);
  BOOST_TEST(contains(bad.out, "INVALID " + invalid.string()), bad);

  auto both = run_twinctl({"model", "validate", valid.string(), invalid.string()}, env);
  BOOST_TEST(both.exit_code == 1, both);
  BOOST_TEST(contains(both.out, "VALID " + valid.string()), both);
  BOOST_TEST(contains(both.out, "INVALID " + invalid.string()), both);

  auto syntax = run_twinctl({"model", "validate", not_json.string()}, env);
  BOOST_TEST(syntax.exit_code == 2, syntax);
}

BOOST_AUTO_TEST_CASE(usage_errors_exit_2) {
  const std::vector<std::vector<std::string>> cases{
    {},
    {"frobnicate"},
    {"twin"},
    {"twin", "create", "b1"},                       // --model missing
    {"twin", "patch", "b1"},                        // nothing to patch
    {"twin", "patch", "b1", "--set", "noequals"},   // not NAME=VALUE
    {"twin", "patch", "b1", "--patch", "{not json"},
    {"--output", "yaml", "twin", "list"},
    {"lifecycle", "activate", "b1"},                // --reason missing
    {"model", "add", "/no/such/file.json"},
  };
  env_changes env{{"TWIN_SERVER", "http://127.0.0.1:1"}};
  for (const auto& args : cases) {
    auto r = run_twinctl(args, env);
    std::string joined;
    for (const auto& a : args)
      joined += a + " ";
    BOOST_TEST(r.exit_code == 2, "twinctl " << joined << "-> " << r);
  }
  auto help = run_twinctl({"--help"});
  BOOST_TEST(help.exit_code == 0);
  BOOST_TEST(contains(help.out, "Exit codes"));
}

BOOST_AUTO_TEST_CASE(unreachable_server_exits_3) {
  auto r = run_twinctl({"--server", "http://127.0.0.1:1", "--token", "x", "twin", "list"});
  BOOST_TEST(r.exit_code == 3, r);
  BOOST_TEST(contains(r.err, "cannot reach"), r);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(against_a_node)

BOOST_FIXTURE_TEST_CASE(admin_flow_through_twinctl, ctl_fixture) {
  auto add = as_admin({"model", "add", model_file.string()});
  BOOST_REQUIRE_MESSAGE(add.exit_code == 0, add);
  BOOST_TEST(contains(add.out, bearing_dtmi), add);

  auto again = as_admin({"model", "add", model_file.string()});
  BOOST_TEST(again.exit_code == 1, again);
  BOOST_TEST(contains(again.err, "already_exists"), again);

  auto list = as_admin({"model", "list"});
  BOOST_TEST(list.exit_code == 0, list);
  BOOST_TEST(contains(list.out, bearing_dtmi), list);

  auto show = as_admin({"model", "show", bearing_dtmi});
  BOOST_TEST(show.exit_code == 0, show);
  BOOST_TEST(json::parse(show.out).value("@id", "") == bearing_dtmi);

  auto create = ctl({"twin", "create", "b1", "--model", bearing_dtmi, "--set", "location=hall-1",
                     "--set", "ratedLoad=1200"}, tok.operator_);
  BOOST_REQUIRE_MESSAGE(create.exit_code == 0, create);
  BOOST_TEST(contains(create.out, "provisioned"), create);

  auto dup = ctl({"twin", "create", "b1", "--model", bearing_dtmi}, tok.operator_);
  BOOST_TEST(dup.exit_code == 1, dup);
  BOOST_TEST(contains(dup.err, "already_exists"), dup);

  auto get = as_admin({"--output", "json", "twin", "get", "b1"});
  BOOST_REQUIRE_MESSAGE(get.exit_code == 0, get);
  auto doc = json::parse(get.out);
  BOOST_TEST(doc["properties"]["ratedLoad"]["value"].get<double>() == 1200.0);
  BOOST_TEST(doc["properties"]["location"]["value"] == "hall-1");
  auto rev = doc.at("$revision").get<std::int64_t>();

  auto table = as_admin({"twin", "get", "b1"});
  BOOST_TEST(table.exit_code == 0);
  BOOST_TEST(contains(table.out, "ratedLoad"), table);
  BOOST_TEST(contains(table.out, "hall-1"), table);

  auto patch = ctl({"twin", "patch", "b1", "--set", "ratedLoad=1300", "--set", "maintenanceMode=true",
                    "--if-match", std::to_string(rev)}, tok.operator_);
  BOOST_TEST(patch.exit_code == 0, patch);

  auto stale = ctl({"twin", "patch", "b1", "--set", "ratedLoad=1400", "--if-match",
                    std::to_string(rev)}, tok.operator_);
  BOOST_TEST(stale.exit_code == 1, stale);
  BOOST_TEST(contains(stale.err, "revision_mismatch"), stale);

  auto wrong = ctl({"twin", "patch", "b1", "--set", "ratedLoad=heavy"}, tok.operator_);
  BOOST_TEST(wrong.exit_code == 1, wrong);
  BOOST_TEST(contains(wrong.err, "model_violation"), wrong);
  BOOST_TEST(contains(wrong.err, "value-type"), wrong);
  BOOST_TEST(contains(wrong.err, "ratedLoad"), wrong);

  auto viewer_patch = ctl({"twin", "patch", "b1", "--set", "ratedLoad=1"}, tok.viewer);
  BOOST_TEST(viewer_patch.exit_code == 1, viewer_patch);
  BOOST_TEST(contains(viewer_patch.err, "forbidden"), viewer_patch);

  auto act = ctl({"lifecycle", "activate", "b1", "--reason", "commissioned"}, tok.operator_);
  BOOST_TEST(act.exit_code == 0, act);
  BOOST_TEST(contains(act.out, "active"), act);

  auto tel = ctl({"telemetry", "send", "b1", "--set", "temperature=60.5", "--source", "sensor-1"},
                 tok.operator_);
  BOOST_TEST(tel.exit_code == 0, tel);

  auto tl = as_admin({"twin", "list"});
  BOOST_TEST(tl.exit_code == 0, tl);
  BOOST_TEST(contains(tl.out, "b1"), tl);
  BOOST_TEST(contains(tl.out, "active"), tl);
  auto tl_json = as_admin({"-o", "json", "twin", "list", "--all", "--lifecycle", "active"});
  BOOST_REQUIRE_MESSAGE(tl_json.exit_code == 0, tl_json);
  BOOST_TEST(json::parse(tl_json.out).at("items").size() == 1u, tl_json);

  auto lin = as_admin({"lineage", "b1", "ratedLoad"});
  BOOST_TEST(lin.exit_code == 0, lin);
  BOOST_TEST(contains(lin.out, "1300"), lin);
  BOOST_TEST(contains(lin.out, "olga"), lin);
  auto lin_json = as_admin({"-o", "json", "lineage", "b1", "ratedLoad"});
  BOOST_REQUIRE_MESSAGE(lin_json.exit_code == 0, lin_json);
  auto items = json::parse(lin_json.out).at("items");
  BOOST_REQUIRE(!items.empty());
  BOOST_TEST(items[0]["changes"]["ratedLoad"].get<double>() == 1300.0);
  auto lin_at = as_admin({"-o", "json", "lineage", "b1", "ratedLoad", "--at", rfc3339_now()});
  BOOST_TEST(lin_at.exit_code == 0, lin_at);
  BOOST_TEST(json::parse(lin_at.out).at("items").size() == 1u, lin_at);

  auto retire = ctl({"lifecycle", "retire", "b1", "--reason", "decommissioned"}, tok.operator_);
  BOOST_TEST(retire.exit_code == 0, retire);
  BOOST_TEST(contains(retire.out, "retired"), retire);

  auto illegal = ctl({"lifecycle", "activate", "b1", "--reason", "undo"}, tok.operator_);
  BOOST_TEST(illegal.exit_code == 1, illegal);
  BOOST_TEST(contains(illegal.err, "illegal_transition"), illegal);

  auto refused = ctl({"telemetry", "send", "b1", "--set", "temperature=70", "--source", "sensor-x"},
                     tok.operator_);
  BOOST_TEST(refused.exit_code == 1, refused);
  BOOST_TEST(contains(refused.err, "lifecycle_forbidden"), refused);

  command_result alerts;
  bool alerted = wait_until(
    [&] {
      alerts = as_admin({"alerts", "list"});
      return alerts.exit_code == 0 && contains(alerts.out, "twin.alert.unexpected_data");
    },
    10s, 200ms);
  BOOST_TEST(alerted, alerts);

  auto audit = as_admin({"audit", "list"});
  BOOST_TEST(audit.exit_code == 0, audit);
  BOOST_TEST(contains(audit.out, "alice"), audit);
  BOOST_TEST(contains(audit.out, "SEQ"), audit);

  auto audit_viewer = ctl({"audit", "list"}, tok.viewer);
  BOOST_TEST(audit_viewer.exit_code == 1, audit_viewer);

  auto verify = as_admin({"audit", "verify"});
  BOOST_TEST(verify.exit_code == 0, verify);
  BOOST_TEST(contains(verify.out, "audit chain intact: "), verify);
}

BOOST_FIXTURE_TEST_CASE(missing_token_is_refused_with_exit_1, ctl_fixture) {
  auto r = run_twinctl({"--server", url(), "twin", "list"});
  BOOST_TEST(r.exit_code == 1, r);
  BOOST_TEST(contains(r.err, "unauthorized"), r);
}

BOOST_FIXTURE_TEST_CASE(server_and_token_come_from_config_or_environment, ctl_fixture) {
  auto ini = dir / "twinctl.ini";
  std::ofstream(ini) << "server = \"" << url() << "\"\ntoken = \"" << tok.viewer << "\"\n";
  auto from_config = run_twinctl({"--config", ini.string(), "twin", "list"});
  BOOST_TEST(from_config.exit_code == 0, from_config);

  auto from_env = run_twinctl({"twin", "list"}, {{"TWIN_SERVER", url()}, {"TWIN_TOKEN", tok.viewer}});
  BOOST_TEST(from_env.exit_code == 0, from_env);

  // The command line wins over the environment.
  auto flag_wins = run_twinctl({"--server", "http://127.0.0.1:1", "twin", "list"},
                               {{"TWIN_SERVER", url()}, {"TWIN_TOKEN", tok.viewer}});
  BOOST_TEST(flag_wins.exit_code == 3, flag_wins);
}

BOOST_AUTO_TEST_SUITE_END()
