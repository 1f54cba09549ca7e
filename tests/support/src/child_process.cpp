#include "twin/test/child_process.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <thread>

namespace twin::test {

namespace {

std::vector<char*> c_strings(std::vector<std::string>& v) {
  std::vector<char*> out;
  for (auto& s : v)
    out.push_back(s.data());
  out.push_back(nullptr);
  return out;
}

/// In the child after fork: closes inherited descriptors above 2.
void close_other_fds() {
  long max = ::sysconf(_SC_OPEN_MAX);
  if (max < 0 || max > 65536)
    max = 65536;
  for (int fd = 3; fd < max; ++fd)
    ::close(fd);
}

} // namespace

pid_t spawn_child(const std::vector<std::string>& argv_in, int stdout_fd, int stderr_fd,
                  const std::optional<std::vector<std::string>>& env_in) {
  if (argv_in.empty() || argv_in[0].empty())
    throw std::runtime_error("spawn_child: no binary");
  // Everything the child needs is built before fork: after it, only
  // async-signal-safe calls.
  std::vector<std::string> args = argv_in;
  auto argv = c_strings(args);
  std::vector<std::string> env = env_in.value_or(std::vector<std::string>{});
  auto envp = c_strings(env);
  const std::string exec_failed = "exec of " + argv_in[0] + " failed\n";
  pid_t parent = ::getpid();
  pid_t pid = ::fork();
  if (pid < 0)
    throw std::runtime_error(std::string{"fork: "} + std::strerror(errno));
  if (pid == 0) {
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() != parent)
      ::_exit(127);
    ::dup2(stdout_fd, STDOUT_FILENO);
    ::dup2(stderr_fd, STDERR_FILENO);
    int devnull = ::open("/dev/null", O_RDONLY);
    if (devnull >= 0)
      ::dup2(devnull, STDIN_FILENO);
    close_other_fds();
    if (env_in)
      ::execve(argv[0], argv.data(), envp.data());
    else
      ::execv(argv[0], argv.data());
    [[maybe_unused]] auto w = ::write(STDERR_FILENO, exec_failed.data(), exec_failed.size());
    ::_exit(127);
  }
  return pid;
}

pid_t spawn_to_log(const std::vector<std::string>& argv, const std::filesystem::path& log_file) {
  int log_fd = open_log(log_file);
  pid_t pid = -1;
  try {
    pid = spawn_child(argv, log_fd, log_fd);
  } catch (...) {
    ::close(log_fd);
    throw;
  }
  ::close(log_fd);
  return pid;
}

int exit_code(int status) {
  if (WIFEXITED(status))
    return WEXITSTATUS(status);
  if (WIFSIGNALED(status))
    return 128 + WTERMSIG(status);
  return -1;
}

std::optional<int> wait_exit(pid_t pid, std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    int status = 0;
    pid_t r = ::waitpid(pid, &status, WNOHANG);
    if (r == pid)
      return exit_code(status);
    if (r < 0 && errno != EINTR)
      return -1; // not (or no longer) our child
    if (r == 0) {
      if (std::chrono::steady_clock::now() >= deadline)
        return std::nullopt;
      std::this_thread::sleep_for(std::chrono::milliseconds{10});
    }
  }
}

int reap(pid_t pid) {
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0)
    if (errno != EINTR)
      return -1;
  return exit_code(status);
}

int open_log(const std::filesystem::path& file) {
  int fd = ::open(file.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (fd < 0)
    throw std::runtime_error("cannot open " + file.string() + ": " + std::strerror(errno));
  return fd;
}

std::string read_text_file(const std::filesystem::path& file) {
  std::ifstream in(file, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// -- child_process ----------------------------------------------------------

child_process::child_process(std::vector<std::string> argv,
                             std::filesystem::path log_file)
  : log_file_(std::move(log_file)) {
  if (argv.empty())
    throw std::runtime_error("child_process: empty argv");
  pid_ = spawn_to_log(argv, log_file_);
}

child_process::~child_process() {
  if (pid_ > 0)
    stop(SIGKILL);
}

bool child_process::running() {
  if (pid_ <= 0)
    return false;
  if (auto code = wait_exit(pid_, std::chrono::milliseconds{0})) {
    exit_code_ = *code;
    pid_ = -1;
    return false;
  }
  return true;
}

int child_process::stop(int sig, std::chrono::milliseconds timeout) {
  if (!running())
    return exit_code_;
  ::kill(pid_, sig);
  auto code = wait_exit(pid_, timeout);
  if (!code) {
    ::kill(pid_, SIGKILL);
    code = reap(pid_);
  }
  exit_code_ = *code;
  pid_ = -1;
  return exit_code_;
}

std::string child_process::log() const {
  return read_text_file(log_file_);
}

} // namespace twin::test
