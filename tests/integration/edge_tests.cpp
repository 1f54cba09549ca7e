// twin-edge end to end: a real mosquitto on a free loopback port, the real
// twin-edge binary, and a Paho subscriber whose messages go through the
// fabric's own Sparkplug host core (host_state).
#define BOOST_TEST_MODULE edge_integration_tests
#include <boost/test/unit_test.hpp>

#include <csignal>
#include <chrono>
#include <cmath>
#include <fstream>
#include <map>
#include <mutex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <mqtt/async_client.h>

#include "twin/sparkplug/host_state.hpp"
#include "twin/sparkplug/payload.hpp"
#include "twin/sparkplug/topic.hpp"
#include "twin/test/child_process.hpp"
#include "twin/test/mosquitto.hpp"

namespace sp = twin::sparkplug;
using namespace std::chrono_literals;

namespace {

std::string edge_binary() {
  if (const char* e = std::getenv("TWIN_EDGE_BIN"))
    return e;
  return TWIN_EDGE_BIN;
}

bool wait_for(const std::function<bool()>& pred, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (pred())
      return true;
    std::this_thread::sleep_for(20ms);
  }
  return pred();
}

// The twin-edge child; its stdout and stderr go to a log file. Killed with
// SIGKILL by the destructor (and by the kernel if the test dies).
twin::test::child_process start_edge(std::vector<std::string> args,
                                     const std::filesystem::path& log) {
  args.insert(args.begin(), edge_binary());
  return twin::test::child_process(std::move(args), log);
}

struct received {
  std::string topic;
  sp::bytes payload;
};

// A Paho subscriber on spBv1.0/<group>/#, keeping every message in order.
class spy {
public:
  spy(const std::string& url, const std::string& id) : client_(url, id) {
    client_.set_message_callback([this](mqtt::const_message_ptr m) {
      const auto& p = m->get_payload();
      std::lock_guard lock(mutex_);
      messages_.push_back({m->get_topic(), sp::bytes(p.begin(), p.end())});
    });
    auto opts = mqtt::connect_options_builder().clean_session(true).finalize();
    client_.connect(opts)->wait();
    client_.subscribe("spBv1.0/PlantA/#", 1)->wait();
  }
  ~spy() {
    try {
      client_.disconnect()->wait_for(2s);
    } catch (...) {
    }
  }
  std::vector<received> messages() {
    std::lock_guard lock(mutex_);
    return messages_;
  }
  std::size_t count(const std::string& topic_prefix) {
    std::lock_guard lock(mutex_);
    std::size_t n = 0;
    for (const auto& m : messages_)
      n += m.topic.rfind(topic_prefix, 0) == 0;
    return n;
  }
  void publish(const sp::outgoing_message& m) {
    client_.publish(m.topic, m.payload.data(), m.payload.size(), 1, false)->wait();
  }

private:
  mqtt::async_client client_;
  std::mutex mutex_;
  std::vector<received> messages_;
};

sp::payload decode(const received& r) {
  auto p = sp::decode_payload(std::span<const std::uint8_t>{r.payload});
  BOOST_TEST_REQUIRE(p.has_value(), r.topic << ": " << p);
  return std::move(p).value();
}

std::uint64_t bd_seq_of(const sp::payload& p) {
  for (const auto& m : p.metrics)
    if (m.name && *m.name == "bdSeq")
      return std::get<std::uint64_t>(m.value);
  BOOST_FAIL("no bdSeq metric");
  return 0;
}

// Feeds messages to the real host core; keeps the last value per
// "node/device/metric" and every drop.
struct host_probe {
  sp::host_state host;
  std::uint64_t now = 0;
  std::map<std::string, double> last;
  std::vector<sp::dropped_action> drops;
  std::size_t rebirth_requests = 0;

