// worker_fmu: spawns twin-fmu-worker and talks wire:: to it.

#include "twin/fmu/worker.hpp"

#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <csignal>
#include <fcntl.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "protocol.hpp"

extern char** environ;

namespace twin::fmu {

namespace fs = std::filesystem;
using namespace std::chrono;

namespace {

constexpr const char* rule = "fmu.worker";

fs::path find_worker(const fs::path& configured) {
  if (!configured.empty())
    return configured;
  if (const char* env = std::getenv("TWIN_FMU_WORKER"); env && *env)
    return env;
  std::error_code ec;
  auto self = fs::read_symlink("/proc/self/exe", ec);
  if (!ec) {
    auto next = self.parent_path() / "twin-fmu-worker";
    if (fs::is_regular_file(next, ec))
      return next;
  }
#ifdef TWIN_FMU_WORKER_BUILD_PATH
  return TWIN_FMU_WORKER_BUILD_PATH;
#else
  return "twin-fmu-worker";
#endif
}

std::string describe_exit(int wstatus) {
  if (WIFSIGNALED(wstatus)) {
    int sig = WTERMSIG(wstatus);
    return "killed by signal " + std::to_string(sig) + " (" + ::strsignal(sig) + ")";
  }
  if (WIFEXITED(wstatus))
    return "exited with status " + std::to_string(WEXITSTATUS(wstatus));
  return "stopped";
}

} // namespace

expected<std::unique_ptr<worker_fmu>> worker_fmu::create(const fs::path& fmu, worker_options o) {
  // Parse the description here: pure code, and it makes errors in the
  // XML independent of the worker.
  auto xml = read_archive_entry(fmu, "modelDescription.xml", o.open.limits);
  if (!xml)
    return std::move(xml).error();
  auto md = parse_model_description(*xml);
  if (!md) {
    auto e = std::move(md).error();
    e.message = fmu.string() + ": " + e.message;
    return e;
  }
  std::unique_ptr<worker_fmu> w{new worker_fmu};
  w->fmu_path_ = fs::absolute(fmu);
  w->options_ = std::move(o);
  w->md_ = std::move(*md);
  if (auto s = w->spawn(); !s)
    return std::move(s).error();
  return w;
}

worker_fmu::~worker_fmu() { free(); }

status worker_fmu::spawn() {
  int sv[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0)
    return make_error(errc::unavailable,
                      std::string{"socketpair: "} + std::strerror(errno), rule);
  // The child's end becomes its fd 3 (dup2 clears CLOEXEC there).
  if (sv[1] == 3) {
    int d = ::fcntl(sv[1], F_DUPFD_CLOEXEC, 4);
    ::close(sv[1]);
    sv[1] = d;
  }
  fs::path exe = find_worker(options_.executable);
  remove_scratch();
  {
    auto base = options_.open.unpack_parent.empty() ? fs::temp_directory_path()
                                                    : options_.open.unpack_parent;
    std::string tmpl = (base / "twin-fmu-worker-XXXXXX").string();
    if (!::mkdtemp(tmpl.data())) {
      int e = errno;
      ::close(sv[0]);
      ::close(sv[1]);
      return make_error(errc::storage_failure,
                        "cannot create a directory for the FMU worker: "
                          + std::string{std::strerror(e)},
                        rule);
    }
    scratch_ = tmpl;
  }
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_adddup2(&fa, sv[1], 3);
  std::string exe_s = exe.string();
  char* argv[] = {exe_s.data(), nullptr};
  pid_t pid = -1;
  int rc = ::posix_spawn(&pid, exe_s.c_str(), &fa, nullptr, argv, environ);
  posix_spawn_file_actions_destroy(&fa);
  ::close(sv[1]);
  if (rc != 0) {
    ::close(sv[0]);
    return make_error(errc::unavailable,
                      "cannot start the FMU worker " + exe_s + ": " + std::strerror(rc), rule);
  }
  pid_ = pid;
  fd_ = sv[0];
  started_ = steady_clock::now();
  state_ = instance_state::instantiated;
  time_ = 0.0;
  wire::writer w;
  w.put(wire::op::open);
  w.put_string(fmu_path_.string());
  w.put_string(scratch_.string());
  w.put_string(options_.instance.instance_name);
  w.put(static_cast<std::uint8_t>(options_.instance.logging_on));
  w.put(options_.open.limits.max_entries);
  w.put(options_.open.limits.max_entry_bytes);
  w.put(options_.open.limits.max_total_bytes);
  std::string out;
  return call(w.bytes(), out, "open");
}

void worker_fmu::remove_scratch() noexcept {
  if (!scratch_.empty()) {
    std::error_code ec;
    fs::remove_all(scratch_, ec);
    scratch_.clear();
  }
}

void worker_fmu::kill_worker() noexcept {
  if (fd_ >= 0) {
    ::close(fd_);
    fd_ = -1;
  }
  if (pid_ > 0) {
    ::kill(pid_, SIGKILL);
    int ws = 0;
    while (::waitpid(pid_, &ws, 0) < 0 && errno == EINTR) {
    }
    pid_ = -1;
  }
  remove_scratch();
}

status worker_fmu::lost(const char* what, const char* how) {
  std::string detail = how;
  if (pid_ > 0) {
    int ws = 0;
    pid_t r = 0;
    // A crashed worker has exited or is about to: reap it (briefly), else kill.
    for (int i = 0; i < 100 && (r = ::waitpid(pid_, &ws, WNOHANG)) == 0; ++i)
      ::usleep(1000);
    if (r == pid_) {
      detail = describe_exit(ws);
      pid_ = -1;
    }
  }
  kill_worker();
  if (steady_clock::now() - started_ >= options_.backoff.stable_after)
    failures_ = 0;
  ++failures_;
  state_ = instance_state::freed;
  last_failure_ = detail + " during " + what;
  return make_error(errc::unavailable,
                    "FMU worker for " + md_.model_name + " (" + fmu_path_.filename().string()
                      + ") " + last_failure_,
                    rule);
}

status worker_fmu::call(std::string& request, std::string& out, const char* what) {
  if (fd_ < 0)
    return make_error(errc::unavailable,
                      "FMU worker for " + md_.model_name + " is not running"
                        + (last_failure_.empty() ? "" : " (" + last_failure_ + ")"),
                      rule);
  auto r = wire::send_frame(fd_, request);
  if (r != wire::io_result::ok)
    return lost(what, "closed its connection");
  r = wire::recv_frame(fd_, response_, options_.call_timeout);
  if (r == wire::io_result::timeout) {
    kill_worker();
    std::string how = "did not answer within " + std::to_string(options_.call_timeout.count())
                      + " ms (hung; killed)";
    ++failures_;
    state_ = instance_state::freed;
    last_failure_ = how + " during " + what;
    return make_error(errc::unavailable, "FMU worker for " + md_.model_name + " "
                                           + last_failure_, rule);
  }
  if (r != wire::io_result::ok)
    return lost(what, "closed its connection");
  wire::reader rd{response_};
  std::uint8_t good = 0, st = 0;
  if (!rd.get(good) || !rd.get(st))
    return lost(what, "sent a malformed response");
  state_ = static_cast<instance_state>(st);
  if (!good) {
    std::uint32_t code = 0;
    std::string msg;
    if (!rd.get(code) || !rd.get_string(msg))
      return lost(what, "sent a malformed response");
    return make_error(static_cast<errc>(code), std::move(msg), rule);
  }
  out.assign(response_, 2);
  return ok();
}

std::chrono::milliseconds worker_fmu::restart_delay() const noexcept {
  if (failures_ <= 0)
    return milliseconds{0};
  double d = static_cast<double>(options_.backoff.initial.count())
             * std::pow(options_.backoff.multiplier, failures_ - 1);
  double cap = static_cast<double>(options_.backoff.max.count());
  return milliseconds{static_cast<long long>(std::min(d, cap))};
}

status worker_fmu::restart() {
  kill_worker();
  ++restarts_;
  return spawn();
}

status worker_fmu::setup(const experiment& e) {
  wire::writer w;
  w.put(wire::op::setup);
  w.put(e.start_time);
  w.put(static_cast<std::uint8_t>(e.stop_time.has_value()));
  w.put(e.stop_time.value_or(0.0));
  w.put(static_cast<std::uint8_t>(e.tolerance.has_value()));
  w.put(e.tolerance.value_or(0.0));
  std::string out;
  auto s = call(w.bytes(), out, "setup");
  if (s)
    time_ = e.start_time;
  return s;
}

status worker_fmu::enter_initialization() {
  return call_op(wire::op::enter_init, "enter_initialization");
}

status worker_fmu::exit_initialization() {
  return call_op(wire::op::exit_init, "exit_initialization");
}

status worker_fmu::call_op(wire::op op, const char* what) {
  wire::writer w;
  w.put(op);
  std::string out;
  return call(w.bytes(), out, what);
}

namespace {

status count_mismatch(std::size_t a, std::size_t b) {
  return make_error(errc::bad_request, std::to_string(a) + " value references but "
                                         + std::to_string(b) + " values", rule);
}

status bad_reply() {
  return make_error(errc::internal, "malformed reply from the FMU worker", rule);
}

} // namespace

template <class T>
status worker_fmu::set_values(wire::op op, const char* what,
                              std::span<const value_reference> vrs, std::span<const T> values) {
  if (vrs.size() != values.size())
    return count_mismatch(vrs.size(), values.size());
  wire::writer w;
  w.put(op);
  wire::put_array(w, vrs);
  wire::put_array(w, values);
  std::string out;
  return call(w.bytes(), out, what);
}

template <class T>
status worker_fmu::get_values(wire::op op, const char* what,
                              std::span<const value_reference> vrs, std::span<T> values) {
  if (vrs.size() != values.size())
    return count_mismatch(vrs.size(), values.size());
  wire::writer w;
  w.put(op);
  wire::put_array(w, vrs);
  std::string out;
  if (auto s = call(w.bytes(), out, what); !s)
    return s;
  wire::reader rd{out};
  if (!wire::get_values(rd, values))
    return bad_reply();
  return ok();
}

status worker_fmu::set_float64(std::span<const value_reference> vrs,
                               std::span<const double> values) {
  return set_values(wire::op::set_float64, "set_float64", vrs, values);
}

status worker_fmu::get_float64(std::span<const value_reference> vrs, std::span<double> values) {
  return get_values(wire::op::get_float64, "get_float64", vrs, values);
}

status worker_fmu::set_int32(std::span<const value_reference> vrs,
                             std::span<const std::int32_t> values) {
  return set_values(wire::op::set_int32, "set_int32", vrs, values);
}

status worker_fmu::get_int32(std::span<const value_reference> vrs,
                             std::span<std::int32_t> values) {
  return get_values(wire::op::get_int32, "get_int32", vrs, values);
}

status worker_fmu::set_boolean(std::span<const value_reference> vrs,
                               std::span<const bool> values) {
  return set_values(wire::op::set_boolean, "set_boolean", vrs, values);
}

status worker_fmu::get_boolean(std::span<const value_reference> vrs, std::span<bool> values) {
  return get_values(wire::op::get_boolean, "get_boolean", vrs, values);
}

status worker_fmu::set_string(std::span<const value_reference> vrs,
                              std::span<const std::string> values) {
  return set_values(wire::op::set_string, "set_string", vrs, values);
}

status worker_fmu::get_string(std::span<const value_reference> vrs,
                              std::span<std::string> values) {
  return get_values(wire::op::get_string, "get_string", vrs, values);
}

status worker_fmu::do_step(double t, double h) {
  wire::writer w;
  w.put(wire::op::do_step);
  w.put(t);
  w.put(h);
  std::string out;
  if (auto s = call(w.bytes(), out, "do_step"); !s)
    return s;
  wire::reader rd{out};
  if (!rd.get(time_))
    return bad_reply();
  return ok();
}

status worker_fmu::step_float64(std::span<const value_reference> in_vrs,
                                std::span<const double> in, double t, double h,
                                std::span<const value_reference> out_vrs,
                                std::span<double> out) {
  if (in_vrs.size() != in.size())
    return count_mismatch(in_vrs.size(), in.size());
  if (out_vrs.size() != out.size())
    return count_mismatch(out_vrs.size(), out.size());
  wire::writer w;
  w.put(wire::op::step_float64);
  wire::put_array(w, in_vrs);
  wire::put_array(w, in);
  w.put(t);
  w.put(h);
  wire::put_array(w, out_vrs);
  std::string reply;
  if (auto s = call(w.bytes(), reply, "step_float64"); !s)
    return s;
  wire::reader rd{reply};
  if (!rd.get(time_) || !wire::get_values(rd, out))
    return bad_reply();
  return ok();
}

status worker_fmu::terminate() {
  return call_op(wire::op::terminate, "terminate");
}

void worker_fmu::free() noexcept {
  if (fd_ >= 0 && pid_ > 0) {
    try {
      wire::writer w;
      w.put(wire::op::free_instance);
      // Best effort with a short wait; the worker exits on EOF anyway.
      if (wire::send_frame(fd_, w.bytes()) == wire::io_result::ok) {
        std::string ignored;
        (void)wire::recv_frame(fd_, ignored, milliseconds{1000});
      }
    } catch (...) {
    }
    ::close(fd_);
    fd_ = -1;
    int ws = 0;
    // The worker exits when its socket closes; wait briefly, then kill.
    for (int i = 0; i < 200; ++i) {
      pid_t r = ::waitpid(pid_, &ws, WNOHANG);
      if (r == pid_ || (r < 0 && errno != EINTR)) {
        pid_ = -1;
        break;
      }
      ::usleep(1000);
    }
  }
  kill_worker();
  state_ = instance_state::freed;
}

} // namespace twin::fmu
