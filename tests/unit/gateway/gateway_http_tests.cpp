// The REST routes: authentication, error mapping, bodies, headers and
// parameters, against the fake fabric.

#include <boost/test/unit_test.hpp>

#include "fake_fabric.hpp"

using namespace twin;
using namespace twin::test;

BOOST_AUTO_TEST_SUITE(gateway_http)

BOOST_AUTO_TEST_CASE(a_request_without_a_token_is_refused_with_401_and_a_bearer_challenge) {
  gateway_fixture f;
  auto r = http(f.port(), "GET", "/api/v1/twins/p1");
  BOOST_TEST(r.status == 401);
  BOOST_TEST(r.header("www-authenticate").rfind("Bearer", 0) == 0);
  BOOST_TEST(r.header("content-type") == "application/problem+json");
  auto p = r.json();
  BOOST_TEST(p["code"] == "unauthorized");
  BOOST_TEST(p["status"] == 401);
  BOOST_TEST(p["instance"] == "/api/v1/twins/p1");
  BOOST_TEST(f.fabric.call_count() == 0u);
}

BOOST_AUTO_TEST_CASE(a_request_with_an_unknown_or_malformed_token_is_refused_with_401) {
  gateway_fixture f;
  auto r = http(f.port(), "GET", "/api/v1/twins/p1",
                {{"Authorization", "Bearer not-a-known-token-at-all"}});
  BOOST_TEST(r.status == 401);
  BOOST_TEST(r.header("www-authenticate").rfind("Bearer", 0) == 0);
  BOOST_TEST(r.json()["code"] == "unauthorized");
  auto basic = http(f.port(), "GET", "/api/v1/twins/p1",
                    {{"Authorization", "Basic YWxpY2U6c2VjcmV0"}});
  BOOST_TEST(basic.status == 401);
  BOOST_TEST(f.fabric.call_count() == 0u);
}

BOOST_AUTO_TEST_CASE(an_access_token_query_parameter_is_refused_outside_the_event_stream) {
  gateway_fixture f;
  auto r = http(f.port(), "GET",
                std::string("/api/v1/twins/p1?access_token=") + admin_token);
  BOOST_TEST(r.status == 401);
  // ...and the token never shows up in the problem document.
  BOOST_TEST(r.body.find(admin_token) == std::string::npos);
}

BOOST_AUTO_TEST_CASE(a_valid_token_reaches_the_fabric_with_its_principal) {
  gateway_fixture f;
  auto r = f.get("/api/v1/twins/p1", viewer_token);
  BOOST_TEST(r.status == 200);
  BOOST_TEST(r.header("content-type") == "application/json");
  BOOST_TEST(r.json()["$id"] == "p1");
  auto c = f.fabric.last_call();
  BOOST_TEST(c.op == "get_twin");
  BOOST_TEST(c.id == "p1");
  BOOST_TEST(c.ctx.who.name == "victor");
  BOOST_TEST(c.ctx.who.has(security::role::viewer));
  // The scheme is case-insensitive.
  auto lower = http(f.port(), "GET", "/api/v1/twins/p1",
                    {{"Authorization", std::string("bearer ") + admin_token}});
  BOOST_TEST(lower.status == 200);
}

BOOST_AUTO_TEST_CASE(fabric_errors_become_problem_json_with_status_code_rule_and_path) {
  gateway_fixture f;
  struct expectation {
    error err;
    int status;
    const char* title;
  };
  std::vector<expectation> cases = {
    {make_error(errc::model_violation, "property 'speed' expects double, got string",
                "value-type", "/properties/speed"),
     422, "Unprocessable Content"},
    {make_error(errc::not_found, "no twin 'p1'"), 404, "Not Found"},
    {make_error(errc::forbidden, "victor may not write"), 403, "Forbidden"},
    {make_error(errc::revision_mismatch, "revision is 9", "if-match"), 409,
     "Conflict"},
    {make_error(errc::lifecycle_forbidden, "twin is retired"), 409, "Conflict"},
    {make_error(errc::unavailable, "shutting down"), 503,
     "Service Unavailable"},
    {make_error(errc::corruption, "bad bytes"), 500, "Internal Server Error"},
  };
  for (auto& c : cases) {
    f.fabric.respond = [&](const fabric_call&) -> expected<json> { return c.err; };
    auto r = http(f.port(), "PATCH", "/api/v1/twins/p1", f.auth(),
                  R"({"speed": "fast"})");
    BOOST_TEST_CONTEXT(to_string(c.err.code)) {
      BOOST_TEST(r.status == c.status);
      BOOST_TEST(r.header("content-type") == "application/problem+json");
      auto p = r.json();
      BOOST_TEST(p["type"] == "urn:twin-fabric:error:" + std::string(to_string(c.err.code)));
      BOOST_TEST(p["title"] == c.title);
      BOOST_TEST(p["status"] == c.status);
      BOOST_TEST(p["code"] == std::string(to_string(c.err.code)));
      BOOST_TEST(p["detail"] == c.err.message);
      BOOST_TEST(p["instance"] == "/api/v1/twins/p1");
      BOOST_TEST(p.contains("rule") == !c.err.rule.empty());
      BOOST_TEST(p.contains("path") == !c.err.path.empty());
      if (!c.err.rule.empty())
        BOOST_TEST(p["rule"] == c.err.rule);
      if (!c.err.path.empty())
        BOOST_TEST(p["path"] == c.err.path);
    }
  }
}

