#pragma once
// A small blocking HTTP/1.1 client for the gateway tests (Beast underneath,
// hidden so that only client.cpp compiles Beast). Every operation has a
// deadline, so a broken server fails a test instead of hanging it.

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace twin::test {

struct http_reply {
  int status = 0;
  std::map<std::string, std::string> headers; ///< names lower-cased
  std::string body;

  std::string header(const std::string& lower_name) const {
    auto it = headers.find(lower_name);
    return it == headers.end() ? std::string{} : it->second;
  }
  nlohmann::json json() const { return nlohmann::json::parse(body); }
};

using header_list = std::vector<std::pair<std::string, std::string>>;

/// One keep-alive connection.
class http_client {
public:
  explicit http_client(std::uint16_t port,
                       std::chrono::milliseconds timeout = std::chrono::seconds(10));
  ~http_client();

  /// Sends one request and reads its response.
  http_reply request(const std::string& method, const std::string& target,
                     const header_list& headers = {},
                     const std::string& body = {});

  /// Writes raw bytes (e.g. two pipelined requests, or a lone header).
  void write_raw(const std::string& bytes);

  /// Reads one response (after write_raw).
  http_reply read_reply();

  /// Reads raw bytes until `needle` has arrived (or the deadline passes);
  /// returns everything read so far.
  std::string read_until(const std::string& needle,
                         std::chrono::milliseconds deadline);

  /// True once the server has closed the connection (reads EOF/reset within
  /// the deadline).
  bool closed_by_server(std::chrono::milliseconds deadline);

private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

/// One request over TLS on a fresh connection (certificate not verified:
/// the tests use a throw-away self-signed one).
http_reply https(std::uint16_t port, const std::string& method,
                 const std::string& target, const header_list& headers = {},
                 const std::string& body = {});

/// One request on a fresh connection.
http_reply http(std::uint16_t port, const std::string& method,
                const std::string& target, const header_list& headers = {},
                const std::string& body = {});

} // namespace twin::test
