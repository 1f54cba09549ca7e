// twin-node: one fabric node on the embedded default (all shards, RocksDB).
// Wires the node (actors + store) to the REST gateway and waits for SIGTERM.

#include <csignal>
#include <cstdlib>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <pthread.h>
#include <tuple>
#include <sys/stat.h>

#include <CLI/CLI.hpp>

#include "node/fabric_sink.hpp"
#include "twin/actors/node.hpp"
#include "twin/cluster/cluster.hpp"
#include "twin/gateway/gateway.hpp"
#include "twin/security/auth.hpp"
#include "twin/sparkplug/mqtt_host.hpp"
#ifdef TWIN_WITH_BEHAVIOURS
#include "twin/behaviours/runtime.hpp"
#include "twin/behaviours/spec.hpp"
#include "twin/behaviours/webhook.hpp"
#endif

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
  if (unit == "d")
    return std::chrono::milliseconds{n * 86'400'000};
  if (unit == "y")
    return std::chrono::milliseconds{n * 365 * 86'400'000LL};
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
  std::string retention_raw = "30d", retention_1m = "365d", retention_1h = "7y";
  // Sparkplug B host (off unless --mqtt is given).
  std::vector<std::string> mqtt_urls;
  std::string tagmap_file;
  std::vector<std::string> sparkplug_groups;
  int mqtt_version = 5;
  std::string mqtt_client_id, mqtt_ca, mqtt_cert, mqtt_key, mqtt_key_password;
  std::string mqtt_username, mqtt_password;
  std::string sparkplug_host_id = "twin-fabric";
  bool mqtt_no_verify_hostname = false;
  std::size_t mqtt_max_in_flight = twin::sparkplug::mqtt_host_options{}.max_in_flight;
  // Behaviours (FMU / ML bound to twins) and alert webhooks.
  std::string fmu_dir = ".";
  std::string fmu_worker;
  bool no_behaviours = false;
  std::vector<std::string> alert_webhooks;
  // Cluster mode (off unless --kafka is given).
  std::string kafka_bootstrap, node_id, cluster_listen = "127.0.0.1:0", cluster_advertise;
  std::string cluster_cert, cluster_key, cluster_ca, topic_prefix = "twin.",
                                                      cluster_group = "twin-fabric";
  std::vector<std::string> kafka_opts;
  std::string session_timeout = "3s";
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
  app.add_option("--threads", threads, "Actor scheduler threads (0: cores - 1, at least 1)")
    ->capture_default_str();
  app.add_option("--http-threads", http_threads, "REST gateway I/O threads")
    ->capture_default_str();
  app.add_option("--tls-cert", tls_cert, "Serve HTTPS with this PEM certificate");
  app.add_option("--tls-key", tls_key, "Private key (PEM) for --tls-cert");
  app.add_flag("--no-sync", no_sync,
               "Do not fsync group commits (faster, loses the last writes on "
               "power loss; never in production)");
  std::string history_checkpoint = "5s";
  app.add_option("--history-checkpoint", history_checkpoint,
                 "Store open history chunks and free idle series this often (e.g. 500ms, 2s)")
    ->capture_default_str();
  app.add_option("--retention-raw", retention_raw,
                 "Keep raw history samples this long (e.g. 30d, 12h)")
    ->capture_default_str();
  app.add_option("--retention-1m", retention_1m, "Keep 1-minute rollups this long")
    ->capture_default_str();
  app.add_option("--retention-1h", retention_1h, "Keep 1-hour rollups this long")
    ->capture_default_str();
  auto* mqtt_opt = app.add_option(
    "--mqtt", mqtt_urls,
    "Sparkplug B host: MQTT broker URL (tcp://HOST:PORT or ssl://HOST:PORT); "
    "repeat for fallbacks. Turns the host on (needs --tagmap)")
    ->group("Sparkplug B");
  app.add_option("--tagmap", tagmap_file,
                 "Tag map (JSON) from group/edge node/device/metric to twin "
                 "and name; its version goes into every event's lineage")
    ->group("Sparkplug B")->needs(mqtt_opt);
  app.add_option("--sparkplug-group", sparkplug_groups,
                 "Subscribe to this Sparkplug group (repeatable; default: all)")
    ->group("Sparkplug B")->needs(mqtt_opt);
  app.add_option("--mqtt-version", mqtt_version, "3 (MQTT 3.1.1) or 5")
    ->group("Sparkplug B")->check(CLI::IsMember({3, 4, 5}))->capture_default_str();
  app.add_option("--mqtt-client-id", mqtt_client_id, "MQTT client id")->group("Sparkplug B");
  app.add_option("--mqtt-ca", mqtt_ca, "CA bundle (PEM) that signs the broker's certificate")
    ->group("Sparkplug B");
  app.add_option("--mqtt-cert", mqtt_cert, "Client certificate (PEM) for TLS")->group("Sparkplug B");
  app.add_option("--mqtt-key", mqtt_key, "Client private key (PEM)")->group("Sparkplug B");
  app.add_option("--mqtt-key-password", mqtt_key_password, "Passphrase of --mqtt-key")
    ->group("Sparkplug B");
  app.add_flag("--mqtt-no-verify-hostname", mqtt_no_verify_hostname,
               "Do not check the broker certificate's host name (chain still checked)")
    ->group("Sparkplug B");
  app.add_option("--mqtt-username", mqtt_username, "MQTT user name")->group("Sparkplug B");
  app.add_option("--mqtt-password", mqtt_password, "MQTT password")->group("Sparkplug B");
  app.add_option("--mqtt-max-in-flight", mqtt_max_in_flight,
                 "Ingest calls the host keeps outstanding (not yet durable) before "
                 "its MQTT thread waits; more lets the store batch larger commits")
    ->group("Sparkplug B")->check(CLI::PositiveNumber)->capture_default_str();
  app.add_option("--sparkplug-host-id", sparkplug_host_id,
                 "Sparkplug 3.0 host id for spBv1.0/STATE/<id> (empty: none)")
    ->group("Sparkplug B")->capture_default_str();
  auto* kafka_opt = app.add_option(
    "--kafka", kafka_bootstrap,
    "Join a cluster: Kafka bootstrap servers HOST:PORT[,...]. Shards are the "
    "partitions of the telemetry topic this node is assigned (needs --node-id "
    "and the --cluster-* TLS files)")->group("Cluster");
  app.add_option("--node-id", node_id,
                 "This node's id; must be the CN of --cluster-cert")
    ->group("Cluster")->needs(kafka_opt);
  app.add_option("--cluster-listen", cluster_listen,
                 "Node-to-node mTLS listener ADDR:PORT (port 0: any free port)")
    ->group("Cluster")->capture_default_str();
  app.add_option("--cluster-advertise", cluster_advertise,
                 "HOST:PORT other nodes connect to (default: the listener's address)")
    ->group("Cluster");
  app.add_option("--cluster-cert", cluster_cert, "This node's certificate (PEM), from the fabric CA")
    ->group("Cluster");
  app.add_option("--cluster-key", cluster_key, "Its private key (PEM, unencrypted)")
    ->group("Cluster");
  app.add_option("--cluster-ca", cluster_ca, "The fabric CA certificate (PEM)")->group("Cluster");
  app.add_option("--kafka-opt", kafka_opts,
                 "KEY=VALUE passed to librdkafka (repeatable; e.g. "
                 "security.protocol=SASL_SSL)")->group("Cluster");
  app.add_option("--topic-prefix", topic_prefix,
                 "Topics PREFIX{telemetry,changelog,events,cluster}")
    ->group("Cluster")->capture_default_str();
  app.add_option("--cluster-group", cluster_group, "Kafka consumer group of the nodes")
    ->group("Cluster")->capture_default_str();
  app.add_option("--session-timeout", session_timeout,
                 "Kafka group session timeout: how fast a dead node's shards move")
    ->group("Cluster")->capture_default_str();
