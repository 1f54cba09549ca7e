// The node in-process on a real RocksDB directory: the actor shell around
// the pure core, passivation, restart from durable state, failure handling.

#include <boost/test/unit_test.hpp>

#include <atomic>
#include <filesystem>
#include <future>
#include <mutex>
#include <random>
#include <set>
#include <thread>

#include <prometheus/registry.h>

#include "twin/actors/node.hpp"
#include "twin/actors/sharding.hpp"

using namespace twin;
using namespace twin::actors;
using json = nlohmann::json;

namespace {

struct temp_dir {
  std::filesystem::path path;
  temp_dir() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "twin-node-XXXXXX").string();
    path = ::mkdtemp(tmpl.data());
  }
  ~temp_dir() {
    std::error_code ec;
    std::filesystem::remove_all(path, ec);
  }
};

const json bearing_model = json::parse(R"({
  "@context": "dtmi:dtdl:context;3",
  "@id": "dtmi:example:Bearing;1",
  "@type": "Interface",
  "displayName": "Bearing",
  "contents": [
    {"@type": "Property", "name": "ratedLoad", "schema": "double", "writable": true},
    {"@type": "Property", "name": "location", "schema": "string", "writable": true},
    {"@type": "Property", "name": "counter", "schema": "long", "writable": true},
    {"@type": "Property", "name": "serialNumber", "schema": "string"},
    {"@type": "Telemetry", "name": "temperature", "schema": "double"}
  ]
})");

request_context as(std::string who, security::role r) {
  return request_context{security::principal{std::move(who), {r}},
                         "req-" + std::to_string(std::rand())};
}

const auto admin = as("root", security::role::admin);
const auto op = as("alice", security::role::operator_);
const auto viewer = as("val", security::role::viewer);

template <class F>
expected<json> call(F&& f) {
  std::promise<expected<json>> p;
  auto fut = p.get_future();
  f([&p](expected<json> r) { p.set_value(std::move(r)); });
  return fut.get();
}

std::unique_ptr<node> start(const std::string& dir, node_options o = {}) {
  o.data_dir = dir;
  o.shards = 8;
  auto n = node::start(o);
  BOOST_REQUIRE_MESSAGE(n.has_value(), (n.has_value() ? std::string{} : n.error().describe()));
  return std::move(*n);
}

void load_model(node& n) {
  auto r = call([&](reply_fn f) { n.add_models(admin, bearing_model, f); });
  BOOST_REQUIRE_MESSAGE(r.has_value(), (r.has_value() ? std::string{} : r.error().describe()));
}

json must(expected<json> r) {
  BOOST_REQUIRE_MESSAGE(r.has_value(), (r.has_value() ? std::string{} : r.error().describe()));
  return *r;
}

} // namespace

BOOST_AUTO_TEST_SUITE(node_in_process)

