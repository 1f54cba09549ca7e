// Truncating a twin's stored tail (cluster restore), twin ids, meta entries.

#include <boost/test/unit_test.hpp>

#include <future>

#include "store_fixture.hpp"

using namespace twin;
using namespace twin::persistence;
using namespace twin::persistence::test;

namespace {

/// Events 1..n of `twin` (bytes "e<rev>"), a snapshot at `snap` (0: none)
/// and an index entry.
write_request twin_history(const std::string& twin, std::uint64_t n,
                           std::uint64_t snap = 0) {
  write_request req;
  twin_write tw;
  tw.twin_id = twin;
  for (std::uint64_t r = 1; r <= n; ++r)
    tw.events.emplace_back(r, "e" + std::to_string(r));
  if (snap > 0)
    tw.snapshot.emplace(snap, "s" + std::to_string(snap));
  tw.index_entry = R"({"model":"dtmi:x:T;1","lifecycle":"active"})";
  req.twins.push_back(std::move(tw));
  return req;
}

std::vector<std::uint64_t> revisions(store& s, const std::string& twin) {
  auto j = s.read_journal(twin, 1);
  BOOST_REQUIRE(j.has_value());
  std::vector<std::uint64_t> out;
  for (auto& r : *j)
    out.push_back(r.revision);
  return out;
}

std::vector<std::uint64_t> range(std::uint64_t from, std::uint64_t to) {
  std::vector<std::uint64_t> out;
  for (auto r = from; r <= to; ++r)
    out.push_back(r);
  return out;
}

write_request truncate_request(const std::string& twin, std::uint64_t keep) {
  write_request req;
  req.truncate.emplace_back(twin, keep);
  return req;
}

} // namespace

BOOST_AUTO_TEST_SUITE(store_truncate)

BOOST_AUTO_TEST_CASE(truncate_keeps_the_revisions_up_to_n_and_drops_the_rest) {
  temp_dir d;
  auto s = open_store(d.path);
  require_ok(s->write(twin_history("t1", 10, 4)));
  require_ok(s->write(twin_history("t10", 10, 8))); // a neighbour key range
  require_ok(s->write(twin_history("t", 3)));
  // The tail lands in SST files for one twin, stays in the memtable for
  // the other: range deletions must work for both.
  require_ok(s->flush());
  require_ok(s->write(truncate_request("t1", 6)));
  BOOST_TEST(revisions(*s, "t1") == range(1, 6));
  // A snapshot at or below keep_through stays.
  auto snap = s->load_snapshot("t1");
  BOOST_REQUIRE(snap.has_value());
  BOOST_REQUIRE(snap->has_value());
  BOOST_TEST((*snap)->revision == 4u);
  BOOST_TEST(s->get_index("t1")->has_value());
  // Neighbours are untouched.
  BOOST_TEST(revisions(*s, "t10") == range(1, 10));
  BOOST_TEST(revisions(*s, "t") == range(1, 3));
  // The newest-first scan sees the truncation too.
  std::vector<std::uint64_t> reverse;
  require_ok(s->scan_journal_reverse("t1", [&](const journal_record& r) {
    reverse.push_back(r.revision);
    return true;
  }));
  BOOST_TEST(reverse == (std::vector<std::uint64_t>{6, 5, 4, 3, 2, 1}));
  // Truncating beyond the end keeps everything.
  require_ok(s->write(truncate_request("t10", 50)));
  BOOST_TEST(revisions(*s, "t10") == range(1, 10));
  require_ok(s->write(truncate_request("t10", UINT64_MAX)));
  BOOST_TEST(revisions(*s, "t10") == range(1, 10));
  // And it all holds after a reopen (flushed or not).
  require_ok(s->flush());
  s.reset();
  s = open_store(d.path);
  BOOST_TEST(revisions(*s, "t1") == range(1, 6));
  BOOST_TEST(revisions(*s, "t10") == range(1, 10));
}

BOOST_AUTO_TEST_CASE(truncate_drops_a_snapshot_beyond_keep_through) {
  temp_dir d;
  auto s = open_store(d.path);
  require_ok(s->write(twin_history("t1", 10, 8)));
  require_ok(s->write(truncate_request("t1", 5)));
  BOOST_TEST(revisions(*s, "t1") == range(1, 5));
  auto snap = s->load_snapshot("t1");
  BOOST_REQUIRE(snap.has_value());
  BOOST_TEST(!snap->has_value());
  BOOST_TEST(s->get_index("t1")->has_value());
}

