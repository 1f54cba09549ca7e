// The REST API of the real twin-node (docs/api.md), over HTTP on loopback.
#define BOOST_TEST_MODULE node_api_tests
#include <boost/test/unit_test.hpp>

#include <set>
#include <thread>

#include "fixture.hpp"

using namespace twin::test;
using nlohmann::json;

namespace {

struct api_fixture : node_fixture {
  api_fixture() { upload_bearing(); }
};

std::int64_t revision_of(const json& twin) {
  return twin.at("$revision").get<std::int64_t>();
}

/// Waits until the wall clock has moved past `t` by a few milliseconds, so
/// two instants taken around it are distinct at millisecond resolution.
void let_clock_advance() {
  auto start = std::chrono::system_clock::now();
  wait_until([&] { return std::chrono::system_clock::now() - start >= 10ms; }, 1s, 2ms);
}

} // namespace

BOOST_AUTO_TEST_SUITE(operations)

BOOST_FIXTURE_TEST_CASE(health_metrics_and_openapi_need_no_token, node_fixture) {
  auto c = anonymous();
  auto h = c.get("/healthz");
  BOOST_TEST(h.status == 200);
  BOOST_TEST(h.body.value("status", "") == "ok");

  auto m = c.get("/metrics");
  BOOST_TEST(m.status == 200);
  BOOST_TEST(m.raw.body.find("# TYPE ") != std::string::npos, "metrics:\n" << m.raw.body);
  BOOST_TEST(m.raw.body.find("twin_") != std::string::npos);

  auto o = c.get("/api/v1/openapi.json");
  BOOST_TEST(o.status == 200);
  BOOST_REQUIRE(o.body.is_object());
  BOOST_TEST(o.body.value("openapi", "").rfind("3.", 0) == 0u);
  BOOST_TEST(o.body.contains("paths"));
}

BOOST_FIXTURE_TEST_CASE(requests_without_a_valid_token_are_unauthorized, node_fixture) {
  auto anon = anonymous();
  auto r = anon.get("/api/v1/twins");
  BOOST_TEST(r.status == 401);
  BOOST_TEST(r.code() == "unauthorized");
  BOOST_TEST(r.raw.header("Content-Type").value_or("").find("application/problem+json")
             != std::string::npos);

  api_client bad{url(), "not-a-valid-token-at-all-xyz"};
  BOOST_TEST(bad.get("/api/v1/twins").status == 401);
}

BOOST_FIXTURE_TEST_CASE(request_id_is_echoed_or_generated, node_fixture) {
  auto c = viewer();
  auto r = c.get("/api/v1/twins", {{"X-Request-Id", "it-request-42"}});
  BOOST_TEST(r.status == 200);
  BOOST_TEST(r.raw.header("X-Request-Id").value_or("") == "it-request-42");
  auto g = c.get("/api/v1/twins");
  BOOST_TEST(!g.raw.header("X-Request-Id").value_or("").empty());
}