BOOST_AUTO_TEST_CASE(twin_lifecycle_writes_and_reads_go_through_the_actors) {
  temp_dir d;
  auto n = start(d.path.string());
  load_model(*n);
  auto created = must(call([&](reply_fn f) {
    n->create_twin(op, "b1",
                   json{{"$model", "dtmi:example:Bearing;1"},
                        {"properties", {{"serialNumber", "SN-1"}}}},
                   f);
  }));
  BOOST_TEST(created["$revision"] == 1);
  BOOST_TEST(created["$lifecycle"] == "provisioned");
  auto patched = must(call([&](reply_fn f) {
    n->patch_twin(op, "b1", json{{"ratedLoad", 1200.0}}, 1, f);
  }));
  BOOST_TEST(patched["properties"]["ratedLoad"]["value"] == 1200.0);
  auto bad = call([&](reply_fn f) {
    n->patch_twin(op, "b1", json{{"ratedLoad", "heavy"}}, std::nullopt, f);
  });
  BOOST_REQUIRE(!bad.has_value());
  BOOST_TEST(bad.error().code == errc::model_violation);
  auto denied = call([&](reply_fn f) {
    n->patch_twin(viewer, "b1", json{{"ratedLoad", 1.0}}, std::nullopt, f);
  });
  BOOST_REQUIRE(!denied.has_value());
  BOOST_TEST(denied.error().code == errc::forbidden);
  must(call([&](reply_fn f) {
    n->transition(op, "b1", json{{"to", "active"}, {"reason", "commissioned"}}, f);
  }));
  auto ing = must(call([&](reply_fn f) {
    n->ingest(op, "b1", json{{"values", {{"temperature", 55.5}}}, {"source", "t1"}}, f);
  }));
  BOOST_TEST(ing["revision"] == 4);
  auto got = must(call([&](reply_fn f) { n->get_twin(viewer, "b1", f); }));
  BOOST_TEST(got["telemetry"]["temperature"]["value"] == 55.5);
  BOOST_TEST(got["$lifecycle"] == "active");
  auto missing = call([&](reply_fn f) { n->get_twin(viewer, "nope", f); });
  BOOST_REQUIRE(!missing.has_value());
  BOOST_TEST(missing.error().code == errc::not_found);
  // Lineage names the sensor and the principal.
  auto lin = must(call([&](reply_fn f) {
    n->lineage(viewer, "b1", "temperature", std::nullopt, f);
  }));
  BOOST_REQUIRE_EQUAL(lin["items"].size(), 1u);
  BOOST_TEST(lin["items"][0]["lineage"]["source"]["id"] == "t1");
  BOOST_TEST(lin["items"][0]["lineage"]["principal"] == "alice");
  // Audit: model add, create, patch, lifecycle.
  auto audit = must(call([&](reply_fn f) { n->list_audit(admin, 1, 100, f); }));
  BOOST_TEST(audit["items"].size() == 4u);
  auto verdict = must(call([&](reply_fn f) { n->verify_audit(admin, f); }));
  BOOST_TEST(verdict["intact"] == true);
}

BOOST_AUTO_TEST_CASE(state_survives_a_restart_and_the_data_dir_is_exclusive) {
  temp_dir d;
  {
    auto n = start(d.path.string());
    load_model(*n);
    for (int i = 0; i < 20; ++i)
      must(call([&](reply_fn f) {
        n->create_twin(op, "t" + std::to_string(i),
                       json{{"$model", "dtmi:example:Bearing;1"}}, f);
      }));
    for (int k = 1; k <= 120; ++k) // crosses several snapshots
      must(call([&](reply_fn f) {
        n->patch_twin(op, "t3", json{{"counter", k}}, std::nullopt, f);
      }));
    node_options o;
    o.data_dir = d.path.string();
    auto second = node::start(o);
    BOOST_REQUIRE(!second.has_value());
    BOOST_TEST(second.error().code == errc::unavailable);
  }
  auto n = start(d.path.string());
  auto got = must(call([&](reply_fn f) { n->get_twin(viewer, "t3", f); }));
  BOOST_TEST(got["$revision"] == 121);
  BOOST_TEST(got["properties"]["counter"]["value"] == 120);
  auto list = must(call([&](reply_fn f) {
    list_query q;
    q.limit = 7;
    n->list_twins(viewer, q, f);
  }));
  BOOST_TEST(list["items"].size() == 7u);
  BOOST_TEST(list.contains("nextPageToken"));
}

BOOST_AUTO_TEST_CASE(passivated_twins_answer_with_their_state_under_a_small_cap) {
  temp_dir d;
  node_options o;
  o.max_active_twins = 10;
  o.idle_timeout = std::chrono::milliseconds{200};
  auto n = start(d.path.string(), o);
  load_model(*n);
  for (int i = 0; i < 200; ++i) {
    auto id = "p" + std::to_string(i);
    must(call([&](reply_fn f) {
      n->create_twin(op, id, json{{"$model", "dtmi:example:Bearing;1"}}, f);
    }));
    must(call([&](reply_fn f) {
      n->patch_twin(op, id, json{{"counter", i}}, std::nullopt, f);
    }));
    // The cap is enforced asynchronously: a twin on its way out may
    // still count for a moment.
    BOOST_TEST(n->health()["twinsActive"].get<std::size_t>() <= 12u);
  }
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds{10};
  while (n->health()["twinsActive"].get<std::size_t>() > 10u
         && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds{20});
  BOOST_TEST(n->health()["twinsActive"].get<std::size_t>() <= 10u);
  for (int i = 0; i < 200; i += 7) {
    auto got = must(call([&](reply_fn f) {
      n->get_twin(viewer, "p" + std::to_string(i), f);
    }));
    BOOST_TEST(got["properties"]["counter"]["value"] == i);
    BOOST_TEST(got["$revision"] == 2);
  }
}

