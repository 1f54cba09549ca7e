// The cluster's wire records and routing table (pure).

#include <boost/test/unit_test.hpp>

#include "twin/cluster/records.hpp"

using namespace twin;
using namespace twin::cluster;

BOOST_AUTO_TEST_SUITE(records)

BOOST_AUTO_TEST_CASE(ingest_record_round_trip) {
  ingest_record r;
  r.twin = "pump-7";
  r.principal = "alice";
  r.request_id = "req-1";
  r.via = "node-a";
  r.data.values = json{{"flow", 12.5}, {"on", true}};
  r.data.source_time_ms = 1700000000123;
  r.data.source = "spBv1.0/G/E/D";
  r.data.pipeline_version = "tagmap/1";
  r.data.origin = json{{"seq", 4}};
  r.data.sequence = 99;
  auto back = decode_ingest(encode(r));
  BOOST_REQUIRE(back);
  BOOST_TEST(back->kind == "data");
  BOOST_TEST(back->twin == "pump-7");
  BOOST_TEST(back->principal == "alice");
  BOOST_TEST(back->via == "node-a");
  BOOST_TEST(back->data.values == r.data.values);
  BOOST_TEST(*back->data.source_time_ms == 1700000000123);
  BOOST_TEST(back->data.source == "spBv1.0/G/E/D");
  BOOST_TEST(back->data.pipeline_version == "tagmap/1");
  BOOST_TEST(back->data.origin == r.data.origin);
  BOOST_REQUIRE(back->data.sequence);
  BOOST_TEST(*back->data.sequence == 99);
  BOOST_TEST(!back->data.bus_offset); // set by the consumer, never carried
}

BOOST_AUTO_TEST_CASE(connectivity_record_round_trip) {
  ingest_record r;
  r.kind = "connectivity";
  r.twin = "t1";
  r.link.online = false;
  r.link.reason = "NDEATH";
  r.link.source = "host";
  auto back = decode_ingest(encode(r));
  BOOST_REQUIRE(back);
  BOOST_TEST(back->kind == "connectivity");
  BOOST_TEST(!back->link.online);
  BOOST_TEST(back->link.reason == "NDEATH");
  BOOST_TEST(!back->link.source_time_ms);
}

BOOST_AUTO_TEST_CASE(bad_ingest_records_are_named) {
  auto a = decode_ingest("not json");
  BOOST_REQUIRE(!a);
  BOOST_TEST(a.error().message.find("not a JSON object") != std::string::npos);
  auto b = decode_ingest(R"({"kind":"data"})");
  BOOST_REQUIRE(!b);
  auto c = decode_ingest(R"({"kind":"weird","twin":"x"})");
  BOOST_REQUIRE(!c);
  BOOST_TEST(c.error().message.find("unknown kind 'weird'") != std::string::npos);
  auto d = decode_ingest(R"({"kind":"data","twin":""})");
  BOOST_REQUIRE(!d);
}

BOOST_AUTO_TEST_CASE(changelog_record_keeps_bytes_exactly) {
  persistence::twin_write w;
  w.twin_id = "t-9";
  std::string binary("\x00\x01\xff\x80 cbor", 9);
  w.events = {{7, binary}, {8, "second"}};
  w.snapshot.emplace(8, std::string("\x02\x00snap", 6));
  w.index_entry = R"({"model":"dtmi:x;1","lifecycle":"active"})";
  w.samples.push_back({"temp", 1000, 21.5});
  w.samples.push_back({"mode", 1001, std::string{"auto"}});
  auto back = decode_changelog(encode(w, "node-b"));
  BOOST_REQUIRE(back);
  BOOST_TEST(back->node == "node-b");
  BOOST_TEST(back->write.twin_id == "t-9");
  BOOST_REQUIRE(back->write.events.size() == 2u);
  BOOST_TEST(back->write.events[0].first == 7u);
  BOOST_TEST(back->write.events[0].second == binary);
  BOOST_TEST(back->write.events[1].second == "second");
  BOOST_REQUIRE(back->write.snapshot);
  BOOST_TEST(back->write.snapshot->first == 8u);
  BOOST_TEST(back->write.snapshot->second == w.snapshot->second);
  BOOST_TEST(*back->write.index_entry == *w.index_entry);
  BOOST_REQUIRE(back->write.samples.size() == 2u);
  BOOST_TEST(std::get<double>(back->write.samples[0].value) == 21.5);
  BOOST_TEST(std::get<std::string>(back->write.samples[1].value) == "auto");
  BOOST_TEST(back->write.samples[1].time_ms == 1001);
}