BOOST_AUTO_TEST_CASE(an_invalid_json_body_is_a_400_with_the_parser_message) {
  gateway_fixture f;
  auto r = http(f.port(), "PUT", "/api/v1/twins/p1", f.auth(), R"({"$model": )");
  BOOST_TEST(r.status == 400);
  auto p = r.json();
  BOOST_TEST(p["code"] == "bad_request");
  BOOST_TEST(p["detail"].get<std::string>().find("parse error") != std::string::npos);
  BOOST_TEST(f.fabric.call_count() == 0u);
}

BOOST_AUTO_TEST_CASE(a_body_over_the_limit_is_refused_with_413) {
  gateway::gateway_options o;
  o.max_body = 1024;
  gateway_fixture f(o);
  auto r = http(f.port(), "POST", "/api/v1/models", f.auth(),
                std::string(4096, ' '));
  BOOST_TEST(r.status == 413);
  BOOST_TEST(r.header("content-type") == "application/problem+json");
  BOOST_TEST(r.json()["status"] == 413);
  // A declared length over the limit is refused before the body is sent.
  http_client c(f.port());
  c.write_raw("POST /api/v1/models HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer "
              + std::string(admin_token) + "\r\nContent-Length: 99999999\r\n\r\n");
  BOOST_TEST(c.read_reply().status == 413);
  BOOST_TEST(c.closed_by_server(std::chrono::seconds(5)));
  BOOST_TEST(f.fabric.call_count() == 0u);
  // A body at the limit is fine.
  auto ok = http(f.port(), "POST", "/api/v1/models", f.auth(),
                 "[" + std::string(1000, ' ') + "]");
  BOOST_TEST(ok.status == 201);
}

BOOST_AUTO_TEST_CASE(an_unknown_route_is_404_and_a_wrong_method_is_405_with_allow) {
  gateway_fixture f;
  auto r = f.get("/api/v1/nothing-here");
  BOOST_TEST(r.status == 404);
  BOOST_TEST(r.json()["code"] == "not_found");
  BOOST_TEST(f.get("/api/v2/twins").status == 404);
  BOOST_TEST(f.get("/api/v1/twins/p1/unknown").status == 404);

  auto m = http(f.port(), "DELETE", "/api/v1/twins/p1", f.auth());
  BOOST_TEST(m.status == 405);
  BOOST_TEST(m.header("allow") == "GET, PUT, PATCH");
  BOOST_TEST(m.header("content-type") == "application/problem+json");
  auto post = http(f.port(), "GET", "/api/v1/twins/p1/telemetry", f.auth());
  BOOST_TEST(post.status == 405);
  BOOST_TEST(post.header("allow") == "POST");
  BOOST_TEST(f.fabric.call_count() == 0u);
}

BOOST_AUTO_TEST_CASE(reading_a_twin_sets_its_revision_as_etag) {
  gateway_fixture f;
  auto r = f.get("/api/v1/twins/p1");
  BOOST_TEST(r.status == 200);
  BOOST_TEST(r.header("etag") == "\"7\"");
}

BOOST_AUTO_TEST_CASE(if_match_accepts_bare_quoted_and_weak_revisions) {
  gateway_fixture f;
  for (std::string v : {"7", "\"7\"", "W/\"7\"", " 7 "}) {
    auto r = http(f.port(), "PATCH", "/api/v1/twins/p1",
                  {{"Authorization", std::string("Bearer ") + admin_token},
                   {"If-Match", v}},
                  R"({"ratedLoad": 1200.0, "old": null})");
    BOOST_TEST_CONTEXT(v) {
      BOOST_TEST(r.status == 200);
      auto c = f.fabric.last_call();
      BOOST_TEST(c.op == "patch_twin");
      BOOST_TEST(c.if_match.has_value());
      BOOST_TEST(c.if_match.value_or(0) == 7u);
      BOOST_TEST(c.body == json::parse(R"({"ratedLoad": 1200.0, "old": null})"));
    }
  }
  auto none = http(f.port(), "PATCH", "/api/v1/twins/p1", f.auth(), "{}");
  BOOST_TEST(none.status == 200);
  BOOST_TEST(!f.fabric.last_call().if_match.has_value());
}

