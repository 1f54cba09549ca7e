#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "model_test_util.hpp"
#include "twin/model/registry.hpp"

using namespace model_test;
namespace fs = std::filesystem;

namespace {

std::vector<document> docs_of(std::initializer_list<json> js) {
  std::vector<document> out;
  int i = 0;
  for (const auto& j : js)
    out.push_back(document{"request[" + std::to_string(i++) + "]", j});
  return out;
}

struct temp_dir {
  fs::path path;
  temp_dir() {
    path = fs::temp_directory_path()
           / ("twin-model-test-" + std::to_string(::getpid()) + "-"
              + std::to_string(std::chrono::steady_clock::now().time_since_epoch().count()));
    fs::create_directories(path);
  }
  ~temp_dir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
  void write(const std::string& rel, const std::string& text) const {
    fs::create_directories((path / rel).parent_path());
    std::ofstream(path / rel) << text;
  }
};

} // namespace

BOOST_AUTO_TEST_SUITE(model_registry)

BOOST_AUTO_TEST_CASE(add_registers_a_valid_set_and_find_returns_it) {
  registry reg;
  auto r = reg.add(docs_of({itf(json::array({prop("a")}), "dtmi:test:A;1")}));
  BOOST_REQUIRE(r.has_value());
  BOOST_TEST(r->size() == 1u);
  BOOST_TEST(reg.find(dtmi{"dtmi:test:A;1"}));
  BOOST_TEST(!reg.find(dtmi{"dtmi:test:B;1"}));
  BOOST_TEST(reg.list().size() == 1u);
}

BOOST_AUTO_TEST_CASE(adding_an_existing_dtmi_is_refused_with_rule_model_immutable) {
  registry reg;
  BOOST_REQUIRE(reg.add(docs_of({itf(json::array(), "dtmi:test:A;1")})).has_value());
  std::vector<document_verdict> verdicts;
  auto r = reg.add(docs_of({itf(json::array({prop("x")}), "dtmi:test:A;1")}), &verdicts);
  BOOST_REQUIRE(!r.has_value());
  BOOST_TEST((r.error().code == twin::errc::already_exists));
  BOOST_TEST(r.error().rule == "model-immutable");
  BOOST_TEST(verdicts.size() == 1u);
  BOOST_TEST(!verdicts[0].valid());
  BOOST_TEST(reg.find(dtmi{"dtmi:test:A;1"})->contents.empty());
}

BOOST_AUTO_TEST_CASE(nothing_is_registered_when_one_document_is_invalid) {
  registry reg;
  std::vector<document_verdict> verdicts;
  auto r = reg.add(docs_of({itf(json::array(), "dtmi:test:Good;1"),
                            itf(json::array({prop("9bad")}), "dtmi:test:Bad;1")}),
                   &verdicts);
  BOOST_REQUIRE(!r.has_value());
  BOOST_TEST((r.error().code == twin::errc::model_violation));
  BOOST_TEST(r.error().rule == "name-pattern");
  BOOST_TEST(verdicts[0].valid());
  BOOST_TEST(!verdicts[1].valid());
  BOOST_TEST(reg.list().empty());
}

BOOST_AUTO_TEST_CASE(a_later_set_can_extend_a_registered_model) {
  registry reg;
  BOOST_REQUIRE(reg.add(docs_of({itf(json::array({prop("a")}), "dtmi:test:Base;1")})).has_value());
  json d = itf(json::array({prop("b")}), "dtmi:test:D;1");
  d["extends"] = "dtmi:test:Base;1";
  auto r = reg.add(docs_of({d}));
  BOOST_REQUIRE(r.has_value());
  BOOST_TEST(reg.find(dtmi{"dtmi:test:D;1"})->find("a"));
}

BOOST_AUTO_TEST_CASE(remove_refuses_models_in_use_or_referenced) {
  registry reg;
  json d = itf(json::array({{{"@type", "Component"}, {"name", "c"}, {"schema", "dtmi:test:Base;1"}}}),
               "dtmi:test:D;1");
  BOOST_REQUIRE(reg.add(docs_of({itf(json::array({prop("a")}), "dtmi:test:Base;1"), d})).has_value());
  auto none = [](const dtmi&) { return false; };
  auto used = reg.remove(dtmi{"dtmi:test:D;1"}, [](const dtmi&) { return true; });
  BOOST_REQUIRE(!used);
  BOOST_TEST((used.error().code == twin::errc::model_in_use));
  auto referenced = reg.remove(dtmi{"dtmi:test:Base;1"}, none);
  BOOST_REQUIRE(!referenced);
  BOOST_TEST((referenced.error().code == twin::errc::model_in_use));
  auto missing = reg.remove(dtmi{"dtmi:test:Nope;1"}, none);
  BOOST_REQUIRE(!missing);
  BOOST_TEST((missing.error().code == twin::errc::not_found));
  BOOST_TEST(static_cast<bool>(reg.remove(dtmi{"dtmi:test:D;1"}, none)));
  BOOST_TEST(static_cast<bool>(reg.remove(dtmi{"dtmi:test:Base;1"}, none)));
  BOOST_TEST(reg.list().empty());
}