  void feed(const std::vector<received>& ms, std::size_t from = 0) {
    for (std::size_t i = from; i < ms.size(); ++i) {
      if (ms[i].topic.find("/NCMD/") != std::string::npos)
        continue; // our own commands
      for (auto& a : host.handle(ms[i].topic, std::span<const std::uint8_t>{ms[i].payload}, ++now)) {
        if (auto* x = std::get_if<sp::apply_action>(&a)) {
          if (const double* d = std::get_if<double>(&x->value))
            last[x->edge_node + "/" + x->device + "/" + x->metric] = *d;
        } else if (auto* d = std::get_if<sp::dropped_action>(&a)) {
          drops.push_back(*d);
        } else if (std::holds_alternative<sp::rebirth_action>(a)) {
          ++rebirth_requests;
        }
      }
    }
  }
};

std::string describe_drops(const std::vector<sp::dropped_action>& drops) {
  std::string s;
  for (const auto& d : drops)
    s += d.edge_node + "/" + d.device + ": " + d.reason + " " + d.detail + "\n";
  return s;
}

struct fixture {
  twin::test::mosquitto_broker broker;
  std::filesystem::path dir;
  fixture() {
    broker.start();
    dir = broker.dir();
  }
};

} // namespace

BOOST_FIXTURE_TEST_SUITE(twin_edge, fixture)

