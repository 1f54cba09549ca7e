// The baseline of the REST benchmark: the most trivial keep-alive Boost.Beast
// server (one I/O thread, like the gateway's default) answering every request
// with a fixed JSON body of the size of a twin document. No routing, no auth,
// no actors: what the gateway is compared with.
//
//   bench_trivial_http PORT BODY_BYTES

#include <cstdio>
#include <utility>
#include <memory>
#include <string>

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

namespace {

class session : public std::enable_shared_from_this<session> {
public:
  session(tcp::socket s, const std::string& body)
    : stream_(std::move(s)), body_(body) {
  }
  void start() { read(); }

private:
  void read() {
    req_ = {};
    http::async_read(stream_, buf_, req_,
                     [self = shared_from_this()](beast::error_code ec, std::size_t) {
                       if (!ec)
                         self->respond();
                     });
  }
  void respond() {
    res_ = http::response<http::string_body>{http::status::ok, req_.version()};
    res_.set(http::field::content_type, "application/json");
    res_.keep_alive(req_.keep_alive());
    res_.body() = body_;
    res_.prepare_payload();
    http::async_write(stream_, res_,
                      [self = shared_from_this()](beast::error_code ec, std::size_t) {
                        if (!ec)
                          self->read();
                      });
  }
  beast::tcp_stream stream_;
  beast::flat_buffer buf_;
  http::request<http::string_body> req_;
  http::response<http::string_body> res_;
  const std::string& body_;
};

void accept(tcp::acceptor& a, const std::string& body) {
  a.async_accept([&a, &body](beast::error_code ec, tcp::socket s) {
    if (!ec)
      std::make_shared<session>(std::move(s), body)->start();
    accept(a, body);
  });
}

} // namespace

int main(int argc, char** argv) {
  unsigned short port = argc > 1 ? static_cast<unsigned short>(std::atoi(argv[1])) : 0;
  std::size_t bytes = argc > 2 ? static_cast<std::size_t>(std::atol(argv[2])) : 600;
  std::string body = "{\"pad\":\"" + std::string(bytes > 12 ? bytes - 12 : 0, 'x') + "\"}";
  asio::io_context io{1};
  tcp::acceptor a{io, {asio::ip::make_address("127.0.0.1"), port}};
  std::printf("listening http://127.0.0.1:%u\n", a.local_endpoint().port());
  std::fflush(stdout);
  accept(a, body);
  io.run();
}