BOOST_AUTO_TEST_CASE(concurrent_adds_and_reads_register_each_model_once) {
  registry reg;
  std::atomic<int> added{0}, refused{0};
  std::vector<std::thread> ts;
  for (int t = 0; t < 4; ++t)
    ts.emplace_back([&, t] {
      for (int i = 0; i < 50; ++i) {
        auto id = "dtmi:test:M" + std::to_string(i) + ";1";
        auto r = reg.add(docs_of({itf(json::array({prop("p" + std::to_string(t))}), id)}));
        (r.has_value() ? added : refused)++;
        (void) reg.find(dtmi{id});
        (void) reg.list();
      }
    });
  for (auto& t : ts)
    t.join();
  BOOST_TEST(added.load() == 50);
  BOOST_TEST(refused.load() == 150);
  BOOST_TEST(reg.list().size() == 50u);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(validate_paths_cli)

BOOST_AUTO_TEST_CASE(directory_of_valid_models_prints_valid_lines_and_exits_0) {
  temp_dir d;
  d.write("a/base.json", itf(json::array({prop("a")}), "dtmi:test:Base;1").dump());
  json derived = itf(json::array({prop("b")}), "dtmi:test:D;1");
  derived["extends"] = "dtmi:test:Base;1";
  d.write("b/c/derived.json", derived.dump());
  d.write("notes.txt", "not a model");
  std::ostringstream out;
  BOOST_TEST(validate_paths({d.path.string()}, out) == 0);
  auto s = out.str();
  BOOST_TEST(s.find("VALID " + (d.path / "a/base.json").string() + "\n") != std::string::npos, s);
  BOOST_TEST(s.find("VALID " + (d.path / "b/c/derived.json").string() + "\n") != std::string::npos, s);
  BOOST_TEST(s.find("notes.txt") == std::string::npos);
}

BOOST_AUTO_TEST_CASE(invalid_model_prints_rule_and_pointer_and_exits_1) {
  temp_dir d;
  d.write("ok.json", itf(json::array(), "dtmi:test:Ok;1").dump());
  d.write("bad.json", itf(json::array({prop("x"), prop("x")}), "dtmi:test:Bad;1").dump());
  std::ostringstream out;
  BOOST_TEST(validate_paths({(d.path / "ok.json").string(), (d.path / "bad.json").string()}, out) == 1);
  auto s = out.str();
  BOOST_TEST(s.find("INVALID " + (d.path / "bad.json").string()
                    + ": duplicate-name at /contents/1/name: ") != std::string::npos, s);
  BOOST_TEST(s.find("VALID " + (d.path / "ok.json").string()) != std::string::npos, s);
}

BOOST_AUTO_TEST_CASE(json_syntax_error_or_missing_path_exits_2) {
  temp_dir d;
  d.write("broken.json", "{\"@id\": ");
  std::ostringstream out;
  BOOST_TEST(validate_paths({d.path.string()}, out) == 2);
  BOOST_TEST(out.str().rfind("INVALID " + (d.path / "broken.json").string() + ": json-syntax", 0) == 0,
             out.str());
  std::ostringstream out2;
  BOOST_TEST(validate_paths({(d.path / "absent.json").string()}, out2) == 2);
}

BOOST_AUTO_TEST_CASE(two_thousand_files_validate_together_in_well_under_a_second) {
  temp_dir d;
  for (int i = 0; i < 2000; ++i) {
    // Groups of ten: a head extending M0, nine members extending the head.
    json j;
    if (i == 0)
      j = itf(json::array({prop("p"), {{"@type", "Telemetry"}, {"name", "t"}, {"schema", "double"}}}),
              "dtmi:test:M0;1");
    else if (i % 10 == 0)
      j = itf(json::array({prop("h")}), "dtmi:test:M" + std::to_string(i) + ";1"),
      j["extends"] = "dtmi:test:M0;1";
    else
      j = itf(json::array({prop("q")}), "dtmi:test:M" + std::to_string(i) + ";1"),
      j["extends"] = "dtmi:test:M" + std::to_string(i - i % 10) + ";1";
    d.write("m" + std::to_string(i) + ".json", j.dump());
  }
  std::ostringstream out;
  auto start = std::chrono::steady_clock::now();
  int rc = validate_paths({d.path.string()}, out);
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - start).count();
  BOOST_TEST(rc == 0, out.str().substr(0, 2000));
  BOOST_TEST_MESSAGE("validate_paths over 2000 files: " << ms << " ms");
  BOOST_TEST(ms < 5000);
}

BOOST_AUTO_TEST_SUITE_END()
