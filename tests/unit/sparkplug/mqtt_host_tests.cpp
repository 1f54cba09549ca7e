// The Sparkplug host against a real mosquitto on loopback: edge messages are
// published with a Paho client, what the host delivers is recorded by a test
// sink, and the host's NCMDs and STATE are observed with another client.

#define BOOST_TEST_MODULE sparkplug_host
#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <mqtt/async_client.h>
#include <prometheus/registry.h>
#include <prometheus/text_serializer.h>

#include "metric_builders.hpp"
#include "twin/sparkplug/mqtt_host.hpp"
#include "twin/test/mosquitto.hpp"

using namespace twin::sparkplug;
using namespace std::chrono_literals;
using nlohmann::json;

namespace {

bool wait_until(const std::function<bool()>& pred, std::chrono::milliseconds timeout = 10s) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!pred()) {
    if (std::chrono::steady_clock::now() >= deadline)
      return pred();
    std::this_thread::sleep_for(10ms);
  }
  return true;
}

std::uint64_t now_ms() {
  return static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                      std::chrono::system_clock::now().time_since_epoch())
                                      .count());
}

const char* tag_map_json = R"({"version": "2026.11.1", "mappings": [
  {"group": "PlantA", "edgeNode": "Turbine07", "device": "Gearbox_BearingA",
   "metric": "vibrationRms", "twin": "turbine07-bearing-a", "name": "vibrationRms"},
  {"group": "PlantA", "edgeNode": "Turbine07", "device": "Gearbox_BearingA",
   "metric": "tempF", "twin": "turbine07-bearing-a", "name": "temperature",
   "scale": 0.5555555555555556, "offset": -17.77777777777778},
  {"group": "PlantA", "edgeNode": "Turbine07", "metric": "Node/Power",
   "twin": "turbine07", "name": "power", "scale": 1000}
]})";

tag_map make_map() {
  auto m = tag_map::parse(tag_map_json);
  BOOST_REQUIRE(m);
  return std::move(m).value();
}

/// Records every sink call; can hold `done` (backpressure) or reject batches.
class recording_sink : public host_sink {
public:
  void ingest(ingest_batch b, sink_done done) override {
    twin::status verdict = twin::ok();
    {
      std::lock_guard lk(m_);
      if (reject_twin_ == b.twin)
        verdict = twin::make_error(twin::errc::lifecycle_forbidden, "twin is retired");
      batches_.push_back(std::move(b));
      if (hold_) {
        held_.push_back(std::move(done));
        return;
      }
    }
    done(verdict);
  }
  void connectivity(const std::string& twin, bool online, std::string reason,
                    std::int64_t time_ms, sink_done done) override {
    {
      std::lock_guard lk(m_);
      conn_.push_back({twin, online, std::move(reason), time_ms});
    }
    done(twin::ok());
  }

  std::vector<ingest_batch> batches() {
    std::lock_guard lk(m_);
    return batches_;
  }
  std::vector<ingest_batch> batches_for(const std::string& twin) {
    std::lock_guard lk(m_);
    std::vector<ingest_batch> out;
    for (const auto& b : batches_)
      if (b.twin == twin)
        out.push_back(b);
    return out;
  }
  std::vector<connectivity_change> connectivity_of(const std::string& twin) {
    std::lock_guard lk(m_);
    std::vector<connectivity_change> out;
    for (const auto& c : conn_)
      if (c.twin == twin)
        out.push_back(c);
    return out;
  }
  std::size_t batch_count() {
    std::lock_guard lk(m_);
    return batches_.size();
  }
  void hold(bool on) {
    std::vector<sink_done> release;
    {
      std::lock_guard lk(m_);
      hold_ = on;
      if (!on)
        release.swap(held_);
    }
    for (auto& d : release)
      d(twin::ok());
  }
  std::size_t held() {
    std::lock_guard lk(m_);
    return held_.size();
  }
  void reject(std::string twin) {
    std::lock_guard lk(m_);
    reject_twin_ = std::move(twin);
  }

private:
  std::mutex m_;
  std::vector<ingest_batch> batches_;
  std::vector<connectivity_change> conn_;
  bool hold_ = false;
  std::vector<sink_done> held_;
  std::string reject_twin_;
};

