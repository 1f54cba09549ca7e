// Acknowledged means durable: updates acknowledged (2xx) by twin-node survive
// a SIGKILL at a random moment, and each twin's state equals the replay of
// its journal after restart.
//
// Design: 500 twins, each owned by one writer thread, so the values written
// to a twin's ratedLoad are a strictly increasing counter in server order.
// Each update is either a PATCH (human write) or a telemetry report of the
// same property (device write). TWIN_SOAK_ROUNDS rounds (default 3) each
// write 5,000 updates and kill the node after a random number of acks
// (seeded; the seed is printed; TWIN_SOAK_SEED fixes it).
#define BOOST_TEST_MODULE durability_tests
#include <boost/test/unit_test.hpp>

#include <atomic>
#include <cstdlib>
#include <mutex>
#include <random>
#include <thread>

#include "fixture.hpp"

using namespace twin::test;
using nlohmann::json;

namespace {

constexpr int twin_count = 500;
constexpr int updates_per_round = 5000;
constexpr int writer_threads = 8;

int env_int(const char* name, int fallback) {
  if (const char* v = std::getenv(name); v && *v)
    return std::atoi(v);
  return fallback;
}

std::string twin_name(int i) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "dur-%03d", i);
  return buf;
}

/// What the writers know about one twin.
struct twin_book {
  /// Last value whose write was acknowledged (0: none yet).
  std::int64_t last_acked = 0;
  /// Last value sent (acknowledged or not); the next one is larger.
  std::int64_t last_sent = 0;
  std::int64_t acked_updates = 0;
};

/// The test's state: the node and what writers know about each twin.
struct soak {
  node_fixture f;
  std::vector<twin_book> book = std::vector<twin_book>(twin_count);
  std::mutex book_mutex;
  std::vector<std::string> errors;

  void note_error(std::string e) {
    std::lock_guard lock{book_mutex};
    errors.push_back(std::move(e));
  }

  /// Writes until `target` updates were acknowledged. With `kill_after`,
  /// SIGKILLs the node once that many were acknowledged and returns then.
  /// Returns the number acknowledged.
  int write(int target, std::optional<int> kill_after, unsigned seed) {
    std::atomic<int> acked{0};
    std::atomic<int> attempted{0};
    std::atomic<bool> stop{false};
    std::atomic<int> finished{0};
    std::vector<std::thread> writers;
    for (int t = 0; t < writer_threads; ++t)
      writers.emplace_back([&, t] {
        std::mt19937 wrng(seed + static_cast<unsigned>(t));
        api_client c{f.url(), f.tok.operator_, 10s};
        std::vector<int> mine;
        for (int i = t; i < twin_count; i += writer_threads)
          mine.push_back(i);
        std::size_t next = wrng() % mine.size();
        while (!stop.load()) {
          if (attempted.fetch_add(1) >= target)
            break;
          int i = mine[next++ % mine.size()];
          std::int64_t value;
          {
            std::lock_guard lock{book_mutex};
            value = ++book[static_cast<std::size_t>(i)].last_sent;
          }
          auto id = twin_name(i);
          bool use_patch = wrng() % 2 == 0;
          auto r = use_patch
                     ? c.try_call("PATCH", twin_path(id), json{{"ratedLoad", static_cast<double>(value)}})
                     : c.try_call("POST", twin_path(id) + "/telemetry",
                                  json{{"values", {{"ratedLoad", static_cast<double>(value)}}},
                                       {"source", "soak-sensor"}});
          if (!r) {
            if (!kill_after) {
              stop = true;
              note_error("update of " + id + " failed: " + r.error().describe());
            }
            break; // the node is gone: this write is not acknowledged
          }
          if (r->status / 100 == 2) {
            std::lock_guard lock{book_mutex};
            auto& b = book[static_cast<std::size_t>(i)];
            b.last_acked = std::max(b.last_acked, value);
            ++b.acked_updates;
            ++acked;
          } else if (kill_after && r->status >= 500) {
            break; // shutting down under our feet: not acknowledged
          } else {
            stop = true;
            note_error("update of " + id + " refused: " + std::to_string(r->status) + " "
                       + r->raw.body);
            break;
          }
        }
        ++finished;
      });
    if (kill_after) {
      bool reached = wait_until(
        [&] {
          return acked.load() >= *kill_after || stop.load() || finished.load() == writer_threads;
        },
        600s, 1ms);
      f.node->kill();
      stop = true;
      BOOST_CHECK_MESSAGE(reached, "writers stalled at " << acked.load() << " acks");
    }
    for (auto& w : writers)
      w.join();
    // Boost.Test assertions are not thread-safe: report from this thread.
    for (const auto& e : errors)
      BOOST_ERROR(e);
    errors.clear();
    return acked.load();
  }