BOOST_AUTO_TEST_CASE(truncate_to_zero_drops_the_twin_and_its_index_entry) {
  temp_dir d;
  auto s = open_store(d.path);
  require_ok(s->write(twin_history("a", 3, 2)));
  require_ok(s->write(twin_history("b", 3)));
  auto ids = s->twin_ids();
  BOOST_REQUIRE(ids.has_value());
  BOOST_TEST(*ids == (std::vector<std::string>{"a", "b"}));
  require_ok(s->write(truncate_request("a", 0)));
  BOOST_TEST(revisions(*s, "a").empty());
  BOOST_TEST(!s->load_snapshot("a")->has_value());
  BOOST_TEST(!s->get_index("a")->has_value());
  ids = s->twin_ids();
  BOOST_TEST(*ids == (std::vector<std::string>{"b"}));
  BOOST_TEST(revisions(*s, "b") == range(1, 3));
}

BOOST_AUTO_TEST_CASE(one_request_replaces_a_tail_atomically_and_sees_its_own_batch) {
  temp_dir d;
  auto s = open_store(d.path);
  require_ok(s->write(twin_history("t1", 10, 8)));
  // Replace revisions 4.. with a new 4..5 and a snapshot at 5.
  write_request req;
  req.truncate.emplace_back("t1", 3);
  twin_write tw;
  tw.twin_id = "t1";
  tw.events = {{4, "new4"}, {5, "new5"}};
  tw.snapshot.emplace(5, "snap5");
  req.twins.push_back(tw);
  require_ok(s->write(std::move(req)));
  auto j = s->read_journal("t1", 1);
  BOOST_REQUIRE(j.has_value());
  BOOST_REQUIRE_EQUAL(j->size(), 5u);
  BOOST_TEST((*j)[3].bytes == "new4");
  BOOST_TEST((*j)[4].bytes == "new5");
  BOOST_TEST((*s->load_snapshot("t1"))->revision == 5u);
  // Two requests in one group commit: a snapshot put by the first (not yet
  // in the DB) is dropped by the second's truncate.
  std::promise<status> p1, p2;
  auto first = twin_history("u", 10, 9);
  s->submit(std::move(first), [&](const status& st) { p1.set_value(st); });
  s->submit(truncate_request("u", 4), [&](const status& st) { p2.set_value(st); });
  require_ok(p1.get_future().get());
  require_ok(p2.get_future().get());
  BOOST_TEST(revisions(*s, "u") == range(1, 4));
  BOOST_TEST(!s->load_snapshot("u")->has_value());
  // A malformed truncate is rejected alone.
  write_request bad;
  bad.truncate.emplace_back("", 1);
  auto st = s->write(std::move(bad));
  BOOST_REQUIRE(!st);
  BOOST_TEST(st.error().code == errc::bad_request);
}

BOOST_AUTO_TEST_CASE(meta_entries_round_trip_and_survive_a_reopen) {
  temp_dir d;
  {
    auto s = open_store(d.path);
    auto none = s->get_meta("cluster.restored.3");
    BOOST_REQUIRE(none.has_value());
    BOOST_TEST(!none->has_value());
    require_ok(s->put_meta("cluster.restored.3", "1234"));
    require_ok(s->put_meta("cluster.epoch", "7"));
    require_ok(s->put_meta("cluster.epoch", "8"));
    auto v = s->get_meta("cluster.restored.3");
    BOOST_REQUIRE(v.has_value());
    BOOST_REQUIRE(v->has_value());
    BOOST_TEST(**v == "1234");
    require_ok(s->delete_meta("cluster.restored.3"));
    BOOST_TEST(!s->get_meta("cluster.restored.3")->has_value());
    // Meta entries in a request become durable with its twin writes.
    auto req = twin_history("t", 2);
    req.meta_put.emplace_back("cluster.restored.5", "99");
    require_ok(s->write(std::move(req)));
    // The store's own key is off limits.
    for (auto st : {s->put_meta("format_version", "9"), s->delete_meta("format_version"),
                    s->put_meta("", "x")}) {
      BOOST_REQUIRE(!st);
      BOOST_TEST(st.error().code == errc::bad_request);
    }
    BOOST_TEST(!s->get_meta("format_version").has_value());
    write_request sneaky;
    sneaky.meta_put.emplace_back("format_version", "9");
    BOOST_TEST(!s->write(std::move(sneaky)));
  }
  auto s = open_store(d.path); // would refuse a format version 9
  BOOST_TEST(**s->get_meta("cluster.epoch") == "8");
  BOOST_TEST(**s->get_meta("cluster.restored.5") == "99");
  BOOST_TEST(!s->get_meta("cluster.restored.3")->has_value());
}

BOOST_AUTO_TEST_SUITE_END()
