#define BOOST_TEST_MODULE twin actors
#include <boost/test/unit_test.hpp>
#include <ctime>
#include <limits>

#include "twin/actors/core.hpp"
#include "twin/actors/sharding.hpp"

using namespace twin;
using namespace twin::actors;
using namespace twin::actors::core;
using json = nlohmann::json;

namespace {

model::schema_ptr prim(model::schema::kind k) {
  auto s = std::make_shared<model::schema>();
  s->k = k;
  return s;
}

/// A hand-built Bearing interface (the pure core needs no validator run).
std::shared_ptr<model::interface> bearing() {
  auto itf = std::make_shared<model::interface>();
  itf->id = model::dtmi{"dtmi:example:Bearing;1"};
  auto add = [&](model::content_kind k, std::string name, bool writable,
                 model::schema_ptr s) {
    model::content c;
    c.kind = k;
    c.name = std::move(name);
    c.writable = writable;
    c.value_schema = std::move(s);
    itf->contents.push_back(std::move(c));
  };
  using K = model::schema::kind;
  add(model::content_kind::property, "ratedLoad", true, prim(K::double_));
  add(model::content_kind::property, "serialNumber", false, prim(K::string));
  add(model::content_kind::property, "location", true, prim(K::string));
  add(model::content_kind::telemetry, "temperature", false, prim(K::double_));
  return itf;
}

struct fixture {
  std::shared_ptr<model::interface> itf = bearing();
  model_context mc{itf.get(), nullptr};
  twin_state st;
  millis clock = 1'700'000'000'000;

  fixture() {
    st.id = "b1";
  }

  command cmd(command_body body, std::string who = "alice") {
    command c;
    c.body = std::move(body);
    c.principal = std::move(who);
    c.request_id = "req-" + std::to_string(clock);
    c.now = clock++;
    return c;
  }

  decision run(command_body body, std::string who = "alice") {
    auto d = decide(st, cmd(std::move(body), std::move(who)), mc);
    for (auto& e : d.events)
      st = evolve(std::move(st), e);
    return d;
  }

  void create() {
    auto d = run(create_twin{"dtmi:example:Bearing;1",
                             json{{"serialNumber", "SN-1"}, {"ratedLoad", 10.0}}});
    BOOST_REQUIRE(!d.rejection);
  }

  void move_to(lifecycle to) {
    auto d = run(transition{to, "test"});
    BOOST_REQUIRE_MESSAGE(!d.rejection, (d.rejection ? d.rejection->describe() : std::string{}));
  }
};

const lifecycle all_states[] = {lifecycle::provisioned, lifecycle::active,
                                lifecycle::passive, lifecycle::retired};

/// A path from provisioned to `target` through legal transitions.
std::vector<lifecycle> path_to(lifecycle target) {
  switch (target) {
    case lifecycle::provisioned: return {};
    case lifecycle::active: return {lifecycle::active};
    case lifecycle::passive: return {lifecycle::active, lifecycle::passive};
    case lifecycle::retired: return {lifecycle::retired};
  }
  return {};
}

} // namespace

BOOST_AUTO_TEST_SUITE(lifecycle_table)

BOOST_AUTO_TEST_CASE(every_pair_of_states_follows_the_table) {
  // The expected table, written out in full.
  auto expected_allowed = [](lifecycle f, lifecycle t) {
    using l = lifecycle;
    return (f == l::provisioned && (t == l::active || t == l::retired))
           || (f == l::active && (t == l::passive || t == l::retired))
           || (f == l::passive && (t == l::active || t == l::retired));
  };
  for (auto from : all_states)
    for (auto to : all_states) {
      BOOST_TEST_CONTEXT(to_string(from) << " -> " << to_string(to)) {
        BOOST_TEST(transition_allowed(from, to) == expected_allowed(from, to));
        fixture f;
        f.create();
        for (auto step : path_to(from))
          f.move_to(step);
        BOOST_REQUIRE(f.st.life == from);
        auto rev = f.st.revision;
        auto d = f.run(transition{to, "because"});
        if (expected_allowed(from, to)) {
          BOOST_REQUIRE(!d.rejection);
          BOOST_REQUIRE_EQUAL(d.events.size(), 1u);
          BOOST_TEST(d.events[0].from == from);
          BOOST_TEST(d.events[0].to == to);
          BOOST_TEST(d.events[0].reason == "because");
          BOOST_TEST(f.st.life == to);
          BOOST_TEST(f.st.revision == rev + 1);
        } else {
          BOOST_REQUIRE(d.rejection);
          BOOST_TEST(d.rejection->code == errc::illegal_transition);
          BOOST_TEST(d.events.empty());
          BOOST_TEST(f.st.life == from);
          BOOST_TEST(f.st.revision == rev);
        }
      }
    }
}

