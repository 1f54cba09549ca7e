// Generates a corpus of DTDL interfaces (default 20,000 files) and times
// `twinctl model validate DIR` (twin::model::validate_paths) against a
// baseline in the same run: reading and JSON-parsing the same files.
//
//   dtdl_corpus [N] [DIR]     (DIR defaults to a fresh temp directory)

#include <chrono>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>
#include <thread>

#include <nlohmann/json.hpp>

#include "twin/model/dtdl.hpp"

namespace fs = std::filesystem;
using json = nlohmann::json;

namespace {

// Groups of 20: a base with semantic telemetry, an enum and an object, and
// 19 interfaces extending it (with a component on every fifth).
json make_interface(int i) {
  auto id = [](int n) { return "dtmi:bench:corpus:M" + std::to_string(n) + ";1"; };
  json j = {{"@context", {"dtmi:dtdl:context;3", "dtmi:dtdl:extension:quantitativeTypes;1"}},
            {"@id", id(i)}, {"@type", "Interface"},
            {"displayName", {{"en", "Model " + std::to_string(i)}}}};
  int base = i - i % 20;
  if (i == base) {
    j["contents"] = json::array({
      {{"@type", {"Telemetry", "Temperature"}}, {"name", "temperature"}, {"schema", "double"},
       {"unit", "degreeCelsius"}},
      {{"@type", "Property"}, {"name", "serialNumber"}, {"schema", "string"}},
      {{"@type", "Property"}, {"name", "mode"}, {"writable", true},
       {"schema", {{"@type", "Enum"}, {"valueSchema", "string"}, {"enumValues", json::array({
         {{"name", "auto"}, {"enumValue", "auto"}}, {{"name", "manual"}, {"enumValue", "manual"}}})}}}},
      {{"@type", "Telemetry"}, {"name", "position"}, {"schema", {{"@type", "Object"}, {"fields", json::array({
         {{"name", "x"}, {"schema", "double"}}, {{"name", "y"}, {"schema", "double"}}})}}}},
      {{"@type", "Command"}, {"name", "reset"}}});
  } else {
    j["extends"] = id(base);
    j["contents"] = json::array({
      {{"@type", "Property"}, {"name", "p" + std::to_string(i)}, {"schema", "long"}, {"writable", true}},
      {{"@type", {"Telemetry", "AngularVelocity"}}, {"name", "speed"}, {"schema", "double"},
       {"unit", "revolutionPerMinute"}}});
    if (i % 5 == 0)
      j["contents"].push_back({{"@type", "Component"}, {"name", "core"}, {"schema", id(base + 1)}});
  }
  return j;
}

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

} // namespace

int main(int argc, char** argv) {
  int n = argc > 1 ? std::stoi(argv[1]) : 20000;
  fs::path dir = argc > 2 ? fs::path{argv[2]}
                          : fs::temp_directory_path() / ("dtdl-corpus-" + std::to_string(::getpid()));
  bool cleanup = argc <= 2;
  fs::create_directories(dir);
  auto t0 = std::chrono::steady_clock::now();
  for (int i = 0; i < n; ++i) {
    auto sub = dir / ("g" + std::to_string(i / 1000));
    if (i % 1000 == 0)
      fs::create_directories(sub);
    std::ofstream(sub / ("m" + std::to_string(i) + ".json")) << make_interface(i).dump(2);
  }
  double gen = seconds_since(t0);

  // Baseline: read + parse every file, no validation.
  t0 = std::chrono::steady_clock::now();
  std::size_t parsed = 0;
  for (const auto& e : fs::recursive_directory_iterator(dir)) {
    if (!e.is_regular_file() || e.path().extension() != ".json")
      continue;
    std::ifstream in(e.path());
    std::stringstream ss;
    ss << in.rdbuf();
    parsed += json::parse(ss.str()).size() > 0;
  }
  double baseline = seconds_since(t0);

  std::ostringstream out;
  t0 = std::chrono::steady_clock::now();
  int rc = twin::model::validate_paths({dir.string()}, out);
  double validate = seconds_since(t0);

  std::size_t lines = 0, valid = 0;
  std::istringstream lin(out.str());
  for (std::string l; std::getline(lin, l);) {
    ++lines;
    valid += l.rfind("VALID ", 0) == 0;
  }
  std::cout << "dtdl_corpus: files=" << n << " cores=" << std::thread::hardware_concurrency()
            << " generate=" << gen << "s parse_only_baseline=" << baseline
            << "s validate_paths=" << validate << "s ratio=" << (baseline > 0 ? validate / baseline : 0)
            << " exit=" << rc << " valid_lines=" << valid << "/" << lines << " parsed=" << parsed
            << "\n";
  if (rc != 0)
    std::cout << out.str().substr(0, 2000);
  if (cleanup)
    fs::remove_all(dir);
  return rc == 0 ? 0 : 1;
}
