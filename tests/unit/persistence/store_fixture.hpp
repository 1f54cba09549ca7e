#pragma once
// Shared helpers of the store tests: a fresh RocksDB directory per test and
// raw access to the database for tampering.

#include <boost/test/unit_test.hpp>

#include <cstdlib>
#include <filesystem>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include <rocksdb/db.h>

#include "twin/persistence/store.hpp"

namespace twin::persistence::test {

/// A fresh directory under /tmp, removed with everything in it at scope end.
struct temp_dir {
  std::string path;
  temp_dir() {
    char tmpl[] = "/tmp/twin-store-test-XXXXXX";
    if (mkdtemp(tmpl) == nullptr)
      throw std::runtime_error("mkdtemp failed");
    path = tmpl;
  }
  ~temp_dir() {
    std::error_code ec;
    std::filesystem::remove_all(path, ec);
  }
  temp_dir(const temp_dir&) = delete;
  temp_dir& operator=(const temp_dir&) = delete;
};

/// Opens a store on `dir` or fails the test.
inline std::unique_ptr<store> open_store(const std::string& dir, bool sync = true) {
  store_options opts;
  opts.path = dir;
  opts.sync = sync;
  auto s = store::open(std::move(opts));
  BOOST_REQUIRE_MESSAGE(s, (s ? std::string{} : s.error().describe()));
  return std::move(s).value();
}

inline void require_ok(const status& s) {
  BOOST_REQUIRE_MESSAGE(s, (s ? std::string{} : s.error().describe()));
}

inline std::string be64(std::uint64_t v) {
  std::string out(8, '\0');
  for (int i = 7; i >= 0; --i) {
    out[i] = static_cast<char>(v & 0xff);
    v >>= 8;
  }
  return out;
}

/// The raw database with every column family, for tests that tamper with
/// the bytes behind the store's back (the store must be closed).
struct raw_db {
  std::unique_ptr<rocksdb::DB> db;
  std::vector<rocksdb::ColumnFamilyHandle*> handles;
  std::vector<std::string> names;

  explicit raw_db(const std::string& path) {
    rocksdb::DBOptions opts;
    BOOST_REQUIRE(rocksdb::DB::ListColumnFamilies(opts, path, &names).ok());
    std::vector<rocksdb::ColumnFamilyDescriptor> descs;
    for (auto& n : names)
      descs.emplace_back(n, rocksdb::ColumnFamilyOptions{});
    rocksdb::DB* raw = nullptr;
    auto s = rocksdb::DB::Open(opts, path, descs, &handles, &raw);
    BOOST_REQUIRE_MESSAGE(s.ok(), s.ToString());
    db.reset(raw);
  }
  ~raw_db() {
    for (auto* h : handles) {
      auto s = db->DestroyColumnFamilyHandle(h);
      (void) s;
    }
    auto s = db->Close();
    (void) s;
  }
  rocksdb::ColumnFamilyHandle* cf(const std::string& name) {
    for (std::size_t i = 0; i < names.size(); ++i)
      if (names[i] == name)
        return handles[i];
    BOOST_FAIL("no column family " + name);
    return nullptr;
  }
  void put(const std::string& cf_name, const std::string& key, const std::string& value) {
    auto s = db->Put(rocksdb::WriteOptions{}, cf(cf_name), key, value);
    BOOST_REQUIRE_MESSAGE(s.ok(), s.ToString());
  }
  std::string get(const std::string& cf_name, const std::string& key) {
    std::string v;
    auto s = db->Get(rocksdb::ReadOptions{}, cf(cf_name), key, &v);
    BOOST_REQUIRE_MESSAGE(s.ok(), s.ToString());
    return v;
  }
};

/// A request with one event for `twin` at `revision`.
inline write_request event_request(const std::string& twin, std::uint64_t revision,
                                   std::string bytes) {
  write_request req;
  twin_write tw;
  tw.twin_id = twin;
  tw.events.emplace_back(revision, std::move(bytes));
  req.twins.push_back(std::move(tw));
  return req;
}

inline nlohmann::json audit_record(const std::string& action, const std::string& target) {
  return {{"time", "2024-05-01T03:14:00Z"}, {"principal", "alice"},
          {"action", action}, {"target", target}, {"detail", nullptr},
          {"requestId", "r-1"}};
}

} // namespace twin::persistence::test
