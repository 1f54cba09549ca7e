// twinctl: the admin CLI of the twin fabric, a thin client of the REST API
// (docs/api.md). Wires CLI11 to the commands in commands.cpp.

#include <cstdlib>
#include <exception>
#include <functional>
#include <iostream>
#include <memory>
#include <optional>

#include <CLI/CLI.hpp>

#include "commands.hpp"
#include "fmu.hpp"
#ifdef TWINCTL_WITH_BEHAVIOURS
#include "behaviour.hpp"
#endif

namespace {

constexpr const char* footer = R"(Exit codes:
  0  success
  1  the server refused the request (4xx), or `audit verify` found the chain broken
  2  usage error (bad arguments, unreadable or invalid local input)
  3  the server is unreachable, timed out, or failed (5xx)

Settings, by precedence: command line, --config file (INI/TOML keys `server`,
`token`, `output`), environment (TWIN_SERVER, TWIN_TOKEN), defaults.
VALUE in NAME=VALUE is parsed as JSON if it is valid JSON, else taken as a
string: --set ratedLoad=1200 --set maintenanceMode=true --set location=hall-3)";

} // namespace

int main(int argc, char** argv) {
  using namespace twinctl;
  CLI::App app{"twinctl: administer a twin fabric node over its REST API",
               "twinctl"};
  app.footer(footer);
  app.fallthrough();
  app.require_subcommand(1);

  globals g;
  if (const char* s = std::getenv("TWIN_SERVER"); s && *s)
    g.server = s;
  if (const char* t = std::getenv("TWIN_TOKEN"); t && *t)
    g.token = t;
  app.add_option("--server", g.server, "Base URL of the node (env TWIN_SERVER)")
    ->capture_default_str();
  app.add_option("--token", g.token, "Bearer token (env TWIN_TOKEN)");
  app.set_config("--config", "", "Read settings from an INI/TOML file");
  app.add_option("--output,-o", g.output, "Output format")
    ->check(CLI::IsMember({"table", "json"}))
    ->capture_default_str();
  app.add_option("--timeout", g.timeout, "Request timeout in seconds")
    ->check(CLI::PositiveNumber)
    ->capture_default_str();
  app.add_flag("--insecure", g.insecure, "TLS: do not verify the server certificate");
  app.add_option("--cacert", g.cacert, "TLS: trusted CA certificates (PEM file)")
    ->check(CLI::ExistingFile);

  // The command to run once parsing succeeded; it gets the session lazily
  // so that offline commands never need a server.
  std::function<int(const std::function<session&()>&)> run;

  // -- model ----------------------------------------------------------------
  auto* model = app.add_subcommand("model", "Upload, list, show and validate DTDL models");
  model->require_subcommand(1);
  std::vector<std::string> model_paths;
  auto* model_add_cmd = model->add_subcommand("add", "Upload DTDL documents (files or directories of *.json) as one set");
  model_add_cmd->add_option("paths", model_paths, "FILE...|DIR")->required();
  model_add_cmd->callback([&] { run = [&](auto& s) { return model_add(s(), model_paths); }; });
  model->add_subcommand("list", "List the stored models")->callback([&] {
    run = [&](auto& s) { return model_list(s()); };
  });
  std::string dtmi;
  auto* model_show_cmd = model->add_subcommand("show", "Print a stored model document");
  model_show_cmd->add_option("dtmi", dtmi, "DTMI of the model")->required();
  model_show_cmd->callback([&] { run = [&](auto& s) { return model_show(s(), dtmi); }; });
  std::vector<std::string> validate_paths;
  auto* model_validate_cmd = model->add_subcommand(
    "validate", "Validate DTDL files offline (no server): prints VALID/INVALID per file; exit 0 valid, 1 invalid, 2 unreadable");
  model_validate_cmd->add_option("paths", validate_paths, "PATH...")->required();
  model_validate_cmd->callback([&] {
    run = [&](auto&) { return model_validate(validate_paths); };
  });

  // -- twin -----------------------------------------------------------------
  auto* twin = app.add_subcommand("twin", "Create, read, list and patch twins");
  twin->require_subcommand(1);
  twin_create_args create;
  auto* create_cmd = twin->add_subcommand("create", "Create a twin (it starts provisioned)");
  create_cmd->add_option("id", create.id, "Twin id")->required();
  create_cmd->add_option("--model,-m", create.model, "DTMI of its model")->required();
  auto* props_opt = create_cmd->add_option("--properties", create.properties,
                                           "Initial properties as a JSON object");
  create_cmd->add_option("--set", create.sets, "Initial property NAME=VALUE (repeatable)")
    ->allow_extra_args(false)
    ->excludes(props_opt);
  create_cmd->callback([&] { run = [&](auto& s) { return twin_create(s(), create); }; });

  std::string get_id;
  auto* get_cmd = twin->add_subcommand("get", "Show a twin");
  get_cmd->add_option("id", get_id, "Twin id")->required();
  get_cmd->callback([&] { run = [&](auto& s) { return twin_get(s(), get_id); }; });

  twin_list_args list;
  auto* list_cmd = twin->add_subcommand("list", "List twins");
  list_cmd->add_option("--model", list.model, "Only twins of this DTMI");
  list_cmd->add_option("--lifecycle", list.lifecycle, "Only twins in this state")
    ->check(CLI::IsMember({"provisioned", "active", "passive", "retired"}));
  list_cmd->add_option("--limit", list.limit, "Page size")->check(CLI::PositiveNumber);
  list_cmd->add_option("--page-token", list.page_token, "Continue from this page token");
  list_cmd->add_flag("--all", list.all, "Follow page tokens to the end");
  list_cmd->callback([&] { run = [&](auto& s) { return twin_list(s(), list); }; });

  twin_patch_args patch;
  auto* patch_cmd = twin->add_subcommand("patch", "Change writable properties (JSON Merge Patch)");
  patch_cmd->add_option("id", patch.id, "Twin id")->required();
  patch_cmd->add_option("--set", patch.sets, "Property NAME=VALUE (repeatable)")
    ->allow_extra_args(false);
  patch_cmd->add_option("--patch", patch.patch, "A JSON merge patch of properties");
  patch_cmd->add_option("--if-match", patch.if_match,
                        "Apply only if the twin is at this revision");
  patch_cmd->callback([&] { run = [&](auto& s) { return twin_patch(s(), patch); }; });

  // -- lifecycle ------------------------------------------------------------
  auto* lc = app.add_subcommand("lifecycle", "Move a twin through its lifecycle");
  lc->require_subcommand(1);
  std::string lc_twin, lc_reason, lc_to;
  for (auto [verb, to, help] :
       {std::tuple{"provision", "provisioned", "Back to provisioned"},
        std::tuple{"activate", "active", "Commission: provisioned/passive -> active"},
        std::tuple{"passivate", "passive", "Take out of service: active -> passive"},
        std::tuple{"retire", "retired", "Decommission for good -> retired"}}) {
    auto* c = lc->add_subcommand(verb, help);
    c->add_option("twin", lc_twin, "Twin id")->required();
    c->add_option("--reason", lc_reason, "Why (recorded in lineage and audit)")->required();
    std::string target = to;
    c->callback([&, target] {
      lc_to = target;
      run = [&](auto& s) { return lifecycle(s(), lc_twin, lc_to, lc_reason); };
    });
  }

  // -- lineage --------------------------------------------------------------
  std::string lin_twin, lin_prop, lin_at;
  auto* lin = app.add_subcommand("lineage", "Where a property's values came from (newest first)");
  lin->add_option("twin", lin_twin, "Twin id")->required();
  lin->add_option("property", lin_prop, "Property or telemetry name")->required();
  lin->add_option("--at", lin_at, "Only the event in force at this RFC 3339 instant");
  lin->callback([&] { run = [&](auto& s) { return lineage(s(), lin_twin, lin_prop, lin_at); }; });

  // -- history --------------------------------------------------------------
  history_args hist;
  auto* hc = app.add_subcommand("history", "Past values of a property or telemetry (raw or 1m/1h rollups)");
  hc->add_option("twin", hist.twin, "Twin id")->required();
  hc->add_option("name", hist.name, "Property or telemetry name")->required();
  hc->add_option("--from", hist.from, "Start: now, -30m, -1h, -7d, RFC 3339 or epoch ms (default: to - 1h)");
  hc->add_option("--to", hist.to, "End (default: now)");
  hc->add_option("--resolution", hist.resolution, "raw, 1m, 1h or auto (default: by range)")
    ->check(CLI::IsMember({"raw", "1m", "1h", "auto"}));
  hc->add_option("--limit", hist.limit, "At most this many points (default 10000)");
  hc->callback([&] { run = [&](auto& s) { return history(s(), hist); }; });

  // -- audit ----------------------------------------------------------------
  auto* audit = app.add_subcommand("audit", "Read and verify the audit log");
  audit->require_subcommand(1);
  long long audit_from = -1;
  int audit_limit = 0;
  auto* audit_list_cmd = audit->add_subcommand("list", "List audit records");
  audit_list_cmd->add_option("--from", audit_from, "First sequence number");
  audit_list_cmd->add_option("--limit", audit_limit, "At most this many")->check(CLI::PositiveNumber);
  audit_list_cmd->callback([&] {
    run = [&](auto& s) { return audit_list(s(), audit_from, audit_limit); };
  });
  audit->add_subcommand("verify", "Check the audit hash chain (exit 1 if broken)")->callback([&] {
    run = [&](auto& s) { return audit_verify(s()); };
  });

  // -- alerts ---------------------------------------------------------------
  auto* alerts = app.add_subcommand("alerts", "Security and data alerts");
  alerts->require_subcommand(1);
  long long alerts_from = -1;
  int alerts_limit = 0;
  auto* alerts_list_cmd = alerts->add_subcommand("list", "List alerts");
  alerts_list_cmd->add_option("--from", alerts_from, "First sequence number");
  alerts_list_cmd->add_option("--limit", alerts_limit, "At most this many")->check(CLI::PositiveNumber);
  alerts_list_cmd->callback([&] {
    run = [&](auto& s) { return alerts_list(s(), alerts_from, alerts_limit); };
  });

  // -- telemetry ------------------------------------------------------------
  auto* tel = app.add_subcommand("telemetry", "Send telemetry as a device would");
  tel->require_subcommand(1);
  telemetry_args tel_args;
  auto* send = tel->add_subcommand("send", "Send values to an active twin");
  send->add_option("twin", tel_args.twin, "Twin id")->required();
  send->add_option("--set", tel_args.sets, "Value NAME=VALUE (repeatable)")
    ->required()
    ->allow_extra_args(false);
  send->add_option("--source", tel_args.source, "Sensor id");
  send->add_option("--source-time", tel_args.source_time, "RFC 3339 time of the measurement");
  send->add_option("--sequence", tel_args.sequence, "Source sequence number");
  send->callback([&] { run = [&](auto& s) { return telemetry_send(s(), tel_args); }; });

  // -- cluster --------------------------------------------------------------
  auto* cluster = app.add_subcommand("cluster", "The cluster as the node sees it");
  cluster->require_subcommand(1);
  cluster_status_args cluster_args;
  auto* cluster_status_cmd = cluster->add_subcommand(
    "status", "Nodes, shard owners and shard states; on a terminal, follows restoring shards "
              "with progress bars (every 500 ms, at most 5 minutes)");
  cluster_status_cmd->add_flag("--watch,-w", cluster_args.watch,
                               "Poll while shards restore even when stdout is not a terminal "
                               "(a line per poll)");
  cluster_status_cmd->callback([&] {
    run = [&](auto& s) { return cluster_status(s(), cluster_args); };
  });

  // -- fmu (offline) ---------------------------------------------------------
  add_fmu_commands(app, g, run);
#ifdef TWINCTL_WITH_BEHAVIOURS
  // -- behaviour -------------------------------------------------------------
  add_behaviour_commands(app, run);
#endif

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int code = app.exit(e);
    return code == 0 ? exit_ok : exit_usage;
  }
  if (!run) {
    std::cerr << app.help();
    return exit_usage;
  }
  std::unique_ptr<session> sess;
  std::function<session&()> get_session = [&]() -> session& {
    if (!sess)
      sess = std::make_unique<session>(g);
    return *sess;
  };
  try {
    return run(get_session);
  } catch (const usage_error& e) {
    std::cerr << "error: " << e.what() << '\n';
    return exit_usage;
  } catch (const std::exception& e) {
    std::cerr << "error: " << e.what() << '\n';
    return exit_unavailable;
  }
}
