#include "store_fixture.hpp"

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <future>
#include <mutex>
#include <thread>

using namespace twin;
using namespace twin::persistence;
using namespace twin::persistence::test;
using namespace std::chrono_literals;

namespace {

/// Counts callbacks; waits for a number of them with a deadline.
struct ack_counter {
  std::mutex mu;
  std::condition_variable cv;
  std::size_t ok = 0;
  std::size_t failed = 0;

  durable_callback callback() {
    return [this](const status& s) {
      std::lock_guard lk{mu};
      if (s)
        ++ok;
      else
        ++failed;
      cv.notify_all();
    };
  }
  bool wait_for(std::size_t n, std::chrono::seconds deadline = 60s) {
    std::unique_lock lk{mu};
    return cv.wait_for(lk, deadline, [&] { return ok + failed >= n; });
  }
};

} // namespace

BOOST_AUTO_TEST_SUITE(group_commit)

BOOST_AUTO_TEST_CASE(concurrent_submits_are_all_acknowledged_readable_and_batched) {
  temp_dir dir;
  auto s = open_store(dir.path);
  constexpr int threads = 8;
  constexpr std::uint64_t per_thread = 2000;
  ack_counter acks;
  std::vector<std::thread> workers;
  for (int t = 0; t < threads; ++t)
    workers.emplace_back([&, t] {
      const std::string twin = "twin-" + std::to_string(t);
      for (std::uint64_t r = 1; r <= per_thread; ++r) {
        auto req = event_request(twin, r, "event " + std::to_string(r));
        if (r % 100 == 0)
          req.audit.push_back(audit_record("update", twin));
        s->submit(std::move(req), acks.callback());
      }
    });
  for (auto& w : workers)
    w.join();
  BOOST_REQUIRE(acks.wait_for(threads * per_thread));
  BOOST_TEST(acks.ok == threads * per_thread);
  BOOST_TEST(acks.failed == 0u);
  for (int t = 0; t < threads; ++t) {
    auto j = s->read_journal("twin-" + std::to_string(t), 1);
    BOOST_REQUIRE(j);
    BOOST_REQUIRE(j->size() == per_thread);
    BOOST_TEST(j->back().revision == per_thread);
    BOOST_TEST(j->back().bytes == "event " + std::to_string(per_thread));
  }
  const auto& st = s->stats();
  BOOST_TEST(st.requests.load() == threads * per_thread);
  BOOST_TEST(st.commits.load() < st.requests.load());
  BOOST_TEST(st.failures.load() == 0u);
  BOOST_TEST(st.bytes_written.load() > 0u);
  BOOST_TEST_MESSAGE("group commit: " << st.requests.load() << " requests in "
                                      << st.commits.load() << " commits");
  auto v = s->verify_audit();
  BOOST_REQUIRE(v);
  BOOST_TEST(v->intact);
  BOOST_TEST(v->records == threads * per_thread / 100);
}

BOOST_AUTO_TEST_CASE(a_failed_group_commit_fails_its_callbacks_and_leaves_no_partial_data) {
  temp_dir dir;
  // The injector blocks the first commit until the test has queued the
  // whole doomed batch, then fails it; every later commit passes.
  std::promise<void> queued;
  auto queued_f = queued.get_future().share();
  std::atomic<int> commits{0};
  store_options opts;
  opts.path = dir.path;
  opts.fault_injector = [&]() -> status {
    int n = ++commits;
    if (n == 2) {
      queued_f.wait();
      return make_error(errc::storage_failure, "injected: disk full");
    }
    return ok();
  };
  auto opened = store::open(opts);
  BOOST_REQUIRE(opened);
  auto& s = **opened;

  // commit 1: one audit record that stays
  write_request first;
  first.audit.push_back(audit_record("create", "pump-1"));
  require_ok(s.write(std::move(first)));

  // commit 2 (fails): one request touching every column family.
  ack_counter doomed;
  write_request a = event_request("pump-1", 1, "lost");
  a.audit.push_back(audit_record("update", "lost-1"));
  a.audit.push_back(audit_record("update", "lost-2"));
  a.alerts.push_back({{"type", "lost"}});
  a.models_put.emplace_back("dtmi:lost;1", "{}");
  s.submit(std::move(a), doomed.callback());
  // wait until the writer has taken `a` (it is inside the injector)
  for (int i = 0; i < 1000 && commits.load() < 2; ++i)
    std::this_thread::sleep_for(1ms);
  BOOST_REQUIRE(commits.load() == 2);
  queued.set_value();
  BOOST_REQUIRE(doomed.wait_for(1));
  BOOST_TEST(doomed.failed == 1u);
  BOOST_TEST(s.stats().failures.load() == 1u);

  // nothing of the failed batch is visible
  auto j = s.read_journal("pump-1", 0);
  BOOST_REQUIRE(j);
  BOOST_TEST(j->empty());
  auto models = s.list_models();
  BOOST_REQUIRE(models);
  BOOST_TEST(models->empty());
  auto alerts = s.list_alerts(0, 10);
  BOOST_REQUIRE(alerts);
  BOOST_TEST(alerts->empty());
  auto audit = s.list_audit(0, 10);
  BOOST_REQUIRE(audit);
  BOOST_TEST(audit->size() == 1u);

  // later writes succeed and the chain continues from the last durable one
  write_request later = event_request("pump-1", 1, "kept");
  later.audit.push_back(audit_record("update", "kept"));
  later.alerts.push_back({{"type", "kept"}});
  require_ok(s.write(std::move(later)));
  audit = s.list_audit(0, 10);
  BOOST_REQUIRE(audit);
  BOOST_REQUIRE(audit->size() == 2u);
  BOOST_TEST((*audit)[1]["seq"] == 2);
  BOOST_TEST((*audit)[1]["target"] == "kept");
  BOOST_TEST((*audit)[1]["prevHash"] == (*audit)[0]["hash"]);
  alerts = s.list_alerts(0, 10);
  BOOST_REQUIRE(alerts);
  BOOST_REQUIRE(alerts->size() == 1u);
  BOOST_TEST((*alerts)[0]["seq"] == 1);
  auto v = s.verify_audit();
  BOOST_REQUIRE(v);
  BOOST_TEST(v->intact);
  BOOST_TEST(v->records == 2u);
  s.close();
  // and the head is right on disk too
  opts.fault_injector = nullptr;
  auto reopened = store::open(opts);
  BOOST_REQUIRE(reopened);
  write_request after;
  after.audit.push_back(audit_record("update", "after-reopen"));
  require_ok((*reopened)->write(std::move(after)));
  auto v2 = (*reopened)->verify_audit();
  BOOST_REQUIRE(v2);
  BOOST_TEST(v2->intact);
  BOOST_TEST(v2->records == 3u);
}

