#include "store_fixture.hpp"

#include "twin/security/audit_chain.hpp"

using namespace twin;
using namespace twin::persistence;
using namespace twin::persistence::test;

namespace {

void append_audit(store& s, int n, const std::string& prefix) {
  write_request req;
  for (int i = 0; i < n; ++i)
    req.audit.push_back(audit_record("update", prefix + std::to_string(i)));
  require_ok(s.write(std::move(req)));
}

// Five records, store closed afterwards.
void five_records(const std::string& path) {
  auto s = open_store(path);
  append_audit(*s, 5, "pump-");
}

audit_verdict verify(const std::string& path) {
  auto s = open_store(path);
  auto v = s->verify_audit();
  BOOST_REQUIRE_MESSAGE(v, (v ? std::string{} : v.error().describe()));
  return *v;
}

} // namespace

BOOST_AUTO_TEST_SUITE(store_audit)

BOOST_AUTO_TEST_CASE(an_empty_audit_log_verifies_intact) {
  temp_dir dir;
  auto v = verify(dir.path);
  BOOST_TEST(v.intact);
  BOOST_TEST(v.records == 0u);
}

BOOST_AUTO_TEST_CASE(audit_records_get_seq_prev_hash_and_hash_in_submission_order) {
  temp_dir dir;
  auto s = open_store(dir.path);
  append_audit(*s, 3, "a-");
  auto recs = s->list_audit(1, 100);
  BOOST_REQUIRE(recs);
  BOOST_REQUIRE(recs->size() == 3u);
  std::string prev = security::genesis_hash;
  for (std::size_t i = 0; i < 3; ++i) {
    const auto& r = (*recs)[i];
    BOOST_TEST(r["seq"].get<std::uint64_t>() == i + 1);
    BOOST_TEST(r["target"] == "a-" + std::to_string(i));
    BOOST_TEST(r["prevHash"] == prev);
    BOOST_TEST(r["hash"] == security::audit_hash(r));
    prev = r["hash"].get<std::string>();
  }
  auto page = s->list_audit(2, 1);
  BOOST_REQUIRE(page);
  BOOST_REQUIRE(page->size() == 1u);
  BOOST_TEST((*page)[0]["seq"] == 2);
}

BOOST_AUTO_TEST_CASE(the_audit_chain_continues_across_a_reopen) {
  temp_dir dir;
  std::string last_hash;
  {
    auto s = open_store(dir.path);
    append_audit(*s, 3, "before-");
    last_hash = (*s->list_audit(3, 1))[0]["hash"].get<std::string>();
  }
  auto s = open_store(dir.path);
  append_audit(*s, 2, "after-");
  auto recs = s->list_audit(4, 10);
  BOOST_REQUIRE(recs);
  BOOST_REQUIRE(recs->size() == 2u);
  BOOST_TEST((*recs)[0]["seq"] == 4);
  BOOST_TEST((*recs)[0]["prevHash"] == last_hash);
  BOOST_TEST((*recs)[1]["seq"] == 5);
  auto v = s->verify_audit();
  BOOST_REQUIRE(v);
  BOOST_TEST(v->intact);
  BOOST_TEST(v->records == 5u);
  BOOST_TEST(v->first_bad_seq == 0u);
}

BOOST_AUTO_TEST_CASE(verify_names_a_record_whose_content_was_changed) {
  temp_dir dir;
  five_records(dir.path);
  {
    raw_db raw{dir.path};
    auto rec = nlohmann::json::parse(raw.get("audit", be64(3)));
    rec["principal"] = "mallory"; // the stored hash no longer matches
    raw.put("audit", be64(3), rec.dump());
  }
  auto v = verify(dir.path);
  BOOST_TEST(!v.intact);
  BOOST_TEST(v.first_bad_seq == 3u);
  BOOST_TEST(v.records == 3u);
  BOOST_TEST(v.reason.find("hash mismatch") != std::string::npos, v.reason);
}

BOOST_AUTO_TEST_CASE(verify_names_a_record_rehashed_after_a_change_by_its_broken_successor) {
  temp_dir dir;
  five_records(dir.path);
  {
    raw_db raw{dir.path};
    auto rec = nlohmann::json::parse(raw.get("audit", be64(2)));
    rec["action"] = "nothing to see";
    rec["hash"] = security::audit_hash(rec); // a careful forger
    raw.put("audit", be64(2), rec.dump());
  }
  auto v = verify(dir.path);
  BOOST_TEST(!v.intact);
  BOOST_TEST(v.first_bad_seq == 3u);
  BOOST_TEST(v.reason == "prevHash does not link to record 2");
}

BOOST_AUTO_TEST_CASE(verify_names_a_record_whose_bytes_do_not_parse) {
  temp_dir dir;
  five_records(dir.path);
  {
    raw_db raw{dir.path};
    auto bytes = raw.get("audit", be64(4));
    bytes[0] = 'X';
    raw.put("audit", be64(4), bytes);
  }
  auto v = verify(dir.path);
  BOOST_TEST(!v.intact);
  BOOST_TEST(v.first_bad_seq == 4u);
  BOOST_TEST(v.reason == "not valid JSON");
}

BOOST_AUTO_TEST_CASE(verify_names_a_deleted_record_as_missing) {
  temp_dir dir;
  five_records(dir.path);
  {
    raw_db raw{dir.path};
    auto s = raw.db->Delete(rocksdb::WriteOptions{}, raw.cf("audit"), be64(2));
    BOOST_REQUIRE(s.ok());
  }
  auto v = verify(dir.path);
  BOOST_TEST(!v.intact);
  BOOST_TEST(v.first_bad_seq == 2u);
  BOOST_TEST(v.reason.find("missing") != std::string::npos, v.reason);
}

BOOST_AUTO_TEST_CASE(a_store_whose_newest_audit_record_is_damaged_still_opens_to_report_it) {
  temp_dir dir;
  five_records(dir.path);
  raw_db{dir.path}.put("audit", be64(5), "garbage");
  auto s = open_store(dir.path);
  auto v = s->verify_audit();
  BOOST_REQUIRE(v);
  BOOST_TEST(!v->intact);
  BOOST_TEST(v->first_bad_seq == 5u);
  auto listed = s->list_audit(1, 10);
  BOOST_REQUIRE(!listed);
  BOOST_TEST(listed.error().code == errc::corruption);
}

BOOST_AUTO_TEST_SUITE_END()
