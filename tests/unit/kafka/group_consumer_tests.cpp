// group_consumer on the mock: two members split the partitions, closing one
// hands its partitions to the other, a new member resumes from the committed
// offsets, pause/resume, lag.
#include <boost/test/unit_test.hpp>

#include "mock_cluster.hpp"

#include <algorithm>
#include <map>
#include <set>

using namespace twin::kafka;
using kafka_test::mock_cluster;
using kafka_test::seconds_since;
using kafka_test::wait_for;
using namespace std::chrono_literals;

namespace {

// What one member saw, filled by its callbacks (poll thread), read by the test.
struct member_log {
  mutable std::mutex m;
  std::set<std::int32_t> assigned;
  std::vector<std::vector<std::int32_t>> assigned_calls, revoked_calls;
  std::map<std::int32_t, std::vector<std::int64_t>> offsets; // per partition, in delivery order
  std::size_t records = 0;
  std::vector<std::string> errors;
  bool record_of_unassigned = false;

  group_consumer::callbacks callbacks() {
    group_consumer::callbacks cb;
    cb.on_assigned = [this](std::vector<std::int32_t> ps) {
      std::lock_guard lock(m);
      assigned.insert(ps.begin(), ps.end());
      assigned_calls.push_back(ps);
    };
    cb.on_revoked = [this](std::vector<std::int32_t> ps) {
      std::lock_guard lock(m);
      for (auto p : ps)
        assigned.erase(p);
      revoked_calls.push_back(ps);
    };
    cb.on_record = [this](record&& r) {
      std::lock_guard lock(m);
      if (!assigned.count(r.partition))
        record_of_unassigned = true;
      offsets[r.partition].push_back(r.offset);
      ++records;
    };
    cb.on_error = [this](const twin::error& e) {
      std::lock_guard lock(m);
      errors.push_back(e.message);
      BOOST_TEST_MESSAGE("on_error: " << e.message);
    };
    return cb;
  }
  std::set<std::int32_t> owned() const {
    std::lock_guard lock(m);
    return assigned;
  }
  std::size_t count() const {
    std::lock_guard lock(m);
    return records;
  }
  std::size_t assign_calls() const {
    std::lock_guard lock(m);
    return assigned_calls.size();
  }
  std::size_t revoke_calls() const {
    std::lock_guard lock(m);
    return revoked_calls.size();
  }
};

void produce_per_partition(producer& p, const std::string& topic, int partitions, int per,
                           const std::string& tag) {
  for (int part = 0; part < partitions; ++part) {
    std::vector<std::pair<std::string, std::string>> kv;
    for (int i = 0; i < per; ++i)
      kv.emplace_back("k" + std::to_string(i), tag + std::to_string(i));
    auto d = kafka_test::produce_all(p, topic, kv, part);
    for (auto& x : d)
      BOOST_REQUIRE_MESSAGE(x.result, x.result);
  }
}

} // namespace

BOOST_AUTO_TEST_SUITE(group)

