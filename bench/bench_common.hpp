#pragma once
// Shared helpers of the benchmarks (Release builds, not part of ctest).

#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <mutex>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>
#include <unistd.h>

#include "twin/actors/fabric.hpp"

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

/// Calls op(i, reply) for i in [0, count) with at most `window` replies
/// outstanding, waits for all, and exits the program if any failed.
inline void run_window(long count, long window,
                       const std::function<void(long, actors::reply_fn)>& op) {
  std::mutex m;
  std::condition_variable cv;
  long outstanding = 0;
  long failed = 0;
  std::string first_error;
  for (long i = 0; i < count; ++i) {
    {
      std::unique_lock g{m};
      cv.wait(g, [&] { return outstanding < window; });
      ++outstanding;
    }
    op(i, [&](expected<nlohmann::json> r) {
      std::lock_guard g{m};
      if (!r && failed++ == 0)
        first_error = r.error().describe();
      --outstanding;
      cv.notify_all();
    });
  }
  std::unique_lock g{m};
  cv.wait(g, [&] { return outstanding == 0; });
  if (failed) {
    std::fprintf(stderr, "%ld operations failed, first: %s\n", failed,
                 first_error.c_str());
    std::exit(1);
  }
}

} // namespace twin::bench
