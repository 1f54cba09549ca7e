#include "twin/test/support.hpp"

#include "twin/test/child_process.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <fstream>
#include <iostream>
#include <sstream>
#include <stdexcept>

extern char** environ;

namespace twin::test {

namespace {

std::string env_or(const char* name, const char* fallback) {
  if (const char* v = std::getenv(name); v && *v)
    return v;
  return fallback;
}

void append_file(int fd, const char* data, std::size_t n) {
  while (n > 0) {
    auto w = ::write(fd, data, n);
    if (w < 0) {
      if (errno == EINTR)
        continue;
      return;
    }
    data += w;
    n -= static_cast<std::size_t>(w);
  }
}

/// Builds the child's environment from ours plus `changes`.
std::vector<std::string> make_env(const env_changes& changes) {
  std::vector<std::string> env;
  for (char** e = environ; e && *e; ++e) {
    std::string kv = *e;
    auto name = kv.substr(0, kv.find('='));
    bool changed = false;
    for (const auto& [k, v] : changes)
      if (k == name)
        changed = true;
    if (!changed)
      env.push_back(std::move(kv));
  }
  for (const auto& [k, v] : changes)
    if (v)
      env.push_back(k + "=" + *v);
  return env;
}

} // namespace

// -- temp_dir ---------------------------------------------------------------

temp_dir::temp_dir(const std::string& prefix) {
  std::string base = env_or("TMPDIR", "/tmp");
  std::string templ = base + "/" + prefix + "-XXXXXX";
  std::vector<char> buf(templ.begin(), templ.end());
  buf.push_back('\0');
  if (!::mkdtemp(buf.data()))
    throw std::runtime_error("mkdtemp(" + templ + ") failed: " + std::strerror(errno));
  path_ = buf.data();
}

temp_dir::~temp_dir() {
  if (std::getenv("TWIN_KEEP_TEMP")) {
    std::cerr << "keeping " << path_ << " (TWIN_KEEP_TEMP)\n";
    return;
  }
  std::error_code ec;
  fs::remove_all(path_, ec);
}

// -- tokens -----------------------------------------------------------------

tokens write_tokens_file(const fs::path& file) {
  tokens t{"admin-token-0123456789abcdef", "operator-token-0123456789abcdef",
           "viewer-token-0123456789abcdef"};
  std::ofstream out(file);
  out << "# test tokens: TOKEN PRINCIPAL ROLE[,ROLE]\n"
      << t.admin << " alice admin,operator,viewer\n"
      << t.operator_ << " olga operator,viewer\n"
      << t.viewer << " victor viewer\n";
  if (!out)
    throw std::runtime_error("cannot write " + file.string());
  return t;
}

std::string node_binary() {
#ifdef TWIN_NODE_BIN
  return env_or("TWIN_NODE_BIN", TWIN_NODE_BIN);
#else
  return env_or("TWIN_NODE_BIN", "");
#endif
}

std::string twinctl_binary() {
#ifdef TWINCTL_BIN
  return env_or("TWINCTL_BIN", TWINCTL_BIN);
#else
  return env_or("TWINCTL_BIN", "");
#endif
}

// -- node_process -----------------------------------------------------------

node_process::node_process(node_options options) : options_(std::move(options)) {
  if (options_.binary.empty())
    options_.binary = node_binary();
  if (options_.binary.empty())
    throw std::runtime_error("twin-node binary unknown (not built; set TWIN_NODE_BIN)");
  if (options_.data_dir.empty() || options_.tokens_file.empty())
    throw std::runtime_error("node_options: data_dir and tokens_file are required");

  std::vector<std::string> args{options_.binary,
                                "--data-dir", options_.data_dir.string(),
                                "--http", "127.0.0.1:0",
                                "--tokens", options_.tokens_file.string()};
  args.insert(args.end(), options_.extra_args.begin(), options_.extra_args.end());

  if (options_.log_file.empty()) {
    static int counter = 0;
    options_.log_file = options_.data_dir.parent_path()
                        / ("node-" + std::to_string(::getpid()) + "-"
                           + std::to_string(++counter) + ".log");
  }
  int log_fd = open_log(options_.log_file);
  int out_pipe[2];
  if (::pipe2(out_pipe, O_CLOEXEC) != 0) {
    int e = errno;
    ::close(log_fd);
    throw std::runtime_error(std::string{"pipe2: "} + std::strerror(e));
  }
  {
    std::string cmd = "$";
    for (const auto& a : args)
      cmd += " " + a;
    cmd += "\n";
    append_file(log_fd, cmd.data(), cmd.size());
  }
  // The child's stdout is a pipe (for the `listening` line), stderr the log.
  try {
    pid_ = spawn_child(args, out_pipe[1], log_fd);
  } catch (...) {
    ::close(out_pipe[0]);
    ::close(out_pipe[1]);
    ::close(log_fd);
    throw;
  }
  ::close(out_pipe[1]);
  stdout_fd_ = out_pipe[0];

  // Read stdout until the `listening` line, with a deadline.
  auto deadline = std::chrono::steady_clock::now() + options_.start_timeout;
  std::string pending;
  std::string failure;
  for (;;) {
    auto nl = pending.find('\n');
    if (nl != std::string::npos) {
      std::string line = pending.substr(0, nl);
      append_file(log_fd, pending.data(), nl + 1);
      pending.erase(0, nl + 1);
      if (!line.empty() && line.back() == '\r')
        line.pop_back();
      const std::string prefix = "listening ";
      if (line.rfind(prefix, 0) == 0) {
        base_url_ = line.substr(prefix.size());
        while (!base_url_.empty() && base_url_.back() == '/')
          base_url_.pop_back();
        break;
      }
      failure = "first stdout line is not `listening http://ADDR:PORT`: " + line;
      break;
    }
    auto now = std::chrono::steady_clock::now();
    if (now >= deadline) {
      failure = "no `listening` line within "
                + std::to_string(options_.start_timeout.count()) + " ms";
      break;
    }
    pollfd p{stdout_fd_, POLLIN, 0};
    int wait_ms = static_cast<int>(
      std::chrono::duration_cast<std::chrono::milliseconds>(deadline - now).count());
    int rc = ::poll(&p, 1, std::min(wait_ms, 200));
    if (rc < 0 && errno != EINTR) {
      failure = std::string{"poll: "} + std::strerror(errno);
      break;
    }
    if (rc > 0) {
      char buf[4096];
      auto n = ::read(stdout_fd_, buf, sizeof(buf));
      if (n > 0) {
        pending.append(buf, static_cast<std::size_t>(n));
        continue;
      }
      if (n == 0) {
        exit_status_ = reap(pid_);
        failure = "twin-node exited before listening (status "
                  + std::to_string(*exit_status_) + ")";
        break;
      }
    }
  }
  if (!pending.empty())
    append_file(log_fd, pending.data(), pending.size());

  if (!failure.empty()) {
    ::close(log_fd);
    kill();
    join_forwarder();
    std::string log_text = log();
    std::cerr << "---- twin-node failed to start: " << failure << "\n"
              << log_text << "---- end of twin-node log\n";
    throw std::runtime_error("twin-node failed to start: " + failure + "\n" + log_text);
  }

  // Forward the rest of stdout to the log (so the node never blocks on a
  // full pipe).
  forwarder_ = std::thread([fd = stdout_fd_, log_fd] {
    char buf[4096];
    for (;;) {
      auto n = ::read(fd, buf, sizeof(buf));
      if (n > 0) {
        append_file(log_fd, buf, static_cast<std::size_t>(n));
        continue;
      }
      if (n < 0 && errno == EINTR)
        continue;
      break;
    }
    ::close(log_fd);
  });
}

node_process::~node_process() {
  kill();
  join_forwarder();
}

void node_process::join_forwarder() {
  if (forwarder_.joinable())
    forwarder_.join();
  if (stdout_fd_ >= 0) {
    ::close(stdout_fd_);
    stdout_fd_ = -1;
  }
}

bool node_process::running() {
  if (exit_status_ || pid_ <= 0)
    return false;
  if (auto code = wait_exit(pid_, 0ms)) {
    exit_status_ = *code;
    return false;
  }
  return true;
}

void node_process::kill() {
  if (!running())
    return;
  ::kill(pid_, SIGKILL);
  exit_status_ = reap(pid_);
  join_forwarder();
}

int node_process::terminate(std::chrono::milliseconds timeout) {
  if (!running())
    return exit_status_.value_or(-1);
  ::kill(pid_, SIGTERM);
  if (auto code = wait_exit(pid_, timeout)) {
    exit_status_ = *code;
    join_forwarder();
    return *code;
  }
  std::cerr << "twin-node pid " << pid_ << " ignored SIGTERM for "
            << timeout.count() << " ms; killing it\n";
  kill();
  return -1;
}

long node_process::rss_kib() const {
  std::ifstream in("/proc/" + std::to_string(pid_) + "/status");
  std::string line;
  while (std::getline(in, line))
    if (line.rfind("VmRSS:", 0) == 0)
      return std::strtol(line.c_str() + 6, nullptr, 10);
  return -1;
}

std::string node_process::log() const {
  return read_text_file(options_.log_file);
}

void node_process::print_log() const {
  std::cerr << "---- twin-node log " << options_.log_file << "\n"
            << log() << "---- end of twin-node log\n";
}

// -- waits and processes ----------------------------------------------------

bool wait_until(const std::function<bool()>& pred,
                std::chrono::steady_clock::duration timeout,
                std::chrono::milliseconds poll) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    if (pred())
      return true;
    if (std::chrono::steady_clock::now() >= deadline)
      return pred();
    std::this_thread::sleep_for(poll);
  }
}