BOOST_AUTO_TEST_CASE(a_failed_batch_fails_every_request_in_it) {
  temp_dir dir;
  std::atomic<bool> fail{false};
  std::promise<void> release;
  auto release_f = release.get_future().share();
  std::atomic<int> commits{0};
  store_options opts;
  opts.path = dir.path;
  opts.fault_injector = [&]() -> status {
    ++commits;
    if (commits.load() == 1) {
      release_f.wait(); // hold the writer so that the next batch piles up
      return ok();
    }
    if (fail.load())
      return make_error(errc::storage_failure, "injected");
    return ok();
  };
  auto opened = store::open(opts);
  BOOST_REQUIRE(opened);
  auto& s = **opened;
  ack_counter first, rest;
  s.submit(event_request("holder", 1, "x"), first.callback());
  for (int i = 0; i < 1000 && commits.load() < 1; ++i)
    std::this_thread::sleep_for(1ms);
  for (std::uint64_t r = 1; r <= 50; ++r) {
    auto req = event_request("pump-2", r, "e");
    req.audit.push_back(audit_record("update", "pump-2"));
    s.submit(std::move(req), rest.callback());
  }
  fail = true;
  release.set_value();
  BOOST_REQUIRE(first.wait_for(1));
  BOOST_REQUIRE(rest.wait_for(50));
  BOOST_TEST(first.ok == 1u);
  BOOST_TEST(rest.failed == 50u);
  auto j = s.read_journal("pump-2", 0);
  BOOST_REQUIRE(j);
  BOOST_TEST(j->empty());
  fail = false;
  write_request req;
  req.audit.push_back(audit_record("update", "ok"));
  require_ok(s.write(std::move(req)));
  auto audit = s.list_audit(0, 100);
  BOOST_REQUIRE(audit);
  BOOST_REQUIRE(audit->size() == 1u);
  BOOST_TEST((*audit)[0]["seq"] == 1);
  BOOST_TEST((*audit)[0]["prevHash"] == std::string(64, '0'));
}

BOOST_AUTO_TEST_CASE(max_batch_requests_bounds_a_group_commit) {
  temp_dir dir;
  store_options opts;
  opts.path = dir.path;
  opts.max_batch_requests = 10;
  std::promise<void> release;
  auto release_f = release.get_future().share();
  std::atomic<int> commits{0};
  opts.fault_injector = [&]() -> status {
    if (++commits == 1)
      release_f.wait();
    return ok();
  };
  auto opened = store::open(opts);
  BOOST_REQUIRE(opened);
  auto& s = **opened;
  ack_counter acks;
  s.submit(event_request("t", 1, "x"), acks.callback());
  for (int i = 0; i < 1000 && commits.load() < 1; ++i)
    std::this_thread::sleep_for(1ms);
  for (std::uint64_t r = 2; r <= 101; ++r)
    s.submit(event_request("t", r, "x"), acks.callback());
  release.set_value();
  BOOST_REQUIRE(acks.wait_for(101));
  BOOST_TEST(acks.ok == 101u);
  // 1 + 100 queued requests in batches of at most 10
  BOOST_TEST(s.stats().commits.load() == 11u);
}

BOOST_AUTO_TEST_SUITE_END()
