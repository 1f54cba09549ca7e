#pragma once
// Shared helpers of the benchmarks (Release builds, not part of ctest).
// Header-only and free of twin libraries, so that every benchmark can use it.

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <filesystem>
#include <fstream>
#include <semaphore>
#include <string>
#include <thread>
#include <type_traits>
#include <variant>
#include <vector>
#include <unistd.h>

namespace twin::bench {

/// The small telemetry model of the ingest benchmarks (dtmi:bench:Sensor;1).
inline const char* sensor_model = R"({
  "@context": "dtmi:dtdl:context;3", "@id": "dtmi:bench:Sensor;1",
  "@type": "Interface",
  "contents": [
    {"@type": "Telemetry", "name": "temperature", "schema": "double"},
    {"@type": "Telemetry", "name": "vibrationRms", "schema": "double"}
  ]})";

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

/// A fresh directory `base`/`name`-XXXXXX (exits if it cannot be made).
inline std::string make_dir(const std::string& base, const char* name) {
  std::string tmpl = base + "/" + name + "-XXXXXX";
  if (::mkdtemp(tmpl.data()) == nullptr) {
    std::perror("mkdtemp");
    std::exit(1);
  }
  return tmpl;
}

/// The value of an expected `r`, or exits printing "`what`: error".
template <class Expected>
auto& value_or_exit(Expected& r, const char* what) {
  if (!r) {
    std::fprintf(stderr, "%s: %s\n", what, r.error().describe().c_str());
    std::exit(1);
  }
  return *r;
}

/// The value of `--name N` in argv, or `def`.
inline long arg(int argc, char** argv, const char* name, long def) {
  for (int i = 1; i + 1 < argc; ++i)
    if (std::strcmp(argv[i], name) == 0)
      return std::atol(argv[i + 1]);
  return def;
}

/// The value of `--name TEXT` in argv, or `def`.
inline const char* sarg(int argc, char** argv, const char* name, const char* def) {
  for (int i = 1; i + 1 < argc; ++i)
    if (std::strcmp(argv[i], name) == 0)
      return argv[i + 1];
  return def;
}

/// One `--name VALUE` command-line option and where its value goes.
struct option {
  const char* name;
  std::variant<std::size_t*, int*, bool*, std::string*> target;
};

/// Parses `--name VALUE` pairs into `options` (a bool is set by a nonzero
/// number); exits with status 2 on an unknown name.
inline void parse_options(int argc, char** argv, std::initializer_list<option> options) {
  for (int i = 1; i + 1 < argc; i += 2) {
    const option* o = nullptr;
    for (const auto& x : options)
      if (std::strcmp(argv[i], x.name) == 0)
        o = &x;
    if (!o) {
      std::fprintf(stderr, "unknown option %s\n", argv[i]);
      std::exit(2);
    }
    const char* v = argv[i + 1];
    std::visit(
      [v](auto* dst) {
        using T = std::remove_pointer_t<decltype(dst)>;
        if constexpr (std::is_same_v<T, std::size_t>)
          *dst = std::strtoull(v, nullptr, 10);
        else if constexpr (std::is_same_v<T, int>)
          *dst = std::atoi(v);
        else if constexpr (std::is_same_v<T, bool>)
          *dst = std::atoi(v) != 0;
        else
          *dst = v;
      },
      o->target);
  }
}

/// The id of the t-th benchmark twin.
inline std::string twin_name(int t) {
  return "bench-twin-" + std::to_string(t);
}

/// The median (upper one of an even count) of a non-empty sample.
inline double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

/// One submitter's window of asynchronous requests: next() waits until
/// fewer than `window` are in flight and returns the completion callback of
/// one more (it counts a failed status in `failed`); drain() waits for all.
class request_window {
public:
  request_window(int window, std::atomic<std::uint64_t>& failed)
    : window_(window), slots_(window), failed_(failed) {}

  auto next() {
    slots_.acquire();
    return [this](const auto& status) {
      if (!status)
        failed_.fetch_add(1, std::memory_order_relaxed);
      slots_.release();
    };
  }
  void drain() {
    for (int i = 0; i < window_; ++i)
      slots_.acquire();
  }

private:
  int window_;
  std::counting_semaphore<> slots_;
  std::atomic<std::uint64_t>& failed_;
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
/// outstanding, waits for all, and exits the program if any failed. reply
/// takes an expected (an actors::reply_fn).
template <class Op>
void run_window(long count, long window, const Op& op) {
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
    op(i, [&](auto r) {
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