BOOST_AUTO_TEST_CASE(a_malformed_if_match_is_a_400_that_never_reaches_the_fabric) {
  gateway_fixture f;
  for (std::string v : {"seven", "\"7", "-1", "7, 8", "\"\""}) {
    auto r = http(f.port(), "PATCH", "/api/v1/twins/p1",
                  {{"Authorization", std::string("Bearer ") + admin_token},
                   {"If-Match", v}},
                  "{}");
    BOOST_TEST_CONTEXT(v) {
      BOOST_TEST(r.status == 400);
      BOOST_TEST(r.json()["code"] == "bad_request");
    }
  }
  BOOST_TEST(f.fabric.call_count() == 0u);
}

BOOST_AUTO_TEST_CASE(percent_encoded_dtmi_path_segments_are_decoded) {
  gateway_fixture f;
  auto r = f.get("/api/v1/models/dtmi%3Aexample%3ABearing%3B1");
  BOOST_TEST(r.status == 200);
  BOOST_TEST(f.fabric.last_call().op == "get_model");
  BOOST_TEST(f.fabric.last_call().id == "dtmi:example:Bearing;1");
  // Unencoded works as well.
  BOOST_TEST(f.get("/api/v1/models/dtmi:example:Bearing;1").status == 200);
  BOOST_TEST(f.fabric.last_call().id == "dtmi:example:Bearing;1");
  // An encoded slash stays inside its segment.
  BOOST_TEST(f.get("/api/v1/twins/line%2F7").status == 200);
  BOOST_TEST(f.fabric.last_call().id == "line/7");
  // A broken escape is a bad request.
  BOOST_TEST(f.get("/api/v1/models/dtmi%3").status == 400);
}

BOOST_AUTO_TEST_CASE(deleting_a_model_answers_204_without_a_body) {
  gateway_fixture f;
  auto r = http(f.port(), "DELETE", "/api/v1/models/dtmi%3Aexample%3ABearing%3B1",
                f.auth());
  BOOST_TEST(r.status == 204);
  BOOST_TEST(r.body.empty());
  BOOST_TEST(f.fabric.last_call().op == "delete_model");
  BOOST_TEST(f.fabric.last_call().id == "dtmi:example:Bearing;1");
}

BOOST_AUTO_TEST_CASE(successful_writes_answer_201_202_and_200) {
  gateway_fixture f;
  auto created = http(f.port(), "PUT", "/api/v1/twins/bearing-1", f.auth(),
                      R"({"$model": "dtmi:example:Bearing;1", "properties": {}})");
  BOOST_TEST(created.status == 201);
  BOOST_TEST(f.fabric.last_call().body["$model"] == "dtmi:example:Bearing;1");
  auto tel = http(f.port(), "POST", "/api/v1/twins/bearing-1/telemetry",
                  f.auth(), R"({"values": {"temperature": 61.5}})");
  BOOST_TEST(tel.status == 202);
  BOOST_TEST(tel.json()["revision"] == 8);
  BOOST_TEST(f.fabric.last_call().op == "ingest");
  auto lc = http(f.port(), "POST", "/api/v1/twins/bearing-1/lifecycle",
                 f.auth(), R"({"to": "active", "reason": "commissioned"})");
  BOOST_TEST(lc.status == 200);
  BOOST_TEST(f.fabric.last_call().op == "transition");
  BOOST_TEST(f.fabric.last_call().body["reason"] == "commissioned");
  auto models = http(f.port(), "POST", "/api/v1/models", f.auth(),
                     R"({"@id": "dtmi:example:Bearing;1"})");
  BOOST_TEST(models.status == 201);
}

BOOST_AUTO_TEST_CASE(list_query_parameters_reach_list_twins) {
  gateway_fixture f;
  auto r = f.get("/api/v1/twins?model=dtmi%3Aexample%3ABearing%3B1&lifecycle=active"
                 "&limit=25&pageToken=bearing+9");
  BOOST_TEST(r.status == 200);
  auto q = f.fabric.last_call().query;
  BOOST_TEST(q.model == "dtmi:example:Bearing;1");
  BOOST_TEST(q.lifecycle == "active");
  BOOST_TEST(q.limit == 25u);
  BOOST_TEST(q.after == "bearing 9");
  BOOST_TEST(f.get("/api/v1/twins").status == 200);
  BOOST_TEST(f.fabric.last_call().query.limit == 100u);
  BOOST_TEST(f.fabric.last_call().query.model.empty());
  for (auto bad : {"limit=0", "limit=1001", "limit=ten", "limit=-1"})
    BOOST_TEST(f.get(std::string("/api/v1/twins?") + bad).status == 400);
}

