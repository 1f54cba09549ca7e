// The change stream: server-sent events fed by fabric.subscribe().

#include <boost/test/unit_test.hpp>

#include "fake_fabric.hpp"

using namespace twin;
using namespace twin::test;
using namespace std::chrono_literals;

namespace {

json cloud_event(const std::string& id, const std::string& type,
                 const std::string& twin) {
  return {{"specversion", "1.0"},
          {"id", id},
          {"source", "/twins/" + twin},
          {"type", type},
          {"subject", twin},
          {"time", "2026-11-25T12:00:00.000Z"},
          {"datacontenttype", "application/json"},
          {"data", {{"revision", 3}, {"type", "property_updated"},
                    {"changes", {{"speed", 12.5}}}}}};
}

std::string events_request(const std::string& auth_line,
                           const std::string& query = {}) {
  return "GET /api/v1/events" + query + " HTTP/1.1\r\nHost: x\r\n" + auth_line
         + "X-Request-Id: sse-1\r\n\r\n";
}

} // namespace

BOOST_AUTO_TEST_SUITE(gateway_sse)

BOOST_AUTO_TEST_CASE(the_event_stream_frames_each_pushed_cloud_event) {
  gateway_fixture f;
  http_client c(f.port());
  c.write_raw(events_request(std::string("Authorization: Bearer ") + admin_token
                             + "\r\n"));
  auto head = c.read_until("\r\n\r\n", 5s);
  BOOST_TEST(head.rfind("HTTP/1.1 200", 0) == 0);
  BOOST_TEST(head.find("Content-Type: text/event-stream") != std::string::npos);
  BOOST_TEST(head.find("X-Request-Id: sse-1") != std::string::npos);
  BOOST_REQUIRE(f.fabric.wait_subscribers(1, 5s));
  BOOST_TEST(f.fabric.last_call().ctx.who.name == "alice");
  BOOST_TEST(f.fabric.last_call().ctx.request_id == "sse-1");

  auto e1 = cloud_event("bearing-1:3", "twin.property_updated", "bearing-1");
  auto e2 = cloud_event("bearing-1:4", "twin.lifecycle_changed", "bearing-1");
  BOOST_TEST(f.fabric.push(e1) == 1u);
  BOOST_TEST(f.fabric.push(e2) == 1u);
  auto all = c.read_until("id: bearing-1:4\n", 5s);
  auto body = all.substr(all.find("\r\n\r\n") + 4);
  auto expected = "id: bearing-1:3\nevent: twin.property_updated\ndata: " + e1.dump()
                  + "\n\n" + "id: bearing-1:4\nevent: twin.lifecycle_changed\ndata: ";
  BOOST_TEST(body.substr(0, expected.size()) == expected);
  all = c.read_until(e2.dump() + "\n\n", 5s);
  BOOST_TEST(all.find(": keepalive") == std::string::npos);
}

BOOST_AUTO_TEST_CASE(the_event_stream_accepts_an_access_token_query_parameter) {
  gateway_fixture f;
  http_client c(f.port());
  c.write_raw(events_request("", std::string("?access_token=") + viewer_token));
  auto head = c.read_until("\r\n\r\n", 5s);
  BOOST_TEST(head.rfind("HTTP/1.1 200", 0) == 0);
  BOOST_REQUIRE(f.fabric.wait_subscribers(1, 5s));
  BOOST_TEST(f.fabric.last_call().ctx.who.name == "victor");

  auto bad = http(f.port(), "GET", "/api/v1/events?access_token=wrong-token-000000");
  BOOST_TEST(bad.status == 401);
  BOOST_TEST(bad.json()["instance"] == "/api/v1/events");
}

BOOST_AUTO_TEST_CASE(a_refused_subscription_is_answered_with_problem_json) {
  gateway_fixture f;
  f.fabric.subscribe_error = make_error(errc::forbidden, "no read for you");
  auto r = f.get("/api/v1/events");
  BOOST_TEST(r.status == 403);
  BOOST_TEST(r.json()["code"] == "forbidden");
  BOOST_TEST(f.fabric.subscribers() == 0u);
}

BOOST_AUTO_TEST_CASE(a_disconnecting_client_is_unsubscribed) {
  gateway_fixture f;
  {
    http_client c(f.port());
    c.write_raw(events_request(std::string("Authorization: Bearer ") + admin_token
                               + "\r\n"));
    c.read_until("\r\n\r\n", 5s);
    BOOST_REQUIRE(f.fabric.wait_subscribers(1, 5s));
    BOOST_TEST(eventually([&] {
      return f.gw && f.get("/metrics").body.find("sse_clients 1") != std::string::npos;
    }));
  }
  BOOST_TEST(f.fabric.wait_subscribers(0, 5s));
  BOOST_TEST(eventually([&] {
    return f.get("/metrics").body.find("sse_clients 0") != std::string::npos;
  }));
}

BOOST_AUTO_TEST_CASE(a_keepalive_comment_is_sent_when_the_stream_is_quiet) {
  gateway::gateway_options o;
  o.sse_keepalive = 100ms;
  gateway_fixture f(o);
  http_client c(f.port());
  c.write_raw(events_request(std::string("Authorization: Bearer ") + admin_token
                             + "\r\n"));
  auto all = c.read_until(": keepalive\n\n", 5s);
  BOOST_TEST(all.find(": keepalive\n\n") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(a_client_too_slow_for_the_stream_is_dropped_without_blocking_the_fabric) {
  gateway::gateway_options o;
  o.sse_max_queue = 8;
  gateway_fixture f(o);
  http_client c(f.port());
  c.write_raw(events_request(std::string("Authorization: Bearer ") + admin_token
                             + "\r\n"));
  c.read_until("\r\n\r\n", 5s);
  BOOST_REQUIRE(f.fabric.wait_subscribers(1, 5s));
  // The client reads nothing: once the socket buffers are full, the queue
  // overflows and the gateway drops the client. push() must never block.
  auto big = cloud_event("x", "twin.telemetry_received", "bearing-1");
  big["data"]["changes"]["blob"] = std::string(16 * 1024, 'x');
  auto started = std::chrono::steady_clock::now();
  for (int i = 0; i < 20000 && f.fabric.subscribers() > 0; ++i)
    f.fabric.push(big);
  BOOST_TEST((std::chrono::steady_clock::now() - started < 60s));
  BOOST_TEST(f.fabric.wait_subscribers(0, 10s));
  BOOST_TEST(eventually([&] {
    return f.get("/metrics").body.find("sse_dropped_clients_total 1")
           != std::string::npos;
  }));
}

BOOST_AUTO_TEST_CASE(stopping_the_gateway_ends_open_streams_and_their_subscriptions) {
  gateway_fixture f;
  http_client c(f.port());
  c.write_raw(events_request(std::string("Authorization: Bearer ") + admin_token
                             + "\r\n"));
  c.read_until("\r\n\r\n", 5s);
  BOOST_REQUIRE(f.fabric.wait_subscribers(1, 5s));
  auto started = std::chrono::steady_clock::now();
  f.gw->stop();
  BOOST_TEST((std::chrono::steady_clock::now() - started < 5s));
  BOOST_TEST(f.fabric.subscribers() == 0u);
  BOOST_TEST(c.closed_by_server(5s));
  // Events pushed after stop go nowhere, and stop is idempotent.
  BOOST_TEST(f.fabric.push(cloud_event("y", "twin.created", "b")) == 0u);
  f.gw->stop();
}

BOOST_AUTO_TEST_SUITE_END()