BOOST_AUTO_TEST_CASE(a_failed_write_is_reported_and_the_twin_restarts_from_durable_state) {
  temp_dir d;
  std::atomic<bool> fail{false};
  node_options o;
  o.fault_injector = [&fail]() -> status {
    if (fail.load())
      return make_error(errc::storage_failure, "injected: disk full");
    return ok();
  };
  auto n = start(d.path.string(), o);
  load_model(*n);
  must(call([&](reply_fn f) {
    n->create_twin(op, "f1", json{{"$model", "dtmi:example:Bearing;1"}}, f);
  }));
  fail = true;
  auto r = call([&](reply_fn f) {
    n->patch_twin(op, "f1", json{{"location", "lost"}}, std::nullopt, f);
  });
  BOOST_REQUIRE(!r.has_value());
  BOOST_TEST(r.error().code == errc::storage_failure);
  fail = false;
  auto got = must(call([&](reply_fn f) { n->get_twin(viewer, "f1", f); }));
  BOOST_TEST(got["$revision"] == 1);
  BOOST_TEST(!got["properties"].contains("location"));
  must(call([&](reply_fn f) {
    n->patch_twin(op, "f1", json{{"location", "kept"}}, std::nullopt, f);
  }));
  got = must(call([&](reply_fn f) { n->get_twin(viewer, "f1", f); }));
  BOOST_TEST(got["$revision"] == 2);
  BOOST_TEST(got["properties"]["location"]["value"] == "kept");
}

BOOST_AUTO_TEST_CASE(concurrent_updates_to_one_twin_are_all_applied_in_order) {
  temp_dir d;
  auto n = start(d.path.string());
  load_model(*n);
  must(call([&](reply_fn f) {
    n->create_twin(op, "hot", json{{"$model", "dtmi:example:Bearing;1"}}, f);
  }));
  must(call([&](reply_fn f) {
    n->transition(op, "hot", json{{"to", "active"}, {"reason", "go"}}, f);
  }));
  constexpr int count = 2000;
  std::vector<std::promise<expected<json>>> ps(count);
  for (int i = 0; i < count; ++i)
    n->ingest(op, "hot",
              json{{"values", {{"temperature", double(i)}}}, {"source", "s"},
                   {"sequence", i}},
              [&ps, i](expected<json> r) { ps[i].set_value(std::move(r)); });
  std::uint64_t last = 0;
  for (int i = 0; i < count; ++i) {
    auto r = must(ps[i].get_future().get());
    auto rev = r["revision"].get<std::uint64_t>();
    BOOST_TEST(rev > last); // acknowledged in order
    last = rev;
  }
  auto got = must(call([&](reply_fn f) { n->get_twin(viewer, "hot", f); }));
  BOOST_TEST(got["$revision"] == 2 + count);
  BOOST_TEST(got["telemetry"]["temperature"]["value"] == double(count - 1));
}

BOOST_AUTO_TEST_CASE(data_for_a_retired_twin_raises_an_alert_on_the_stream) {
  temp_dir d;
  auto n = start(d.path.string());
  load_model(*n);
  std::promise<json> seen;
  std::atomic<bool> once{false};
  auto sub = n->subscribe(viewer, [&](const json& ev) {
    if (ev["type"] == "twin.alert.unexpected_data" && !once.exchange(true))
      seen.set_value(ev);
  });
  BOOST_REQUIRE(sub.has_value());
  must(call([&](reply_fn f) {
    n->create_twin(op, "r1", json{{"$model", "dtmi:example:Bearing;1"}}, f);
  }));
  must(call([&](reply_fn f) {
    n->transition(op, "r1", json{{"to", "retired"}, {"reason", "scrapped"}}, f);
  }));
  auto r = call([&](reply_fn f) {
    n->ingest(op, "r1", json{{"values", {{"temperature", 1.0}}}, {"source", "old-sensor"}}, f);
  });
  BOOST_REQUIRE(!r.has_value());
  BOOST_TEST(r.error().code == errc::lifecycle_forbidden);
  auto fut = seen.get_future();
  BOOST_REQUIRE(fut.wait_for(std::chrono::seconds{10}) == std::future_status::ready);
  auto ev = fut.get();
  BOOST_TEST(ev["subject"] == "r1");
  BOOST_TEST(ev["data"]["source"] == "old-sensor");
  auto alerts = must(call([&](reply_fn f) { n->list_alerts(viewer, 1, 10, f); }));
  BOOST_REQUIRE_EQUAL(alerts["items"].size(), 1u);
  BOOST_TEST(alerts["items"][0]["twin"] == "r1");
  auto got = must(call([&](reply_fn f) { n->get_twin(viewer, "r1", f); }));
  BOOST_TEST(got["telemetry"].empty());
}