command_result run_process(const std::vector<std::string>& argv_in,
                           const env_changes& env_in,
                           std::chrono::milliseconds timeout) {
  if (argv_in.empty() || argv_in[0].empty())
    throw std::runtime_error("run_process: no binary");
  int out_pipe[2], err_pipe[2];
  if (::pipe2(out_pipe, O_CLOEXEC) != 0)
    throw std::runtime_error("pipe2 failed");
  if (::pipe2(err_pipe, O_CLOEXEC) != 0) {
    ::close(out_pipe[0]);
    ::close(out_pipe[1]);
    throw std::runtime_error("pipe2 failed");
  }
  pid_t pid = -1;
  try {
    pid = spawn_child(argv_in, out_pipe[1], err_pipe[1], make_env(env_in));
  } catch (...) {
    for (int fd : {out_pipe[0], out_pipe[1], err_pipe[0], err_pipe[1]})
      ::close(fd);
    throw;
  }
  ::close(out_pipe[1]);
  ::close(err_pipe[1]);
  command_result res;
  pollfd fds[2] = {{out_pipe[0], POLLIN, 0}, {err_pipe[0], POLLIN, 0}};
  std::string* sinks[2] = {&res.out, &res.err};
  int open_fds = 2;
  bool timed_out = false;
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (open_fds > 0) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
      deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      timed_out = true;
      ::kill(pid, SIGKILL);
      break;
    }
    int rc = ::poll(fds, 2, static_cast<int>(std::min<long long>(left.count(), 200)));
    if (rc < 0 && errno != EINTR)
      break;
    for (int i = 0; i < 2; ++i) {
      if (fds[i].fd < 0 || !(fds[i].revents & (POLLIN | POLLHUP | POLLERR)))
        continue;
      char buf[4096];
      auto n = ::read(fds[i].fd, buf, sizeof(buf));
      if (n > 0) {
        sinks[i]->append(buf, static_cast<std::size_t>(n));
      } else if (n == 0 || errno != EINTR) {
        ::close(fds[i].fd);
        fds[i].fd = -1;
        --open_fds;
      }
    }
  }
  for (auto& f : fds)
    if (f.fd >= 0)
      ::close(f.fd);
  int code = reap(pid);
  res.exit_code = timed_out ? -1 : code;
  return res;
}

