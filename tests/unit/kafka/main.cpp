#define BOOST_TEST_MODULE kafka_tests
#include <boost/test/unit_test.hpp>

#include "mock_cluster.hpp"

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#include <stdexcept>

namespace kafka_test {

struct mock_cluster::impl {
  rd_kafka_t* rk = nullptr;
  rd_kafka_mock_cluster_t* mc = nullptr;
};

namespace {
mock_cluster* instance = nullptr;
std::mutex instance_mutex;
} // namespace

mock_cluster& mock_cluster::get() {
  std::lock_guard lock(instance_mutex);
  if (instance)
    return *instance;
  auto* c = new mock_cluster;
  c->p = new impl;
  char errstr[512];
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  rd_kafka_conf_set(conf, "log_level", "3", errstr, sizeof errstr);
  c->p->rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof errstr);
  if (!c->p->rk)
    throw std::runtime_error(std::string("mock host handle: ") + errstr);
  c->p->mc = rd_kafka_mock_cluster_new(c->p->rk, 3);
  if (!c->p->mc)
    throw std::runtime_error("rd_kafka_mock_cluster_new failed");
  c->bootstrap = rd_kafka_mock_cluster_bootstraps(c->p->mc);
  BOOST_TEST_MESSAGE("mock cluster at " << c->bootstrap);
  instance = c;
  return *c;
}

void mock_cluster::shutdown() {
  std::lock_guard lock(instance_mutex);
  if (!instance)
    return;
  rd_kafka_mock_cluster_destroy(instance->p->mc);
  rd_kafka_destroy(instance->p->rk);
  delete instance->p;
  delete instance;
  instance = nullptr;
}

void mock_cluster::create_topic(const std::string& name, int partitions) {
  auto err = rd_kafka_mock_topic_create(p->mc, name.c_str(), partitions, 3);
  if (err)
    throw std::runtime_error("mock topic " + name + ": " + rd_kafka_err2str(err));
}

std::vector<twin::kafka::delivery> produce_all(
    twin::kafka::producer& p, const std::string& topic,
    const std::vector<std::pair<std::string, std::string>>& kv, std::int32_t partition) {
  std::vector<twin::kafka::delivery> out(kv.size());
  std::mutex m;
  std::size_t got = 0;
  for (std::size_t i = 0; i < kv.size(); ++i)
    p.produce(topic, kv[i].first, kv[i].second,
              [&, i](const twin::kafka::delivery& d) {
                std::lock_guard lock(m);
                out[i] = d;
                ++got;
              },
              partition);
  auto st = p.flush(std::chrono::seconds(20));
  BOOST_REQUIRE_MESSAGE(st, "flush: " << st);
  std::lock_guard lock(m);
  BOOST_REQUIRE_EQUAL(got, kv.size());
  return out;
}

struct global_mock {
  global_mock() = default;
  ~global_mock() { mock_cluster::shutdown(); }
};
BOOST_TEST_GLOBAL_FIXTURE(global_mock);

} // namespace kafka_test