#ifdef TWIN_WITH_BEHAVIOURS
  app.add_option("--fmu-dir", fmu_dir,
                 "Directory that relative \"fmu\" paths of behaviour bindings resolve against")
    ->group("Behaviours")->capture_default_str();
  app.add_option("--fmu-worker", fmu_worker,
                 "The twin-fmu-worker binary (default: next to twin-node, else $TWIN_FMU_WORKER)")
    ->group("Behaviours");
  app.add_flag("--no-behaviours", no_behaviours,
               "Do not run the behaviours bound to twins (bindings are still stored)")
    ->group("Behaviours");
  app.add_option("--alert-webhook", alert_webhooks,
                 "POST every alert (CloudEvent JSON) to this URL, with retries; repeatable")
    ->group("Behaviours");
#endif
  CLI11_PARSE(app, argc, argv);

  auto idle_ms = parse_duration(idle);
  if (!idle_ms)
    return fail("--idle-timeout: expected a duration like 500ms, 2s or 5m, got '"
                + idle + "'");
  twin::persistence::retention_policy retention;
  for (auto [flag, text, slot] :
       {std::tuple{"--retention-raw", &retention_raw, &retention.raw_ms},
        std::tuple{"--retention-1m", &retention_1m, &retention.minute_ms},
        std::tuple{"--retention-1h", &retention_1h, &retention.hour_ms}}) {
    auto d = parse_duration(*text);
    if (!d || d->count() == 0)
      return fail(std::string{flag} + ": expected a duration like 12h, 30d or 7y, got '"
                  + *text + "'");
    *slot = d->count();
  }
  auto checkpoint_ms = parse_duration(history_checkpoint);
  if (!checkpoint_ms)
    return fail("--history-checkpoint: expected a duration like 500ms or 2s, got '"
                + history_checkpoint + "'");
  std::optional<twin::sparkplug::tag_map> tagmap;
  twin::sparkplug::mqtt_host_options mopts;
  if (!mqtt_urls.empty()) {
    if (tagmap_file.empty())
      return fail("--mqtt needs --tagmap FILE (which metric feeds which twin)");
    auto tm = twin::sparkplug::tag_map::load(tagmap_file);
    if (!tm)
      return fail("--tagmap " + tagmap_file + ": " + tm.error().describe());
    tagmap = std::move(*tm);
    mopts.urls = mqtt_urls;
    mopts.client_id = mqtt_client_id;
    mopts.groups = sparkplug_groups;
    mopts.mqtt_version = mqtt_version;
    mopts.ca_file = mqtt_ca;
    mopts.cert_file = mqtt_cert;
    mopts.key_file = mqtt_key;
    mopts.key_password = mqtt_key_password;
    mopts.verify_hostname = !mqtt_no_verify_hostname;
    mopts.username = mqtt_username;
    mopts.password = mqtt_password;
    mopts.host_id = sparkplug_host_id;
    mopts.max_in_flight = mqtt_max_in_flight;
    if (auto st = twin::sparkplug::validate(mopts); !st)
      return fail(st.error().describe());
  }
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
  nopts.history_retention = retention;