command_result run_twinctl(const std::vector<std::string>& args,
                           const env_changes& env, std::chrono::milliseconds timeout) {
  auto bin = twinctl_binary();
  if (bin.empty())
    throw std::runtime_error("twinctl binary unknown (set TWINCTL_BIN)");
  std::vector<std::string> argv{bin};
  argv.insert(argv.end(), args.begin(), args.end());
  env_changes all{{"TWIN_SERVER", std::nullopt}, {"TWIN_TOKEN", std::nullopt}};
  for (const auto& e : env) {
    std::erase_if(all, [&](const auto& x) { return x.first == e.first; });
    all.push_back(e);
  }
  return run_process(argv, all, timeout);
}

// -- data -------------------------------------------------------------------

nlohmann::json bearing_model() {
#ifdef TWIN_TEST_DATA_DIR
  fs::path file = fs::path{TWIN_TEST_DATA_DIR} / "dtdl" / "bearing.json";
  std::error_code ec;
  if (fs::exists(file, ec)) {
    auto j = nlohmann::json::parse(read_text_file(file), nullptr, false);
    if (!j.is_discarded())
      return j;
  }
#endif
  return nlohmann::json::parse(R"({
  "@context": "dtmi:dtdl:context;3",
  "@id": "dtmi:example:Bearing;1",
  "@type": "Interface",
  "displayName": "Bearing",
  "contents": [
    {"@type": "Property", "name": "ratedLoad", "schema": "double", "writable": true},
    {"@type": "Property", "name": "maintenanceMode", "schema": "boolean", "writable": true},
    {"@type": "Property", "name": "location", "schema": "string", "writable": true},
    {"@type": "Property", "name": "condition", "writable": true,
     "schema": {"@type": "Enum", "valueSchema": "string",
                "enumValues": [{"name": "good", "enumValue": "good"},
                               {"name": "worn", "enumValue": "worn"},
                               {"name": "failed", "enumValue": "failed"}]}},
    {"@type": "Property", "name": "serialNumber", "schema": "string"},
    {"@type": "Telemetry", "name": "temperature", "schema": "double"},
    {"@type": "Telemetry", "name": "vibrationRms", "schema": "double"},
    {"@type": "Telemetry", "name": "speed", "schema": "double"},
    {"@type": "Telemetry", "name": "load", "schema": "double"}
  ]
})");
}