BOOST_AUTO_TEST_CASE(a_filtered_subscriber_gets_only_the_changes_it_wants) {
  temp_dir d;
  auto n = start(d.path.string());
  load_model(*n);
  // As the behaviour runtime subscribes: bindings, and the changes of twins
  // that have one. A second, unfiltered subscriber sees everything.
  std::mutex m;
  std::vector<std::pair<std::string, std::string>> filtered, all; // (subject, type)
  auto f = n->subscribe_filtered(
    viewer,
    [](const transport::change_kind& k) {
      return k.subject_has_behaviours || k.type == "twin.behaviour_attached"
             || k.type == "twin.behaviour_detached";
    },
    [&](const json& ev) {
      std::lock_guard lk{m};
      filtered.emplace_back(ev.value("subject", ""), ev.value("type", ""));
    });
  BOOST_REQUIRE(f.has_value());
  for (auto id : {"with", "without"}) {
    must(call([&](reply_fn r) {
      n->create_twin(op, id, json{{"$model", "dtmi:example:Bearing;1"}}, r);
    }));
    must(call([&](reply_fn r) {
      n->transition(op, id, json{{"to", "active"}, {"reason", "test"}}, r);
    }));
  }
  must(call([&](reply_fn r) {
    n->attach_behaviour(op, "with", "model",
                        json{{"kind", "anomaly"}, {"model", "dtmi:example:Bearing;1"}}, r);
  }));
  for (auto id : {"with", "without"})
    must(call([&](reply_fn r) {
      n->ingest(op, id, json{{"values", {{"temperature", 1.5}}}}, r);
    }));
  auto u = n->subscribe(viewer, [&](const json& ev) {
    std::lock_guard lk{m};
    all.emplace_back(ev.value("subject", ""), ev.value("type", ""));
  });
  BOOST_REQUIRE(u.has_value());
  for (auto id : {"with", "without"})
    must(call([&](reply_fn r) {
      n->ingest(op, id, json{{"values", {{"temperature", 2.5}}}}, r);
    }));
  must(call([&](reply_fn r) { n->detach_behaviour(op, "with", "model", r); }));
  must(call([&](reply_fn r) {
    n->ingest(op, "with", json{{"values", {{"temperature", 3.5}}}}, r);
  }));
  // Events are published before the command is answered.
  std::lock_guard lk{m};
  using change = std::pair<std::string, std::string>;
  const std::vector<change> want_filtered = {
    {"with", "twin.behaviour_attached"},
    {"with", "twin.telemetry_received"},
    {"with", "twin.telemetry_received"},
    {"with", "twin.behaviour_detached"}};
  auto show = [](const std::vector<change>& v) {
    std::string out;
    for (auto& [who, type] : v)
      out += who + ":" + type + " ";
    return out;
  };
  BOOST_TEST((filtered == want_filtered), "filtered got " << show(filtered));
  const std::vector<change> want_all = {
    {"with", "twin.telemetry_received"},
    {"without", "twin.telemetry_received"},
    {"with", "twin.behaviour_detached"},
    {"with", "twin.telemetry_received"}};
  BOOST_TEST((all == want_all), "unfiltered got " << show(all));
}

// -- cluster hooks ------------------------------------------------------------

