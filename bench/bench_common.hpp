#pragma once
// Shared helpers of the benchmarks (Release builds, not part of ctest).

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>
#include <unistd.h>

namespace twin::bench {

struct temp_dir {
  std::filesystem::path path;
  explicit temp_dir(const char* name) {
    std::string tmpl
      = (std::filesystem::temp_directory_path() / (std::string{name} + "-XXXXXX"))
          .string();
    path = ::mkdtemp(tmpl.data());
  }
  ~temp_dir() {
    std::error_code ec;
    std::filesystem::remove_all(path, ec);
  }
};

/// Resident set size of this process in bytes (from /proc/self/statm).
inline long rss_bytes() {
  std::ifstream in{"/proc/self/statm"};
  long pages = 0, resident = 0;
  in >> pages >> resident;
  return resident * sysconf(_SC_PAGESIZE);
}

inline double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0)
    .count();
}

inline void print_machine() {
  std::printf("machine: %u cores (std::thread::hardware_concurrency)\n",
              std::thread::hardware_concurrency());
}

} // namespace twin::bench
