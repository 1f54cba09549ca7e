#define BOOST_TEST_MODULE persistence_tests
#include "store_fixture.hpp"

#include <csignal>
#include <future>

#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

using namespace twin;
using namespace twin::persistence;
using namespace twin::persistence::test;

namespace {

std::vector<std::uint64_t> revisions(const std::vector<journal_record>& recs) {
  std::vector<std::uint64_t> out;
  for (auto& r : recs)
    out.push_back(r.revision);
  return out;
}

using revs = std::vector<std::uint64_t>;

// Three twins whose ids are prefixes of one another, ten events each.
void write_three_twins(store& s) {
  for (const std::string twin : {"t1", "t10", "t1x"}) {
    write_request req;
    twin_write tw;
    tw.twin_id = twin;
    for (std::uint64_t r = 1; r <= 10; ++r)
      tw.events.emplace_back(r, twin + "#" + std::to_string(r));
    req.twins.push_back(std::move(tw));
    require_ok(s.write(std::move(req)));
  }
}

void check_three_twins(store& s) {
  auto all = s.read_journal("t1", 0);
  BOOST_REQUIRE(all);
  BOOST_TEST(revisions(*all) == (revs{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}),
             boost::test_tools::per_element());
  BOOST_TEST((*all)[4].bytes == "t1#5");
  auto mid = s.read_journal("t10", 4, 6);
  BOOST_REQUIRE(mid);
  BOOST_TEST(revisions(*mid) == (revs{4, 5, 6}), boost::test_tools::per_element());
  BOOST_TEST((*mid)[0].bytes == "t10#4");
  auto tail = s.read_journal("t1x", 9);
  BOOST_REQUIRE(tail);
  BOOST_TEST(revisions(*tail) == (revs{9, 10}), boost::test_tools::per_element());
  auto none = s.read_journal("t1", 11);
  BOOST_REQUIRE(none);
  BOOST_TEST(none->empty());
  auto unknown = s.read_journal("t", 0);
  BOOST_REQUIRE(unknown);
  BOOST_TEST(unknown->empty());
  auto inverted = s.read_journal("t1", 5, 4);
  BOOST_REQUIRE(inverted);
  BOOST_TEST(inverted->empty());
}

} // namespace

BOOST_AUTO_TEST_SUITE(store_basics)

BOOST_AUTO_TEST_CASE(a_store_opens_closes_and_reopens_with_its_data) {
  temp_dir dir;
  {
    auto s = open_store(dir.path);
    require_ok(s->write(event_request("pump-1", 1, "created")));
    s->close();
    s->close(); // idempotent
  }
  {
    auto s = open_store(dir.path);
    auto j = s->read_journal("pump-1", 1);
    BOOST_REQUIRE(j);
    BOOST_REQUIRE(j->size() == 1u);
    BOOST_TEST((*j)[0].bytes == "created");
  }
  BOOST_TEST(raw_db(dir.path).get("meta", "format_version") == "1");
}

BOOST_AUTO_TEST_CASE(the_journal_returns_a_twins_events_in_the_requested_range_only) {
  temp_dir dir;
  auto s = open_store(dir.path);
  write_three_twins(*s);
  check_three_twins(*s);
}

BOOST_AUTO_TEST_CASE(journal_ranges_stay_right_once_the_events_are_in_sst_files) {
  temp_dir dir;
  {
    auto s = open_store(dir.path);
    write_three_twins(*s);
    require_ok(s->flush());
    check_three_twins(*s); // through the prefix bloom filter of the SST
  }
  auto s = open_store(dir.path);
  check_three_twins(*s);
}

