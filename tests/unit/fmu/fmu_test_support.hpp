#pragma once
// Shared helpers of the FMU tests: where our FMUs are, opening them in
// either mode, and writing zip archives.

#include <boost/test/unit_test.hpp>

#include <filesystem>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <zip.h>

#include "twin/fmu/instance.hpp"
#include "twin/fmu/worker.hpp"

namespace fmu_test {

inline std::filesystem::path fmu_path(const std::string& name, const std::string& version) {
  return std::filesystem::path{TWIN_TEST_FMU_DIR} / (name + "-" + version + ".fmu");
}

/// Both FMI versions, for data-driven loops.
inline const std::vector<std::string> versions{"fmi3", "fmi2"};

inline std::unique_ptr<twin::fmu::co_simulator> open_in_process(const std::string& name,
                                                                const std::string& version) {
  auto f = twin::fmu::fmu_file::open(fmu_path(name, version));
  BOOST_TEST_REQUIRE(f.has_value(), f);
  twin::fmu::instance_options o;
  o.log = [](twin::fmu::log_level, std::string_view) {};
  auto i = twin::fmu::fmu_instance::create(*f, o);
  BOOST_TEST_REQUIRE(i.has_value(), i);
  return std::move(*i);
}

inline twin::fmu::worker_options worker_opts() {
  twin::fmu::worker_options o;
  o.executable = TWIN_TEST_FMU_WORKER;
  o.call_timeout = std::chrono::milliseconds{5000};
  return o;
}

inline std::unique_ptr<twin::fmu::co_simulator> open_in_worker(const std::string& name,
                                                               const std::string& version) {
  auto w = twin::fmu::worker_fmu::create(fmu_path(name, version), worker_opts());
  BOOST_TEST_REQUIRE(w.has_value(), w);
  return std::move(*w);
}

/// Writes a zip with the given (name, content) entries.
inline void write_zip(const std::filesystem::path& path,
                      const std::vector<std::pair<std::string, std::string>>& entries) {
  int err = 0;
  zip_t* z = zip_open(path.c_str(), ZIP_CREATE | ZIP_TRUNCATE, &err);
  BOOST_TEST_REQUIRE(z != nullptr);
  for (const auto& [name, content] : entries) {
    zip_source_t* src = zip_source_buffer(z, content.data(), content.size(), 0);
    BOOST_TEST_REQUIRE(src != nullptr);
    BOOST_TEST_REQUIRE(zip_file_add(z, name.c_str(), src, ZIP_FL_ENC_UTF_8) >= 0);
  }
  BOOST_TEST_REQUIRE(zip_close(z) == 0);
}

/// A scratch directory removed at scope exit.
struct scratch {
  std::filesystem::path path;
  scratch() {
    std::string t = (std::filesystem::temp_directory_path() / "fmu-test-XXXXXX").string();
    path = ::mkdtemp(t.data());
  }
  ~scratch() {
    std::error_code ec;
    std::filesystem::remove_all(path, ec);
  }
};

/// The message of a worker killed by the crashing FMU's SIGSEGV. In the
/// ASan build, ASan's own SEGV handler takes the signal and ends the worker
/// (exit or abort, per ASAN_OPTIONS): it still dies alone, which is the point.
inline bool names_worker_crash(const std::string& message) {
#if defined(__SANITIZE_ADDRESS__)
  return message.find("killed by signal") != std::string::npos
         || message.find("exited with status") != std::string::npos;
#else
  return message.find("killed by signal 11") != std::string::npos;
#endif
}

} // namespace fmu_test
