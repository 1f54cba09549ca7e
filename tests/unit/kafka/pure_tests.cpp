// The parts that need no cluster: murmur2 / partition_for against Kafka's
// Java values, offset_tracker, and setting validation.
#include <boost/test/unit_test.hpp>

#include <twin/kafka/kafka.hpp>

#include <cstdint>
#include <string>

using namespace twin::kafka;

BOOST_AUTO_TEST_SUITE(pure)

// Kafka's murmur2 (Utils.murmur2, seed 0x9747b28c, m 0x5bd1e995, r 24), by
// hand for the key "21" (2 bytes, so no 4-byte block, only the tail):
//   h = seed ^ len            = 0x9747b28c ^ 2          = 0x9747b28e
//   tail: h ^= data[1] << 8   ('1' = 0x31)  -> 0x9747838e
//         h ^= data[0]        ('2' = 0x32)  -> 0x974783bc
//         h *= m              (mod 2^32)    -> 0x8401c86c
//   h ^= h >>> 13                            -> 0x8405e862
//   h *= m                                   -> 0xc5f3730a
//   h ^= h >>> 15                            -> 0xc5f2f8ec  = -973932308 as Java int
//   toPositive: 0xc5f2f8ec & 0x7fffffff = 1173551340; % 4 = 0, % 7 = 3.
// -973932308 is also the value Kafka's own UtilsTest.testMurmur2 expects for
// "21"; the other rows below are that test's vectors, all of which an
// independent re-implementation of the definition above reproduces.
BOOST_AUTO_TEST_CASE(murmur2_matches_java_values) {
  struct row {
    const char* key;
    std::int32_t java;
  };
  const row rows[] = {
      {"21", -973932308},
      {"foobar", -790332482},
      {"a-little-bit-long-string", -985981536},
      {"a-little-bit-longer-string", -1486304829},
      {"lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8", -58897971},
      {"abc", 479470107},
  };
  for (const auto& r : rows) {
    BOOST_TEST_CONTEXT("key " << r.key) {
      BOOST_TEST(static_cast<std::int32_t>(murmur2(r.key)) == r.java);
      const auto positive = static_cast<std::uint32_t>(r.java) & 0x7fffffffu;
      for (std::int32_t n : {1, 3, 4, 7, 12, 64})
        BOOST_TEST(partition_for(r.key, n) == static_cast<std::int32_t>(positive % n));
    }
  }
  BOOST_TEST(murmur2("21") == 0xc5f2f8ecu);
  BOOST_TEST(partition_for("21", 4) == 0);
  BOOST_TEST(partition_for("21", 7) == 3);
  BOOST_TEST(partition_for("21", 0) == 0); // degenerate, no division by zero
}

BOOST_AUTO_TEST_CASE(offset_tracker_out_of_order) {
  offset_tracker t;
  BOOST_TEST(t.committable() == -1);
  BOOST_TEST(t.in_flight() == 0u);
  for (std::int64_t o = 10; o < 15; ++o)
    t.started(o);
  BOOST_TEST(t.in_flight() == 5u);
  BOOST_TEST(t.committable() == 10);
  t.done(12);
  t.done(11);
  BOOST_TEST(t.committable() == 10); // 10 still running
  t.done(10);
  BOOST_TEST(t.committable() == 13); // 10, 11, 12 done
  t.done(10);                         // repeated: ignored
  t.done(99);                         // unknown: ignored
  BOOST_TEST(t.in_flight() == 2u);
  t.done(14);
  BOOST_TEST(t.committable() == 13);
  t.done(13);
  BOOST_TEST(t.committable() == 15);
  BOOST_TEST(t.in_flight() == 0u);
  // Gaps (transaction markers, compaction) are fine.
  t.started(20);
  t.started(25);
  t.started(25); // not increasing: ignored
  BOOST_TEST(t.committable() == 20);
  t.done(20);
  BOOST_TEST(t.committable() == 25);
  t.done(25);
  BOOST_TEST(t.committable() == 26);
}

BOOST_AUTO_TEST_CASE(offset_tracker_starts_at_zero) {
  offset_tracker t;
  t.started(0);
  BOOST_TEST(t.committable() == 0);
  t.done(0);
  BOOST_TEST(t.committable() == 1);
}

BOOST_AUTO_TEST_CASE(bad_setting_is_named) {
  auto p = producer::create("127.0.0.1:1", {{"no.such.setting", "1"}}, false);
  BOOST_REQUIRE(!p);
  BOOST_TEST(p.error().message.find("'no.such.setting'") != std::string::npos, p.error().message);
  BOOST_TEST(p.error().message.rfind("kafka: setting", 0) == 0u, p.error().message);
  BOOST_TEST(p.error().code == twin::errc::bad_request);

  auto q = producer::create("127.0.0.1:1", {{"acks", "banana"}}, true);
  BOOST_REQUIRE(!q);
  BOOST_TEST(q.error().message.find("'acks'") != std::string::npos, q.error().message);

  auto g = group_consumer::create("127.0.0.1:1", "g", "t", {{"session.timeout.ms", "soon"}}, {});
  BOOST_REQUIRE(!g);
  BOOST_TEST(g.error().message.find("'session.timeout.ms'") != std::string::npos,
             g.error().message);

  auto r = reader::create("127.0.0.1:1", {{"bogus.key", "x"}});
  BOOST_REQUIRE(!r);
  BOOST_TEST(r.error().message.find("'bogus.key'") != std::string::npos, r.error().message);

  auto t = tailer::create("127.0.0.1:1", "t", 1, tailer::start::beginning, {{"bogus.key2", "x"}},
                          [](record&&) {});
  BOOST_REQUIRE(!t);
  BOOST_TEST(t.error().message.find("'bogus.key2'") != std::string::npos, t.error().message);
}

BOOST_AUTO_TEST_SUITE_END()