BOOST_AUTO_TEST_CASE(revision_order_is_numeric_not_lexicographic) {
  temp_dir dir;
  auto s = open_store(dir.path);
  write_request req;
  twin_write tw;
  tw.twin_id = "pump-1";
  for (std::uint64_t r : {1ull, 2ull, 255ull, 256ull, 65536ull, 1ull << 40})
    tw.events.emplace_back(r, "e");
  req.twins.push_back(std::move(tw));
  require_ok(s->write(std::move(req)));
  auto j = s->read_journal("pump-1", 2, 65536);
  BOOST_REQUIRE(j);
  BOOST_TEST(revisions(*j) == (revs{2, 255, 256, 65536}), boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(a_reverse_scan_walks_newest_first_and_stops_when_asked) {
  temp_dir dir;
  auto s = open_store(dir.path);
  write_three_twins(*s);
  revs seen;
  require_ok(s->scan_journal_reverse("t1", [&](const journal_record& r) {
    seen.push_back(r.revision);
    return true;
  }));
  BOOST_TEST(seen == (revs{10, 9, 8, 7, 6, 5, 4, 3, 2, 1}), boost::test_tools::per_element());
  seen.clear();
  require_ok(s->scan_journal_reverse("t10", [&](const journal_record& r) {
    BOOST_TEST(r.bytes == "t10#" + std::to_string(r.revision));
    seen.push_back(r.revision);
    return seen.size() < 3;
  }));
  BOOST_TEST(seen == (revs{10, 9, 8}), boost::test_tools::per_element());
  seen.clear();
  require_ok(s->scan_journal_reverse("nobody", [&](const journal_record& r) {
    seen.push_back(r.revision);
    return true;
  }));
  BOOST_TEST(seen.empty());
  require_ok(s->flush());
  require_ok(s->scan_journal_reverse("t1x", [&](const journal_record& r) {
    seen.push_back(r.revision);
    return true;
  }));
  BOOST_TEST(seen.size() == 10u);
  BOOST_TEST(seen.front() == 10u);
}

BOOST_AUTO_TEST_CASE(a_snapshot_replaces_the_previous_one) {
  temp_dir dir;
  auto s = open_store(dir.path);
  auto none = s->load_snapshot("pump-1");
  BOOST_REQUIRE(none);
  BOOST_TEST(!none->has_value());
  for (std::uint64_t rev : {5u, 9u}) {
    write_request req;
    twin_write tw;
    tw.twin_id = "pump-1";
    tw.snapshot.emplace(rev, "state@" + std::to_string(rev));
    req.twins.push_back(std::move(tw));
    require_ok(s->write(std::move(req)));
  }
  auto snap = s->load_snapshot("pump-1");
  BOOST_REQUIRE(snap);
  BOOST_REQUIRE(snap->has_value());
  BOOST_TEST((*snap)->revision == 9u);
  BOOST_TEST((*snap)->bytes == "state@9");
}

BOOST_AUTO_TEST_CASE(the_index_is_scanned_in_key_order_page_by_page_with_after) {
  temp_dir dir;
  auto s = open_store(dir.path);
  write_request req;
  for (int i = 9; i >= 0; --i) {
    twin_write tw;
    tw.twin_id = "twin-" + std::to_string(i);
    tw.index_entry = "entry-" + std::to_string(i);
    req.twins.push_back(std::move(tw));
  }
  require_ok(s->write(std::move(req)));
  auto entry = s->get_index("twin-3");
  BOOST_REQUIRE(entry);
  BOOST_TEST(entry->value_or("") == "entry-3");
  auto missing = s->get_index("twin-x");
  BOOST_REQUIRE(missing);
  BOOST_TEST(!missing->has_value());

  std::vector<std::string> all;
  std::string after;
  int pages = 0;
  for (;;) {
    std::vector<std::string> page;
    require_ok(s->scan_index(after, [&](const std::string& id, const std::string& e) {
      BOOST_TEST(e == "entry-" + id.substr(5));
      page.push_back(id);
      return page.size() < 4;
    }));
    if (page.empty())
      break;
    ++pages;
    all.insert(all.end(), page.begin(), page.end());
    after = page.back();
  }
  BOOST_TEST(pages == 3);
  std::vector<std::string> expected;
  for (int i = 0; i < 10; ++i)
    expected.push_back("twin-" + std::to_string(i));
  BOOST_TEST(all == expected, boost::test_tools::per_element());
  // `after` need not be a stored key
  std::vector<std::string> from_mid;
  require_ok(s->scan_index("twin-4a", [&](const std::string& id, const std::string&) {
    from_mid.push_back(id);
    return true;
  }));
  BOOST_REQUIRE(!from_mid.empty());
  BOOST_TEST(from_mid.front() == "twin-5");
}

BOOST_AUTO_TEST_CASE(models_are_put_listed_and_deleted) {
  temp_dir dir;
  auto s = open_store(dir.path);
  write_request put;
  put.models_put = {{"dtmi:com:example:Pump;1", R"({"@id":"dtmi:com:example:Pump;1"})"},
                    {"dtmi:com:example:Fan;1", R"({"@id":"dtmi:com:example:Fan;1"})"}};
  require_ok(s->write(std::move(put)));
  auto models = s->list_models();
  BOOST_REQUIRE(models);
  BOOST_REQUIRE(models->size() == 2u);
  BOOST_TEST((*models)[0].first == "dtmi:com:example:Fan;1");
  BOOST_TEST((*models)[1].second == R"({"@id":"dtmi:com:example:Pump;1"})");
  write_request del;
  del.models_delete = {"dtmi:com:example:Fan;1"};
  require_ok(s->write(std::move(del)));
  models = s->list_models();
  BOOST_REQUIRE(models);
  BOOST_REQUIRE(models->size() == 1u);
  BOOST_TEST((*models)[0].first == "dtmi:com:example:Pump;1");
}

BOOST_AUTO_TEST_CASE(alerts_get_ascending_seqs_that_continue_after_reopen) {
  temp_dir dir;
  {
    auto s = open_store(dir.path);
    write_request req;
    req.alerts = {{{"type", "twin.alert.unexpected_data"}, {"twin", "pump-1"}},
                  {{"type", "twin.alert.unexpected_data"}, {"twin", "pump-2"}}};
    require_ok(s->write(std::move(req)));
  }
  auto s = open_store(dir.path);
  write_request req;
  req.alerts = {{{"type", "twin.alert.unexpected_data"}, {"twin", "pump-3"}}};
  require_ok(s->write(std::move(req)));
  auto alerts = s->list_alerts(1, 100);
  BOOST_REQUIRE(alerts);
  BOOST_REQUIRE(alerts->size() == 3u);
  for (std::uint64_t i = 0; i < 3; ++i)
    BOOST_TEST((*alerts)[i]["seq"].get<std::uint64_t>() == i + 1);
  BOOST_TEST((*alerts)[2]["twin"] == "pump-3");
  auto page = s->list_alerts(2, 1);
  BOOST_REQUIRE(page);
  BOOST_REQUIRE(page->size() == 1u);
  BOOST_TEST((*page)[0]["twin"] == "pump-2");
}

BOOST_AUTO_TEST_CASE(a_malformed_request_is_rejected_alone_and_its_neighbours_commit) {
  temp_dir dir;
  auto s = open_store(dir.path);
  std::promise<status> bad_p, good_p;
  write_request bad = event_request(std::string("bad\0id", 6), 1, "x");
  bad.audit.push_back(audit_record("create", "bad"));
  write_request good = event_request("good", 1, "y");
  good.audit.push_back(audit_record("create", "good"));
  s->submit(std::move(bad), [&](const status& st) { bad_p.set_value(st); });
  s->submit(std::move(good), [&](const status& st) { good_p.set_value(st); });
  auto bad_s = bad_p.get_future().get();
  BOOST_REQUIRE(!bad_s);
  BOOST_TEST(bad_s.error().code == errc::bad_request);
  require_ok(good_p.get_future().get());
  auto audit = s->list_audit(1, 10);
  BOOST_REQUIRE(audit);
  BOOST_REQUIRE(audit->size() == 1u);
  BOOST_TEST((*audit)[0]["target"] == "good");
  BOOST_TEST((*audit)[0]["seq"] == 1);
  auto v = s->verify_audit();
  BOOST_REQUIRE(v);
  BOOST_TEST(v->intact);
  // a rejected request without audit records leaves the chain head alone
  std::promise<status> plain_p;
  s->submit(event_request("", 1, "no id"), [&](const status& st) { plain_p.set_value(st); });
  BOOST_TEST(!plain_p.get_future().get());
  write_request next;
  next.audit.push_back(audit_record("update", "next"));
  require_ok(s->write(std::move(next)));
  v = s->verify_audit();
  BOOST_REQUIRE(v);
  BOOST_TEST(v->intact);
  BOOST_TEST(v->records == 2u);
}

BOOST_AUTO_TEST_CASE(after_close_submit_calls_back_unavailable_at_once_and_reads_fail) {
  temp_dir dir;
  auto s = open_store(dir.path);
  s->close();
  bool called = false;
  s->submit(event_request("pump-1", 1, "x"), [&](const status& st) {
    called = true;
    BOOST_REQUIRE(!st);
    BOOST_TEST(st.error().code == errc::unavailable);
  });
  BOOST_TEST(called);
  auto w = s->write(event_request("pump-1", 1, "x"));
  BOOST_REQUIRE(!w);
  BOOST_TEST(w.error().code == errc::unavailable);
  auto j = s->read_journal("pump-1", 0);
  BOOST_REQUIRE(!j);
  BOOST_TEST(j.error().code == errc::unavailable);
}

BOOST_AUTO_TEST_CASE(close_drains_every_queued_request_before_returning) {
  temp_dir dir;
  auto s = open_store(dir.path);
  std::atomic<int> acked{0};
  for (std::uint64_t r = 1; r <= 500; ++r)
    s->submit(event_request("pump-1", r, "e"), [&](const status& st) {
      if (st)
        ++acked;
    });
  s->close();
  BOOST_TEST(acked.load() == 500);
  s.reset();
  auto again = open_store(dir.path);
  auto j = again->read_journal("pump-1", 0);
  BOOST_REQUIRE(j);
  BOOST_TEST(j->size() == 500u);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(store_open_errors)

BOOST_AUTO_TEST_CASE(a_second_open_of_a_directory_in_use_in_this_process_is_unavailable) {
  temp_dir dir;
  auto first = open_store(dir.path);
  store_options opts;
  opts.path = dir.path;
  auto second = store::open(opts);
  BOOST_REQUIRE(!second);
  BOOST_TEST(second.error().code == errc::unavailable);
  BOOST_TEST(second.error().message
               == "data directory " + dir.path
                    + " is in use by another process (RocksDB lock held)",
             second.error().message);
  // the lock goes with the store
  first.reset();
  auto third = store::open(opts);
  BOOST_TEST(static_cast<bool>(third));
}

BOOST_AUTO_TEST_CASE(a_second_open_of_a_directory_held_by_another_process_is_unavailable) {
  temp_dir dir;
  int to_parent[2], to_child[2];
  BOOST_REQUIRE(pipe(to_parent) == 0);
  BOOST_REQUIRE(pipe(to_child) == 0);
  open_store(dir.path).reset(); // create the database and its LOCK file
  pid_t pid = fork();
  BOOST_REQUIRE(pid >= 0);
  if (pid == 0) {
    // The child takes the lock exactly as another RocksDB process would
    // (PosixFileSystem::LockFile: an fcntl write lock on DIR/LOCK). It does
    // not open RocksDB itself: this process may already run RocksDB's
    // background threads, and a forked child must not rely on them.
    int fd = ::open((dir.path + "/LOCK").c_str(), O_RDWR);
    struct flock fl {};
    fl.l_type = F_WRLCK;
    fl.l_whence = SEEK_SET;
    char c = (fd >= 0 && fcntl(fd, F_SETLK, &fl) == 0) ? 'y' : 'n';
    if (write(to_parent[1], &c, 1) != 1)
      _exit(2);
    if (read(to_child[0], &c, 1) != 1)
      _exit(3);
    _exit(0);
  }
  char c = 0;
  BOOST_REQUIRE(read(to_parent[0], &c, 1) == 1);
  BOOST_REQUIRE(c == 'y');
  store_options opts;
  opts.path = dir.path;
  auto held = store::open(opts);
  char go = 'g';
  BOOST_TEST(write(to_child[1], &go, 1) == 1);
  int wstatus = 0;
  waitpid(pid, &wstatus, 0);
  for (int fd : {to_parent[0], to_parent[1], to_child[0], to_child[1]})
    close(fd);
  BOOST_REQUIRE(!held);
  BOOST_TEST(held.error().code == errc::unavailable);
  BOOST_TEST(held.error().message.find("is in use by another process")
             != std::string::npos);
  BOOST_TEST(held.error().message.find(dir.path) != std::string::npos);
  // once the other process is gone, the directory opens
  auto after = store::open(opts);
  BOOST_TEST(static_cast<bool>(after), (after ? "" : after.error().describe()));
}

BOOST_AUTO_TEST_CASE(a_format_version_newer_than_this_build_is_refused_as_corruption) {
  temp_dir dir;
  open_store(dir.path).reset();
  BOOST_TEST(raw_db(dir.path).get("meta", "format_version")
             == std::to_string(storage_format_version));
  raw_db(dir.path).put("meta", "format_version",
                       std::to_string(storage_format_version + 1));
  store_options opts;
  opts.path = dir.path;
  auto s = store::open(opts);
  BOOST_REQUIRE(!s);
  BOOST_TEST(s.error().code == errc::corruption);
  BOOST_TEST(s.error().message.find("newer than this build supports")
             != std::string::npos, s.error().message);
  // and the refusal left the directory usable (the lock was released)
  raw_db(dir.path).put("meta", "format_version", "1");
  BOOST_TEST(static_cast<bool>(store::open(opts)));
}

BOOST_AUTO_TEST_CASE(an_unreadable_format_version_is_corruption) {
  temp_dir dir;
  open_store(dir.path).reset();
  raw_db(dir.path).put("meta", "format_version", "one");
  store_options opts;
  opts.path = dir.path;
  auto s = store::open(opts);
  BOOST_REQUIRE(!s);
  BOOST_TEST(s.error().code == errc::corruption);
}

BOOST_AUTO_TEST_CASE(a_path_that_cannot_be_created_is_a_storage_failure) {
  store_options opts;
  opts.path = "/proc/twin-store-cannot-exist/db";
  auto s = store::open(opts);
  BOOST_REQUIRE(!s);
  BOOST_TEST(s.error().code == errc::storage_failure, s.error().describe());
}

BOOST_AUTO_TEST_SUITE_END()
