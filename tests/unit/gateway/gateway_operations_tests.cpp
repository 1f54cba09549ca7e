// Health, metrics, the OpenAPI document, the dashboard and start-up errors.

#include <fstream>
#include <regex>
#include <set>
#include <sstream>

#include <boost/test/unit_test.hpp>

#include "fake_fabric.hpp"

using namespace twin;
using namespace twin::test;

BOOST_AUTO_TEST_SUITE(gateway_operations)

BOOST_AUTO_TEST_CASE(healthz_needs_no_token_and_reports_the_fabric_health) {
  gateway_fixture f;
  auto r = http(f.port(), "GET", "/healthz");
  BOOST_TEST(r.status == 200);
  BOOST_TEST(r.json()["status"] == "ok");
  BOOST_TEST(r.json()["twinsActive"] == 3);
  f.fabric.health_doc = {{"status", "degraded"}};
  BOOST_TEST(http(f.port(), "GET", "/healthz").status == 503);
}

BOOST_AUTO_TEST_CASE(metrics_expose_request_counts_by_route_template) {
  gateway_fixture f;
  BOOST_TEST(f.get("/api/v1/twins/p1").status == 200);
  BOOST_TEST(f.get("/api/v1/twins/p2").status == 200);
  BOOST_TEST(http(f.port(), "GET", "/api/v1/twins/p3").status == 401);
  auto r = http(f.port(), "GET", "/metrics");
  BOOST_TEST(r.status == 200);
  BOOST_TEST(r.header("content-type").rfind("text/plain", 0) == 0);
  BOOST_TEST(r.body.find("# TYPE http_requests_total counter") != std::string::npos);
  BOOST_TEST(r.body.find(
               R"(http_requests_total{method="GET",route="/api/v1/twins/{id}",status="2xx"} 2)")
             != std::string::npos);
  BOOST_TEST(r.body.find(
               R"(http_requests_total{method="GET",route="/api/v1/twins/{id}",status="4xx"} 1)")
             != std::string::npos);
  BOOST_TEST(r.body.find("http_request_duration_seconds_bucket") != std::string::npos);
  BOOST_TEST(r.body.find("sse_clients") != std::string::npos);
  // Raw paths never become labels.
  BOOST_TEST(r.body.find("/api/v1/twins/p1") == std::string::npos);
}

BOOST_AUTO_TEST_CASE(the_openapi_document_is_3_0_3_and_describes_every_route_of_the_api_doc) {
  gateway_fixture f;
  auto r = http(f.port(), "GET", "/api/v1/openapi.json");
  BOOST_TEST(r.status == 200);
  BOOST_TEST(r.header("content-type") == "application/json");
  auto doc = r.json();
  BOOST_TEST(doc["openapi"] == "3.0.3");
  BOOST_TEST(doc["components"]["securitySchemes"]["bearerAuth"]["scheme"] == "bearer");
  BOOST_TEST(doc["components"]["schemas"].contains("Problem"));

  // Every "| METHOD | `/path` |" row of docs/api.md, plus the routes of its
  // "Streams and operations" list.
  std::ifstream in(std::string(TWIN_SOURCE_DIR) + "/docs/api.md");
  BOOST_REQUIRE(in);
  std::stringstream text;
  text << in.rdbuf();
  std::set<std::pair<std::string, std::string>> routes = {
    {"get", "/api/v1/events"}, {"get", "/healthz"}, {"get", "/metrics"},
    {"get", "/api/v1/openapi.json"}};
  std::regex row(R"(\|\s*(GET|PUT|PATCH|POST|DELETE)\s*\|\s*`([^`?]+)[^`]*`)");
  auto s = text.str();
  for (std::sregex_iterator it(s.begin(), s.end(), row), end; it != end; ++it) {
    std::string method = (*it)[1];
    for (auto& ch : method)
      ch = static_cast<char>(std::tolower(ch));
    routes.insert({method, "/api/v1" + (*it)[2].str()});
  }
  BOOST_TEST(routes.size() >= 18u);
  for (auto& [method, path] : routes) {
    BOOST_TEST_CONTEXT(method << " " << path) {
      BOOST_TEST(doc["paths"].contains(path));
      if (doc["paths"].contains(path)) {
        auto& op = doc["paths"][path];
        BOOST_TEST(op.contains(method));
        if (op.contains(method))
          BOOST_TEST(op[method].contains("responses"));
      }
    }
  }
}

BOOST_AUTO_TEST_CASE(the_dashboard_is_served_without_a_token) {
  gateway_fixture f;
  auto index = http(f.port(), "GET", "/");
  BOOST_TEST(index.status == 200);
  BOOST_TEST(index.header("content-type").rfind("text/html", 0) == 0);
  BOOST_TEST(index.body.find("/ui/app.js") != std::string::npos);
  auto js = http(f.port(), "GET", "/ui/app.js");
  BOOST_TEST(js.status == 200);
  BOOST_TEST(js.header("content-type").rfind("text/javascript", 0) == 0);
  BOOST_TEST(js.body.find("EventSource") != std::string::npos);
  auto css = http(f.port(), "GET", "/ui/style.css");
  BOOST_TEST(css.status == 200);
  BOOST_TEST(css.header("content-type").rfind("text/css", 0) == 0);
  BOOST_TEST(http(f.port(), "GET", "/ui/").status == 200);
  BOOST_TEST(http(f.port(), "GET", "/ui/missing.js").status == 404);
  BOOST_TEST(http(f.port(), "GET", "/ui/..%2Fgateway.hpp").status == 404);
  BOOST_TEST(http(f.port(), "POST", "/", {}, "x").status == 405);
  // No external URLs in the dashboard.
  for (auto* body : {&index.body, &js.body, &css.body})
    BOOST_TEST(body->find("://") == std::string::npos);
}

BOOST_AUTO_TEST_CASE(the_endpoint_names_the_bound_port) {
  gateway_fixture f;
  BOOST_TEST(f.port() != 0);
  BOOST_TEST(f.gw->endpoint() == "127.0.0.1:" + std::to_string(f.port()));
  BOOST_TEST(!f.gw->tls());
}

BOOST_AUTO_TEST_CASE(starting_on_a_port_in_use_or_with_bad_options_fails_cleanly) {
  gateway_fixture f;
  gateway::gateway_options o;
  o.port = f.port();
  auto busy = gateway::gateway::start(o, f.fabric, f.tokens);
  BOOST_REQUIRE(!busy);
  BOOST_TEST(busy.error().code == errc::unavailable);

  gateway::gateway_options bad;
  bad.port = 0;
  bad.address = "not an address";
  auto addr = gateway::gateway::start(bad, f.fabric, f.tokens);
  BOOST_REQUIRE(!addr);
  BOOST_TEST(addr.error().code == errc::bad_request);

  gateway::gateway_options tls;
  tls.port = 0;
  tls.tls_cert_file = "/nonexistent/cert.pem";
  tls.tls_key_file = "/nonexistent/key.pem";
  auto t = gateway::gateway::start(tls, f.fabric, f.tokens);
  BOOST_REQUIRE(!t);
  BOOST_TEST(t.error().code == errc::bad_request);
}

BOOST_AUTO_TEST_SUITE_END()