#ifdef TWIN_WITH_BEHAVIOURS
  // Field-level checks of behaviour specs at attach (the node itself only
  // knows kind and model).
  nopts.behaviour_validator = [](const std::string& name, const twin::actors::json& spec)
    -> twin::status {
    auto b = twin::behaviours::parse_binding(name, spec);
    if (!b)
      return b.error();
    return twin::ok();
  };
#endif
  nopts.history_checkpoint_interval = *checkpoint_ms;

  std::optional<twin::cluster::cluster_options> copts;
  std::shared_ptr<twin::cluster::replicator> replicator;
  if (!kafka_bootstrap.empty()) {
    if (node_id.empty())
      return fail("--kafka needs --node-id");
    if (cluster_cert.empty() || cluster_key.empty() || cluster_ca.empty())
      return fail("--kafka needs --cluster-cert, --cluster-key and --cluster-ca: "
                  "node-to-node traffic is always mutual TLS "
                  "(deploy/make-fabric-certs.sh makes them)");
    twin::cluster::cluster_options co;
    co.node_id = node_id;
    co.bootstrap = kafka_bootstrap;
    co.topic_prefix = topic_prefix;
    co.group = cluster_group;
    co.tls = {cluster_cert, cluster_key, cluster_ca};
    auto c = cluster_listen.rfind(':');
    if (c == std::string::npos)
      return fail("--cluster-listen: expected ADDR:PORT, got '" + cluster_listen + "'");
    co.listen_host = cluster_listen.substr(0, c);
    try {
      auto port = std::stoul(cluster_listen.substr(c + 1));
      if (port > 65535)
        throw std::out_of_range("port");
      co.listen_port = static_cast<std::uint16_t>(port);
    } catch (...) {
      return fail("--cluster-listen: bad port in '" + cluster_listen + "'");
    }
    co.advertise = cluster_advertise;
    for (auto& kv : kafka_opts) {
      auto eq = kv.find('=');
      if (eq == std::string::npos || eq == 0)
        return fail("--kafka-opt: expected KEY=VALUE, got '" + kv + "'");
      co.kafka_settings.emplace_back(kv.substr(0, eq), kv.substr(eq + 1));
    }
    auto st = parse_duration(session_timeout);
    if (!st || st->count() < 500)
      return fail("--session-timeout: expected a duration of at least 500ms, got '"
                  + session_timeout + "'");
    co.session_timeout_ms = static_cast<int>(st->count());
    co.heartbeat_interval_ms = std::max(100, co.session_timeout_ms / 6);
    co.node_timeout = std::chrono::milliseconds{std::max<long long>(2000, st->count() + 1000)};
    co.log = &std::cerr;
    // The identity is checked before anything starts (CAF would die at the
    // first connection on a bad file).
    auto ident = twin::security::node_identity::load(co.tls);
    if (!ident)
      return fail(ident.error().describe());
    if (ident->node_id() != node_id)
      return fail("cluster certificate " + cluster_cert + " is issued to '"
                  + ident->node_id() + "', not to --node-id '" + node_id + "'");
    auto r = twin::cluster::replicator::create(co, shards);
    if (!r)
      return fail("kafka: " + r.error().describe());
    replicator = *r;
    nopts.replicate = [replicator](std::vector<twin::persistence::twin_write> w,
                                   std::function<void(twin::status)> done) {
      replicator->replicate(std::move(w), std::move(done));
    };
    copts = std::move(co);
#ifdef TWIN_WITH_BEHAVIOURS
    if (!no_behaviours) {
      std::cout << "behaviours are not run in cluster mode yet (bindings are stored "
                   "and replicated)" << std::endl;
      no_behaviours = true;
    }
#endif
  }

  auto node = twin::actors::node::start(nopts);
  if (!node)
    return fail(node.error().describe());
  twin::actors::fabric* fabric = node->get();
  std::unique_ptr<twin::cluster::cluster_node> cluster;
  if (copts) {
    auto c = twin::cluster::cluster_node::start(**node, replicator, *copts);
    if (!c) {
      (*node)->stop();
      return fail("cluster: " + c.error().describe());
    }
    cluster = std::move(*c);
    fabric = cluster.get();
  }
  auto gw = twin::gateway::gateway::start(gopts, *fabric, *tokens);
  if (!gw) {
    if (cluster)
      cluster->stop();
    (*node)->stop();
    return fail("http: " + gw.error().describe());
  }
  auto scheme = gopts.tls_cert_file.empty() ? "http" : "https";
  std::cout << "listening " << scheme << "://" << (*gw)->endpoint() << std::endl;
  std::cout << "data dir " << data_dir << ", " << shards << " shards, tokens "
            << tokens_file << std::endl;
  if (generated)
    std::cout << "admin token " << admin_token << std::endl;
  if (cluster) {
    cluster->set_http_url(std::string{scheme} + "://" + (*gw)->endpoint());
    std::cout << "cluster node " << node_id << " on " << kafka_bootstrap << ", peers at "
              << cluster->endpoint() << std::endl;
  }

  std::unique_ptr<twin::node::fabric_sink> sink;
  std::unique_ptr<twin::sparkplug::mqtt_host> host;
  if (tagmap) {
    auto version = tagmap->version();
    auto mappings = tagmap->size();
    sink = std::make_unique<twin::node::fabric_sink>(*fabric, "sparkplug-host");
    auto h = twin::sparkplug::mqtt_host::start(mopts, std::move(*tagmap), *sink,
                                               &(*node)->metrics());
    if (!h) {
      (*gw)->stop();
      (*node)->stop();
      return fail("sparkplug host: " + h.error().describe());
    }
    host = std::move(*h);
    std::cout << "sparkplug host on " << mqtt_urls.front() << ", tag map "
              << version << " (" << mappings << " mappings)" << std::endl;
  }

