#include <boost/test/unit_test.hpp>

#include <fstream>

#include "fmu_test_support.hpp"
#include "twin/fmu/archive.hpp"

using namespace twin;
using namespace twin::fmu;
namespace fs = std::filesystem;

BOOST_AUTO_TEST_SUITE(archive)

BOOST_AUTO_TEST_CASE(our_fmu_unpacks_into_a_private_directory_removed_afterwards) {
  fs::path root;
  {
    auto d = unpack_archive(fmu_test::fmu_path("thermal", "fmi3"));
    BOOST_TEST_REQUIRE(d.has_value(), d);
    root = d->path();
    BOOST_TEST(fs::is_regular_file(root / "modelDescription.xml"));
    BOOST_TEST(fs::is_regular_file(root / "binaries/x86_64-linux/thermal.so"));
    auto perms = fs::status(root).permissions();
    BOOST_TEST(((perms & fs::perms::others_all) == fs::perms::none));
  }
  BOOST_TEST(!fs::exists(root));
}

BOOST_AUTO_TEST_CASE(path_traversal_and_absolute_names_are_refused) {
  fmu_test::scratch s;
  for (const std::string bad : {"../evil.txt", "a/../../evil.txt", "/tmp/evil.txt", "a\\..\\b"}) {
    auto zip = s.path / "bad.fmu";
    fmu_test::write_zip(zip, {{"modelDescription.xml", "<x/>"}, {bad, "pwned"}});
    auto d = unpack_archive(zip);
    BOOST_TEST_REQUIRE(!d.has_value(), bad);
    BOOST_TEST((d.error().code == errc::bad_request));
    BOOST_TEST(d.error().message.find("unsafe entry name") != std::string::npos, d);
  }
  BOOST_TEST(!fs::exists(s.path.parent_path() / "evil.txt"));
}

BOOST_AUTO_TEST_CASE(symlink_entries_are_refused) {
  fmu_test::scratch s;
  auto path = s.path / "link.fmu";
  fmu_test::write_zip(path, {{"modelDescription.xml", "<x/>"}, {"binaries", "/etc"}});
  int err = 0;
  zip_t* z = zip_open(path.c_str(), 0, &err);
  BOOST_TEST_REQUIRE(z != nullptr);
  zip_int64_t i = zip_name_locate(z, "binaries", 0);
  BOOST_TEST_REQUIRE(i >= 0);
  BOOST_TEST_REQUIRE(zip_file_set_external_attributes(z, static_cast<zip_uint64_t>(i), 0,
                                                      ZIP_OPSYS_UNIX, (0120777u << 16)) == 0);
  BOOST_TEST_REQUIRE(zip_close(z) == 0);
  auto d = unpack_archive(path);
  BOOST_TEST_REQUIRE(!d.has_value());
  BOOST_TEST(d.error().message.find("symbolic link") != std::string::npos, d);
}

BOOST_AUTO_TEST_CASE(size_limits_are_enforced_while_reading) {
  fmu_test::scratch s;
  auto zip = s.path / "big.fmu";
  fmu_test::write_zip(zip, {{"a.bin", std::string(10'000, 'a')}, {"b.bin", std::string(10'000, 'b')}});
  unpack_limits one;
  one.max_entry_bytes = 5'000;
  auto d = unpack_archive(zip, one);
  BOOST_TEST_REQUIRE(!d.has_value());
  BOOST_TEST(d.error().message.find("limit") != std::string::npos, d);
  unpack_limits total;
  total.max_total_bytes = 15'000;
  d = unpack_archive(zip, total);
  BOOST_TEST_REQUIRE(!d.has_value());
  BOOST_TEST(d.error().message.find("limit") != std::string::npos, d);
  unpack_limits few;
  few.max_entries = 1;
  d = unpack_archive(zip, few);
  BOOST_TEST_REQUIRE(!d.has_value());
  BOOST_TEST(d.error().message.find("too many entries") != std::string::npos, d);
  BOOST_TEST(unpack_archive(zip).has_value());
}

BOOST_AUTO_TEST_CASE(missing_and_non_zip_files_are_clear_errors) {
  fmu_test::scratch s;
  auto d = unpack_archive(s.path / "nope.fmu");
  BOOST_TEST_REQUIRE(!d.has_value());
  BOOST_TEST((d.error().code == errc::not_found));
  std::ofstream{s.path / "text.fmu"} << "not a zip";
  d = unpack_archive(s.path / "text.fmu");
  BOOST_TEST_REQUIRE(!d.has_value());
  BOOST_TEST((d.error().code == errc::bad_request));
  BOOST_TEST(d.error().message.find("not a valid FMU archive") != std::string::npos, d);
}

BOOST_AUTO_TEST_CASE(one_entry_reads_without_unpacking) {
  auto xml = read_archive_entry(fmu_test::fmu_path("pid", "fmi2"), "modelDescription.xml");
  BOOST_TEST_REQUIRE(xml.has_value(), xml);
  BOOST_TEST(xml->find("fmiVersion=\"2.0\"") != std::string::npos);
  auto none = read_archive_entry(fmu_test::fmu_path("pid", "fmi2"), "nope.xml");
  BOOST_TEST_REQUIRE(!none.has_value());
  BOOST_TEST((none.error().code == errc::not_found));
}

BOOST_AUTO_TEST_SUITE_END()