namespace {

void create(node& n, const std::string& id) {
  must(call([&](reply_fn f) {
    n.create_twin(op, id, json{{"$model", "dtmi:example:Bearing;1"}}, f);
  }));
}

void release(node& n, std::size_t shard) {
  std::promise<void> p;
  n.release_shard(shard, [&p] { p.set_value(); });
  auto fut = p.get_future();
  BOOST_REQUIRE(fut.wait_for(std::chrono::seconds{10}) == std::future_status::ready);
}

/// Twin ids of `count` twins placed in `shard` of `shards`, and some not.
std::vector<std::string> ids_in_shard(std::size_t shard, std::size_t shards,
                                      std::size_t count, bool in = true) {
  std::vector<std::string> out;
  for (int i = 0; out.size() < count; ++i) {
    auto id = "s" + std::to_string(i);
    if ((shard_of(id, static_cast<std::uint32_t>(shards)) == shard) == in)
      out.push_back(id);
  }
  return out;
}

} // namespace

BOOST_AUTO_TEST_CASE(the_replicate_hook_sees_every_write_before_its_command_is_answered) {
  temp_dir d;
  std::mutex mtx;
  std::vector<std::uint64_t> seen;     // revisions, in hook order
  std::vector<std::string> seen_twins;
  std::atomic<bool> delaying{false};
  std::atomic<bool> done_called{false};
  std::vector<std::thread> threads;
  node_options o;
  o.replicate = [&](std::vector<persistence::twin_write> committed,
                    std::function<void(status)> done) {
    {
      std::lock_guard g{mtx};
      for (auto& tw : committed) {
        seen_twins.push_back(tw.twin_id);
        for (auto& [rev, bytes] : tw.events)
          seen.push_back(rev);
      }
    }
    if (!delaying.load()) {
      done(ok());
      return;
    }
    // Answer later, from another thread: the command must wait for it.
    std::lock_guard g{mtx};
    threads.emplace_back([&done_called, done = std::move(done)] {
      std::this_thread::sleep_for(std::chrono::milliseconds{300});
      done_called = true;
      done(ok());
    });
  };
  auto n = start(d.path.string(), o);
  load_model(*n);
  create(*n, "r1");
  for (int k = 1; k <= 5; ++k)
    must(call([&](reply_fn f) {
      n->patch_twin(op, "r1", json{{"counter", k}}, std::nullopt, f);
    }));
  {
    std::lock_guard g{mtx};
    BOOST_TEST(seen == (std::vector<std::uint64_t>{1, 2, 3, 4, 5, 6}));
    BOOST_TEST(seen_twins.size() == 6u);
    for (auto& t : seen_twins)
      BOOST_TEST(t == "r1");
  }
  delaying = true;
  auto t0 = std::chrono::steady_clock::now();
  auto r = must(call([&](reply_fn f) {
    n->patch_twin(op, "r1", json{{"counter", 6}}, std::nullopt, f);
  }));
  BOOST_TEST(done_called.load()); // answered only after done
  BOOST_TEST((std::chrono::steady_clock::now() - t0 >= std::chrono::milliseconds{250}));
  BOOST_TEST(r["$revision"] == 7);
  // Reads queued behind the write wait for it too; the state is durable.
  auto got = must(call([&](reply_fn f) { n->get_twin(viewer, "r1", f); }));
  BOOST_TEST(got["properties"]["counter"]["value"] == 6);
  delaying = false;
  {
    std::lock_guard g{mtx};
    BOOST_TEST(seen.back() == 7u);
  }
  for (auto& t : threads)
    t.join();
}

BOOST_AUTO_TEST_CASE(a_replication_failure_fails_the_command_with_its_error) {
  temp_dir d;
  std::atomic<bool> fail{false};
  std::atomic<int> calls{0};
  node_options o;
  o.replicate = [&](std::vector<persistence::twin_write>,
                    std::function<void(status)> done) {
    ++calls;
    if (fail.load())
      done(make_error(errc::unavailable, "changelog: broker down"));
    else
      done(ok());
  };
  auto n = start(d.path.string(), o);
  load_model(*n);
  create(*n, "x1");
  fail = true;
  auto r = call([&](reply_fn f) {
    n->patch_twin(op, "x1", json{{"location", "nowhere"}}, std::nullopt, f);
  });
  BOOST_REQUIRE(!r.has_value());
  BOOST_TEST(r.error().code == errc::unavailable);
  BOOST_TEST(r.error().message == "changelog: broker down");
  fail = false;
  // The twin restarted from durable state and keeps working.
  must(call([&](reply_fn f) {
    n->patch_twin(op, "x1", json{{"location", "here"}}, std::nullopt, f);
  }));
  auto got = must(call([&](reply_fn f) { n->get_twin(viewer, "x1", f); }));
  BOOST_TEST(got["properties"]["location"]["value"] == "here");
  BOOST_TEST(calls.load() == 3);
}