BOOST_AUTO_TEST_CASE(a_transition_without_a_reason_is_refused) {
  fixture f;
  f.create();
  auto d = f.run(transition{lifecycle::active, ""});
  BOOST_REQUIRE(d.rejection);
  BOOST_TEST(d.rejection->code == errc::bad_request);
  BOOST_TEST(d.rejection->rule == "reason-required");
}

BOOST_AUTO_TEST_CASE(lifecycle_names_round_trip) {
  for (auto l : all_states)
    BOOST_TEST((parse_lifecycle(to_string(l)) == l));
  BOOST_TEST(!parse_lifecycle("deleted"));
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(decide_and_evolve)

BOOST_AUTO_TEST_CASE(create_sets_model_properties_and_lineage) {
  fixture f;
  auto d = f.run(create_twin{"dtmi:example:Bearing;1", json{{"ratedLoad", 12.5}}},
                 "bob");
  BOOST_REQUIRE(!d.rejection);
  BOOST_REQUIRE_EQUAL(d.events.size(), 1u);
  auto& e = d.events[0];
  BOOST_TEST(e.revision == 1u);
  BOOST_TEST(e.source.principal == "bob");
  BOOST_TEST(e.source.source_kind == "principal");
  BOOST_TEST(e.source.model == "dtmi:example:Bearing;1");
  BOOST_TEST(!e.source.request_id.empty());
  BOOST_TEST(f.st.exists);
  BOOST_TEST(f.st.life == lifecycle::provisioned);
  BOOST_TEST(f.st.property("ratedLoad")->value == json(12.5));
  BOOST_TEST(f.st.property("ratedLoad")->version == 1u);
}

BOOST_AUTO_TEST_CASE(create_of_an_existing_twin_is_refused) {
  fixture f;
  f.create();
  auto d = f.run(create_twin{"dtmi:example:Bearing;1", json::object()});
  BOOST_REQUIRE(d.rejection);
  BOOST_TEST(d.rejection->code == errc::already_exists);
}

BOOST_AUTO_TEST_CASE(create_with_an_unknown_model_is_a_model_violation) {
  fixture f;
  f.mc.itf = nullptr;
  auto d = f.run(create_twin{"dtmi:example:Nope;1", json::object()});
  BOOST_REQUIRE(d.rejection);
  BOOST_TEST(d.rejection->code == errc::model_violation);
  BOOST_TEST(d.rejection->rule == "unknown-model");
}

BOOST_AUTO_TEST_CASE(commands_for_a_missing_twin_are_not_found) {
  fixture f;
  auto d = f.run(patch_properties{json{{"location", "x"}}, std::nullopt});
  BOOST_REQUIRE(d.rejection);
  BOOST_TEST(d.rejection->code == errc::not_found);
}

BOOST_AUTO_TEST_CASE(patch_with_a_stale_revision_is_refused) {
  fixture f;
  f.create();
  auto d = f.run(patch_properties{json{{"location", "x"}}, 7});
  BOOST_REQUIRE(d.rejection);
  BOOST_TEST(d.rejection->code == errc::revision_mismatch);
  auto ok = f.run(patch_properties{json{{"location", "x"}}, f.st.revision});
  BOOST_TEST(!ok.rejection);
  BOOST_TEST(f.st.property("location")->value == json("x"));
}

BOOST_AUTO_TEST_CASE(model_violations_name_the_rule_and_the_request_path) {
  fixture f;
  f.create();
  auto d = f.run(patch_properties{json{{"ratedLoad", "heavy"}}, std::nullopt});
  BOOST_REQUIRE(d.rejection);
  BOOST_TEST(d.rejection->code == errc::model_violation);
  BOOST_TEST(d.rejection->rule == "value-type");
  BOOST_TEST(d.rejection->path == "/ratedLoad");
  auto human = f.run(patch_properties{json{{"serialNumber", "SN-9"}}, std::nullopt});
  BOOST_REQUIRE(human.rejection);
  BOOST_TEST(human.rejection->rule == "not-writable");
  auto unknown = f.run(patch_properties{json{{"colour", "red"}}, std::nullopt});
  BOOST_REQUIRE(unknown.rejection);
  BOOST_TEST(unknown.rejection->rule == "unknown-name");
  f.move_to(lifecycle::active);
  ingest_values in;
  in.values = json{{"temperature", "hot"}};
  auto tel = f.run(in);
  BOOST_REQUIRE(tel.rejection);
  BOOST_TEST(tel.rejection->path == "/values/temperature");
  BOOST_TEST(f.st.telemetry.empty());
}

BOOST_AUTO_TEST_CASE(patch_null_removes_a_property) {
  fixture f;
  f.create();
  auto d = f.run(patch_properties{json{{"ratedLoad", nullptr}}, std::nullopt});
  BOOST_REQUIRE(!d.rejection);
  BOOST_TEST(f.st.property("ratedLoad") == nullptr);
}

BOOST_AUTO_TEST_CASE(patch_is_refused_when_passive_or_retired) {
  for (auto life : {lifecycle::passive, lifecycle::retired}) {
    fixture f;
    f.create();
    for (auto step : path_to(life))
      f.move_to(step);
    auto rev = f.st.revision;
    auto d = f.run(patch_properties{json{{"location", "x"}}, std::nullopt});
    BOOST_REQUIRE(d.rejection);
    BOOST_TEST(d.rejection->code == errc::lifecycle_forbidden);
    BOOST_TEST(f.st.revision == rev);
  }
}

BOOST_AUTO_TEST_CASE(ingest_applies_only_to_active_twins_and_alerts_otherwise) {
  for (auto life : all_states) {
    BOOST_TEST_CONTEXT(to_string(life)) {
      fixture f;
      f.create();
      for (auto step : path_to(life))
        f.move_to(step);
      auto rev = f.st.revision;
      ingest_values in;
      in.values = json{{"temperature", 61.5}};
      in.source = "sensor-7";
      auto d = f.run(in, "edge");
      if (life == lifecycle::active) {
        BOOST_REQUIRE(!d.rejection);
        BOOST_TEST(!d.raised);
        BOOST_TEST(f.st.revision == rev + 1);
        BOOST_TEST(d.events[0].source.source_kind == "sensor");
        BOOST_TEST(d.events[0].source.source_id == "sensor-7");
        BOOST_TEST(d.events[0].source.principal == "edge");
      } else {
        BOOST_REQUIRE(d.rejection);
        BOOST_TEST(d.rejection->code == errc::lifecycle_forbidden);
        BOOST_REQUIRE(d.raised);
        BOOST_TEST(d.raised->type == "twin.alert.unexpected_data");
        BOOST_TEST(d.raised->source == "sensor-7");
        BOOST_TEST(d.raised->detail["values"]["temperature"] == json(61.5));
        BOOST_TEST(f.st.revision == rev);
        BOOST_TEST(f.st.telemetry.empty());
      }
    }
  }
}

BOOST_AUTO_TEST_CASE(ingest_splits_properties_from_telemetry) {
  fixture f;
  f.create();
  f.move_to(lifecycle::active);
  ingest_values in;
  in.values = json{{"temperature", 40.0}, {"serialNumber", "SN-2"}};
  in.source_time = 1000;
  auto d = f.run(in);
  BOOST_REQUIRE(!d.rejection);
  BOOST_TEST(d.events[0].telemetry.contains("temperature"));
  BOOST_TEST(d.events[0].properties.contains("serialNumber"));
  BOOST_TEST(f.st.property("serialNumber")->value == json("SN-2"));
  BOOST_TEST(f.st.property("serialNumber")->source_time == 1000);
}

BOOST_AUTO_TEST_CASE(a_redelivered_sequence_is_skipped_not_applied_twice) {
  fixture f;
  f.create();
  f.move_to(lifecycle::active);
  ingest_values in;
  in.values = json{{"temperature", 40.0}};
  in.source = "s";
  in.sequence = 5;
  BOOST_TEST(f.run(in).events.size() == 1u);
  auto rev = f.st.revision;
  auto again = f.run(in);
  BOOST_TEST(!again.rejection);
  BOOST_TEST(again.events.empty());
  BOOST_TEST(f.st.revision == rev);
  in.sequence = 6;
  BOOST_TEST(f.run(in).events.size() == 1u);
}

BOOST_AUTO_TEST_CASE(a_redelivered_bus_offset_is_skipped_and_a_higher_one_applied) {
  fixture f;
  f.create();
  f.move_to(lifecycle::active);
  BOOST_TEST(f.st.last_bus_offset == -1);
  ingest_values in;
  in.values = json{{"temperature", 40.0}};
  in.source = "s";
  in.bus_offset = 17;
  auto d = f.run(in);
  BOOST_REQUIRE_EQUAL(d.events.size(), 1u);
  BOOST_REQUIRE(d.events[0].source.bus_offset);
  BOOST_TEST(*d.events[0].source.bus_offset == 17);
  BOOST_TEST(f.st.last_bus_offset == 17);
  auto rev = f.st.revision;
  // The same record again, and an older one: nothing, not even a rejection.
  for (std::int64_t off : {17, 3}) {
    in.bus_offset = off;
    in.values = json{{"temperature", 99.0}};
    auto again = f.run(in);
    BOOST_TEST(!again.rejection);
    BOOST_TEST(!again.raised);
    BOOST_TEST(again.events.empty());
  }
  BOOST_TEST(f.st.revision == rev);
  BOOST_TEST(f.st.telemetry.front().second.value == json(40.0));
  in.bus_offset = 18;
  BOOST_TEST(f.run(in).events.size() == 1u);
  BOOST_TEST(f.st.last_bus_offset == 18);
  // Without an offset (REST, single node) there is no bus guard.
  in.bus_offset.reset();
  BOOST_TEST(f.run(in).events.size() == 1u);
  BOOST_TEST(f.st.last_bus_offset == 18);
  // Connectivity shares the guard and advances it.
  set_connectivity off;
  off.online = false;
  off.bus_offset = 18;
  BOOST_TEST(f.run(off).events.empty());
  BOOST_TEST(f.st.link == connectivity::unknown);
  off.bus_offset = 25;
  auto c = f.run(off);
  BOOST_REQUIRE_EQUAL(c.events.size(), 1u);
  BOOST_TEST(*c.events[0].source.bus_offset == 25);
  BOOST_TEST(f.st.last_bus_offset == 25);
  // A no-op (already offline) with a new offset: answerable, no event, the
  // offset does not move.
  off.bus_offset = 30;
  auto noop = f.run(off);
  BOOST_TEST(!noop.rejection);
  BOOST_TEST(noop.events.empty());
  BOOST_TEST(f.st.last_bus_offset == 25);
  // Ingest behind the connectivity offset is a redelivery too.
  in.bus_offset = 20;
  BOOST_TEST(f.run(in).events.empty());
}

BOOST_AUTO_TEST_CASE(the_bus_offset_survives_event_json_and_snapshots) {
  fixture f;
  f.create();
  f.move_to(lifecycle::active);
  // Old snapshots (and single-node twins) have no offset: -1, key absent.
  BOOST_TEST(!snapshot_json(f.st).contains("$lastBusOffset"));
  auto old = state_from_snapshot(snapshot_json(f.st));
  BOOST_REQUIRE(old.has_value());
  BOOST_TEST(old->last_bus_offset == -1);
  ingest_values in;
  in.values = json{{"temperature", 40.0}};
  in.bus_offset = 4242;
  auto d = f.run(in);
  BOOST_REQUIRE_EQUAL(d.events.size(), 1u);
  auto j = to_json(d.events[0]);
  BOOST_TEST(j["lineage"]["busOffset"] == 4242);
  auto back = event_from_json(j);
  BOOST_REQUIRE(back.has_value());
  BOOST_REQUIRE(back->source.bus_offset);
  BOOST_TEST(*back->source.bus_offset == 4242);
  // Events without one have no key and decode to none.
  fixture g;
  auto c = g.run(create_twin{"dtmi:example:Bearing;1", json::object()});
  BOOST_TEST(!to_json(c.events[0])["lineage"].contains("busOffset"));
  BOOST_TEST(!event_from_json(to_json(c.events[0]))->source.bus_offset);
  auto snap_json = snapshot_json(f.st);
  BOOST_TEST(snap_json["$lastBusOffset"] == 4242);
  auto snap = state_from_snapshot(snap_json);
  BOOST_REQUIRE(snap.has_value());
  BOOST_TEST(snap->last_bus_offset == 4242);
  BOOST_TEST(snapshot_json(*snap) == snap_json);
  // Replaying the journal form restores the guard as well.
  twin_state replay;
  replay.id = "b1";
  replay.revision = d.events[0].revision - 1;
  replay = evolve(std::move(replay), *back);
  BOOST_TEST(replay.last_bus_offset == 4242);
  // An event with a lower offset never moves it back.
  auto lower = *back;
  lower.revision += 1;
  lower.source.bus_offset = 7;
  replay = evolve(std::move(replay), lower);
  BOOST_TEST(replay.last_bus_offset == 4242);
}

BOOST_AUTO_TEST_CASE(redelivery_to_a_retired_twin_alerts_again_unless_it_was_applied_before) {
  fixture f;
  f.create();
  f.move_to(lifecycle::active);
  ingest_values in;
  in.values = json{{"temperature", 40.0}};
  in.source = "s";
  in.bus_offset = 10;
  BOOST_TEST(f.run(in).events.size() == 1u); // applied while active
  f.move_to(lifecycle::retired);
  // Redelivered records the twin applied while active: silently skipped,
  // no second alert.
  for (std::int64_t off : {10, 9}) {
    in.bus_offset = off;
    auto d = f.run(in);
    BOOST_TEST(!d.rejection);
    BOOST_TEST(!d.raised);
  }
  // A new record for the retired twin: refused with an alert. It is never
  // applied, so last_bus_offset stays and its redelivery alerts again (as
  // documented on ingest_values::bus_offset).
  in.bus_offset = 11;
  auto first = f.run(in);
  BOOST_REQUIRE(first.rejection);
  BOOST_TEST(first.rejection->code == errc::lifecycle_forbidden);
  BOOST_REQUIRE(first.raised);
  BOOST_TEST(first.raised->severity == "critical");
  BOOST_TEST(f.st.last_bus_offset == 10);
  auto second = f.run(in);
  BOOST_TEST(second.rejection.has_value());
  BOOST_TEST(second.raised.has_value());
}

BOOST_AUTO_TEST_CASE(events_and_snapshots_round_trip_through_json) {
  fixture f;
  f.create();
  f.move_to(lifecycle::active);
  ingest_values in;
  in.values = json{{"temperature", 40.0}};
  in.sequence = 3;
  in.source = "s";
  f.run(in);
  // Replaying the JSON form of every event reproduces the state.
  fixture g;
  twin_state replay;
  replay.id = "b1";
  std::vector<event> evs;
  {
    fixture h;
    auto d1 = h.run(create_twin{"dtmi:example:Bearing;1", json{{"ratedLoad", 1.0}}});
    evs.insert(evs.end(), d1.events.begin(), d1.events.end());
    auto d2 = h.run(transition{lifecycle::active, "go"});
    evs.insert(evs.end(), d2.events.begin(), d2.events.end());
    auto d3 = h.run(in);
    evs.insert(evs.end(), d3.events.begin(), d3.events.end());
    for (auto& e : evs) {
      auto back = event_from_json(to_json(e));
      BOOST_REQUIRE(back.has_value());
      replay = evolve(std::move(replay), *back);
    }
    BOOST_TEST(to_json(replay) == to_json(h.st));
    auto snap = state_from_snapshot(snapshot_json(h.st));
    BOOST_REQUIRE(snap.has_value());
    BOOST_TEST(snapshot_json(*snap) == snapshot_json(h.st));
  }
}

BOOST_AUTO_TEST_CASE(connectivity_is_recorded_once_per_change_and_not_a_lifecycle) {
  fixture f;
  f.create();
  f.move_to(lifecycle::active);
  BOOST_TEST(!to_json(f.st).contains("$connectivity"));
  set_connectivity off;
  off.online = false;
  off.reason = "NDEATH bdSeq 4";
  off.source = "spBv1.0/PlantA/Turbine07";
  off.pipeline_version = "tagmap/1";
  off.origin = json{{"protocol", "sparkplugB"}, {"bdSeq", 4}};
  auto d = f.run(off, "sparkplug-host");
  BOOST_REQUIRE(!d.rejection);
  BOOST_REQUIRE_EQUAL(d.events.size(), 1u);
  BOOST_TEST(d.events[0].type == event_type::connectivity_changed);
  BOOST_TEST(d.events[0].source.origin == off.origin);
  BOOST_TEST(f.st.link == connectivity::offline);
  BOOST_TEST(f.st.life == lifecycle::active);
  auto j = to_json(f.st);
  BOOST_TEST(j["$connectivity"]["state"] == "offline");
  // Already offline: no second event.
  BOOST_TEST(f.run(off).events.empty());
  // Data is still accepted while offline (late or buffered values).
  ingest_values in;
  in.values = json{{"temperature", 41.0}};
  BOOST_TEST(!f.run(in).rejection);
  set_connectivity on;
  on.online = true;
  on.reason = "NBIRTH";
  BOOST_TEST(f.run(on).events.size() == 1u);
  BOOST_TEST(f.st.link == connectivity::online);
  // Round trips: event JSON (with origin) and snapshot.
  auto back = event_from_json(to_json(d.events[0]));
  BOOST_REQUIRE(back.has_value());
  BOOST_TEST(back->link == connectivity::offline);
  BOOST_TEST(back->reason == "NDEATH bdSeq 4");
  BOOST_TEST(back->source.origin == off.origin);
  auto snap = state_from_snapshot(snapshot_json(f.st));
  BOOST_REQUIRE(snap.has_value());
  BOOST_TEST(snapshot_json(*snap) == snapshot_json(f.st));
}

BOOST_AUTO_TEST_CASE(connectivity_of_a_missing_twin_is_not_found) {
  fixture f;
  set_connectivity off;
  off.online = false;
  auto d = f.run(off);
  BOOST_REQUIRE(d.rejection);
  BOOST_TEST(d.rejection->code == errc::not_found);
}

BOOST_AUTO_TEST_CASE(behaviour_bindings_are_stored_with_the_twin_for_its_model_only) {
  fixture f;
  f.create();
  json spec{{"kind", "forecast"}, {"model", "dtmi:example:Bearing;1"}, {"indicator", "wear"}};
  auto d = f.run(attach_behaviour{"rul", spec});
  BOOST_REQUIRE(!d.rejection);
  BOOST_TEST(d.events.at(0).type == event_type::behaviour_attached);
  BOOST_TEST(to_json(f.st)["$behaviours"]["rul"] == spec);
  // Written for another model version: refused, nothing recorded.
  json other = spec;
  other["model"] = "dtmi:example:Bearing;2";
  auto r = f.run(attach_behaviour{"rul2", other});
  BOOST_REQUIRE(r.rejection);
  BOOST_TEST(r.rejection->code == errc::binding_model_mismatch);
  BOOST_TEST(r.rejection->path == "/model");
  BOOST_TEST(!f.st.behaviours.contains("rul2"));
  // Bad shapes are clear 400s.
  BOOST_TEST(f.run(attach_behaviour{"bad name!", spec}).rejection->rule == "behaviour-name");
  BOOST_TEST(f.run(attach_behaviour{"x", json{{"model", "dtmi:example:Bearing;1"}}}).rejection->rule
             == "behaviour-kind");
  // Round trips through the journal form and the snapshot.
  auto back = event_from_json(to_json(d.events[0]));
  BOOST_REQUIRE(back.has_value());
  BOOST_TEST(back->behaviour == "rul");
  BOOST_TEST(back->spec == spec);
  auto snap = state_from_snapshot(snapshot_json(f.st));
  BOOST_REQUIRE(snap.has_value());
  BOOST_TEST(snap->behaviours == f.st.behaviours);
  // Detach; a second detach is not found.
  BOOST_TEST(!f.run(detach_behaviour{"rul"}).rejection);
  BOOST_TEST(!to_json(f.st).contains("$behaviours"));
  BOOST_TEST(f.run(detach_behaviour{"rul"}).rejection->code == errc::not_found);
}

BOOST_AUTO_TEST_CASE(behaviour_outputs_carry_their_own_source_kind) {
  fixture f;
  f.create();
  f.move_to(lifecycle::active);
  ingest_values in;
  in.values = json{{"temperature", 42.0}};
  in.source_kind = "behaviour";
  in.source = "behaviour/thermal";
  auto d = f.run(in);
  BOOST_REQUIRE(!d.rejection);
  BOOST_TEST(d.events.at(0).source.source_kind == "behaviour");
  BOOST_TEST(d.events.at(0).source.source_id == "behaviour/thermal");
}

BOOST_AUTO_TEST_CASE(merge_patch_follows_rfc_7386) {
  auto r = merge_patch(json{{"a", "b"}, {"c", {{"d", "e"}, {"f", "g"}}}},
                       json{{"a", "z"}, {"c", {{"f", nullptr}}}});
  BOOST_TEST(r == (json{{"a", "z"}, {"c", {{"d", "e"}}}}));
  BOOST_TEST(merge_patch(json{{"a", 1}}, json::array({1})) == json::array({1}));
}

BOOST_AUTO_TEST_CASE(times_format_like_gmtime_over_the_whole_range) {
  auto reference = [](millis t) {
    std::time_t secs = static_cast<std::time_t>(t / 1000);
    int ms = static_cast<int>(t % 1000);
    if (ms < 0) {
      ms += 1000;
      --secs;
    }
    std::tm tm{};
    gmtime_r(&secs, &tm);
    char buf[64];
    std::snprintf(buf, sizeof(buf), "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ",
                  tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
                  tm.tm_sec, ms);
    return std::string{buf};
  };
  std::vector<millis> times = {0, -1, 999, 1000, -1000, -1001, 86'399'999, 86'400'000,
                               951'782'400'000 /* 2000-02-29 */, 4'107'542'400'000 /* 2100-03-01 */,
                               -62'135'596'800'000 /* 0001-01-01 */, 253'402'300'799'999 /* 9999-12-31 */,
                               1'700'000'000'123};
  std::uint64_t x = 88172645463325252ULL; // xorshift: reproducible spread
  for (int i = 0; i < 20000; ++i) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    times.push_back(static_cast<millis>(x % 506'000'000'000'000ULL) - 253'000'000'000'000LL);
  }
  for (auto t : times)
    BOOST_TEST(format_time(t) == reference(t), "t = " << t);
}

