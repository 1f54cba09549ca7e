#pragma once
// A real mosquitto broker for tests, on a free loopback port, from a
// generated configuration (anonymous access, no persistence, log to a file).
//
// Threads: a mosquitto_broker is owned by the thread that created it (or last
// (re)started it): the child is killed when that thread exits, via
// PR_SET_PDEATHSIG, so a crashed test never leaks a broker. Not thread-safe.

#include <sys/types.h>

#include <chrono>
#include <filesystem>
#include <string>
#include <vector>

namespace twin::test {

struct mosquitto_options {
  /// The broker binary; the environment variable MOSQUITTO_BIN overrides it.
  std::string binary = "/usr/sbin/mosquitto";
  /// More configuration lines, appended after the generated ones
  /// (e.g. "max_packet_size 1000").
  std::vector<std::string> extra_config;
  /// Deadline for the broker to accept TCP connections after start/restart.
  std::chrono::milliseconds start_timeout{10000};
};

/// A mosquitto child process listening on 127.0.0.1:PORT. The constructor
/// makes a temporary directory (removed by the destructor unless
/// TWIN_KEEP_TEMP is set) but does not start the broker; start() does. The
/// destructor stops a running broker.
/// Errors (binary missing, broker exits, deadline) throw std::runtime_error
/// with the broker's log in the message.
class mosquitto_broker {
public:
  explicit mosquitto_broker(mosquitto_options options = {});
  ~mosquitto_broker();
  mosquitto_broker(const mosquitto_broker&) = delete;
  mosquitto_broker& operator=(const mosquitto_broker&) = delete;

  /// Picks a free loopback port (first start only; later starts reuse it),
  /// writes the configuration, starts the broker and waits until it accepts
  /// connections. No-op when it is already running.
  void start();
  /// SIGTERM, then waits up to `timeout` (SIGKILL after it). No-op when not
  /// running.
  void stop(std::chrono::milliseconds timeout = std::chrono::milliseconds{5000});
  /// SIGKILL and reap (a broker crash). No-op when not running.
  void kill();
  /// stop() then start() on the same port.
  void restart();

  /// True while the child has not exited.
  bool running();
  /// The port (0 before the first start()).
  int port() const noexcept { return port_; }
  /// "tcp://127.0.0.1:PORT".
  std::string url() const;
  pid_t pid() const noexcept { return pid_; }
  /// The directory holding mosquitto.conf and mosquitto.log.
  const std::filesystem::path& dir() const;
  /// The broker's log so far (all of its runs).
  std::string log() const;

private:
  bool launch_once(std::string& failure);

  mosquitto_options options_;
  std::filesystem::path dir_;
  int port_ = 0;
  pid_t pid_ = -1;
};

} // namespace twin::test
