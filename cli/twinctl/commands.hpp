#pragma once
// twinctl's commands: each one maps to REST calls (docs/api.md) and returns
// the process exit code.

#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "twin/http/client.hpp"

namespace twinctl {

/// Process exit codes (documented in --help).
enum exit_code : int {
  /// Success.
  exit_ok = 0,
  /// The server refused the request (4xx), or `audit verify` found the chain
  /// broken.
  exit_refused = 1,
  /// Bad command line or local input (unreadable file, bad JSON argument).
  exit_usage = 2,
  /// The server could not be reached, timed out, or failed (5xx).
  exit_unavailable = 3,
};

/// A problem with the command line or local input; main() prints it and
/// exits with exit_usage.
struct usage_error : std::runtime_error {
  using std::runtime_error::runtime_error;
};

/// Global options.
struct globals {
  std::string server = "http://127.0.0.1:8080";
  std::string token;
  /// "table" or "json".
  std::string output = "table";
  /// Per-request timeout in seconds.
  double timeout = 30;
  /// TLS: skip certificate verification.
  bool insecure = false;
  /// TLS: trusted CA bundle (PEM).
  std::string cacert;
};

/// Parses a command-line VALUE: JSON if it parses as JSON, else the string.
nlohmann::json parse_value(const std::string& text);

/// Parses NAME=VALUE pairs into an object. Throws usage_error.
nlohmann::json parse_assignments(const std::vector<std::string>& sets);

/// A connection to the server plus output settings.
class session {
public:
  explicit session(globals g);

  bool json_output() const noexcept { return globals_.output == "json"; }
  const globals& options() const noexcept { return globals_; }

  /// Sends a request. On success (2xx) returns the response. Otherwise
  /// prints the problem to stderr and returns nullopt; `failure_code()`
  /// then tells the exit code.
  std::optional<twin::http::response>
  call(const std::string& method, const std::string& target,
       const std::optional<nlohmann::json>& body = std::nullopt,
       const twin::http::header_list& headers = {});

  /// The exit code of the last failed call.
  int failure_code() const noexcept { return failure_code_; }

private:
  globals globals_;
  twin::http::client client_;
  int failure_code_ = exit_ok;
};

int model_add(session& s, const std::vector<std::string>& paths);
int model_list(session& s);
int model_show(session& s, const std::string& dtmi);
int model_validate(const std::vector<std::string>& paths);

struct twin_create_args {
  std::string id;
  std::string model;
  std::string properties;
  std::vector<std::string> sets;
};
int twin_create(session& s, const twin_create_args& a);
int twin_get(session& s, const std::string& id);

struct twin_list_args {
  std::string model;
  std::string lifecycle;
  int limit = 0;
  std::string page_token;
  bool all = false;
};
int twin_list(session& s, const twin_list_args& a);

struct twin_patch_args {
  std::string id;
  std::vector<std::string> sets;
  std::string patch;
  std::string if_match;
};
int twin_patch(session& s, const twin_patch_args& a);

/// `to` is the target lifecycle state: provisioned, active, passive, retired.
int lifecycle(session& s, const std::string& twin, const std::string& to,
              const std::string& reason);

int lineage(session& s, const std::string& twin, const std::string& property,
            const std::string& at);

struct history_args {
  std::string twin;
  std::string name;
  std::string from;        ///< RFC 3339, ms since epoch, "now" or "-1h"/"-30m"/"-7d"
  std::string to;
  std::string resolution;  ///< raw | 1m | 1h | auto (default)
  int limit = 0;
};
/// Resolves a history time argument to ms since the epoch relative to
/// `now_ms`: "now", "-90s", "-30m", "-1h", "-7d", an RFC 3339 time or a
/// number of ms. Empty stays empty. Throws usage_error.
std::string resolve_history_time(const std::string& arg, long long now_ms);
int history(session& s, const history_args& a);

int audit_list(session& s, long long from, int limit);
int audit_verify(session& s);
int alerts_list(session& s, long long from, int limit);

struct telemetry_args {
  std::string twin;
  std::vector<std::string> sets;
  std::string source;
  std::string source_time;
  long long sequence = -1;
};
int telemetry_send(session& s, const telemetry_args& a);

struct cluster_status_args {
  /// Poll while some shard is restoring even when stdout is not a terminal
  /// (a line per poll).
  bool watch = false;
};
/// GET /cluster: the cluster view (table or JSON); on a terminal, or with
/// --watch, follows restoring shards every 500 ms for at most 5 minutes.
int cluster_status(session& s, const cluster_status_args& a);

} // namespace twinctl