BOOST_AUTO_TEST_CASE(release_shard_drops_its_twins_and_they_come_back_from_the_store) {
  temp_dir d;
  auto n = start(d.path.string()); // 8 shards
  load_model(*n);
  BOOST_TEST(n->shard_count() == 8u);
  auto mine = ids_in_shard(3, 8, 5);
  auto others = ids_in_shard(3, 8, 4, false);
  for (auto& id : mine) {
    create(*n, id);
    must(call([&](reply_fn f) {
      n->patch_twin(op, id, json{{"location", "at-" + id}}, std::nullopt, f);
    }));
  }
  for (auto& id : others)
    create(*n, id);
  BOOST_TEST(n->health()["twinsActive"] == 9);
  release(*n, 3);
  BOOST_TEST(n->health()["twinsActive"] == 4);
  release(*n, 3); // nothing left: done at once
  release(*n, 99); // no such shard: done at once
  for (auto& id : mine) {
    auto got = must(call([&](reply_fn f) { n->get_twin(viewer, id, f); }));
    BOOST_TEST(got["$revision"] == 2);
    BOOST_TEST(got["properties"]["location"]["value"] == "at-" + id);
  }
  BOOST_TEST(n->health()["twinsActive"] == 9);
}

BOOST_AUTO_TEST_CASE(after_release_and_a_truncation_the_twin_rehydrates_truncated) {
  temp_dir d;
  node_options o;
  o.snapshot_every = 2; // snapshots beyond the cut must go too
  auto n = start(d.path.string(), o);
  load_model(*n);
  auto id = ids_in_shard(5, 8, 1).front();
  create(*n, id);
  for (int k = 1; k <= 5; ++k)
    must(call([&](reply_fn f) {
      n->patch_twin(op, id, json{{"counter", k}}, std::nullopt, f);
    }));
  // A read fills the read cache with revision 6.
  must(call([&](reply_fn f) { n->get_twin(viewer, id, f); }));
  auto cached = n->cached_twin(viewer, id);
  BOOST_REQUIRE(cached);
  BOOST_TEST(cached->revision == 6u);
  BOOST_REQUIRE((*n->store().load_snapshot(id)).has_value());
  BOOST_TEST((*n->store().load_snapshot(id))->revision > 3u);
  release(*n, 5);
  BOOST_TEST(!n->cached_twin(viewer, id)); // forgotten with the shard
  persistence::write_request req;
  req.truncate.emplace_back(id, 3);
  BOOST_REQUIRE(n->store().write(std::move(req)));
  auto got = must(call([&](reply_fn f) { n->get_twin(viewer, id, f); }));
  BOOST_TEST(got["$revision"] == 3);
  BOOST_TEST(got["properties"]["counter"]["value"] == 2);
  auto again = n->cached_twin(viewer, id);
  BOOST_REQUIRE(again);
  BOOST_TEST(again->revision == 3u);
  // It continues from there.
  auto p = must(call([&](reply_fn f) {
    n->patch_twin(op, id, json{{"counter", 42}}, std::nullopt, f);
  }));
  BOOST_TEST(p["$revision"] == 4);
  // Truncated to nothing: the twin is gone.
  release(*n, 5);
  persistence::write_request gone;
  gone.truncate.emplace_back(id, 0);
  BOOST_REQUIRE(n->store().write(std::move(gone)));
  auto missing = call([&](reply_fn f) { n->get_twin(viewer, id, f); });
  BOOST_REQUIRE(!missing.has_value());
  BOOST_TEST(missing.error().code == errc::not_found);
}