BOOST_AUTO_TEST_CASE(lineage_audit_and_alert_parameters_reach_the_fabric) {
  gateway_fixture f;
  BOOST_TEST(f.get("/api/v1/twins/p1/lineage?property=speed&at=2026-11-25T12%3A00%3A00Z")
               .status == 200);
  auto c = f.fabric.last_call();
  BOOST_TEST(c.op == "lineage");
  BOOST_TEST(c.property == "speed");
  BOOST_TEST(c.at.value_or("") == "2026-11-25T12:00:00Z");
  BOOST_TEST(f.get("/api/v1/twins/p1/lineage?property=speed").status == 200);
  BOOST_TEST(!f.fabric.last_call().at.has_value());

  BOOST_TEST(f.get("/api/v1/audit?from=5&limit=10").status == 200);
  BOOST_TEST(f.fabric.last_call().op == "list_audit");
  BOOST_TEST(f.fabric.last_call().from == 5u);
  BOOST_TEST(f.fabric.last_call().limit == 10u);
  BOOST_TEST(f.get("/api/v1/alerts").status == 200);
  BOOST_TEST(f.fabric.last_call().op == "list_alerts");
  BOOST_TEST(f.fabric.last_call().from == 0u);
  BOOST_TEST(f.fabric.last_call().limit == 100u);
  BOOST_TEST(f.get("/api/v1/audit/verify").json()["intact"] == true);
  BOOST_TEST(f.get("/api/v1/alerts?from=x").status == 400);
}

BOOST_AUTO_TEST_CASE(the_client_request_id_is_echoed_and_passed_to_the_fabric) {
  gateway_fixture f;
  auto r = http(f.port(), "GET", "/api/v1/twins/p1",
                {{"Authorization", std::string("Bearer ") + admin_token},
                 {"X-Request-Id", "req-42"}});
  BOOST_TEST(r.header("x-request-id") == "req-42");
  BOOST_TEST(f.fabric.last_call().ctx.request_id == "req-42");

  auto gen = f.get("/api/v1/twins/p1");
  auto id = gen.header("x-request-id");
  BOOST_TEST(id.size() == 32u);
  BOOST_TEST(f.fabric.last_call().ctx.request_id == id);
  BOOST_TEST(f.get("/api/v1/twins/p1").header("x-request-id") != id);
  // Errors carry it too.
  BOOST_TEST(http(f.port(), "GET", "/nowhere", {{"X-Request-Id", "req-43"}})
               .header("x-request-id") == "req-43");
}

BOOST_AUTO_TEST_CASE(replies_from_fabric_threads_reach_the_client) {
  gateway_fixture f;
  f.fabric.async_replies = true;
  http_client c(f.port());
  for (int i = 0; i < 20; ++i) {
    auto r = c.request("GET", "/api/v1/twins/t" + std::to_string(i), f.auth());
    BOOST_TEST(r.status == 200);
    BOOST_TEST(r.json()["$id"] == "t" + std::to_string(i));
  }
}

BOOST_AUTO_TEST_CASE(a_keep_alive_connection_answers_pipelined_requests_in_order) {
  gateway_fixture f;
  f.fabric.async_replies = true;
  http_client c(f.port());
  std::string auth = std::string("Authorization: Bearer ") + admin_token + "\r\n";
  c.write_raw("GET /api/v1/twins/a HTTP/1.1\r\nHost: x\r\n" + auth + "\r\n"
              "GET /api/v1/twins/b HTTP/1.1\r\nHost: x\r\n" + auth + "\r\n"
              "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n");
  BOOST_TEST(c.read_reply().json()["$id"] == "a");
  BOOST_TEST(c.read_reply().json()["$id"] == "b");
  BOOST_TEST(c.read_reply().json()["status"] == "ok");
}

BOOST_AUTO_TEST_CASE(an_idle_connection_is_closed_after_the_idle_timeout) {
  gateway::gateway_options o;
  o.idle_timeout = std::chrono::milliseconds(200);
  gateway_fixture f(o);
  http_client c(f.port());
  BOOST_TEST(c.request("GET", "/healthz").status == 200);
  BOOST_TEST(c.closed_by_server(std::chrono::seconds(5)));
}

BOOST_AUTO_TEST_SUITE_END()
