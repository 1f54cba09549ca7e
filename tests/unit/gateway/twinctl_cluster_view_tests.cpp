// twinctl's cluster view without a server (cli/twinctl/cluster_view.hpp):
// range compression, progress bars, the table text and the watch loop with
// a scripted fetch and a fake clock.

#define BOOST_TEST_MODULE twinctl_unit
#include <boost/test/unit_test.hpp>

#include <deque>
#include <sstream>

#include "cluster_view.hpp"

using namespace twinctl;
using nlohmann::json;

namespace {

json sample() {
  return json::parse(R"({
    "mode": "cluster", "nodeId": "node-a", "shards": 16, "forwarded": 12,
    "nodes": [
      {"id": "node-a", "endpoint": "127.0.0.1:7001", "http": "http://127.0.0.1:8081",
       "shards": [0, 1, 2, 3, 7], "lastSeenMs": 250, "alive": true, "self": true},
      {"id": "node-b", "endpoint": "127.0.0.1:7002", "http": "http://127.0.0.1:8082",
       "shards": [6, 4, 5], "lastSeenMs": 61500, "alive": false, "self": false}],
    "shardStates": [
      {"shard": 0, "owner": "node-a", "state": "serving", "lag": 12,
       "restore": {"records": 200, "total": 200, "elapsedMs": 40}},
      {"shard": 3, "owner": "node-a", "state": "restoring", "lag": null,
       "restore": {"records": 1200, "total": 2100, "elapsedMs": 1500}},
      {"shard": 8, "owner": null, "state": "unassigned", "lag": null}]})");
}

json with_shard3(const std::string& state, std::int64_t records, std::int64_t total) {
  auto doc = sample();
  doc["shardStates"][1]["state"] = state;
  doc["shardStates"][1]["restore"] = {{"records", records}, {"total", total},
                                      {"elapsedMs", 10}};
  return doc;
}

/// A scripted server and a fake clock that advances by each sleep.
struct script {
  std::deque<std::optional<json>> answers;
  std::optional<json> repeat; // answered once `answers` is empty
  int fetches = 0;
  std::vector<std::chrono::milliseconds> sleeps;
  std::chrono::steady_clock::time_point clock{};

  watch_hooks hooks() {
    watch_hooks h;
    h.fetch = [this]() -> std::optional<json> {
      ++fetches;
      if (answers.empty())
        return repeat;
      auto a = std::move(answers.front());
      answers.pop_front();
      return a;
    };
    h.sleep = [this](std::chrono::milliseconds d) {
      sleeps.push_back(d);
      clock += d;
    };
    h.now = [this] { return clock; };
    return h;
  }
};

} // namespace

BOOST_AUTO_TEST_SUITE(twinctl_cluster_view)

BOOST_AUTO_TEST_CASE(shard_lists_compress_to_ranges) {
  BOOST_TEST(compress_ranges(std::vector<std::int64_t>{0, 1, 2, 3, 7}) == "0-3,7");
  BOOST_TEST(compress_ranges(std::vector<std::int64_t>{7, 3, 1, 2, 0, 3}) == "0-3,7");
  BOOST_TEST(compress_ranges(std::vector<std::int64_t>{}) == "-");
  BOOST_TEST(compress_ranges(std::vector<std::int64_t>{5}) == "5");
  BOOST_TEST(compress_ranges(std::vector<std::int64_t>{5, 6}) == "5-6");
  BOOST_TEST(compress_ranges(std::vector<std::int64_t>{0, 2, 4}) == "0,2,4");
  BOOST_TEST(compress_ranges(std::vector<std::int64_t>{1, 2, 3, 10, 11, 12, 20}) == "1-3,10-12,20");
  BOOST_TEST(compress_ranges(json::parse("[0, 1, \"x\", 2, 9]")) == "0-2,9");
  BOOST_TEST(compress_ranges(json(nullptr)) == "-");
}

