#include "client.hpp"

#include <stdexcept>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>

namespace twin::test {

namespace beast = boost::beast;
namespace bhttp = beast::http;
namespace net = boost::asio;
using tcp = net::ip::tcp;

struct http_client::impl {
  net::io_context ioc;
  beast::tcp_stream stream{ioc};
  beast::flat_buffer buffer;
  std::chrono::milliseconds timeout;

  // Runs the pending asynchronous operation to completion.
  void run() {
    ioc.restart();
    ioc.run();
  }

  http_reply convert(bhttp::response<bhttp::string_body>& res) {
    http_reply out;
    out.status = static_cast<int>(res.result_int());
    for (auto& f : res) {
      std::string name(f.name_string());
      for (auto& c : name)
        c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      out.headers[name] = std::string(f.value());
    }
    out.body = std::move(res.body());
    return out;
  }
};

http_client::http_client(std::uint16_t port, std::chrono::milliseconds timeout)
  : impl_(std::make_unique<impl>()) {
  impl_->timeout = timeout;
  impl_->stream.connect(
    tcp::endpoint(net::ip::make_address("127.0.0.1"), port));
}

http_client::~http_client() = default;

http_reply http_client::request(const std::string& method,
                                const std::string& target,
                                const header_list& headers,
                                const std::string& body) {
  bhttp::request<bhttp::string_body> req;
  req.method_string(method);
  req.target(target);
  req.version(11);
  req.set(bhttp::field::host, "127.0.0.1");
  for (auto& [k, v] : headers)
    req.set(k, v);
  req.body() = body;
  if (!body.empty() || method == "POST" || method == "PUT"
      || method == "PATCH")
    req.prepare_payload();
  beast::error_code wec;
  impl_->stream.expires_after(impl_->timeout);
  bhttp::async_write(impl_->stream, req,
                    [&](beast::error_code ec, std::size_t) { wec = ec; });
  impl_->run();
  if (wec)
    throw std::runtime_error("write failed: " + wec.message());
  return read_reply();
}

void http_client::write_raw(const std::string& bytes) {
  beast::error_code wec;
  impl_->stream.expires_after(impl_->timeout);
  net::async_write(impl_->stream, net::buffer(bytes),
                   [&](beast::error_code ec, std::size_t) { wec = ec; });
  impl_->run();
  if (wec)
    throw std::runtime_error("write failed: " + wec.message());
}

http_reply http_client::read_reply() {
  bhttp::response_parser<bhttp::string_body> parser;
  parser.body_limit(64 * 1024 * 1024);
  beast::error_code rec;
  impl_->stream.expires_after(impl_->timeout);
  bhttp::async_read(impl_->stream, impl_->buffer, parser,
                   [&](beast::error_code ec, std::size_t) { rec = ec; });
  impl_->run();
  if (rec)
    throw std::runtime_error("read failed: " + rec.message());
  auto res = parser.release();
  return impl_->convert(res);
}

std::string http_client::read_until(const std::string& needle,
                                    std::chrono::milliseconds deadline) {
  auto until = std::chrono::steady_clock::now() + deadline;
  auto text = [&] { return beast::buffers_to_string(impl_->buffer.data()); };
  while (text().find(needle) == std::string::npos) {
    auto left = until - std::chrono::steady_clock::now();
    if (left <= std::chrono::steady_clock::duration::zero())
      break;
    beast::error_code rec;
    impl_->stream.expires_after(
      std::chrono::duration_cast<std::chrono::milliseconds>(left));
    impl_->stream.async_read_some(
      impl_->buffer.prepare(4096), [&](beast::error_code ec, std::size_t n) {
        rec = ec;
        impl_->buffer.commit(n);
      });
    impl_->run();
    if (rec)
      break;
  }
  return text();
}

bool http_client::closed_by_server(std::chrono::milliseconds deadline) {
  auto until = std::chrono::steady_clock::now() + deadline;
  while (std::chrono::steady_clock::now() < until) {
    beast::error_code rec;
    impl_->stream.expires_after(deadline);
    impl_->stream.async_read_some(
      impl_->buffer.prepare(64 * 1024), [&](beast::error_code ec, std::size_t n) {
        rec = ec;
        impl_->buffer.commit(n);
      });
    impl_->run();
    if (rec == beast::error::timeout)
      return false;
    if (rec)
      return true; // eof, reset
    impl_->buffer.consume(impl_->buffer.size());
  }
  return false;
}

http_reply http(std::uint16_t port, const std::string& method,
                const std::string& target, const header_list& headers,
                const std::string& body) {
  http_client c(port);
  return c.request(method, target, headers, body);
}

http_reply https(std::uint16_t port, const std::string& method,
                 const std::string& target, const header_list& headers,
                 const std::string& body) {
  net::io_context ioc;
  net::ssl::context ctx(net::ssl::context::tls_client);
  ctx.set_verify_mode(net::ssl::verify_none);
  beast::ssl_stream<beast::tcp_stream> stream(ioc, ctx);
  auto& tcp_layer = beast::get_lowest_layer(stream);
  tcp_layer.expires_after(std::chrono::seconds(10));
  tcp_layer.connect(tcp::endpoint(net::ip::make_address("127.0.0.1"), port));
  beast::error_code err;
  auto check = [&](const char* what) {
    ioc.restart();
    ioc.run();
    if (err)
      throw std::runtime_error(std::string(what) + ": " + err.message());
  };
  stream.async_handshake(net::ssl::stream_base::client,
                         [&](beast::error_code ec) { err = ec; });
  check("handshake");
  bhttp::request<bhttp::string_body> req;
  req.method_string(method);
  req.target(target);
  req.version(11);
  req.set(bhttp::field::host, "127.0.0.1");
  for (auto& [k, v] : headers)
    req.set(k, v);
  req.body() = body;
  req.prepare_payload();
  bhttp::async_write(stream, req,
                     [&](beast::error_code ec, std::size_t) { err = ec; });
  check("write");
  beast::flat_buffer buffer;
  bhttp::response<bhttp::string_body> res;
  bhttp::async_read(stream, buffer, res,
                    [&](beast::error_code ec, std::size_t) { err = ec; });
  check("read");
  http_reply out;
  out.status = static_cast<int>(res.result_int());
  for (auto& f : res) {
    std::string name(f.name_string());
    for (auto& c : name)
      c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    out.headers[name] = std::string(f.value());
  }
  out.body = std::move(res.body());
  return out;
}

} // namespace twin::test