BOOST_AUTO_TEST_CASE(import_models_is_idempotent_and_validates) {
  temp_dir d;
  auto n = start(d.path.string());
  BOOST_REQUIRE(n->import_models(json::array({bearing_model})));
  BOOST_REQUIRE(n->import_models(json::array({bearing_model}))); // again: ok
  BOOST_REQUIRE(n->import_models(bearing_model));                // one object
  auto models = must(call([&](reply_fn f) { n->list_models(viewer, f); }));
  BOOST_TEST(models["items"].size() == 1u);
  auto audit = must(call([&](reply_fn f) { n->list_audit(admin, 1, 100, f); }));
  BOOST_REQUIRE_EQUAL(audit["items"].size(), 1u);
  BOOST_TEST(audit["items"][0]["action"] == "model.replicate");
  // A set with one new model next to a known one stores the new one.
  auto pump = bearing_model;
  pump["@id"] = "dtmi:example:Pump;1";
  pump["displayName"] = "Pump";
  BOOST_REQUIRE(n->import_models(json::array({bearing_model, pump})));
  models = must(call([&](reply_fn f) { n->list_models(viewer, f); }));
  BOOST_TEST(models["items"].size() == 2u);
  auto broken = pump;
  broken["@id"] = "dtmi:example:Broken;1";
  broken["contents"] = json::array({json{{"@type", "Property"}, {"name", "bad name!"},
                                         {"schema", "double"}}});
  auto st = n->import_models(json::array({broken}));
  BOOST_REQUIRE(!st);
  BOOST_TEST(st.error().code == errc::model_violation);
  BOOST_TEST(!n->import_models(json("nope")));
  create(*n, "imp1"); // the imported model is usable
  // They survive a restart (stored, not only registered).
  n.reset();
  n = start(d.path.string());
  models = must(call([&](reply_fn f) { n->list_models(viewer, f); }));
  BOOST_TEST(models["items"].size() == 2u);
}

BOOST_AUTO_TEST_CASE(list_include_filters_while_paging) {
  temp_dir d;
  auto n = start(d.path.string());
  load_model(*n);
  for (int i = 0; i < 30; ++i)
    create(*n, "L" + std::to_string(100 + i));
  // Only even numbers: 15 of 30.
  auto even = [](const std::string& id) { return std::stoi(id.substr(1)) % 2 == 0; };
  std::vector<std::string> all;
  std::string after;
  int pages = 0;
  for (;;) {
    list_query q;
    q.limit = 4;
    q.after = after;
    q.include = even;
    auto page = must(call([&](reply_fn f) { n->list_twins(viewer, q, f); }));
    ++pages;
    BOOST_TEST(page["items"].size() <= 4u);
    for (auto& it : page["items"])
      all.push_back(it["$id"].get<std::string>());
    if (!page.contains("nextPageToken"))
      break;
    BOOST_TEST(page["items"].size() == 4u);
    after = page["nextPageToken"].get<std::string>();
    BOOST_REQUIRE(pages < 10);
  }
  BOOST_TEST(pages == 4); // 4 + 4 + 4 + 3
  BOOST_REQUIRE_EQUAL(all.size(), 15u);
  for (std::size_t i = 0; i < all.size(); ++i)
    BOOST_TEST(all[i] == "L" + std::to_string(100 + 2 * i));
}