BOOST_AUTO_TEST_CASE(times_format_and_parse) {
  BOOST_TEST(format_time(0) == "1970-01-01T00:00:00.000Z");
  auto t = parse_time("2026-11-25T12:00:00.250Z");
  BOOST_REQUIRE(t);
  BOOST_TEST(format_time(*t) == "2026-11-25T12:00:00.250Z");
  BOOST_TEST(*parse_time("2026-11-25T13:00:00+01:00") == *parse_time("2026-11-25T12:00:00Z"));
  BOOST_TEST(!parse_time("2026-11-25 12:00:00"));
  BOOST_TEST(!parse_time("yesterday"));
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_CASE(shard_placement_matches_kafka_murmur2) {
  // Reference values of the Java client's Utils.murmur2.
  BOOST_TEST(kafka_murmur2("21") == static_cast<std::uint32_t>(-973932308));
  BOOST_TEST(kafka_murmur2("foobar") == static_cast<std::uint32_t>(-790332482));
  BOOST_TEST(kafka_murmur2("a-little-bit-long-string")
             == static_cast<std::uint32_t>(-985981536));
  BOOST_TEST(kafka_murmur2("abc") == 479470107u);
  for (int i = 0; i < 1000; ++i)
    BOOST_TEST(shard_of("twin-" + std::to_string(i), 64) < 64u);
}

BOOST_AUTO_TEST_SUITE(journal_encoding)

namespace {

std::string reference_cbor(const event& e) {
  auto bytes = json::to_cbor(to_json(e));
  return {bytes.begin(), bytes.end()};
}

/// Every kind of JSON value nlohmann's CBOR writer distinguishes, at the
/// boundaries of each head width.
json value_zoo() {
  json z = json::object();
  z["null"] = nullptr;
  z["t"] = true;
  z["f"] = false;
  const std::uint64_t uints[] = {0, 23, 24, 255, 256, 65535, 65536, 4294967295ULL,
                                 4294967296ULL, UINT64_MAX};
  json u = json::array();
  for (auto v : uints)
    u.push_back(v);
  z["uints"] = u;
  const std::int64_t ints[] = {-1, -24, -25, -256, -257, -65536, -65537,
                               -4294967296LL, -4294967297LL, INT64_MIN, 7, 300};
  json i = json::array();
  for (auto v : ints)
    i.push_back(v);
  z["ints"] = i;
  const double floats[] = {0.0, -0.0, 1.5, 0.1, 3.4e38, 3.5e38, -3.5e38, 1e-46,
                           1e300, std::numeric_limits<double>::quiet_NaN(),
                           std::numeric_limits<double>::infinity(),
                           -std::numeric_limits<double>::infinity(), 42.0};
  json f = json::array();
  for (auto v : floats)
    f.push_back(v);
  z["floats"] = f;
  for (std::size_t n : {0u, 23u, 24u, 255u, 256u, 65535u, 65536u})
    z["s" + std::to_string(n)] = std::string(n, 'x');
  z["nested"] = json{{"a", json::array({1, "two", json{{"3", nullptr}}})},
                     {"B", json::object()},
                     {"", json::array()}};
  json wide = json::object();
  for (int k = 0; k < 300; ++k)
    wide["k" + std::to_string(k)] = k;
  z["wide"] = wide;
  z["utf8"] = "Lagertemperatur \xc2\xb0" "C";
  return z;
}

} // namespace

BOOST_AUTO_TEST_CASE(values_are_written_as_nlohmanns_cbor_writer_writes_them) {
  auto zoo = value_zoo();
  std::string mine;
  append_cbor(mine, zoo);
  auto ref = json::to_cbor(zoo);
  BOOST_TEST(mine == std::string(ref.begin(), ref.end()));
  // Each member alone too, so a difference names its value kind.
  for (auto& [k, v] : zoo.items()) {
    std::string one;
    append_cbor(one, v);
    auto r = json::to_cbor(v);
    BOOST_TEST(one == std::string(r.begin(), r.end()), "value " << k);
  }
}

BOOST_AUTO_TEST_CASE(every_event_type_encodes_to_the_bytes_of_its_json_form) {
  std::vector<event> events;
  event base;
  base.revision = 7;
  base.time = 1'700'000'000'123;
  base.source.source_kind = "sensor";
  base.source.source_id = "spBv1.0/PlantA/Turbine07/Gearbox_BearingA";
  base.source.principal = "sparkplug-host";
  base.source.source_time = 1'700'000'000'100;
  base.source.ingest_time = base.time;
  base.source.pipeline_version = "tagmap/2026.11.1";
  base.source.model = "dtmi:example:Bearing;1";
  base.source.request_id = "spb-1";
  for (auto type : {event_type::twin_created, event_type::property_updated,
                    event_type::telemetry_received, event_type::lifecycle_changed,
                    event_type::connectivity_changed, event_type::behaviour_attached,
                    event_type::behaviour_detached}) {
    event e = base;
    e.type = type;
    e.model = "dtmi:example:Bearing;1";
    e.properties = json{{"ratedLoad", 10.5}, {"serialNumber", "SN-1"}, {"gone", nullptr}};
    e.telemetry = json{{"temperature", 71.25}, {"vibrationRms", 0.1}, {"count", 3}};
    e.from = lifecycle::active;
    e.to = lifecycle::passive;
    e.reason = "maintenance";
    e.link = connectivity::offline;
    e.behaviour = "thermal";
    e.spec = json{{"kind", "fmu"}, {"model", "dtmi:example:Bearing;1"}, {"period", 0.5}};
    events.push_back(e);
  }
  // Lineage variants: same source and ingest time, sequence, bus offset
  // (negative too), an origin, empty strings, a big revision.
  event v = base;
  v.type = event_type::telemetry_received;
  v.telemetry = value_zoo();
  v.source.source_time = v.source.ingest_time;
  v.source.sequence = -5;
  v.source.bus_offset = 1'234'567'890'123;
  v.source.origin = json{{"protocol", "sparkplugB"}, {"group", "PlantA"},
                         {"seq", 255}, {"bdSeq", 0}, {"historical", false},
                         {"metrics", {{"temp", "Bearing/Temp"}}}};
  events.push_back(v);
  // An origin in two parts (twin/origin.hpp): a shared base with the
  // event's own members over it, "seq" on both sides (own wins); a base
  // alone; a base with a non-object own (own alone).
  v.source.origin_base = std::make_shared<const json>(
    json{{"device", "Gearbox_BearingA"}, {"edgeNode", "Turbine07"}, {"seq", 1},
         {"zzz", true}, {"aaa", nullptr}});
  events.push_back(v);
  v.source.origin = nullptr;
  events.push_back(v);
  v.source.origin = "not an object";
  events.push_back(v);
  event empty;
  empty.type = event_type::property_updated;
  empty.revision = UINT64_MAX;
  empty.source.source_kind.clear();
  events.push_back(empty);
  // Lineage times other than the event's (the encoder reuses the event's
  // formatted time only where it is equal).
  event later = base;
  later.type = event_type::telemetry_received;
  later.source.ingest_time = base.time + 5;
  later.source.source_time = base.time;
  events.push_back(later);
  later.source.source_time = base.time + 5;
  events.push_back(later);
  later.source.source_time = base.time - 86'400'000;
  events.push_back(later);
  event nulls = base;
  nulls.type = event_type::telemetry_received;
  nulls.properties = nullptr;
  nulls.telemetry = json::object();
  events.push_back(nulls);

  for (const auto& e : events) {
    const auto mine = encode_event(e);
    BOOST_TEST(mine == reference_cbor(e), "event type " << to_string(e.type));
    if (e.source.origin_base) {
      const auto origin = to_json(e)["lineage"]["origin"];
      if (e.source.origin.is_string()) {
        BOOST_TEST(origin == "not an object");
      } else {
        BOOST_TEST(origin["device"] == "Gearbox_BearingA");
        BOOST_TEST(origin["seq"] == (e.source.origin.is_null() ? 1 : 255));
        BOOST_TEST(origin.size() == (e.source.origin.is_null() ? 5u : 10u));
      }
    }
    // And the journal reader gets the event back.
    auto back = event_from_json(json::from_cbor(mine));
    if (e.revision != UINT64_MAX) {
      BOOST_REQUIRE(back);
      BOOST_TEST(back->revision == e.revision);
      BOOST_TEST(back->type == e.type);
    }
  }
}

BOOST_AUTO_TEST_CASE(a_decided_ingest_event_encodes_like_its_json_form) {
  fixture f;
  f.create();
  f.move_to(lifecycle::active);
  ingest_values in;
  in.values = json{{"temperature", 70.125}, {"ratedLoad", 12.0}};
  in.source = "spBv1.0/PlantA/Turbine07/Gearbox_BearingA";
  in.pipeline_version = "tagmap/1";
  in.sequence = 42;
  in.origin = json{{"protocol", "sparkplugB"}, {"seq", 42}};
  auto d = f.run(in, "sparkplug-host");
  BOOST_REQUIRE(!d.rejection);
  BOOST_REQUIRE_EQUAL(d.events.size(), 1u);
  BOOST_TEST(encode_event(d.events[0]) == reference_cbor(d.events[0]));
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(decide_on_a_given_up_command)

BOOST_AUTO_TEST_CASE(moving_an_ingest_into_decide_gives_the_same_decision) {
  fixture f;
  f.create();
  f.move_to(lifecycle::active);
  ingest_values in;
  in.values = json{{"temperature", 70.5}, {"ratedLoad", 12.0}};
  in.source = "spBv1.0/PlantA/E/D";
  in.origin = json{{"protocol", "sparkplugB"}, {"seq", 3}};
  auto c = f.cmd(in, "sparkplug-host");
  auto copied = decide(f.st, c, f.mc);
  auto moved = decide(f.st, std::move(c), f.mc);
  BOOST_REQUIRE(!copied.rejection);
  BOOST_REQUIRE(!moved.rejection);
  BOOST_REQUIRE_EQUAL(moved.events.size(), 1u);
  BOOST_TEST(to_json(moved.events[0]) == to_json(copied.events[0]));
  BOOST_TEST(moved.events[0].properties == json({{"ratedLoad", 12.0}}));
  BOOST_TEST(moved.events[0].source.origin == in.origin);
}

BOOST_AUTO_TEST_CASE(a_rejected_ingest_keeps_its_values_and_a_missing_twin_is_still_refused) {
  fixture f;
  ingest_values bad;
  bad.values = json{{"temperature", 1.0}};
  auto missing = decide(f.st, f.cmd(bad), f.mc);
  BOOST_REQUIRE(missing.rejection);
  BOOST_TEST(missing.rejection->code == errc::not_found);
  f.create();
  f.move_to(lifecycle::active);
  bad.values = json{{"temperature", 1.0}, {"serialNumber", 5}}; // wrong type
  auto c = f.cmd(bad);
  auto d = decide(f.st, std::move(c), f.mc);
  BOOST_REQUIRE(d.rejection);
  BOOST_TEST(d.rejection->code == errc::model_violation);
  BOOST_TEST(std::get<ingest_values>(c.body).values == bad.values);
}

BOOST_AUTO_TEST_SUITE_END()