void write_json_file(const fs::path& file, const nlohmann::json& j) {
  std::ofstream out(file);
  out << j.dump(2) << '\n';
  if (!out)
    throw std::runtime_error("cannot write " + file.string());
}

// -- api_client -------------------------------------------------------------

std::string api_response::code() const {
  if (body.is_object() && body.contains("code") && body["code"].is_string())
    return body["code"].get<std::string>();
  return {};
}

std::string api_response::rule() const {
  if (body.is_object() && body.contains("rule") && body["rule"].is_string())
    return body["rule"].get<std::string>();
  return {};
}

namespace {

twin::http::client_options api_options(const std::string& token,
                                       std::chrono::milliseconds timeout) {
  twin::http::client_options o;
  o.bearer_token = token;
  o.request_timeout = timeout;
  o.user_agent = "twin-tests/1";
  return o;
}

} // namespace

api_client::api_client(const std::string& base, const std::string& token,
                       std::chrono::milliseconds timeout)
  : client_(base, api_options(token, timeout)) {}

expected<api_response> api_client::try_call(const std::string& method,
                                            const std::string& target,
                                            const std::optional<nlohmann::json>& body,
                                            const twin::http::header_list& h) {
  auto r = client_.request(method, target, body ? body->dump() : std::string{}, h);
  if (!r)
    return r.error();
  api_response out;
  out.status = r->status;
  out.body = r->json();
  if (out.body.is_discarded())
    out.body = nullptr;
  out.raw = std::move(*r);
  return out;
}

api_response api_client::call(const std::string& method, const std::string& target,
                              const std::optional<nlohmann::json>& body,
                              const twin::http::header_list& h) {
  auto r = try_call(method, target, body, h);
  if (!r)
    throw std::runtime_error(method + " " + target + ": " + r.error().describe());
  return std::move(*r);
}

api_response api_client::get(const std::string& target, const twin::http::header_list& h) {
  return call("GET", target, std::nullopt, h);
}
api_response api_client::put(const std::string& target, const nlohmann::json& body,
                             const twin::http::header_list& h) {
  return call("PUT", target, body, h);
}
api_response api_client::post(const std::string& target, const nlohmann::json& body,
                              const twin::http::header_list& h) {
  return call("POST", target, body, h);
}
api_response api_client::patch(const std::string& target, const nlohmann::json& body,
                               const twin::http::header_list& h) {
  return call("PATCH", target, body, h);
}
api_response api_client::del(const std::string& target, const twin::http::header_list& h) {
  return call("DELETE", target, std::nullopt, h);
}

std::string twin_path(const std::string& id) {
  return "/api/v1/twins/" + twin::http::encode_path_segment(id);
}

std::optional<double> prometheus_value(const std::string& text, const std::string& name) {
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#')
      continue;
    if (line.rfind(name, 0) != 0)
      continue;
    auto rest = line.substr(name.size());
    if (rest.empty() || (rest[0] != ' ' && rest[0] != '{'))
      continue;
    auto sp = rest.rfind('}');
    auto value_part = sp == std::string::npos ? rest : rest.substr(sp + 1);
    std::istringstream vs(value_part);
    double v = 0;
    if (vs >> v)
      return v;
  }
  return std::nullopt;
}

std::string rfc3339_now() {
  auto now = std::chrono::system_clock::now();
  auto secs = std::chrono::system_clock::to_time_t(now);
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
              now.time_since_epoch()).count() % 1000;
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[64];
  std::snprintf(buf, sizeof(buf), "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ",
                tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
                tm.tm_min, tm.tm_sec, static_cast<int>(ms));
  return buf;
}

} // namespace twin::test
