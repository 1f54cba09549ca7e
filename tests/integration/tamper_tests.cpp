// The audit log is tamper-evident: changing one byte of a stored record (in
// RocksDB, behind the node's back) makes `twinctl audit verify` fail and
// name that record.
#define BOOST_TEST_MODULE tamper_tests
#include <boost/test/unit_test.hpp>

#include <rocksdb/db.h>
#include <rocksdb/options.h>

#include "fixture.hpp"

using namespace twin::test;
using nlohmann::json;

namespace {

std::string be64(std::uint64_t v) {
  std::string out(8, '\0');
  for (int i = 7; i >= 0; --i) {
    out[static_cast<std::size_t>(i)] = static_cast<char>(v & 0xff);
    v >>= 8;
  }
  return out;
}

/// Opens DATA_DIR/db with all its column families, applies `fn` to the
/// "audit" family, and closes it.
void with_audit_family(const fs::path& db_path,
                       const std::function<void(rocksdb::DB&, rocksdb::ColumnFamilyHandle&)>& fn) {
  rocksdb::Options options;
  options.create_if_missing = false;
  std::vector<std::string> names;
  auto s = rocksdb::DB::ListColumnFamilies(options, db_path.string(), &names);
  BOOST_REQUIRE_MESSAGE(s.ok(), "ListColumnFamilies: " << s.ToString());
  // The node's store opens these; a database without them is not its.
  for (const char* expected :
       {"default", "journal", "snapshots", "twins", "models", "audit", "alerts", "meta"})
    BOOST_TEST((std::find(names.begin(), names.end(), expected) != names.end()),
               "column family " << expected << " missing");
  std::vector<rocksdb::ColumnFamilyDescriptor> descriptors;
  for (const auto& n : names)
    descriptors.emplace_back(n, rocksdb::ColumnFamilyOptions{});
  std::vector<rocksdb::ColumnFamilyHandle*> handles;
  rocksdb::DB* raw = nullptr;
  s = rocksdb::DB::Open(options, db_path.string(), descriptors, &handles, &raw);
  BOOST_REQUIRE_MESSAGE(s.ok(), "open " << db_path << ": " << s.ToString());
  std::unique_ptr<rocksdb::DB> db{raw};
  rocksdb::ColumnFamilyHandle* audit = nullptr;
  for (auto* h : handles)
    if (h->GetName() == "audit")
      audit = h;
  BOOST_REQUIRE(audit);
  fn(*db, *audit);
  for (auto* h : handles)
    BOOST_TEST(db->DestroyColumnFamilyHandle(h).ok());
  BOOST_TEST(db->Close().ok());
}

} // namespace

BOOST_FIXTURE_TEST_CASE(changing_a_stored_audit_record_breaks_verification_at_that_record,
                        node_fixture) {
  // Audited actions: a model upload and lifecycle changes.
  upload_bearing();
  create_twin("t1");
  transition("t1", "active", "commissioned");
  transition("t1", "passive", "maintenance");
  transition("t1", "active", "back in service");

  auto audit = admin().get("/api/v1/audit");
  BOOST_REQUIRE_EQUAL(audit.status, 200);
  BOOST_REQUIRE_MESSAGE(audit.body.at("items").size() >= 3u, audit.raw.body);

  auto intact = run_twinctl({"--server", url(), "--token", tok.admin, "audit", "verify"});
  BOOST_TEST(intact.exit_code == 0, intact.out << intact.err);
  BOOST_TEST(intact.out.find("audit chain intact") != std::string::npos, intact.out);

  BOOST_REQUIRE_EQUAL(node->terminate(), 0);

  std::string original, changed;
  with_audit_family(data_dir / "db", [&](rocksdb::DB& db, rocksdb::ColumnFamilyHandle& cf) {
    auto s = db.Get(rocksdb::ReadOptions{}, &cf, be64(2), &original);
    BOOST_REQUIRE_MESSAGE(s.ok(), "audit record 2: " << s.ToString());
    // Change one character of the record's "action" value, nothing else.
    auto key = original.find("\"action\"");
    BOOST_REQUIRE_MESSAGE(key != std::string::npos, "no action in record 2: " << original);
    auto quote = original.find('"', original.find(':', key + 8) + 1);
    BOOST_REQUIRE(quote != std::string::npos && quote + 1 < original.size());
    changed = original;
    char& c = changed[quote + 1];
    c = c == 'x' ? 'y' : 'x';
    BOOST_REQUIRE(db.Put(rocksdb::WriteOptions{}, &cf, be64(2), changed).ok());
  });
  BOOST_TEST_MESSAGE("record 2 was: " << original << "\nnow: " << changed);

  start();
  auto broken = run_twinctl({"--server", url(), "--token", tok.admin, "audit", "verify"});
  BOOST_TEST(broken.exit_code == 1, broken.out << broken.err);
  BOOST_TEST(broken.out.find("audit chain BROKEN at record 2:") != std::string::npos,
             broken.out << broken.err);

  auto v = admin().get("/api/v1/audit/verify");
  BOOST_TEST(v.status == 200);
  BOOST_TEST(v.body.value("intact", true) == false);
  BOOST_TEST(v.body.value("firstBadSeq", 0) == 2);
}