BOOST_FIXTURE_TEST_CASE(unknown_route_is_not_found_and_wrong_method_is_405, node_fixture) {
  auto c = admin();
  auto r = c.get("/api/v1/no-such-thing");
  BOOST_TEST(r.status == 404);
  BOOST_TEST(r.code() == "not_found");
  auto m = c.call("DELETE", "/api/v1/twins", std::nullopt);
  BOOST_TEST(m.status == 405);
  BOOST_TEST(m.raw.header("Allow").has_value());
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(models)

BOOST_FIXTURE_TEST_CASE(model_upload_list_show_and_duplicate, node_fixture) {
  auto c = admin();
  auto r = c.post("/api/v1/models", json::array({bearing_model()}));
  BOOST_TEST(r.status == 201, r.raw.body);
  BOOST_TEST(r.body.dump().find(bearing_dtmi) != std::string::npos);

  auto again = c.post("/api/v1/models", bearing_model());
  BOOST_TEST(again.status == 409);
  BOOST_TEST(again.code() == "already_exists");

  auto list = c.get("/api/v1/models");
  BOOST_TEST(list.status == 200);
  bool found = false;
  for (const auto& m : list.body.at("items"))
    found = found || m.value("id", "") == bearing_dtmi;
  BOOST_TEST(found, list.raw.body);

  auto show = c.get("/api/v1/models/" + twin::http::encode_path_segment(bearing_dtmi));
  BOOST_TEST(show.status == 200);
  BOOST_TEST(show.body.value("@id", "") == bearing_dtmi);
}

BOOST_FIXTURE_TEST_CASE(invalid_model_is_refused_with_errors, node_fixture) {
  auto bad = bearing_model();
  bad["@id"] = "dtmi:example:Broken;1";
  bad["contents"].push_back({{"@type", "Property"}, {"name", "1 bad name"}, {"schema", "double"}});
  auto r = admin().post("/api/v1/models", bad);
  BOOST_TEST(r.status == 422, r.raw.body);
  BOOST_TEST(r.code() == "model_violation");
  BOOST_TEST(r.body.contains("errors"));
}

BOOST_FIXTURE_TEST_CASE(operator_cannot_upload_models, node_fixture) {
  auto r = operator_().post("/api/v1/models", bearing_model());
  BOOST_TEST(r.status == 403);
  BOOST_TEST(r.code() == "forbidden");
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(twins)

BOOST_FIXTURE_TEST_CASE(twin_create_get_and_duplicate, api_fixture) {
  auto c = operator_();
  auto r = c.put(twin_path("bearing-1"),
                 {{"$model", bearing_dtmi},
                  {"properties", {{"location", "hall-3"}, {"ratedLoad", 1200.0}}}});
  BOOST_TEST(r.status == 201, r.raw.body);
  BOOST_TEST(r.body.value("$id", "") == "bearing-1");
  BOOST_TEST(r.body.value("$model", "") == bearing_dtmi);
  BOOST_TEST(r.body.value("$lifecycle", "") == "provisioned");
  BOOST_TEST(revision_of(r.body) >= 1);

  auto dup = c.put(twin_path("bearing-1"), {{"$model", bearing_dtmi}, {"properties", json::object()}});
  BOOST_TEST(dup.status == 409);
  BOOST_TEST(dup.code() == "already_exists");

  auto g = viewer().get(twin_path("bearing-1"));
  BOOST_TEST(g.status == 200);
  BOOST_TEST(g.body["properties"]["location"]["value"] == "hall-3");
  BOOST_TEST(g.body["properties"]["ratedLoad"]["value"].get<double>() == 1200.0);
  auto etag = g.raw.header("ETag").value_or("");
  BOOST_TEST(etag == "\"" + std::to_string(revision_of(g.body)) + "\"");

  auto missing = viewer().get(twin_path("no-such-twin"));
  BOOST_TEST(missing.status == 404);
  BOOST_TEST(missing.code() == "not_found");
}

BOOST_FIXTURE_TEST_CASE(create_with_unknown_model_or_bad_property_is_refused, api_fixture) {
  auto c = operator_();
  auto r = c.put(twin_path("x-1"), {{"$model", "dtmi:example:Nope;1"}, {"properties", json::object()}});
  BOOST_TEST((r.status == 404 || r.status == 422), r.raw.body);
  auto v = c.put(twin_path("x-2"), {{"$model", bearing_dtmi}, {"properties", {{"ratedLoad", "heavy"}}}});
  BOOST_TEST(v.status == 422, v.raw.body);
  BOOST_TEST(v.code() == "model_violation");
  BOOST_TEST(viewer().get(twin_path("x-2")).status == 404);
}

BOOST_FIXTURE_TEST_CASE(patch_applies_writable_properties, api_fixture) {
  create_twin("b1");
  auto c = operator_();
  auto r = c.patch(twin_path("b1"), {{"ratedLoad", 1500.0}, {"maintenanceMode", true},
                                     {"condition", "worn"}});
  BOOST_TEST(r.status == 200, r.raw.body);
  BOOST_TEST(r.body["properties"]["ratedLoad"]["value"].get<double>() == 1500.0);
  BOOST_TEST(r.body["properties"]["maintenanceMode"]["value"] == true);
  BOOST_TEST(r.body["properties"]["condition"]["value"] == "worn");
  BOOST_TEST(r.body["properties"]["ratedLoad"]["version"].get<std::int64_t>()
             == revision_of(r.body));
  auto g = viewer().get(twin_path("b1"));
  BOOST_TEST(g.body["properties"]["ratedLoad"]["value"].get<double>() == 1500.0);
}

BOOST_FIXTURE_TEST_CASE(patch_model_violations_name_their_rule, api_fixture) {
  create_twin("b1", {{"ratedLoad", 1000.0}});
  auto c = operator_();
  auto before = revision_of(viewer().get(twin_path("b1")).body);
  struct violation {
    json patch;
    std::string rule;
  };
  const std::vector<violation> cases{
    {{{"ratedLoad", "heavy"}}, "value-type"},
    {{{"noSuchProperty", 1}}, "unknown-name"},
    {{{"serialNumber", "SN-1"}}, "not-writable"},
    {{{"condition", "broken"}}, "enum-value"},
  };
  for (const auto& v : cases) {
    auto r = c.patch(twin_path("b1"), v.patch);
    BOOST_TEST_CONTEXT("patch " << v.patch.dump()) {
      BOOST_TEST(r.status == 422, r.raw.body);
      BOOST_TEST(r.code() == "model_violation");
      BOOST_TEST(r.rule() == v.rule);
    }
  }
  auto after = viewer().get(twin_path("b1")).body;
  BOOST_TEST(revision_of(after) == before);
  BOOST_TEST(after["properties"]["ratedLoad"]["value"].get<double>() == 1000.0);
}

BOOST_FIXTURE_TEST_CASE(stale_if_match_is_a_revision_mismatch, api_fixture) {
  create_twin("b1");
  auto c = operator_();
  auto rev = revision_of(viewer().get(twin_path("b1")).body);
  auto ok = c.patch(twin_path("b1"), {{"ratedLoad", 1.0}}, {{"If-Match", std::to_string(rev)}});
  BOOST_TEST(ok.status == 200, ok.raw.body);
  auto stale = c.patch(twin_path("b1"), {{"ratedLoad", 2.0}}, {{"If-Match", std::to_string(rev)}});
  BOOST_TEST(stale.status == 409);
  BOOST_TEST(stale.code() == "revision_mismatch");
  auto quoted = c.patch(twin_path("b1"), {{"ratedLoad", 3.0}},
                        {{"If-Match", "\"" + std::to_string(rev + 1) + "\""}});
  BOOST_TEST(quoted.status == 200, quoted.raw.body);
  BOOST_TEST(viewer().get(twin_path("b1")).body["properties"]["ratedLoad"]["value"].get<double>()
             == 3.0);
}

BOOST_FIXTURE_TEST_CASE(list_twins_filters_and_pages, api_fixture) {
  std::set<std::string> all, active;
  for (int i = 0; i < 7; ++i) {
    std::string id = "list-" + std::to_string(i);
    create_twin(id);
    all.insert(id);
    if (i % 2 == 0) {
      transition(id, "active");
      active.insert(id);
    }
  }
  auto c = viewer();
  auto r = c.get("/api/v1/twins?lifecycle=active&limit=100");
  BOOST_TEST(r.status == 200);
  std::set<std::string> got;
  for (const auto& t : r.body.at("items")) {
    got.insert(t.at("$id").get<std::string>());
    BOOST_TEST(t.value("$lifecycle", "") == "active");
    // Items are summaries from the twins index (docs/api.md): listing
    // does not wake every twin.
    BOOST_TEST(t.value("$model", "") == bearing_dtmi);
  }
  BOOST_TEST(got == active);

  std::set<std::string> paged;
  std::string token;
  int pages = 0;
  do {
    std::string target = "/api/v1/twins?limit=2&model=" + twin::http::encode_query_value(bearing_dtmi);
    if (!token.empty())
      target += "&pageToken=" + twin::http::encode_query_value(token);
    auto p = c.get(target);
    BOOST_REQUIRE_MESSAGE(p.status == 200, p.raw.body);
    BOOST_TEST(p.body.at("items").size() <= 2u);
    for (const auto& t : p.body.at("items")) {
      auto id = t.at("$id").get<std::string>();
      BOOST_TEST(!paged.count(id), "duplicate across pages: " << id);
      paged.insert(id);
    }
    token = p.body.value("nextPageToken", "");
    BOOST_REQUIRE(++pages <= 10);
  } while (!token.empty());
  BOOST_TEST(paged == all);
  BOOST_TEST(pages >= 4);

  auto none = c.get("/api/v1/twins?model=" + twin::http::encode_query_value("dtmi:example:Other;1"));
  BOOST_TEST(none.status == 200);
  BOOST_TEST(none.body.at("items").empty());
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(lifecycle)

BOOST_FIXTURE_TEST_CASE(legal_transitions_follow_the_state_machine, api_fixture) {
  create_twin("b1");
  BOOST_TEST(transition("b1", "active").value("$lifecycle", "") == "active");
  BOOST_TEST(transition("b1", "passive").value("$lifecycle", "") == "passive");
  BOOST_TEST(transition("b1", "active").value("$lifecycle", "") == "active");
  BOOST_TEST(transition("b1", "retired").value("$lifecycle", "") == "retired");
  BOOST_TEST(viewer().get(twin_path("b1")).body.value("$lifecycle", "") == "retired");
}

BOOST_FIXTURE_TEST_CASE(illegal_transitions_are_refused, api_fixture) {
  create_twin("b1");
  auto c = operator_();
  auto r = c.post(twin_path("b1") + "/lifecycle", {{"to", "passive"}, {"reason", "skip"}});
  BOOST_TEST(r.status == 409, r.raw.body);
  BOOST_TEST(r.code() == "illegal_transition");

  transition("b1", "active");
  transition("b1", "retired");
  auto back = c.post(twin_path("b1") + "/lifecycle", {{"to", "active"}, {"reason", "undo"}});
  BOOST_TEST(back.status == 409, back.raw.body);
  BOOST_TEST(back.code() == "illegal_transition");
  BOOST_TEST(viewer().get(twin_path("b1")).body.value("$lifecycle", "") == "retired");
}

BOOST_FIXTURE_TEST_CASE(patching_a_retired_twin_is_lifecycle_forbidden, api_fixture) {
  create_twin("b1");
  transition("b1", "active");
  transition("b1", "retired");
  auto r = operator_().patch(twin_path("b1"), {{"ratedLoad", 5.0}});
  BOOST_TEST(r.status == 409, r.raw.body);
  BOOST_TEST(r.code() == "lifecycle_forbidden");
}

BOOST_FIXTURE_TEST_CASE(viewer_cannot_patch_or_transition, api_fixture) {
  create_twin("b1");
  auto v = viewer();
  auto r = v.patch(twin_path("b1"), {{"ratedLoad", 5.0}});
  BOOST_TEST(r.status == 403);
  BOOST_TEST(r.code() == "forbidden");
  auto l = v.post(twin_path("b1") + "/lifecycle", {{"to", "active"}, {"reason", "x"}});
  BOOST_TEST(l.status == 403);
  BOOST_TEST(v.get(twin_path("b1")).status == 200);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(telemetry)

BOOST_FIXTURE_TEST_CASE(telemetry_updates_an_active_twin, api_fixture) {
  create_twin("b1");
  transition("b1", "active");
  auto r = operator_().post(twin_path("b1") + "/telemetry",
                            {{"values", {{"temperature", 61.5}, {"speed", 1480.0}}},
                             {"source", "sensor-7"},
                             {"sourceTime", rfc3339_now()}});
  BOOST_TEST(r.status == 202, r.raw.body);
  auto rev = r.body.at("revision").get<std::int64_t>();
  auto g = viewer().get(twin_path("b1")).body;
  BOOST_TEST(g["telemetry"]["temperature"]["value"].get<double>() == 61.5);
  BOOST_TEST(g["telemetry"]["speed"]["value"].get<double>() == 1480.0);
  BOOST_TEST(g["telemetry"]["temperature"]["version"].get<std::int64_t>() == rev);
  BOOST_TEST(revision_of(g) == rev);
}

BOOST_FIXTURE_TEST_CASE(telemetry_with_a_wrong_type_is_a_model_violation, api_fixture) {
  create_twin("b1");
  transition("b1", "active");
  auto r = operator_().post(twin_path("b1") + "/telemetry", {{"values", {{"temperature", "hot"}}}});
  BOOST_TEST(r.status == 422, r.raw.body);
  BOOST_TEST(r.code() == "model_violation");
}

BOOST_FIXTURE_TEST_CASE(telemetry_for_retired_twin_raises_alert, api_fixture) {
  create_twin("b1");
  transition("b1", "active");
  transition("b1", "retired");
  auto before = viewer().get(twin_path("b1")).body;
  auto r = operator_().post(twin_path("b1") + "/telemetry",
                            {{"values", {{"temperature", 99.0}}}, {"source", "sensor-9"}});
  BOOST_TEST(r.status == 409, r.raw.body);
  BOOST_TEST(r.code() == "lifecycle_forbidden");

  auto after = viewer().get(twin_path("b1")).body;
  BOOST_TEST(revision_of(after) == revision_of(before));
  BOOST_TEST(!after["telemetry"].contains("temperature"));

  json alert;
  bool seen = wait_until(
    [&] {
      auto a = viewer().get("/api/v1/alerts");
      if (a.status != 200)
        return false;
      for (const auto& item : a.body.at("items"))
        if (item.value("type", "") == "twin.alert.unexpected_data"
            && item.value("twin", "") == "b1") {
          alert = item;
          return true;
        }
      return false;
    },
    10s, 100ms);
  BOOST_REQUIRE_MESSAGE(seen, "no twin.alert.unexpected_data alert for b1");
  BOOST_TEST(alert.dump().find("sensor-9") != std::string::npos,
             "alert does not name the source: " << alert.dump());
}

BOOST_FIXTURE_TEST_CASE(telemetry_for_provisioned_twin_is_refused, api_fixture) {
  create_twin("b1");
  auto r = operator_().post(twin_path("b1") + "/telemetry", {{"values", {{"temperature", 20.0}}}});
  BOOST_TEST(r.status == 409, r.raw.body);
  BOOST_TEST(r.code() == "lifecycle_forbidden");
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(lineage)

BOOST_FIXTURE_TEST_CASE(lineage_lists_newest_first_with_provenance, api_fixture) {
  create_twin("b1");
  auto c = operator_();
  for (int i = 1; i <= 3; ++i) {
    auto r = c.patch(twin_path("b1"), {{"ratedLoad", 100.0 * i}},
                     {{"X-Request-Id", "lineage-req-" + std::to_string(i)}});
    BOOST_REQUIRE_MESSAGE(r.status == 200, r.raw.body);
  }
  auto l = viewer().get(twin_path("b1") + "/lineage?property=ratedLoad");
  BOOST_REQUIRE_MESSAGE(l.status == 200, l.raw.body);
  const auto& items = l.body.at("items");
  BOOST_REQUIRE_EQUAL(items.size(), 3u);
  for (std::size_t k = 0; k < 3; ++k) {
    const auto& e = items[k];
    int i = 3 - static_cast<int>(k);
    BOOST_TEST_CONTEXT("item " << k << ": " << e.dump()) {
      BOOST_TEST(e.value("type", "") == "property_updated");
      BOOST_TEST(e["changes"]["ratedLoad"].get<double>() == 100.0 * i);
      BOOST_TEST(e["lineage"].value("principal", "") == "olga");
      BOOST_TEST(e["lineage"].value("requestId", "") == "lineage-req-" + std::to_string(i));
      BOOST_TEST(e["lineage"].value("model", "") == bearing_dtmi);
      if (k > 0)
        BOOST_TEST(e.at("revision").get<std::int64_t>()
                   < items[k - 1].at("revision").get<std::int64_t>());
    }
  }
  BOOST_TEST(l.body.value("twin", "") == "b1");
  BOOST_TEST(l.body.value("property", "") == "ratedLoad");
}

BOOST_FIXTURE_TEST_CASE(lineage_at_returns_the_event_in_force_then, api_fixture) {
  create_twin("b1");
  auto c = operator_();
  let_clock_advance();
  std::string before_any = rfc3339_now();
  let_clock_advance();
  BOOST_REQUIRE(c.patch(twin_path("b1"), {{"ratedLoad", 100.0}}).status == 200);
  let_clock_advance();
  std::string t1 = rfc3339_now();
  let_clock_advance();
  BOOST_REQUIRE(c.patch(twin_path("b1"), {{"ratedLoad", 200.0}}).status == 200);
  let_clock_advance();
  std::string t2 = rfc3339_now();

  auto v = viewer();
  auto at1 = v.get(twin_path("b1") + "/lineage?property=ratedLoad&at=" + twin::http::encode_query_value(t1));
  BOOST_REQUIRE_MESSAGE(at1.status == 200, at1.raw.body);
  BOOST_REQUIRE_EQUAL(at1.body.at("items").size(), 1u);
  BOOST_TEST(at1.body["items"][0]["changes"]["ratedLoad"].get<double>() == 100.0);

  auto at2 = v.get(twin_path("b1") + "/lineage?property=ratedLoad&at=" + twin::http::encode_query_value(t2));
  BOOST_REQUIRE_MESSAGE(at2.status == 200, at2.raw.body);
  BOOST_REQUIRE_EQUAL(at2.body.at("items").size(), 1u);
  BOOST_TEST(at2.body["items"][0]["changes"]["ratedLoad"].get<double>() == 200.0);

  auto at0 = v.get(twin_path("b1") + "/lineage?property=ratedLoad&at="
                   + twin::http::encode_query_value(before_any));
  BOOST_TEST(at0.status == 404, at0.raw.body);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(events)

namespace {

/// Reads events until one about `twin` of CloudEvents type `type` arrives.
std::optional<json> await_cloudevent(twin::http::event_stream& s, const std::string& twin,
                                     const std::string& type,
                                     std::chrono::steady_clock::duration timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    auto ev = s.next(deadline);
    if (!ev) {
      BOOST_TEST_MESSAGE("event stream: " << ev.error().describe());
      return std::nullopt;
    }
    if (!*ev)
      return std::nullopt;
    auto data = json::parse((*ev)->data, nullptr, false);
    if (data.is_object() && data.value("subject", "") == twin && data.value("type", "") == type)
      return data;
  }
  return std::nullopt;
}

} // namespace

BOOST_FIXTURE_TEST_CASE(event_stream_delivers_a_cloudevent_of_a_change, api_fixture) {
  create_twin("b1");
  twin::http::client_options o;
  o.bearer_token = tok.viewer;
  auto stream = twin::http::event_stream::open(url(), "/api/v1/events", o);
  BOOST_REQUIRE_MESSAGE(stream, (stream ? "" : stream.error().describe()));

  auto r = operator_().patch(twin_path("b1"), {{"ratedLoad", 4242.0}});
  BOOST_REQUIRE(r.status == 200);
  auto ce = await_cloudevent(*stream, "b1", "twin.property_updated", 10s);
  BOOST_REQUIRE_MESSAGE(ce, "no twin.property_updated CloudEvent for b1 within 10 s");
  BOOST_TEST(ce->value("specversion", "") == "1.0");
  BOOST_TEST(ce->value("source", "") == "/twins/b1");
  BOOST_TEST(!ce->value("id", "").empty());
  BOOST_TEST((*ce)["data"]["changes"]["ratedLoad"].get<double>() == 4242.0);
}

BOOST_FIXTURE_TEST_CASE(event_stream_accepts_access_token_query, api_fixture) {
  auto stream = twin::http::event_stream::open(url(), "/api/v1/events?access_token=" + tok.viewer);
  BOOST_REQUIRE_MESSAGE(stream, (stream ? "" : stream.error().describe()));
  create_twin("b2");
  auto ce = await_cloudevent(*stream, "b2", "twin.created", 10s);
  BOOST_TEST(ce.has_value(), "no twin.created CloudEvent for b2 within 10 s");
}

BOOST_FIXTURE_TEST_CASE(event_stream_requires_a_token, node_fixture) {
  auto stream = twin::http::event_stream::open(url(), "/api/v1/events");
  BOOST_REQUIRE(!stream);
  BOOST_TEST((stream.error().code == twin::errc::unauthorized), stream.error().describe());
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(events_client)

BOOST_FIXTURE_TEST_CASE(quiet_event_stream_times_out_and_stays_usable, api_fixture) {
  twin::http::client_options o;
  o.bearer_token = tok.viewer;
  auto stream = twin::http::event_stream::open(url(), "/api/v1/events", o);
  BOOST_REQUIRE_MESSAGE(stream, (stream ? "" : stream.error().describe()));
  auto quiet = stream->next(std::chrono::steady_clock::now() + 300ms);
  BOOST_REQUIRE(quiet);
  BOOST_TEST(!quiet->has_value());
  create_twin("late");
  auto deadline = std::chrono::steady_clock::now() + 10s;
  bool seen = false;
  while (!seen && std::chrono::steady_clock::now() < deadline) {
    auto ev = stream->next(deadline);
    BOOST_REQUIRE(ev);
    if (!*ev)
      break;
    seen = (*ev)->data.find("\"late\"") != std::string::npos;
  }
  BOOST_TEST(seen, "no event for twin 'late' after a timed-out read");
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(behaviours)

BOOST_FIXTURE_TEST_CASE(a_bad_behaviour_spec_is_a_field_level_400_and_nothing_is_attached,
                        node_fixture) {
  upload_bearing();
  create_twin("b-spec");
  auto c = operator_();
  nlohmann::json spec{{"kind", "forecast"}, {"model", bearing_dtmi}, {"version", "1.0.0"},
                      {"indicator", "temperature"}, {"limit", "hot"}};
  auto r = c.put(twin_path("b-spec") + "/behaviours/f1", spec);
  BOOST_TEST(r.status == 400, r.raw.body);
  BOOST_TEST(r.body.value("path", "") == "/limit", r.raw.body);
  BOOST_TEST(!c.get(twin_path("b-spec")).body.contains("$behaviours"));
  // Valid, but written for another model version: 409, nothing attached.
  spec["limit"] = 90.0;
  spec["model"] = "dtmi:example:Bearing;2";
  r = c.put(twin_path("b-spec") + "/behaviours/f1", spec);
  BOOST_TEST(r.status == 409, r.raw.body);
  BOOST_TEST(r.code() == "binding_model_mismatch");
  // The right one is attached, shown, listed in the index and detached.
  spec["model"] = bearing_dtmi;
  r = c.put(twin_path("b-spec") + "/behaviours/f1", spec);
  BOOST_REQUIRE_MESSAGE(r.status == 200, r.raw.body);
  BOOST_TEST(r.body["$behaviours"]["f1"]["indicator"] == "temperature");
  auto list = c.get("/api/v1/twins");
  BOOST_TEST(list.body["items"][0]["$behaviours"] == nlohmann::json::array({"f1"}), list.raw.body);
  BOOST_TEST(c.del(twin_path("b-spec") + "/behaviours/f1").status == 200);
  BOOST_TEST(c.del(twin_path("b-spec") + "/behaviours/f1").status == 404);
}

BOOST_AUTO_TEST_SUITE_END()
