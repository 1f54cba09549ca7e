// The node in-process on a real RocksDB directory: the actor shell around
// the pure core, passivation, restart from durable state, failure handling.

#include <boost/test/unit_test.hpp>

#include <atomic>
#include <filesystem>
#include <future>
#include <random>
#include <thread>

#include "twin/actors/node.hpp"

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
    n->list_twins(viewer, list_query{"", "", "", 7}, f);
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

BOOST_AUTO_TEST_SUITE_END()