  /// Checks every twin against the book and against its journal.
  void verify() {
    api_client c{f.url(), f.tok.viewer, 60s};
    for (int i = 0; i < twin_count; ++i) {
      auto id = twin_name(i);
      const auto& b = book[static_cast<std::size_t>(i)];
      auto g = c.get(twin_path(id));
      BOOST_REQUIRE_MESSAGE(g.status == 200, id << ": " << g.status << " " << g.raw.body);
      auto rev = g.body.at("$revision").get<std::int64_t>();
      double value = 0;
      std::int64_t value_version = 0;
      if (g.body["properties"].contains("ratedLoad")) {
        value = g.body["properties"]["ratedLoad"]["value"].get<double>();
        value_version = g.body["properties"]["ratedLoad"]["version"].get<std::int64_t>();
      }
      BOOST_TEST_CONTEXT("twin " << id << " (last acked " << b.last_acked << ", last sent "
                                 << b.last_sent << ", revision " << rev << ")") {
        // Every acknowledged update is there; nothing beyond what was sent.
        BOOST_TEST(value >= static_cast<double>(b.last_acked));
        BOOST_TEST(value <= static_cast<double>(b.last_sent));

        // The journal: created (1), activated (2), then one event per update
        // of ratedLoad, each a strictly larger value.
        auto l = c.get(twin_path(id) + "/lineage?property=ratedLoad");
        std::vector<json> items;
        if (l.status == 200)
          items = l.body.at("items").get<std::vector<json>>();
        else
          BOOST_TEST((l.status == 404 && b.last_acked == 0), "lineage: " << l.status);
        BOOST_TEST(rev == 2 + static_cast<std::int64_t>(items.size()));
        // Replay oldest first: revisions 3..rev contiguous, values
        // increasing, and the result equals the state.
        double replayed = 0;
        std::int64_t replayed_version = 0;
        std::int64_t expect_rev = 3;
        for (auto it = items.rbegin(); it != items.rend(); ++it) {
          auto r = it->at("revision").get<std::int64_t>();
          BOOST_TEST(r == expect_rev);
          ++expect_rev;
          double v = it->at("changes").at("ratedLoad").get<double>();
          BOOST_TEST(v > replayed);
          replayed = v;
          replayed_version = r;
        }
        BOOST_TEST(replayed == value);
        BOOST_TEST(replayed_version == value_version);
        BOOST_TEST(g.body.value("$lifecycle", "") == "active");
      }
      // One broken twin tells the story; do not flood the log.
      BOOST_REQUIRE(!current_test_failed());
    }
  }
};

} // namespace

BOOST_AUTO_TEST_CASE(acknowledged_updates_survive_sigkill_and_state_equals_journal_replay) {
  const int rounds = std::max(1, env_int("TWIN_SOAK_ROUNDS", 3));
  const unsigned seed = static_cast<unsigned>(
    env_int("TWIN_SOAK_SEED", static_cast<int>(std::random_device{}() & 0x7fffffff)));
  std::cout << "durability: seed " << seed << " (set TWIN_SOAK_SEED to repeat), rounds "
            << rounds << std::endl;
  std::mt19937 rng(seed);

  soak s;
  s.f.upload_bearing();
  {
    // Setup runs without faults: every twin exists and is active.
    std::vector<std::thread> threads;
    std::atomic<int> failures{0};
    for (int t = 0; t < 4; ++t)
      threads.emplace_back([&, t] {
        api_client c{s.f.url(), s.f.tok.operator_};
        for (int i = t; i < twin_count; i += 4) {
          auto id = twin_name(i);
          auto r = c.put(twin_path(id), {{"$model", bearing_dtmi}, {"properties", json::object()}});
          auto a = c.post(twin_path(id) + "/lifecycle", {{"to", "active"}, {"reason", "soak"}});
          if (r.status != 201 || a.status != 200)
            ++failures;
        }
      });
    for (auto& th : threads)
      th.join();
    BOOST_REQUIRE_EQUAL(failures.load(), 0);
  }

  for (int round = 1; round <= rounds; ++round) {
    const int kill_after = std::uniform_int_distribution<int>(200, updates_per_round - 200)(rng);
    std::cout << "round " << round << ": SIGKILL after " << kill_after
              << " acknowledged updates" << std::endl;
    int before = s.write(updates_per_round, kill_after, static_cast<unsigned>(rng()));
    BOOST_REQUIRE(!current_test_failed());
    std::cout << "round " << round << ": killed with " << before << " acknowledged" << std::endl;
    s.f.start();
    s.verify();
    // The rest of the round's 5,000 against the restarted node.
    int after = s.write(updates_per_round - before, std::nullopt, static_cast<unsigned>(rng()));
    BOOST_REQUIRE(!current_test_failed());
    std::cout << "round " << round << ": " << before + after << " acknowledged in all" << std::endl;
  }
  // A clean shutdown keeps everything too.
  BOOST_TEST(s.f.node->terminate() == 0);
  s.f.start();
  s.verify();
}
