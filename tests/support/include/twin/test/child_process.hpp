#pragma once
// Child processes for tests.
//
// spawn_child / wait_exit / reap are the one fork/exec dance every launcher
// here uses (twin-node, mosquitto, twinctl, twin-edge): the child dies with
// the thread that started it (PR_SET_PDEATHSIG), so a crashed test leaks
// nothing; stdin is /dev/null; only stdin, stdout and stderr are inherited.
//
// child_process is a generic child (twin-edge, helper tools): stdout and
// stderr go to a log file. The destructor SIGKILLs a child that still runs.

#include <sys/types.h>

#include <chrono>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace twin::test {

/// Forks and execs argv[0] (a path) with argv[1..], with `stdout_fd` and
/// `stderr_fd` as its stdout and stderr, /dev/null as stdin and no other
/// descriptors. `env` replaces the environment (default: ours). In the
/// child, a failed exec writes "exec of ARGV0 failed" to its stderr and
/// exits 127. Returns the pid; throws std::runtime_error if fork fails.
pid_t spawn_child(const std::vector<std::string>& argv, int stdout_fd, int stderr_fd,
                  const std::optional<std::vector<std::string>>& env = std::nullopt);

/// spawn_child with stdout and stderr appended to `log_file` (open_log).
pid_t spawn_to_log(const std::vector<std::string>& argv, const std::filesystem::path& log_file);

/// The exit code of a waitpid status, or 128+signal.
int exit_code(int status);

/// Waits up to `timeout` for `pid` to exit and reaps it. Returns its exit
/// code (or 128+signal; -1 if it is not our child), or nullopt if it still
/// runs at the deadline. A zero timeout just checks.
std::optional<int> wait_exit(pid_t pid, std::chrono::milliseconds timeout);

/// Blocks until `pid` exits and reaps it; returns as wait_exit.
int reap(pid_t pid);

/// The whole of a (log) file; empty if it cannot be read.
std::string read_text_file(const std::filesystem::path& file);

/// Opens `file` for appending (created 0644, close-on-exec); throws
/// std::runtime_error naming it and the reason.
int open_log(const std::filesystem::path& file);

class child_process {
public:
  /// Starts argv[0] (a path) with argv[1..]; throws std::runtime_error if
  /// fork fails or the log cannot be opened.
  child_process(std::vector<std::string> argv, std::filesystem::path log_file);
  ~child_process();
  child_process(const child_process&) = delete;
  child_process& operator=(const child_process&) = delete;

  pid_t pid() const noexcept { return pid_; }
  /// True while the child has not exited.
  bool running();
  /// Sends `sig`, waits up to `timeout` for the exit (then SIGKILL). Returns
  /// the exit code, or 128+signal. No-op returning the known code if it
  /// already exited. Signal 0 just waits.
  int stop(int sig, std::chrono::milliseconds timeout = std::chrono::seconds{10});
  /// The log so far.
  std::string log() const;
  const std::filesystem::path& log_file() const noexcept { return log_file_; }

private:
  std::filesystem::path log_file_;
  pid_t pid_ = -1;
  int exit_code_ = -1;
};

} // namespace twin::test