BOOST_AUTO_TEST_CASE(edge_births_streams_answers_rebirth_and_leaves_its_will_when_killed) {
  spy sub(broker.url(), "edge-test-spy");
  auto edge = start_edge({"--mqtt", broker.url(), "--turbines", "2", "--devices-per-turbine", "2",
                         "--rate", "10", "--client-id-prefix", "itest", "--status-interval", "1"},
                        dir / "edge.log");

  // Every node: NBIRTH, two DBIRTHs, then at least 10 DDATA per device.
  BOOST_TEST_REQUIRE(wait_for([&] { return sub.count("spBv1.0/PlantA/DDATA/") >= 40; }, 15s),
                     edge.log());
  auto ms = sub.messages();
  for (std::string node : {"Turbine01", "Turbine02"}) {
    std::vector<std::pair<sp::topic, sp::payload>> mine;
    for (const auto& m : ms) {
      auto t = sp::parse_topic(m.topic);
      BOOST_TEST_REQUIRE(t.has_value(), m.topic);
      if (t->edge_node == node)
        mine.emplace_back(*t, decode(m));
    }
    BOOST_TEST_REQUIRE(mine.size() >= 23u);
    BOOST_TEST((mine[0].first.type == sp::message_type::nbirth));
    BOOST_TEST(*mine[0].second.seq == 0u);
    BOOST_TEST(bd_seq_of(mine[0].second) == 0u);
    BOOST_TEST((mine[1].first.type == sp::message_type::dbirth));
    BOOST_TEST((mine[2].first.type == sp::message_type::dbirth));
    BOOST_TEST(mine[1].first.device == "Gearbox_BearingA");
    BOOST_TEST(mine[2].first.device == "Gearbox_BearingB");
    for (std::size_t i = 1; i < mine.size(); ++i) {
      BOOST_TEST(*mine[i].second.seq == i % 256, node << " message " << i);
      if (i >= 3)
        BOOST_TEST((mine[i].first.type == sp::message_type::ddata));
    }
  }
  host_probe host;
  host.feed(ms);
  BOOST_TEST(host.drops.empty(), describe_drops(host.drops));
  for (std::string key : {"Turbine01/Gearbox_BearingA/", "Turbine02/Gearbox_BearingB/"}) {
    BOOST_TEST(host.last.at(key + "vibrationRms") > 0.0);
    BOOST_TEST(host.last.at(key + "vibrationPeak") >= host.last.at(key + "vibrationRms"));
    BOOST_TEST(host.last.at(key + "kurtosis") > 1.0);
    BOOST_TEST(host.last.at(key + "temperature") > 0.0);
    BOOST_TEST(host.last.at(key + "temperature") < 150.0);
    BOOST_TEST(host.last.at(key + "load") > 1000.0);
    BOOST_TEST(std::abs(host.last.at(key + "shaftSpeed") - 1797.0) < 100.0);
    BOOST_TEST(host.last.at(key + "bandEnergyMid") > 0.0);
  }

  // Rebirth of Turbine01: NBIRTH (seq 0, same bdSeq) and its DBIRTHs again.
  const std::size_t before = ms.size();
  sub.publish(sp::make_rebirth_command("PlantA", "Turbine01", 1));
  BOOST_TEST_REQUIRE(wait_for([&] { return sub.count("spBv1.0/PlantA/NBIRTH/Turbine01") == 2; }, 5s),
                     edge.log());
  BOOST_TEST_REQUIRE(wait_for([&] { return sub.count("spBv1.0/PlantA/DBIRTH/Turbine01/") == 4; }, 5s));
  ms = sub.messages();
  std::vector<std::pair<sp::topic, sp::payload>> after;
  for (std::size_t i = before; i < ms.size(); ++i) {
    auto t = sp::parse_topic(ms[i].topic);
    if (t && t->edge_node == "Turbine01" && t->type != sp::message_type::ncmd)
      after.emplace_back(*t, decode(ms[i]));
  }
  std::size_t nb = 0;
  while (nb < after.size() && after[nb].first.type != sp::message_type::nbirth)
    ++nb;
  BOOST_TEST_REQUIRE(nb + 2 < after.size());
  BOOST_TEST(*after[nb].second.seq == 0u);
  BOOST_TEST(bd_seq_of(after[nb].second) == 0u);
  BOOST_TEST((after[nb + 1].first.type == sp::message_type::dbirth));
  BOOST_TEST(*after[nb + 1].second.seq == 1u);
  BOOST_TEST((after[nb + 2].first.type == sp::message_type::dbirth));
  BOOST_TEST(*after[nb + 2].second.seq == 2u);
  host.feed(ms, before);
  BOOST_TEST(host.drops.empty(), describe_drops(host.drops));
  BOOST_TEST(host.host.is_online("PlantA", "Turbine01", "Gearbox_BearingB"));

  // SIGKILL: the broker delivers each node's will, with its NBIRTH's bdSeq.
  edge.stop(SIGKILL);
  BOOST_TEST_REQUIRE(wait_for([&] { return sub.count("spBv1.0/PlantA/NDEATH/") == 2; }, 10s));
  ms = sub.messages();
  for (const auto& m : ms)
    if (m.topic.find("/NDEATH/") != std::string::npos)
      BOOST_TEST(bd_seq_of(decode(m)) == 0u, m.topic);
  host_probe all;
  all.feed(ms);
  BOOST_TEST(!all.host.is_online("PlantA", "Turbine01"));
  BOOST_TEST(!all.host.is_online("PlantA", "Turbine02"));
  BOOST_TEST(!all.host.is_online("PlantA", "Turbine02", "Gearbox_BearingA"));
  BOOST_TEST(all.host.stats().stale_death == 0u);
}