/// A Paho client playing an edge node or observing topics.
class mqtt_peer {
public:
  mqtt_peer(const std::string& url, const std::string& id, int version = 5)
    : client_(url, id, mqtt::create_options(version == 5 ? MQTTVERSION_5 : MQTTVERSION_3_1_1)) {
    client_.set_message_callback([this](mqtt::const_message_ptr m) {
      std::lock_guard lk(m_);
      received_.push_back(m);
    });
    mqtt::connect_options co;
    co.set_mqtt_version(version == 5 ? MQTTVERSION_5 : MQTTVERSION_3_1_1);
    if (version == 5)
      co.set_clean_start(true);
    co.set_connect_timeout(5s);
    client_.connect(co)->wait_for(10s);
    BOOST_REQUIRE(client_.is_connected());
  }
  ~mqtt_peer() {
    try {
      if (client_.is_connected())
        client_.disconnect()->wait_for(2s);
    } catch (...) {
    }
  }

  void subscribe(const std::string& filter) {
    BOOST_REQUIRE(client_.subscribe(filter, 1)->wait_for(5s));
  }
  void publish(const std::string& topic, const payload& p, int qos = 1) {
    auto enc = encode_payload(p);
    BOOST_REQUIRE(enc);
    publish_raw(topic, std::string(enc->begin(), enc->end()), qos);
  }
  void publish_raw(const std::string& topic, const std::string& bytes, int qos = 1) {
    BOOST_REQUIRE(client_.publish(topic, bytes.data(), bytes.size(), qos, false)->wait_for(5s));
  }
  std::vector<mqtt::const_message_ptr> received(const std::string& topic) {
    std::lock_guard lk(m_);
    std::vector<mqtt::const_message_ptr> out;
    for (const auto& m : received_)
      if (m->get_topic() == topic)
        out.push_back(m);
    return out;
  }
  mqtt::async_client& client() { return client_; }

private:
  mqtt::async_client client_;
  std::mutex m_;
  std::vector<mqtt::const_message_ptr> received_;
};

extern "C" char** environ;

/// Publishes from another process (mosquitto_pub). Paho C serializes every
/// client of a process behind one lock that is held while a message callback
/// runs, so while the host blocks its callback thread (backpressure) no
/// in-process client can publish.
void publish_out_of_process(int port, const std::string& topic, const payload& p) {
  auto enc = encode_payload(p);
  BOOST_REQUIRE(enc);
  auto file = std::filesystem::temp_directory_path()
              / ("sp-pub-" + std::to_string(::getpid()) + "-" + std::to_string(p.seq.value_or(0)));
  {
    std::ofstream out(file, std::ios::binary);
    out.write(reinterpret_cast<const char*>(enc->data()), static_cast<std::streamsize>(enc->size()));
  }
  std::vector<std::string> args{"/usr/bin/mosquitto_pub", "-h", "127.0.0.1", "-p",
                                std::to_string(port),      "-q", "1",         "-t",
                                topic,                     "-f", file.string()};
  std::vector<char*> argv;
  for (auto& a : args)
    argv.push_back(a.data());
  argv.push_back(nullptr);
  pid_t pid = -1;
  BOOST_REQUIRE(::posix_spawn(&pid, argv[0], nullptr, nullptr, argv.data(), environ) == 0);
  int status = 0;
  ::waitpid(pid, &status, 0);
  std::filesystem::remove(file);
  BOOST_REQUIRE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}


/// A loopback port that was free a moment ago.
int free_port() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof(a);
  ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a));
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  ::close(fd);
  return ntohs(a.sin_port);
}