#ifdef TWIN_WITH_BEHAVIOURS
  std::unique_ptr<twin::behaviours::webhook_dispatcher> webhooks;
  if (!alert_webhooks.empty()) {
    twin::behaviours::webhook_options wo;
    wo.urls = alert_webhooks;
    auto w = twin::behaviours::webhook_dispatcher::start(**node, std::move(wo));
    if (!w) {
      if (host)
        host->stop();
      (*gw)->stop();
      (*node)->stop();
      return fail("alert webhook: " + w.error().describe());
    }
    webhooks = std::move(*w);
    std::cout << "alert webhooks: " << alert_webhooks.size() << std::endl;
  }
  std::unique_ptr<twin::behaviours::behaviour_runtime> behaviours;
  if (!no_behaviours) {
    twin::behaviours::runtime_options ro;
    ro.fmu_dir = fmu_dir;
    ro.worker_executable = fmu_worker;
    auto r = twin::behaviours::behaviour_runtime::start(**node, std::move(ro));
    if (!r) {
      if (host)
        host->stop();
      (*gw)->stop();
      (*node)->stop();
      return fail("behaviours: " + r.error().describe());
    }
    behaviours = std::move(*r);
    std::cout << "behaviours on, FMU dir " << fmu_dir << std::endl;
  }
