// tailer on the mock: from the beginning and from the end.
#include <boost/test/unit_test.hpp>

#include "mock_cluster.hpp"

#include <set>

using namespace twin::kafka;
using kafka_test::mock_cluster;
using kafka_test::wait_for;
using namespace std::chrono_literals;

BOOST_AUTO_TEST_SUITE(tail)

BOOST_AUTO_TEST_CASE(tailer_from_beginning_and_end) {
  auto& mc = mock_cluster::get();
  const std::string topic = "t.tail";
  mc.create_topic(topic, 3);
  auto prod = producer::create(mc.bootstrap, {}, false);
  BOOST_REQUIRE_MESSAGE(prod, prod);
  std::vector<std::pair<std::string, std::string>> first;
  for (int i = 0; i < 30; ++i)
    first.emplace_back("key" + std::to_string(i), "old" + std::to_string(i));
  for (auto& d : kafka_test::produce_all(**prod, topic, first))
    BOOST_REQUIRE_MESSAGE(d.result, d.result);

  struct seen_t {
    std::mutex m;
    std::vector<record> records;
    std::size_t size() {
      std::lock_guard lock(m);
      return records.size();
    }
  } from_begin, from_end;
  auto tb = tailer::create(mc.bootstrap, topic, 3, tailer::start::beginning,
                           {{"fetch.wait.max.ms", "50"}}, [&](record&& r) {
                             std::lock_guard lock(from_begin.m);
                             from_begin.records.push_back(std::move(r));
                           });
  BOOST_REQUIRE_MESSAGE(tb, tb);
  auto te = tailer::create(mc.bootstrap, topic, 3, tailer::start::end,
                           {{"fetch.wait.max.ms", "50"}}, [&](record&& r) {
                             std::lock_guard lock(from_end.m);
                             from_end.records.push_back(std::move(r));
                           });
  BOOST_REQUIRE_MESSAGE(te, te);
  BOOST_REQUIRE(wait_for([&] { return from_begin.size() == 30u; }, 15s));
  std::this_thread::sleep_for(500ms);
  BOOST_TEST(from_end.size() == 0u);

  std::vector<std::pair<std::string, std::string>> second;
  for (int i = 0; i < 15; ++i)
    second.emplace_back("key" + std::to_string(i), "new" + std::to_string(i));
  for (auto& d : kafka_test::produce_all(**prod, topic, second))
    BOOST_REQUIRE_MESSAGE(d.result, d.result);
  BOOST_REQUIRE(wait_for([&] { return from_end.size() == 15u && from_begin.size() == 45u; }, 15s));
  std::this_thread::sleep_for(300ms);
  BOOST_TEST(from_end.size() == 15u);
  BOOST_TEST(from_begin.size() == 45u);
  std::lock_guard lock(from_end.m);
  std::set<std::string> values;
  for (auto& r : from_end.records) {
    BOOST_TEST(r.value.rfind("new", 0) == 0u);
    BOOST_TEST(r.partition == partition_for(r.key, 3));
    values.insert(r.value);
  }
  BOOST_TEST(values.size() == 15u);
}

BOOST_AUTO_TEST_SUITE_END()