BOOST_AUTO_TEST_CASE(progress_bars_show_records_of_total) {
  BOOST_TEST(progress_bar(3, 1200, 2100) == "shard 3 [#########.......] 57% 1200/2100");
  BOOST_TEST(progress_bar(0, 0, 100) == "shard 0 [................] 0% 0/100");
  BOOST_TEST(progress_bar(1, 100, 100) == "shard 1 [################] 100% 100/100");
  BOOST_TEST(progress_bar(2, 0, 0) == "shard 2 [################] 100% 0/0");
  BOOST_TEST(progress_bar(4, 150, 100) == "shard 4 [################] 100% 150/100");
  BOOST_TEST(progress_bar(5, 1, 3, 4) == "shard 5 [#...] 33% 1/3");
  BOOST_TEST(restore_percent(999, 1000) == 99);
  BOOST_TEST(restore_percent(-5, 10) == 0);
}

BOOST_AUTO_TEST_CASE(durations_and_restore_cells) {
  BOOST_TEST(format_ms(40) == "40ms");
  BOOST_TEST(format_ms(1500) == "1.5s");
  BOOST_TEST(format_ms(125'000) == "2m05s");
  BOOST_TEST(format_ms(3'720'000) == "1h02m");
  BOOST_TEST(restore_cell(sample()["shardStates"][0]) == "100% 200/200 (40ms)");
  BOOST_TEST(restore_cell(sample()["shardStates"][1]) == "57% 1200/2100 (1.5s)");
  BOOST_TEST(restore_cell(sample()["shardStates"][2]) == "-");
}

BOOST_AUTO_TEST_CASE(a_standalone_node_says_so) {
  BOOST_TEST(is_standalone(json{{"mode", "standalone"}}));
  BOOST_TEST(is_standalone(json::object()));
  BOOST_TEST(!is_standalone(sample()));
  BOOST_TEST(render_cluster(json{{"mode", "standalone"}})
             == "standalone node: not part of a cluster\n");
}

BOOST_AUTO_TEST_CASE(the_cluster_renders_as_a_header_and_two_tables) {
  const std::string expected =
    "mode: cluster  this node: node-a  shards: 16  forwarded requests: 12\n"
    "\n"
    "ID             ENDPOINT        HTTP                   SHARDS  OWNED  ALIVE  LAST SEEN\n"
    "node-a (self)  127.0.0.1:7001  http://127.0.0.1:8081  5       0-3,7  yes    250ms ago\n"
    "node-b         127.0.0.1:7002  http://127.0.0.1:8082  3       4-6    no     1m01s ago\n"
    "\n"
    "SHARD  OWNER   STATE       LAG  RESTORE\n"
    "0      node-a  serving     12   100% 200/200 (40ms)\n"
    "3      node-a  restoring   -    57% 1200/2100 (1.5s)\n"
    "8      -       unassigned  -    -\n";
  BOOST_TEST(render_cluster(sample()) == expected);
}

BOOST_AUTO_TEST_CASE(restoring_shards_and_their_progress_lines) {
  auto doc = sample();
  BOOST_TEST(restoring_shards(doc) == std::vector<std::int64_t>{3});
  BOOST_TEST(restoring_shards(json{{"mode", "standalone"}}).empty());
  auto lines = progress_lines(doc, {0, 3, 8, 42});
  BOOST_REQUIRE(lines.size() == 4u);
  BOOST_TEST(lines[0] == "shard 0 [################] 100% 200/200 done");
  BOOST_TEST(lines[1] == "shard 3 [#########.......] 57% 1200/2100");
  BOOST_TEST(lines[2] == "shard 8 unassigned");
  BOOST_TEST(lines[3] == "shard 42 unknown");
  BOOST_TEST(poll_line(doc) == "restoring 1 shard: shard 3 [#########.......] 57% 1200/2100");
  auto two = doc;
  two["shardStates"][0]["state"] = "restoring";
  two["shardStates"][0]["restore"] = {{"records", 50}, {"total", 200}};
  BOOST_TEST(poll_line(two) == "restoring 2 shards: shard 0 [####............] 25% 50/200, "
                               "shard 3 [#########.......] 57% 1200/2100");
  BOOST_TEST(poll_line(with_shard3("serving", 2100, 2100)) == "no shard restoring");
}

BOOST_AUTO_TEST_CASE(watching_without_a_terminal_prints_a_line_per_poll_until_done) {
  script s;
  s.answers = {with_shard3("restoring", 1600, 2100), with_shard3("serving", 2100, 2100)};
  std::ostringstream out;
  watch_options o; // not a tty
  auto r = watch_restores(with_shard3("restoring", 1200, 2100), s.hooks(), o, out);
  BOOST_TEST((r == watch_result::finished));
  BOOST_TEST(s.fetches == 2);
  BOOST_TEST(s.sleeps.size() == 2u);
  BOOST_TEST(s.sleeps.at(0).count() == 500);
  BOOST_TEST(out.str()
             == "restoring 1 shard: shard 3 [############....] 76% 1600/2100\n"
                "no shard restoring\n");
}

BOOST_AUTO_TEST_CASE(watching_on_a_terminal_redraws_the_bars_in_place) {
  script s;
  auto second = with_shard3("restoring", 1600, 2100);
  second["shardStates"][2] = {{"shard", 8}, {"owner", "node-b"}, {"state", "restoring"},
                              {"lag", nullptr},
                              {"restore", {{"records", 0}, {"total", 10}}}};
  auto done = with_shard3("serving", 2100, 2100);
  done["shardStates"][2] = {{"shard", 8}, {"owner", "node-b"}, {"state", "serving"},
                            {"lag", 0}, {"restore", {{"records", 10}, {"total", 10}}}};
  s.answers = {second, done};
  std::ostringstream out;
  watch_options o;
  o.tty = true;
  auto r = watch_restores(with_shard3("restoring", 1200, 2100), s.hooks(), o, out);
  BOOST_TEST((r == watch_result::finished));
  const std::string expected =
    // the first draw: no cursor movement, then one bar
    "\r\033[J"
    "shard 3 [#########.......] 57% 1200/2100\n"
    // back up one line, clear, and shard 8 joined
    "\033[1A\r\033[J"
    "shard 3 [############....] 76% 1600/2100\n"
    "shard 8 [................] 0% 0/10\n"
    // back up two lines: both done
    "\033[2A\r\033[J"
    "shard 3 [################] 100% 2100/2100 done\n"
    "shard 8 [################] 100% 10/10 done\n";
  BOOST_TEST(out.str() == expected);
}

BOOST_AUTO_TEST_CASE(watching_gives_up_after_the_limit) {
  script s;
  s.repeat = with_shard3("restoring", 1, 2100);
  std::ostringstream out;
  watch_options o;
  auto r = watch_restores(*s.repeat, s.hooks(), o, out);
  BOOST_TEST((r == watch_result::timed_out));
  // 5 minutes at 500 ms.
  BOOST_TEST(s.fetches == 600);
  BOOST_TEST((s.clock - std::chrono::steady_clock::time_point{} == std::chrono::minutes(5)));
}

BOOST_AUTO_TEST_CASE(watching_stops_on_a_failed_poll_and_skips_when_nothing_restores) {
  script s;
  s.answers = {with_shard3("restoring", 1300, 2100), std::nullopt};
  std::ostringstream out;
  watch_options o;
  BOOST_TEST((watch_restores(sample(), s.hooks(), o, out) == watch_result::failed));
  BOOST_TEST(s.fetches == 2);

  script idle;
  std::ostringstream quiet;
  BOOST_TEST((watch_restores(with_shard3("serving", 5, 5), idle.hooks(), o, quiet)
              == watch_result::finished));
  BOOST_TEST(idle.fetches == 0);
  BOOST_TEST(quiet.str().empty());
}

BOOST_AUTO_TEST_CASE(watching_with_json_output_prints_a_document_per_poll) {
  script s;
  auto done = with_shard3("serving", 2100, 2100);
  s.answers = {done};
  std::ostringstream out;
  watch_options o;
  o.json_lines = true;
  o.tty = true; // JSON wins: no cursor movement
  BOOST_TEST((watch_restores(sample(), s.hooks(), o, out) == watch_result::finished));
  BOOST_TEST(out.str() == done.dump() + "\n");
}

BOOST_AUTO_TEST_SUITE_END()
