#pragma once
// Test support for integration tests: temporary directories, a launcher for
// the real twin-node binary, a runner for twinctl, a JSON-over-HTTP client
// and condition waits with deadlines.
//
// Threads: a node_process is owned by the thread that created it; it must
// stay alive while the node runs (the child is killed when that thread
// exits, via PR_SET_PDEATHSIG, so a crashed test never leaks a node).
// Everything else is plain values or per-object state.

#include <sys/types.h>

#include <chrono>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "twin/http/client.hpp"

namespace twin::test {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

/// A fresh directory under $TMPDIR (or /tmp), removed with its contents on
/// destruction unless TWIN_KEEP_TEMP is set in the environment.
class temp_dir {
public:
  explicit temp_dir(const std::string& prefix = "twin-test");
  ~temp_dir();
  temp_dir(const temp_dir&) = delete;
  temp_dir& operator=(const temp_dir&) = delete;
  const fs::path& path() const noexcept { return path_; }
  /// path() / name.
  fs::path operator/(const std::string& name) const { return path_ / name; }

private:
  fs::path path_;
};

/// Tokens written by write_tokens_file, one per role.
struct tokens {
  /// Principal "alice", roles admin,operator,viewer.
  std::string admin;
  /// Principal "olga", roles operator,viewer.
  std::string operator_;
  /// Principal "victor", role viewer.
  std::string viewer;
};

/// Writes a twin-node tokens file (`TOKEN PRINCIPAL ROLE[,ROLE]` lines).
tokens write_tokens_file(const fs::path& file);

/// Path of the twin-node binary (TWIN_NODE_BIN at build time; the
/// environment variable TWIN_NODE_BIN overrides it). Empty if unknown.
std::string node_binary();
/// Path of the twinctl binary (TWINCTL_BIN, overridable likewise).
std::string twinctl_binary();

struct node_options {
  /// --data-dir (required).
  fs::path data_dir;
  /// --tokens (required).
  fs::path tokens_file;
  /// More arguments, e.g. {"--max-active-twins", "1000"}.
  std::vector<std::string> extra_args;
  /// Where the node's stderr and the rest of its stdout go. Default:
  /// data_dir's parent / "node-<pid>.log".
  fs::path log_file;
  /// Deadline for the `listening http://...` line.
  std::chrono::milliseconds start_timeout = 20s;
  /// The binary; default node_binary().
  std::string binary;
};

/// A running twin-node child process. The constructor starts it with
/// `--data-dir DIR --http 127.0.0.1:0 --tokens FILE [extra args]` and waits
/// for its first stdout line `listening http://ADDR:PORT`; on failure (exit,
/// deadline) it kills the child, prints the log to stderr and throws
/// std::runtime_error (with the log in the message). The destructor kills a
/// still-running node (SIGKILL).
class node_process {
public:
  explicit node_process(node_options options);
  ~node_process();
  node_process(const node_process&) = delete;
  node_process& operator=(const node_process&) = delete;

  /// "http://127.0.0.1:PORT".
  const std::string& base_url() const noexcept { return base_url_; }
  pid_t pid() const noexcept { return pid_; }
  const fs::path& log_file() const noexcept { return options_.log_file; }
  const node_options& options() const noexcept { return options_; }

  /// True while the child has not exited.
  bool running();
  /// SIGKILL and reap. No-op if it already exited.
  void kill();
  /// SIGTERM, then wait up to `timeout` for the exit. Returns the exit code
  /// (0..255), 128+signal if it died of a signal, or -1 if it had to be
  /// SIGKILLed after the timeout.
  int terminate(std::chrono::milliseconds timeout = 30s);
  /// The node's resident set size in KiB (VmRSS), or -1.
  long rss_kib() const;
  /// The log written so far.
  std::string log() const;
  /// Prints the log to stderr with a heading.
  void print_log() const;

private:
  void join_forwarder();

  node_options options_;
  pid_t pid_ = -1;
  int stdout_fd_ = -1;
  std::optional<int> exit_status_;
  std::string base_url_;
  std::thread forwarder_;
};

/// Polls `pred` every `poll` until it returns true or `timeout` passed.
/// Returns the last result of `pred`.
bool wait_until(const std::function<bool()>& pred,
                std::chrono::steady_clock::duration timeout,
                std::chrono::milliseconds poll = 20ms);

/// The outcome of a finished child process.
struct command_result {
  /// Exit code, 128+signal, or -1 when killed at the timeout.
  int exit_code = -1;
  std::string out;
  std::string err;
};

/// Environment changes: (name, value) sets, (name, nullopt) unsets.
using env_changes = std::vector<std::pair<std::string, std::optional<std::string>>>;

/// Runs `argv` (argv[0] is the binary path) to completion with a deadline,
/// capturing stdout and stderr.
command_result run_process(const std::vector<std::string>& argv,
                           const env_changes& env = {},
                           std::chrono::milliseconds timeout = 60s);

/// Runs twinctl with `args`. TWIN_SERVER and TWIN_TOKEN are removed from the
/// environment first (tests pass --server/--token explicitly), then `env`
/// applies.
command_result run_twinctl(const std::vector<std::string>& args,
                           const env_changes& env = {},
                           std::chrono::milliseconds timeout = 60s);

/// The bearing model: tests/data/dtdl/bearing.json if it exists, else a
/// built-in copy with the same contents (dtmi:example:Bearing;1).
nlohmann::json bearing_model();
inline const std::string bearing_dtmi = "dtmi:example:Bearing;1";
/// Writes bearing_model() to `file` (for twinctl model add/validate).
void write_json_file(const fs::path& file, const nlohmann::json& j);

/// A response with its body parsed (null when the body is empty or not JSON).
struct api_response {
  int status = 0;
  nlohmann::json body;
  twin::http::response raw;
  /// body["code"] or "".
  std::string code() const;
  /// body["rule"] or "".
  std::string rule() const;
};

/// A JSON client bound to a node and a token. Transport errors throw
/// std::runtime_error (a test reports them as errors).
class api_client {
public:
  api_client(const std::string& base, const std::string& token,
             std::chrono::milliseconds timeout = 30s);

  api_response get(const std::string& target, const twin::http::header_list& h = {});
  api_response put(const std::string& target, const nlohmann::json& body,
                   const twin::http::header_list& h = {});
  api_response post(const std::string& target, const nlohmann::json& body,
                    const twin::http::header_list& h = {});
  api_response patch(const std::string& target, const nlohmann::json& body,
                     const twin::http::header_list& h = {});
  api_response del(const std::string& target, const twin::http::header_list& h = {});
  api_response call(const std::string& method, const std::string& target,
                    const std::optional<nlohmann::json>& body,
                    const twin::http::header_list& h = {});

  /// As call(), but returns the transport error instead of throwing.
  expected<api_response> try_call(const std::string& method, const std::string& target,
                                  const std::optional<nlohmann::json>& body,
                                  const twin::http::header_list& h = {});

  twin::http::client& raw() noexcept { return client_; }

private:
  twin::http::client client_;
};

/// "/api/v1/twins/ID" with ID percent-encoded.
std::string twin_path(const std::string& id);

/// The value of the Prometheus sample `name` (the first line `name` or
/// `name{...}`), or nullopt.
std::optional<double> prometheus_value(const std::string& metrics_text,
                                       const std::string& name);

/// RFC 3339 UTC time with milliseconds, e.g. 2026-11-25T12:00:00.000Z.
std::string rfc3339_now();

} // namespace twin::test