BOOST_AUTO_TEST_CASE(changelog_rejects_garbage_and_gaps) {
  BOOST_TEST(!decode_changelog("garbage"));
  persistence::twin_write w;
  w.twin_id = "t";
  w.events = {{1, "a"}, {3, "c"}};
  auto r = decode_changelog(encode(w, "n"));
  BOOST_REQUIRE(!r);
  BOOST_TEST(r.error().message.find("contiguous") != std::string::npos);
}

announcement make(const std::string& node, std::vector<std::uint32_t> shards,
                  std::int64_t time = 1, std::int64_t started = 1) {
  announcement a;
  a.node = node;
  a.endpoint = "127.0.0.1:7000";
  a.shards = std::move(shards);
  a.time_ms = time;
  a.started_ms = started;
  a.certificate = "PEM";
  return a;
}

BOOST_AUTO_TEST_CASE(announcement_round_trip_and_signed_bytes) {
  auto a = make("node-a", {0, 2, 5});
  a.restoring[3] = shard_progress{10, 20, 5, false};
  a.lag[0] = 12;
  a.http = "http://127.0.0.1:8080";
  auto text = encode(a, "c2ln");
  auto r = decode_cluster(text);
  BOOST_REQUIRE_MESSAGE(r, r);
  BOOST_REQUIRE(r->announce);
  auto& b = r->announce->a;
  BOOST_TEST(r->announce->signature_b64 == "c2ln");
  BOOST_TEST(b.node == "node-a");
  BOOST_TEST(b.shards == a.shards);
  BOOST_TEST(b.restoring.at(3).total == 20u);
  BOOST_TEST(b.lag.at(0) == 12);
  // The receiver rebuilds exactly the bytes the sender signed.
  BOOST_TEST(signed_bytes(b) == signed_bytes(a));
  // Any change to a field changes them.
  b.shards.push_back(9);
  BOOST_TEST(signed_bytes(b) != signed_bytes(a));
}

BOOST_AUTO_TEST_CASE(models_record) {
  auto r = decode_cluster(encode_models("node-c", json::array({json{{"@id", "dtmi:a;1"}}})));
  BOOST_REQUIRE(r);
  BOOST_TEST(r->kind == "models");
  BOOST_TEST(r->models["node"] == "node-c");
  BOOST_TEST(r->models["documents"].size() == 1u);
  BOOST_TEST(!decode_cluster(R"({"kind":"nope"})"));
}

BOOST_AUTO_TEST_CASE(routing_owner_liveness_and_handover) {
  routing_table t{4000};
  t.apply(make("a", {0, 1}, 10), 1000);
  t.apply(make("b", {2}, 10), 1000);
  BOOST_TEST(*t.owner(0, 1500) == "a");
  BOOST_TEST(*t.owner(2, 1500) == "b");
  BOOST_TEST(!t.owner(3, 1500));
  // b goes silent: after the timeout its shards have no owner.
  BOOST_TEST(!t.owner(2, 5001));
  BOOST_TEST(!t.alive("b", 5001));
  // a takes shard 2 over; during the overlap the newer claim wins.
  t.apply(make("b", {2}, 11), 4000);
  t.apply(make("a", {0, 1, 2}, 12), 4500);
  BOOST_TEST(*t.owner(2, 4600) == "a");
  // An older announcement of the same incarnation does not roll back.
  t.apply(make("a", {0}, 5), 4700);
  BOOST_TEST(*t.owner(2, 4800) == "a");
  // A restart (new incarnation) replaces whatever was known.
  t.apply(make("a", {7}, 1, 2), 4900);
  BOOST_TEST(!t.owner(0, 5000).has_value());
  BOOST_TEST(*t.owner(7, 5000) == "a");
  // A leaving node is not alive.
  auto leave = make("a", {}, 2, 2);
  leave.leaving = true;
  t.apply(leave, 5100);
  BOOST_TEST(!t.alive("a", 5100));
  auto alive = t.alive_nodes(5100);
  BOOST_TEST(alive.size() == 1u); // b (seen at 4000)
}

BOOST_AUTO_TEST_SUITE_END()