/// A CA, a server certificate for 127.0.0.1 and a client certificate, made
/// with the openssl CLI (EC keys: fast).
struct test_pki {
  std::filesystem::path dir;
  explicit test_pki(std::filesystem::path d) : dir(std::move(d)) {
    std::filesystem::create_directories(dir);
    // Readable by a broker running as another user (test keys only).
    std::filesystem::permissions(dir, std::filesystem::perms::all);
    auto q = [&](const std::string& f) { return "'" + (dir / f).string() + "'"; };
    std::string ec = "-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes";
    std::ofstream(dir / "san.ext") << "subjectAltName=IP:127.0.0.1\n";
    std::vector<std::string> cmds{
      "openssl req -x509 " + ec + " -keyout " + q("ca.key") + " -out " + q("ca.pem")
        + " -days 2 -subj /CN=twin-test-ca",
      "openssl req " + ec + " -keyout " + q("server.key") + " -out " + q("server.csr")
        + " -subj /CN=127.0.0.1",
      "openssl x509 -req -in " + q("server.csr") + " -CA " + q("ca.pem") + " -CAkey "
        + q("ca.key") + " -CAcreateserial -out " + q("server.pem") + " -days 2 -extfile "
        + q("san.ext"),
      "openssl req " + ec + " -keyout " + q("client.key") + " -out " + q("client.csr")
        + " -subj /CN=twin-host",
      "openssl x509 -req -in " + q("client.csr") + " -CA " + q("ca.pem") + " -CAkey "
        + q("ca.key") + " -CAcreateserial -out " + q("client.pem") + " -days 2"};
    for (const auto& c : cmds)
      BOOST_REQUIRE_MESSAGE(std::system((c + " >/dev/null 2>&1").c_str()) == 0, c);
    for (const auto& f : std::filesystem::directory_iterator(dir))
      std::filesystem::permissions(f.path(), std::filesystem::perms::owner_read
                                               | std::filesystem::perms::owner_write
                                               | std::filesystem::perms::group_read
                                               | std::filesystem::perms::others_read);
  }
  ~test_pki() {
    std::error_code ec;
    std::filesystem::remove_all(dir, ec);
  }
  std::string file(const char* f) const { return (dir / f).string(); }
};

using twin::sparkplug::test::by_alias;
using twin::sparkplug::test::born;

const std::string node_prefix = "spBv1.0/PlantA/";
std::string ntopic(const std::string& type) { return node_prefix + type + "/Turbine07"; }
std::string dtopic(const std::string& type) {
  return node_prefix + type + "/Turbine07/Gearbox_BearingA";
}

/// An edge node session: seq numbering and the standard births.
struct edge_session {
  mqtt_peer& peer;
  std::uint64_t bd_seq = 0;
  std::uint64_t seq = 0;

  payload next(std::vector<metric> metrics) {
    payload p;
    p.timestamp = now_ms();
    p.seq = seq;
    seq = (seq + 1) % 256;
    p.metrics = std::move(metrics);
    return p;
  }
  void nbirth() {
    seq = 0;
    peer.publish(ntopic("NBIRTH"), next({born("bdSeq", data_type::uint64, bd_seq),
                                         born("Node Control/Rebirth", data_type::boolean, false),
                                         born("Node/Power", data_type::double_, 1.5, 1),
                                         born("Node/Firmware", data_type::string,
                                               std::string{"1.0"}, 2)}));
  }
  void dbirth() {
    peer.publish(dtopic("DBIRTH"),
                 next({born("vibrationRms", data_type::double_, 0.5, 10),
                       born("tempF", data_type::float_, 212.0f, 11),
                       born("serial", data_type::string, std::string{"SN1"}, 12)}));
  }
  void ddata(double vib) { peer.publish(dtopic("DDATA"), next({by_alias(10, vib)})); }
  void ndeath() {
    payload p;
    p.metrics = {born("bdSeq", data_type::uint64, bd_seq)};
    peer.publish(ntopic("NDEATH"), p);
  }
  void ddeath() { peer.publish(dtopic("DDEATH"), next({})); }
};

std::string metrics_text(prometheus::Registry& r) {
  return prometheus::TextSerializer().Serialize(r.Collect());
}

/// The value of the first sample line starting with `prefix` (name plus
/// optional labels), or -1.
double sample(const std::string& text, const std::string& prefix) {
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line))
    if (line.rfind(prefix + " ", 0) == 0)
      return std::stod(line.substr(prefix.size() + 1));
  return -1;
}

struct host_fixture {
  twin::test::mosquitto_broker broker;
  recording_sink sink;
  prometheus::Registry registry;
  std::unique_ptr<mqtt_host> host;