BOOST_AUTO_TEST_CASE(edge_reconnects_with_the_next_bdseq_and_sigterm_publishes_ndeath) {
  auto edge = start_edge({"--mqtt", broker.url(), "--turbines", "1", "--devices-per-turbine", "1",
                         "--rate", "10", "--client-id-prefix", "itest2"},
                        dir / "edge2.log");
  {
    spy sub(broker.url(), "edge-test-spy2");
    BOOST_TEST_REQUIRE(wait_for([&] { return sub.count("spBv1.0/PlantA/DDATA/") >= 3; }, 15s),
                       edge.log());
  }
  broker.kill(); // a broker crash: no will is delivered for session 0
  broker.start();
  spy sub(broker.url(), "edge-test-spy3");
  BOOST_TEST_REQUIRE(wait_for([&] { return sub.count("spBv1.0/PlantA/DDATA/") >= 3; }, 20s),
                     edge.log());
  auto ms = sub.messages();
  BOOST_TEST_REQUIRE(ms.front().topic == "spBv1.0/PlantA/NBIRTH/Turbine01");
  const auto bd = bd_seq_of(decode(ms.front()));
  BOOST_TEST(bd == 1u); // the second session
  host_probe host;
  host.feed(ms);
  BOOST_TEST(host.drops.empty(), describe_drops(host.drops));

  BOOST_TEST(edge.stop(SIGTERM) == 0, edge.log());
  BOOST_TEST_REQUIRE(wait_for([&] { return sub.count("spBv1.0/PlantA/NDEATH/") == 1; }, 5s));
  ms = sub.messages();
  BOOST_TEST(ms.back().topic == "spBv1.0/PlantA/NDEATH/Turbine01");
  BOOST_TEST(bd_seq_of(decode(ms.back())) == bd);
  host.feed(ms, ms.size() - 1);
  BOOST_TEST(!host.host.is_online("PlantA", "Turbine01"));
  BOOST_TEST(edge.log().find("reconnects=1") != std::string::npos, edge.log());
}

BOOST_AUTO_TEST_CASE(test_hooks_make_the_host_see_garbage_and_a_seq_gap_then_recover) {
  spy sub(broker.url(), "edge-test-spy4");
  auto edge = start_edge({"--mqtt", broker.url(), "--rate", "10", "--publish-garbage-after", "3",
                         "--skip-seq-after", "6", "--client-id-prefix", "itest3"},
                        dir / "edge3.log");
  BOOST_TEST_REQUIRE(wait_for([&] { return sub.count("spBv1.0/PlantA/DDATA/") >= 10; }, 15s),
                     edge.log());
  host_probe host;
  host.feed(sub.messages());
  BOOST_TEST(host.host.stats().bad_payload == 1u);
  BOOST_TEST(host.host.stats().seq_gap == 1u);
  BOOST_TEST(host.rebirth_requests == 1u);
  sub.publish(sp::make_rebirth_command("PlantA", "Turbine01", 1));
  BOOST_TEST_REQUIRE(wait_for([&] { return sub.count("spBv1.0/PlantA/NBIRTH/") == 2; }, 5s));
  const auto n = sub.count("spBv1.0/PlantA/DDATA/");
  BOOST_TEST_REQUIRE(wait_for([&] { return sub.count("spBv1.0/PlantA/DDATA/") >= n + 3; }, 5s));
  host_probe again;
  again.feed(sub.messages());
  const auto drops = again.drops.size();
  BOOST_TEST(drops >= 2u); // the garbage and the gap, nothing after the rebirth
  BOOST_TEST(again.host.is_online("PlantA", "Turbine01", "Gearbox_BearingA"));
  BOOST_TEST(edge.log().find("test hook: skipped one seq") != std::string::npos, edge.log());
}

BOOST_AUTO_TEST_CASE(tagmap_out_writes_one_mapping_per_device_metric) {
  const auto file = dir / "tagmap.json";
  auto edge = start_edge({"--turbines", "10", "--devices-per-turbine", "3", "--tagmap-out",
                         file.string()},
                        dir / "edge4.log");
  BOOST_TEST(edge.stop(0, 10s) == 0, edge.log()); // signal 0: just wait for the exit
  std::ifstream in(file);
  std::stringstream s;
  s << in.rdbuf();
  const auto text = s.str();
  BOOST_TEST(text.find("\"version\": \"twin-edge-PlantA-10x3\"") != std::string::npos);
  BOOST_TEST(text.find("\"twin\": \"turbine07-bearing-a\"") != std::string::npos);
  std::size_t mappings = 0;
  for (auto p = text.find("\"edgeNode\""); p != std::string::npos; p = text.find("\"edgeNode\"", p + 1))
    ++mappings;
  BOOST_TEST(mappings == 10u * 3u * 10u);
}

BOOST_AUTO_TEST_SUITE_END()
