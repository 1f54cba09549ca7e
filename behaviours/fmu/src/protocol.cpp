#include "protocol.hpp"

#include <cerrno>
#include <poll.h>
#include <sys/socket.h>

namespace twin::fmu::wire {

namespace {

io_result send_all(int fd, const char* p, std::size_t n) {
  while (n > 0) {
    ssize_t w = ::send(fd, p, n, MSG_NOSIGNAL);
    if (w < 0) {
      if (errno == EINTR)
        continue;
      return errno == EPIPE || errno == ECONNRESET ? io_result::closed : io_result::failed;
    }
    p += w;
    n -= static_cast<std::size_t>(w);
  }
  return io_result::ok;
}

io_result recv_all(int fd, char* p, std::size_t n,
                   std::chrono::steady_clock::time_point deadline, bool forever) {
  while (n > 0) {
    if (!forever) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0)
        return io_result::timeout;
      pollfd pfd{fd, POLLIN, 0};
      int r = ::poll(&pfd, 1, static_cast<int>(left.count()));
      if (r < 0) {
        if (errno == EINTR)
          continue;
        return io_result::failed;
      }
      if (r == 0)
        return io_result::timeout;
    }
    ssize_t got = ::recv(fd, p, n, 0);
    if (got == 0)
      return io_result::closed;
    if (got < 0) {
      if (errno == EINTR)
        continue;
      return errno == ECONNRESET ? io_result::closed : io_result::failed;
    }
    p += got;
    n -= static_cast<std::size_t>(got);
  }
  return io_result::ok;
}

} // namespace

io_result send_frame(int fd, std::string_view payload) {
  auto len = static_cast<std::uint32_t>(payload.size());
  std::string frame(reinterpret_cast<const char*>(&len), sizeof len);
  frame.append(payload);
  return send_all(fd, frame.data(), frame.size());
}

io_result recv_frame(int fd, std::string& payload, std::chrono::milliseconds timeout) {
  bool forever = timeout.count() < 0;
  auto deadline = std::chrono::steady_clock::now() + (forever ? std::chrono::milliseconds{0} : timeout);
  std::uint32_t len = 0;
  if (auto r = recv_all(fd, reinterpret_cast<char*>(&len), sizeof len, deadline, forever);
      r != io_result::ok)
    return r;
  if (len > max_frame)
    return io_result::failed;
  payload.resize(len);
  return recv_all(fd, payload.data(), len, deadline, forever);
}

} // namespace twin::fmu::wire
