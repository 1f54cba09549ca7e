// producer + reader on the mock: partitioning agrees with librdkafka's
// murmur2_random, idempotent produce reads back exactly, watermarks.
#include <boost/test/unit_test.hpp>

#include "mock_cluster.hpp"

#include <map>

using namespace twin::kafka;
using kafka_test::mock_cluster;

BOOST_AUTO_TEST_SUITE(producer_reader)

BOOST_AUTO_TEST_CASE(partition_for_equals_librdkafka_murmur2_random) {
  auto& mc = mock_cluster::get();
  const int partitions = 12;
  mc.create_topic("t.murmur", partitions);
  auto p = producer::create(mc.bootstrap, {{"linger.ms", "5"}}, false);
  BOOST_REQUIRE_MESSAGE(p, p);
  std::vector<std::pair<std::string, std::string>> kv;
  for (int i = 0; i < 1000; ++i) {
    std::string key = (i % 3 == 0) ? "twin:bearing-" + std::to_string(i)
                                   : "k" + std::to_string(i * 7919);
    if (i % 10 == 0)
      key += std::string("\xff\x00\x80", 3); // high and NUL bytes too
    kv.emplace_back(key, "v");
  }
  auto d = kafka_test::produce_all(**p, "t.murmur", kv);
  int mismatches = 0;
  std::map<int, int> spread;
  for (std::size_t i = 0; i < kv.size(); ++i) {
    BOOST_REQUIRE_MESSAGE(d[i].result, d[i].result);
    ++spread[d[i].partition];
    if (d[i].partition != partition_for(kv[i].first, partitions))
      ++mismatches;
  }
  BOOST_TEST(mismatches == 0);
  BOOST_TEST(spread.size() == static_cast<std::size_t>(partitions)); // sanity: keys spread
  BOOST_TEST((*p)->in_flight() == 0u);
}

BOOST_AUTO_TEST_CASE(idempotent_produce_reads_back_in_order) {
  auto& mc = mock_cluster::get();
  mc.create_topic("t.changelog", 4);
  auto p = producer::create(mc.bootstrap, {}, /*idempotent=*/true);
  BOOST_REQUIRE_MESSAGE(p, p);
  std::vector<std::pair<std::string, std::string>> kv;
  for (int i = 0; i < 500; ++i)
    kv.emplace_back("twin-" + std::to_string(i % 17), "value-" + std::to_string(i));
  auto d = kafka_test::produce_all(**p, "t.changelog", kv, /*partition=*/2);
  for (std::size_t i = 0; i < d.size(); ++i) {
    BOOST_REQUIRE_MESSAGE(d[i].result, d[i].result);
    BOOST_TEST(d[i].partition == 2);
    BOOST_TEST(d[i].offset == static_cast<std::int64_t>(i));
  }

  auto r = reader::create(mc.bootstrap, {{"fetch.wait.max.ms", "50"}});
  BOOST_REQUIRE_MESSAGE(r, r);
  auto wm = (*r)->watermarks("t.changelog", 2, std::chrono::seconds(5));
  BOOST_REQUIRE_MESSAGE(wm, wm);
  BOOST_TEST(wm->first == 0);
  BOOST_TEST(wm->second == 500);
  auto empty_wm = (*r)->watermarks("t.changelog", 0, std::chrono::seconds(5));
  BOOST_REQUIRE_MESSAGE(empty_wm, empty_wm);
  BOOST_TEST(empty_wm->first == 0);
  BOOST_TEST(empty_wm->second == 0);

  std::vector<record> got;
  auto end = (*r)->read_to_end("t.changelog", 2, 0, [&](const record& rec) { got.push_back(rec); },
                               std::chrono::seconds(10));
  BOOST_REQUIRE_MESSAGE(end, end);
  BOOST_TEST(*end == 500);
  BOOST_REQUIRE_EQUAL(got.size(), kv.size());
  for (std::size_t i = 0; i < got.size(); ++i) {
    BOOST_TEST(got[i].offset == static_cast<std::int64_t>(i));
    BOOST_TEST(got[i].partition == 2);
    BOOST_TEST(got[i].topic == "t.changelog");
    BOOST_TEST(got[i].key == kv[i].first);
    BOOST_TEST(got[i].value == kv[i].second);
    BOOST_TEST(got[i].timestamp_ms > 0);
  }

  // From the middle, with the same reader (reassignment).
  std::vector<std::int64_t> offsets;
  end = (*r)->read_to_end("t.changelog", 2, 321,
                          [&](const record& rec) { offsets.push_back(rec.offset); },
                          std::chrono::seconds(10));
  BOOST_REQUIRE_MESSAGE(end, end);
  BOOST_TEST(*end == 500);
  BOOST_REQUIRE_EQUAL(offsets.size(), 179u);
  BOOST_TEST(offsets.front() == 321);
  BOOST_TEST(offsets.back() == 499);

  // Already at the end; an empty partition; beyond the end.
  int calls = 0;
  end = (*r)->read_to_end("t.changelog", 2, 500, [&](const record&) { ++calls; },
                          std::chrono::seconds(5));
  BOOST_REQUIRE_MESSAGE(end, end);
  BOOST_TEST(*end == 500);
  end = (*r)->read_to_end("t.changelog", 0, 0, [&](const record&) { ++calls; },
                          std::chrono::seconds(5));
  BOOST_REQUIRE_MESSAGE(end, end);
  BOOST_TEST(*end == 0);
  BOOST_TEST(calls == 0);
  end = (*r)->read_to_end("t.changelog", 2, 501, [&](const record&) { ++calls; },
                          std::chrono::seconds(5));
  BOOST_TEST(!end);

  // Records produced after a read are picked up by the next one.
  auto more = kafka_test::produce_all(**p, "t.changelog", {{"k", "late"}}, 2);
  BOOST_REQUIRE(more[0].result);
  std::vector<std::string> late;
  end = (*r)->read_to_end("t.changelog", 2, 500, [&](const record& rec) { late.push_back(rec.value); },
                          std::chrono::seconds(10));
  BOOST_REQUIRE_MESSAGE(end, end);
  BOOST_TEST(*end == 501);
  BOOST_REQUIRE_EQUAL(late.size(), 1u);
  BOOST_TEST(late[0] == "late");
}

BOOST_AUTO_TEST_CASE(produce_errors_reach_done_once) {
  auto& mc = mock_cluster::get();
  mc.create_topic("t.small", 2);
  auto p = producer::create(mc.bootstrap, {{"message.timeout.ms", "3000"}}, false);
  BOOST_REQUIRE_MESSAGE(p, p);
  // Partition 7 does not exist: reported through done, exactly once.
  std::atomic<int> calls{0};
  std::atomic<bool> failed{false};
  (*p)->produce("t.small", "k", "v", [&](const delivery& d) {
    ++calls;
    failed = !d.result;
  }, 7);
  auto st = (*p)->flush(std::chrono::seconds(10));
  BOOST_TEST(kafka_test::wait_for([&] { return calls.load() == 1; }, std::chrono::seconds(10)));
  BOOST_TEST(failed.load());
  (void)st;
}

BOOST_AUTO_TEST_SUITE_END()