BOOST_AUTO_TEST_CASE(device_data_with_a_bus_offset_is_applied_once) {
  temp_dir d;
  auto n = start(d.path.string());
  load_model(*n);
  create(*n, "k1");
  must(call([&](reply_fn f) {
    n->transition(op, "k1", json{{"to", "active"}, {"reason", "go"}}, f);
  }));
  auto send = [&](std::int64_t offset, double v) {
    device_data dd;
    dd.values = json{{"temperature", v}};
    dd.source = "kafka";
    dd.bus_offset = offset;
    return must(call([&](reply_fn f) { n->ingest_data(op, "k1", dd, f); }));
  };
  BOOST_TEST(send(100, 1.0)["applied"] == true);
  auto dup = send(100, 2.0);
  BOOST_TEST(dup["applied"] == false);
  BOOST_TEST(dup["revision"] == 3);
  BOOST_TEST(send(101, 3.0)["applied"] == true);
  connectivity_update u;
  u.online = true;
  u.bus_offset = 101; // behind: a redelivery
  auto c = must(call([&](reply_fn f) { n->set_connectivity(op, "k1", u, f); }));
  BOOST_TEST(c["applied"] == false);
  u.bus_offset = 102;
  c = must(call([&](reply_fn f) { n->set_connectivity(op, "k1", u, f); }));
  BOOST_TEST(c["applied"] == true);
  BOOST_TEST(c["connectivity"] == "online");
  u.bus_offset = 103; // already online: answered, nothing recorded
  c = must(call([&](reply_fn f) { n->set_connectivity(op, "k1", u, f); }));
  BOOST_TEST(c["applied"] == false);
  // The guard survives passivation (journal replay): restart the node.
  n.reset();
  n = start(d.path.string());
  BOOST_TEST(send(102, 9.0)["applied"] == false);
  auto got = must(call([&](reply_fn f) { n->get_twin(viewer, "k1", f); }));
  BOOST_TEST(got["telemetry"]["temperature"]["value"] == 3.0);
  auto lin = must(call([&](reply_fn f) {
    n->lineage(viewer, "k1", "temperature", std::nullopt, f);
  }));
  BOOST_REQUIRE_EQUAL(lin["items"].size(), 2u);
  BOOST_TEST(lin["items"][0]["lineage"]["busOffset"] == 101);
}

namespace {

double counter_value(node& n, const std::string& name) {
  for (auto& family : n.metrics().Collect())
    if (family.name == name && !family.metric.empty())
      return family.metric.front().counter.value;
  return -1;
}

} // namespace

// A twin actor that cannot rehydrate stops with the error; the region hears
// of it (twin_exited from the actor's on_exit), counts the restart, starts a
// fresh actor for the next message, and every other twin of the shard is
// served meanwhile. Once the journal is readable again the twin comes back.
BOOST_AUTO_TEST_CASE(a_twin_that_cannot_rehydrate_fails_alone_and_comes_back) {
  temp_dir d;
  auto n = start(d.path.string());
  load_model(*n);
  auto ids = ids_in_shard(2, 8, 3);
  for (auto& id : ids)
    create(*n, id);
  auto bad = ids.front();
  must(call([&](reply_fn f) {
    n->patch_twin(op, bad, json{{"counter", 7}}, std::nullopt, f);
  }));
  release(*n, 2);
  // Revision 3 of `bad` is garbage (no snapshot yet: the journal is read).
  persistence::write_request req;
  persistence::twin_write w;
  w.twin_id = bad;
  w.events.emplace_back(3, std::string{"\xff\x00garbage", 9});
  req.twins.push_back(std::move(w));
  BOOST_REQUIRE(n->store().write(std::move(req)));
  auto restarts0 = counter_value(*n, "twin_restarts_total");
  for (int round = 0; round < 2; ++round) {
    auto r = call([&](reply_fn f) { n->get_twin(viewer, bad, f); });
    BOOST_REQUIRE(!r.has_value());
    BOOST_TEST((r.error().code == errc::corruption));
    for (auto it = ids.begin() + 1; it != ids.end(); ++it) {
      auto got = must(call([&](reply_fn f) { n->get_twin(viewer, *it, f); }));
      BOOST_TEST(got["$revision"] == 1);
    }
  }
  // Both failed actors were reported to the region (the exit notice is
  // asynchronous to the reply: wait for it).
  for (int i = 0; i < 200 && counter_value(*n, "twin_restarts_total") < restarts0 + 2; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds{10});
  BOOST_TEST(counter_value(*n, "twin_restarts_total") == restarts0 + 2);
  BOOST_TEST(n->health()["twinsActive"] == 2);
  // Repaired (truncated back to revision 2): the twin is served again.
  persistence::write_request fix;
  fix.truncate.emplace_back(bad, 2);
  BOOST_REQUIRE(n->store().write(std::move(fix)));
  auto got = must(call([&](reply_fn f) { n->get_twin(viewer, bad, f); }));
  BOOST_TEST(got["$revision"] == 2);
  BOOST_TEST(got["properties"]["counter"]["value"] == 7);
  BOOST_TEST(n->health()["twinsActive"] == 3);
}

BOOST_AUTO_TEST_SUITE_END()