#endif

  int sig = 0;
  sigwait(&sigs, &sig);
  std::cout << "twin-node: " << (sig == SIGTERM ? "SIGTERM" : "SIGINT")
            << ", draining" << std::endl;
#ifdef TWIN_WITH_BEHAVIOURS
  if (behaviours)
    behaviours->stop(); // no new outputs; frees the FMUs (and their workers)
  if (webhooks)
    webhooks->stop();
#endif
  if (host)
    host->stop(); // no new device data; waits for outstanding sink calls
  (*gw)->stop();
  bool leftovers = false;
  if (cluster) {
    cluster->stop(); // hands the shards over: flush, commit, checkpoint
    leftovers = !cluster->stopped_cleanly();
  }
  (*node)->stop();
  if (cluster) {
    // The store is closed and every acknowledged write durable; the shards
    // were handed over. What is left are librdkafka and CAF handles whose
    // destructors may wait on a broker or a peer: do not wait for them.
    std::cout << (leftovers ? "twin-node: stopped (store closed; a Kafka or peer "
                              "connection was abandoned)"
                            : "twin-node: stopped cleanly")
              << std::endl;
    std::cerr.flush();
    std::_Exit(0);
  }
  std::cout << "twin-node: stopped cleanly" << std::endl;
  return 0;
}