  host_fixture() { broker.start(); }

  mqtt_host_options options(int version = 5) {
    mqtt_host_options o;
    o.urls = {broker.url()};
    o.client_id = "test-host";
    o.mqtt_version = version;
    o.host_id = "twin-test";
    o.reconnect_min = 50ms;
    o.reconnect_max = 400ms;
    o.stop_timeout = 2s;
    o.log_interval = 1s;
    o.sparkplug.rebirth_interval_ms = 0;
    return o;
  }
  void start(mqtt_host_options o) {
    auto h = mqtt_host::start(std::move(o), make_map(), sink, &registry);
    BOOST_TEST_REQUIRE(h.has_value(), h);
    host = std::move(h).value();
    BOOST_REQUIRE(wait_until([&] { return host->connected(); }));
  }
};

} // namespace

BOOST_AUTO_TEST_SUITE(sparkplug_mqtt_host)

BOOST_AUTO_TEST_CASE(start_rejects_bad_options_before_connecting) {
  recording_sink sink;
  auto err = [&](mqtt_host_options o) {
    auto h = mqtt_host::start(std::move(o), make_map(), sink);
    BOOST_REQUIRE(!h);
    BOOST_TEST((h.error().code == twin::errc::bad_request));
    return h.error().message;
  };
  mqtt_host_options o;
  BOOST_TEST(err(o) == "urls: at least one broker URL is required");
  o.urls = {"http://127.0.0.1:1883"};
  BOOST_TEST(err(o).find("scheme 'http' is not supported") != std::string::npos);
  o.urls = {"127.0.0.1:1883"};
  BOOST_TEST(err(o).find("has no scheme") != std::string::npos);
  o.urls = {"ssl://127.0.0.1:8883"};
  BOOST_TEST(err(o) == "ca_file: required with an ssl:// or mqtts:// URL");
  o.ca_file = "/nonexistent/ca.pem";
  BOOST_TEST(err(o) == "ca_file: /nonexistent/ca.pem does not exist or is not a file");
  auto dir = std::filesystem::temp_directory_path() / ("mqtt-host-opts-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  std::ofstream(dir / "ca.pem") << "x";
  o.ca_file = (dir / "ca.pem").string();
  o.cert_file = o.ca_file;
  BOOST_TEST(err(o) == "cert_file and key_file: give both (client certificate) or neither");
  o.cert_file.clear();
  o.urls = {"tcp://127.0.0.1:1883"};
  BOOST_TEST(err(o).find("TLS files given but no ssl://") != std::string::npos);
  o.ca_file.clear();
  o.groups = {"Plant/A"};
  BOOST_TEST(err(o).find("groups[0]") == 0u);
  o.groups = {};
  o.mqtt_version = 4;  // the protocol level of 3.1.1 is accepted too
  o.max_in_flight = 0;
  BOOST_TEST(err(o) == "max_in_flight: must be at least 1");
  o.max_in_flight = 1;
  o.mqtt_version = 6;
  BOOST_TEST(err(o).find("mqtt_version: 6") == 0u);
  o.mqtt_version = 5;
  o.rebirth_qos = 2;
  BOOST_TEST(err(o) == "rebirth_qos: must be 0 or 1");
  o.rebirth_qos = 0;
  BOOST_TEST(validate(o).has_value());
  std::filesystem::remove_all(dir);
}

BOOST_AUTO_TEST_CASE(a_broker_that_is_down_at_start_is_retried_until_it_comes_up) {
  twin::test::mosquitto_broker broker;
  broker.start();
  broker.stop();  // reserve a port, then leave it closed
  recording_sink sink;
  mqtt_host_options o;
  o.urls = {broker.url()};
  o.reconnect_min = 50ms;
  o.reconnect_max = 200ms;
  auto h = mqtt_host::start(o, make_map(), sink);
  BOOST_TEST_REQUIRE(h.has_value(), h);
  BOOST_REQUIRE(wait_until([&] { return (*h)->stats().connect_failures >= 2; }));
  BOOST_TEST(!(*h)->connected());
  broker.start();
  BOOST_TEST(wait_until([&] { return (*h)->connected(); }));
  (*h)->stop();
}

BOOST_FIXTURE_TEST_CASE(births_and_data_become_batches_with_converted_values_and_lineage,
                        host_fixture) {
  mqtt_peer observer(broker.url(), "observer");
  observer.subscribe("spBv1.0/STATE/#");
  start(options());
  BOOST_REQUIRE(wait_until([&] { return !observer.received("spBv1.0/STATE/twin-test").empty(); }));
  auto state = json::parse(observer.received("spBv1.0/STATE/twin-test").back()->get_payload_str());
  BOOST_TEST(state["online"] == true);

  mqtt_peer edge(broker.url(), "edge");
  edge_session s{edge, 4};
  s.nbirth();
  s.dbirth();
  s.ddata(0.75);
  BOOST_REQUIRE(wait_until([&] { return sink.batch_count() >= 3; }));

  auto node = sink.batches_for("turbine07");
  BOOST_REQUIRE_EQUAL(node.size(), 1u);
  BOOST_TEST(node[0].values["power"].get<double>() == 1500.0);
  BOOST_TEST(node[0].full_origin()["messageType"] == "NBIRTH");
  BOOST_TEST(node[0].full_origin()["bdSeq"] == 4);
  BOOST_TEST(node[0].source == "spBv1.0/PlantA/Turbine07");

  auto bearing = sink.batches_for("turbine07-bearing-a");
  BOOST_REQUIRE_EQUAL(bearing.size(), 2u);
  BOOST_TEST(bearing[0].values["vibrationRms"].get<double>() == 0.5);
  BOOST_TEST(bearing[0].values["temperature"].get<double>() == 100.0,
             boost::test_tools::tolerance(1e-9));
  BOOST_TEST(bearing[0].full_origin()["seq"] == 1);
  BOOST_TEST(bearing[1].values.size() == 1u);
  BOOST_TEST(bearing[1].values["vibrationRms"].get<double>() == 0.75);
  BOOST_TEST(bearing[1].pipeline_version == "tagmap/2026.11.1");
  BOOST_TEST(bearing[1].source == "spBv1.0/PlantA/Turbine07/Gearbox_BearingA");
  BOOST_TEST(bearing[1].full_origin()["protocol"] == "sparkplugB");
  BOOST_TEST(bearing[1].full_origin()["edgeNode"] == "Turbine07");
  BOOST_TEST(bearing[1].full_origin()["device"] == "Gearbox_BearingA");
  BOOST_TEST(bearing[1].full_origin()["seq"] == 2);
  BOOST_TEST(bearing[1].full_origin()["bdSeq"] == 4);
  // Named like its metric: not listed (only renamed metrics are).
  BOOST_TEST(!bearing[1].full_origin().contains("metrics"));
  BOOST_TEST(bearing[1].source_time_ms > 0);

  BOOST_REQUIRE_EQUAL(sink.connectivity_of("turbine07").size(), 1u);
  BOOST_TEST(sink.connectivity_of("turbine07")[0].online);
  BOOST_REQUIRE_EQUAL(sink.connectivity_of("turbine07-bearing-a").size(), 1u);
  BOOST_TEST(sink.connectivity_of("turbine07-bearing-a")[0].online);

  // Node/Firmware and serial are unmapped; bdSeq and Node Control are not data.
  auto st = host->stats();
  BOOST_TEST(st.unmapped == 2u);
  BOOST_TEST(st.metrics_applied == 4u);
  BOOST_TEST(st.batches == 3u);
  auto text = metrics_text(registry);
  BOOST_TEST(sample(text, "twin_sparkplug_unmapped_metrics_total") == 2.0);
  BOOST_TEST(sample(text, "twin_sparkplug_metrics_applied_total") == 4.0);
  BOOST_TEST(sample(text, "twin_sparkplug_messages_total") >= 3.0);
  BOOST_TEST(sample(text, "twin_sparkplug_connected") == 1.0);
  BOOST_TEST(sample(text, "twin_sparkplug_dropped_total{reason=\"seq_gap\"}") == 0.0);

  host->stop();
  BOOST_TEST(!host->connected());
  BOOST_REQUIRE(wait_until([&] {
    auto m = observer.received("spBv1.0/STATE/twin-test");
    return json::parse(m.back()->get_payload_str())["online"] == false;
  }));
  auto last = observer.received("spBv1.0/STATE/twin-test").back();
  BOOST_TEST(json::parse(last->get_payload_str())["timestamp"] == state["timestamp"]);
}

BOOST_FIXTURE_TEST_CASE(a_seq_gap_makes_the_host_publish_a_rebirth_ncmd, host_fixture) {
  start(options());
  mqtt_peer edge(broker.url(), "edge");
  edge.subscribe("spBv1.0/PlantA/NCMD/Turbine07");
  edge_session s{edge, 1};
  s.nbirth();
  s.dbirth();
  BOOST_REQUIRE(wait_until([&] { return sink.batch_count() >= 2; }));
  s.seq = 9;  // skip 2..8
  s.ddata(9.0);
  BOOST_REQUIRE(wait_until([&] { return !edge.received("spBv1.0/PlantA/NCMD/Turbine07").empty(); }));
  auto ncmd = edge.received("spBv1.0/PlantA/NCMD/Turbine07").front();
  auto p = decode_payload(ncmd->get_payload_str());
  BOOST_REQUIRE(p);
  BOOST_REQUIRE_EQUAL(p->metrics.size(), 1u);
  BOOST_TEST(p->metrics[0].name.value() == "Node Control/Rebirth");
  BOOST_TEST(std::get<bool>(p->metrics[0].value) == true);
  BOOST_TEST(host->stats().sparkplug.seq_gap == 1u);
  BOOST_TEST(host->stats().rebirths_published == 1u);
  BOOST_TEST(sink.batches_for("turbine07-bearing-a").size() == 1u);  // the gap's data is dropped
  auto text = metrics_text(registry);
  BOOST_TEST(sample(text, "twin_sparkplug_rebirths_requested_total") == 1.0);
  BOOST_TEST(sample(text, "twin_sparkplug_dropped_total{reason=\"seq_gap\"}") == 1.0);

  // The edge node answers with a rebirth; data flows again.
  s.nbirth();
  s.dbirth();
  s.ddata(1.25);
  BOOST_REQUIRE(wait_until([&] { return sink.batches_for("turbine07-bearing-a").size() >= 3; }));
  BOOST_TEST(sink.batches_for("turbine07-bearing-a").back().values["vibrationRms"].get<double>()
             == 1.25);
}

BOOST_FIXTURE_TEST_CASE(deaths_mark_twins_offline_and_births_online_again, host_fixture) {
  start(options());
  mqtt_peer edge(broker.url(), "edge");
  edge_session s{edge, 1};
  s.nbirth();
  s.dbirth();
  BOOST_REQUIRE(wait_until([&] { return sink.connectivity_of("turbine07-bearing-a").size() == 1; }));

  s.ddeath();
  BOOST_REQUIRE(wait_until([&] { return sink.connectivity_of("turbine07-bearing-a").size() == 2; }));
  auto c = sink.connectivity_of("turbine07-bearing-a").back();
  BOOST_TEST(!c.online);
  BOOST_TEST(c.reason == "DDEATH PlantA/Turbine07/Gearbox_BearingA");
  BOOST_TEST(c.time_ms > 0);

  s.ndeath();
  BOOST_REQUIRE(wait_until([&] { return sink.connectivity_of("turbine07").size() == 2; }));
  BOOST_TEST(!sink.connectivity_of("turbine07").back().online);
  BOOST_TEST(sink.connectivity_of("turbine07").back().reason == "NDEATH PlantA/Turbine07");
  // The device was already offline: not reported again.
  BOOST_TEST(sink.connectivity_of("turbine07-bearing-a").size() == 2u);

  s.bd_seq = 2;
  s.nbirth();
  s.dbirth();
  BOOST_REQUIRE(wait_until([&] { return sink.connectivity_of("turbine07-bearing-a").size() == 3; }));
  BOOST_TEST(sink.connectivity_of("turbine07-bearing-a").back().online);
  BOOST_TEST(sink.connectivity_of("turbine07").back().online);
}

BOOST_FIXTURE_TEST_CASE(garbage_and_huge_payloads_are_counted_and_the_host_keeps_working,
                        host_fixture) {
  auto o = options();
  o.sparkplug.decode.max_bytes = 64 * 1024;
  start(o);
  mqtt_peer edge(broker.url(), "edge");
  edge_session s{edge, 1};
  s.nbirth();
  s.dbirth();
  BOOST_REQUIRE(wait_until([&] { return sink.batch_count() >= 2; }));

  std::mt19937 rng(42);
  std::string noise(300, '\0');
  for (auto& ch : noise)
    ch = static_cast<char>(rng());
  edge.publish_raw(dtopic("DDATA"), noise);
  edge.publish_raw(dtopic("DDATA"), std::string("\x08\x96", 2));    // truncated varint
  edge.publish_raw(dtopic("DDATA"), std::string(200 * 1024, 'x'));  // over max_bytes
  edge.publish_raw("spBv1.0/PlantA/BOGUS/Turbine07", "x");           // not a Sparkplug topic
  BOOST_REQUIRE(wait_until([&] { return host->stats().sparkplug.messages >= 6; }));
  BOOST_TEST(host->stats().sparkplug.bad_payload == 3u);
  BOOST_TEST(host->stats().sparkplug.bad_topic == 1u);
  auto text = metrics_text(registry);
  BOOST_TEST(sample(text, "twin_sparkplug_dropped_total{reason=\"bad_payload\"}") == 3.0);

  // Still working: the dropped data shows up as a gap → rebirth → data.
  s.nbirth();
  s.dbirth();
  s.ddata(2.5);
  BOOST_REQUIRE(wait_until([&] { return sink.batches_for("turbine07-bearing-a").size() >= 3; }));
  BOOST_TEST(host->connected());
}

BOOST_FIXTURE_TEST_CASE(sink_rejections_are_counted_by_code, host_fixture) {
  start(options());
  sink.reject("turbine07-bearing-a");
  mqtt_peer edge(broker.url(), "edge");
  edge_session s{edge, 1};
  s.nbirth();
  s.dbirth();
  BOOST_REQUIRE(wait_until([&] { return host->stats().ingest_failures == 1; }));
  auto text = metrics_text(registry);
  BOOST_TEST(sample(text, "twin_sparkplug_ingest_failures_total{code=\"lifecycle_forbidden\"}")
             == 1.0);
}

BOOST_FIXTURE_TEST_CASE(a_slow_sink_makes_the_mqtt_thread_wait_and_nothing_is_lost,
                        host_fixture) {
  auto o = options();
  o.max_in_flight = 2;
  start(o);
  sink.hold(true);
  mqtt_peer edge(broker.url(), "edge");
  // Release the sink before `edge` goes, even when a check fails.
  struct release_at_exit {
    recording_sink& sink;
    ~release_at_exit() { sink.hold(false); }
  } release{sink};
  edge_session s{edge, 1};
  s.nbirth();  // connectivity + 1 batch: 2 in flight (connectivity completes at once)
  s.dbirth();
  for (int i = 0; i < 5; ++i)
    publish_out_of_process(broker.port(), dtopic("DDATA"), s.next({by_alias(10, double(i))}));
  BOOST_REQUIRE(wait_until([&] { return host->stats().backpressure_waits >= 1; }));
  BOOST_TEST(sink.held() == 2u);
  BOOST_TEST(host->stats().in_flight == 2u);
  sink.hold(false);
  BOOST_REQUIRE(wait_until([&] { return sink.batches_for("turbine07-bearing-a").size() == 6; }));
  BOOST_TEST(sink.batches_for("turbine07-bearing-a").back().values["vibrationRms"].get<double>()
             == 4.0);
  BOOST_TEST(sample(metrics_text(registry), "twin_sparkplug_backpressure_waits_total") >= 1.0);
}

BOOST_FIXTURE_TEST_CASE(mqtt_311_host_reconnects_and_resubscribes_after_a_broker_crash,
                        host_fixture) {
  start(options(3));
  {
    mqtt_peer edge(broker.url(), "edge", 3);
    edge_session s{edge, 1};
    s.nbirth();
    s.dbirth();
    s.ddata(1.0);
    BOOST_REQUIRE(wait_until([&] { return sink.batches_for("turbine07-bearing-a").size() == 2; }));
    broker.kill();
  }
  BOOST_REQUIRE(wait_until([&] { return !host->connected(); }));
  BOOST_TEST(sample(metrics_text(registry), "twin_sparkplug_connected") == 0.0);
  broker.start();  // same port
  BOOST_REQUIRE(wait_until([&] { return host->connected(); }));
  BOOST_TEST(host->stats().reconnects == 1u);

  mqtt_peer edge(broker.url(), "edge2", 3);
  edge.subscribe("spBv1.0/PlantA/NCMD/Turbine07");
  edge_session s{edge, 1, 3};
  s.ddata(3.0);  // seq 3 after the host's last 2: accepted, the session lives on
  BOOST_REQUIRE(wait_until([&] { return sink.batches_for("turbine07-bearing-a").size() == 3; }));
  BOOST_TEST(sink.batches_for("turbine07-bearing-a").back().values["vibrationRms"].get<double>()
             == 3.0);
  s.seq = 7;
  s.ddata(7.0);  // messages were lost during the outage: a gap asks for a rebirth
  BOOST_REQUIRE(wait_until([&] { return !edge.received("spBv1.0/PlantA/NCMD/Turbine07").empty(); }));
  BOOST_TEST(sample(metrics_text(registry), "twin_sparkplug_reconnects_total") == 1.0);
}

BOOST_FIXTURE_TEST_CASE(an_mqtt5_host_survives_a_graceful_broker_restart, host_fixture) {
  start(options(5));
  broker.restart();
  BOOST_REQUIRE(wait_until([&] { return host->stats().reconnects == 1 && host->connected(); }));
  mqtt_peer edge(broker.url(), "edge");
  edge_session s{edge, 1};
  s.nbirth();
  BOOST_REQUIRE(wait_until([&] { return sink.batches_for("turbine07").size() == 1; }));
}

BOOST_AUTO_TEST_CASE(a_tls_host_connects_with_its_client_certificate_and_not_without) {
  test_pki pki(std::filesystem::temp_directory_path()
               / ("sp-pki-" + std::to_string(::getpid())));
  int tls_port = free_port();
  twin::test::mosquitto_options bo;
  bo.extra_config = {"listener " + std::to_string(tls_port) + " 127.0.0.1",
                     "cafile " + pki.file("ca.pem"), "certfile " + pki.file("server.pem"),
                     "keyfile " + pki.file("server.key"), "require_certificate true"};
  twin::test::mosquitto_broker broker(bo);
  broker.start();
  BOOST_REQUIRE(wait_until([&] { return broker.log().find(std::to_string(tls_port)) != std::string::npos; }));
  recording_sink sink;

  mqtt_host_options o;
  o.urls = {"ssl://127.0.0.1:" + std::to_string(tls_port)};
  o.ca_file = pki.file("ca.pem");
  o.reconnect_min = 50ms;
  o.reconnect_max = 200ms;
  o.log_interval = 60s;
  {
    // Without a client certificate the broker refuses the handshake.
    auto h = mqtt_host::start(o, make_map(), sink);
    BOOST_TEST_REQUIRE(h.has_value(), h);
    BOOST_REQUIRE(wait_until([&] { return (*h)->stats().connect_failures >= 2; }));
    BOOST_TEST(!(*h)->connected());
  }
  o.cert_file = pki.file("client.pem");
  o.key_file = pki.file("client.key");
  auto h = mqtt_host::start(o, make_map(), sink);
  BOOST_TEST_REQUIRE(h.has_value(), h);
  BOOST_REQUIRE(wait_until([&] { return (*h)->connected(); }));

  mqtt_peer edge(broker.url(), "edge");  // the plain listener
  edge_session s{edge, 1};
  s.nbirth();
  BOOST_TEST(wait_until([&] { return sink.batches_for("turbine07").size() == 1; }));
}

BOOST_AUTO_TEST_SUITE_END()
