// twin-node: one fabric node on the embedded default (all shards, RocksDB).
// Wires the node (actors + store) to the REST gateway and waits for SIGTERM.

#include <csignal>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <pthread.h>
#include <sys/stat.h>

#include <CLI/CLI.hpp>

#include "twin/actors/node.hpp"
#include "twin/gateway/gateway.hpp"
#include "twin/security/auth.hpp"

namespace {

/// "250ms", "2s", "5m", "1h" -> milliseconds.
std::optional<std::chrono::milliseconds> parse_duration(const std::string& s) {
  std::size_t pos = 0;
  long long n = 0;
  try {
    n = std::stoll(s, &pos);
  } catch (...) {
    return std::nullopt;
  }
  if (n < 0)
    return std::nullopt;
  auto unit = s.substr(pos);
  if (unit == "ms")
    return std::chrono::milliseconds{n};
  if (unit == "s" || unit.empty())
    return std::chrono::milliseconds{n * 1000};
  if (unit == "m")
    return std::chrono::milliseconds{n * 60'000};
  if (unit == "h")
    return std::chrono::milliseconds{n * 3'600'000};
  return std::nullopt;
}

int fail(const std::string& msg) {
  std::cerr << "twin-node: " << msg << std::endl;
  return 1;
}

} // namespace

int main(int argc, char** argv) {
  CLI::App app{"twin-node: a node of the twin fabric (embedded default: one "
               "node owns every shard; RocksDB in --data-dir)"};
  app.set_config("--config", "", "Read flags from an INI/TOML file (key = value)");
  std::string data_dir = "./twin-data";
  std::string http = "127.0.0.1:8080";
  std::string tokens_file;
  std::size_t shards = 64;
  std::size_t max_active = 100000;
  std::string idle = "5m";
  std::size_t snapshot_every = 50;
  std::size_t threads = 0;
  std::size_t http_threads = 1;
  std::string tls_cert, tls_key;
  bool no_sync = false;
  app.add_option("--data-dir", data_dir,
                 "Directory for all durable state (RocksDB in DIR/db); one "
                 "node per directory")
    ->capture_default_str();
  app.add_option("--http", http,
                 "REST gateway address ADDR:PORT; port 0 picks a free port. "
                 "The first line of output is 'listening http://ADDR:PORT'")
    ->capture_default_str();
  app.add_option("--tokens", tokens_file,
                 "Token file, one 'TOKEN PRINCIPAL ROLE[,ROLE...]' a line "
                 "(roles: admin, operator, viewer). Default: DATA_DIR/tokens, "
                 "created with a fresh admin token if missing");
  app.add_option("--shards", shards, "Number of shards S (1..65536)")
    ->capture_default_str();
  app.add_option("--max-active-twins", max_active,
                 "Cap on twin actors in memory; least recently used idle twins "
                 "are passivated beyond it")
    ->capture_default_str();
  app.add_option("--idle-timeout", idle,
                 "Passivate a twin idle this long (e.g. 500ms, 2s, 5m)")
    ->capture_default_str();
  app.add_option("--snapshot-every", snapshot_every,
                 "Write a twin snapshot every N events")
    ->capture_default_str();
  app.add_option("--threads", threads, "Actor scheduler threads (0: cores)")
    ->capture_default_str();
  app.add_option("--http-threads", http_threads, "REST gateway I/O threads")
    ->capture_default_str();
  app.add_option("--tls-cert", tls_cert, "Serve HTTPS with this PEM certificate");
  app.add_option("--tls-key", tls_key, "Private key (PEM) for --tls-cert");
  app.add_flag("--no-sync", no_sync,
               "Do not fsync group commits (faster, loses the last writes on "
               "power loss; never in production)");
  CLI11_PARSE(app, argc, argv);

  auto idle_ms = parse_duration(idle);
  if (!idle_ms)
    return fail("--idle-timeout: expected a duration like 500ms, 2s or 5m, got '"
                + idle + "'");
  auto colon = http.rfind(':');
  if (colon == std::string::npos)
    return fail("--http: expected ADDR:PORT, got '" + http + "'");
  twin::gateway::gateway_options gopts;
  gopts.address = http.substr(0, colon);
  try {
    auto port = std::stoul(http.substr(colon + 1));
    if (port > 65535)
      throw std::out_of_range("port");
    gopts.port = static_cast<std::uint16_t>(port);
  } catch (...) {
    return fail("--http: bad port in '" + http + "'");
  }
  gopts.threads = std::max<std::size_t>(1, http_threads);
  if (!tls_cert.empty() || !tls_key.empty()) {
    if (tls_cert.empty() || tls_key.empty())
      return fail("--tls-cert and --tls-key go together");
    gopts.tls_cert_file = tls_cert;
    gopts.tls_key_file = tls_key;
  }

  // Tokens: load, or create a first admin token for a fresh data dir.
  std::error_code ec;
  std::filesystem::create_directories(data_dir, ec);
  if (ec)
    return fail("cannot create data directory " + data_dir + ": " + ec.message());
  bool generated = false;
  std::string admin_token;
  if (tokens_file.empty()) {
    tokens_file = (std::filesystem::path{data_dir} / "tokens").string();
    if (!std::filesystem::exists(tokens_file)) {
      admin_token = twin::security::generate_token();
      std::ofstream out{tokens_file};
      out << "# TOKEN PRINCIPAL ROLES\n" << admin_token << " admin admin\n";
      out.close();
      ::chmod(tokens_file.c_str(), 0600);
      if (!out)
        return fail("cannot write " + tokens_file);
      generated = true;
    }
  }
  auto tokens = twin::security::token_table::load(tokens_file);
  if (!tokens)
    return fail("tokens: " + tokens.error().describe());

  // Signals are taken by sigwait in this thread only: block them before
  // any other thread starts.
  sigset_t sigs;
  sigemptyset(&sigs);
  sigaddset(&sigs, SIGTERM);
  sigaddset(&sigs, SIGINT);
  pthread_sigmask(SIG_BLOCK, &sigs, nullptr);

  twin::actors::node_options nopts;
  nopts.data_dir = data_dir;
  nopts.shards = shards;
  nopts.max_active_twins = std::max<std::size_t>(1, max_active);
  nopts.idle_timeout = *idle_ms;
  nopts.snapshot_every = std::max<std::size_t>(1, snapshot_every);
  nopts.threads = threads;
  nopts.sync = !no_sync;
  auto node = twin::actors::node::start(nopts);
  if (!node)
    return fail(node.error().describe());
  auto gw = twin::gateway::gateway::start(gopts, **node, *tokens);
  if (!gw) {
    (*node)->stop();
    return fail("http: " + gw.error().describe());
  }
  auto scheme = gopts.tls_cert_file.empty() ? "http" : "https";
  std::cout << "listening " << scheme << "://" << (*gw)->endpoint() << std::endl;
  std::cout << "data dir " << data_dir << ", " << shards << " shards, tokens "
            << tokens_file << std::endl;
  if (generated)
    std::cout << "admin token " << admin_token << std::endl;

  int sig = 0;
  sigwait(&sigs, &sig);
  std::cout << "twin-node: " << (sig == SIGTERM ? "SIGTERM" : "SIGINT")
            << ", draining" << std::endl;
  (*gw)->stop();
  (*node)->stop();
  std::cout << "twin-node: stopped cleanly" << std::endl;
  return 0;
}