BOOST_AUTO_TEST_CASE(split_reassign_commit_resume_pause_lag) {
  auto& mc = mock_cluster::get();
  const std::string topic = "t.group";
  const int parts = 6;
  mc.create_topic(topic, parts);
  auto prod = producer::create(mc.bootstrap, {}, true);
  BOOST_REQUIRE_MESSAGE(prod, prod);
  produce_per_partition(**prod, topic, parts, 100, "a");

  // -- A alone gets everything and reads it all.
  member_log a;
  auto t0 = std::chrono::steady_clock::now();
  auto ca = group_consumer::create(mc.bootstrap, "g1", topic, kafka_test::fast_group(),
                                   a.callbacks());
  BOOST_REQUIRE_MESSAGE(ca, ca);
  BOOST_REQUIRE(wait_for([&] { return a.owned().size() == 6u; }, 20s));
  BOOST_TEST_MESSAGE("first member assigned after " << seconds_since(t0) << " s");
  BOOST_REQUIRE(wait_for([&] { return a.count() == 600u; }, 20s));
  BOOST_TEST_MESSAGE("600 records after " << seconds_since(t0) << " s");
  {
    std::lock_guard lock(a.m);
    for (auto& [p, offs] : a.offsets) {
      BOOST_TEST(offs.size() == 100u);
      BOOST_TEST(std::is_sorted(offs.begin(), offs.end()));
    }
  }

  // -- Commit 50 on every partition; lag shows it.
  for (int p = 0; p < parts; ++p)
    (*ca)->commit(p, 50);
  BOOST_REQUIRE(wait_for([&] {
    auto l = (*ca)->lag(5s);
    if (!l || l->size() != 6u)
      return false;
    return std::all_of(l->begin(), l->end(), [](auto& x) { return x.committed == 50; });
  }, 10s));
  {
    auto l = (*ca)->lag(5s);
    BOOST_REQUIRE_MESSAGE(l, l);
    for (auto& x : *l) {
      BOOST_TEST(x.high == 100);
      BOOST_TEST(x.high - x.committed == 50);
    }
  }

  // -- B joins: the partitions are split 3/3; B starts at the committed 50.
  member_log b;
  t0 = std::chrono::steady_clock::now();
  auto cb = group_consumer::create(mc.bootstrap, "g1", topic, kafka_test::fast_group(),
                                   b.callbacks());
  BOOST_REQUIRE_MESSAGE(cb, cb);
  BOOST_REQUIRE(wait_for([&] { return b.owned().size() == 3u && a.owned().size() == 3u; }, 30s));
  BOOST_TEST_MESSAGE("split after second member joined: " << seconds_since(t0) << " s");
  BOOST_TEST(a.revoke_calls() >= 1u);
  {
    auto oa = a.owned(), ob = b.owned();
    std::set<std::int32_t> all(oa.begin(), oa.end());
    all.insert(ob.begin(), ob.end());
    BOOST_TEST(all.size() == 6u); // disjoint and complete
    auto asg = (*cb)->assignment();
    BOOST_TEST(std::set<std::int32_t>(asg.begin(), asg.end()) == ob);
  }
  BOOST_REQUIRE(wait_for([&] { return b.count() == 150u; }, 20s));
  {
    std::lock_guard lock(b.m);
    for (auto& [p, offs] : b.offsets) {
      BOOST_TEST_CONTEXT("B partition " << p) {
        BOOST_TEST(offs.size() == 50u);
        BOOST_TEST(offs.front() == 50); // resumed at the commit, nothing before it
        BOOST_TEST(offs.back() == 99);
      }
    }
  }

  // -- Close B: its revocation runs, A gets all six back.
  auto a_assigns = a.assign_calls();
  auto a_revokes = a.revoke_calls();
  t0 = std::chrono::steady_clock::now();
  (*cb)->close();
  BOOST_TEST_MESSAGE("close() of the second member took " << seconds_since(t0) << " s");
  BOOST_TEST(b.revoke_calls() == 1u);
  BOOST_TEST(b.owned().empty());
  BOOST_REQUIRE(wait_for([&] { return a.owned().size() == 6u; }, 30s));
  BOOST_TEST_MESSAGE("reassigned to the first member after " << seconds_since(t0) << " s");
  BOOST_TEST(a.revoke_calls() > a_revokes);
  BOOST_TEST(a.assign_calls() > a_assigns);
  cb->reset();

  // -- Pause everything: nothing more arrives; resume: it does.
  BOOST_REQUIRE(wait_for([&] { return a.count() >= 600u + 150u; }, 20s)); // settle after rebalances
  std::this_thread::sleep_for(300ms);
  std::vector<std::int32_t> all_parts{0, 1, 2, 3, 4, 5};
  (*ca)->pause(all_parts);
  std::this_thread::sleep_for(300ms); // let already-fetched records drain
  const auto before = a.count();
  produce_per_partition(**prod, topic, parts, 10, "b");
  std::this_thread::sleep_for(1500ms);
  BOOST_TEST(a.count() == before);
  (*ca)->resume(all_parts);
  BOOST_REQUIRE(wait_for([&] { return a.count() >= before + 60u; }, 10s));
  std::this_thread::sleep_for(200ms);
  BOOST_TEST(a.count() == before + 60u);

  // -- Lag: high 110, committed 100 -> 10 each.
  for (int p = 0; p < parts; ++p)
    (*ca)->commit(p, 100);
  BOOST_REQUIRE(wait_for([&] {
    auto l = (*ca)->lag(5s);
    return l && l->size() == 6u &&
           std::all_of(l->begin(), l->end(), [](auto& x) { return x.committed == 100; });
  }, 10s));
  auto l = (*ca)->lag(5s);
  BOOST_REQUIRE_MESSAGE(l, l);
  for (auto& x : *l) {
    BOOST_TEST(x.high == 110);
    BOOST_TEST(x.high - x.committed == 10);
  }

  {
    std::lock_guard lock(a.m);
    BOOST_TEST(!a.record_of_unassigned);
    BOOST_TEST(a.errors.empty());
  }
  {
    std::lock_guard lock(b.m);
    BOOST_TEST(!b.record_of_unassigned);
    BOOST_TEST(b.errors.empty());
  }
  t0 = std::chrono::steady_clock::now();
  ca->reset();
  BOOST_TEST_MESSAGE("last member's close took " << seconds_since(t0) << " s");
  BOOST_TEST(a.revoke_calls() > 0u);
}

// Commit from inside on_revoked (the flush-and-commit pattern): the commit is
// sent before the partitions are given up, so a new member resumes there.
BOOST_AUTO_TEST_CASE(commit_in_on_revoked_is_durable) {
  auto& mc = mock_cluster::get();
  const std::string topic = "t.revoke";
  mc.create_topic(topic, 2);
  auto prod = producer::create(mc.bootstrap, {}, true);
  BOOST_REQUIRE_MESSAGE(prod, prod);
  produce_per_partition(**prod, topic, 2, 20, "x");

  std::atomic<int> seen{0};
  group_consumer* self = nullptr;
  group_consumer::callbacks cb;
  cb.on_record = [&](record&&) { ++seen; };
  cb.on_revoked = [&](std::vector<std::int32_t> ps) {
    for (auto p : ps)
      self->commit(p, 15);
  };
  auto c = group_consumer::create(mc.bootstrap, "g2", topic, kafka_test::fast_group(), cb);
  BOOST_REQUIRE_MESSAGE(c, c);
  self = c->get();
  BOOST_REQUIRE(wait_for([&] { return seen.load() == 40; }, 20s));
  auto t0 = std::chrono::steady_clock::now();
  c->reset(); // close: on_revoked commits 15
  BOOST_TEST_MESSAGE("sole member's close took " << seconds_since(t0) << " s");

  member_log n;
  auto c2 = group_consumer::create(mc.bootstrap, "g2", topic, kafka_test::fast_group(),
                                   n.callbacks());
  BOOST_REQUIRE_MESSAGE(c2, c2);
  BOOST_REQUIRE(wait_for([&] { return n.count() == 10u; }, 20s));
  std::lock_guard lock(n.m);
  for (auto& [p, offs] : n.offsets) {
    BOOST_TEST(offs.size() == 5u);
    BOOST_TEST(offs.front() == 15);
  }
}

BOOST_AUTO_TEST_SUITE_END()
