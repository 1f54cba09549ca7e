#include "twin/http/client.hpp"

#include <algorithm>
#include <cctype>
#include <optional>
#include <variant>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/beast/version.hpp>

#include <openssl/ssl.h>

namespace twin::http {

namespace net = boost::asio;
namespace ssl = boost::asio::ssl;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using tcp = net::ip::tcp;
using beast::error_code;

namespace {

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size()
         && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
              return std::tolower(static_cast<unsigned char>(x))
                     == std::tolower(static_cast<unsigned char>(y));
            });
}

error transport_error(const std::string& what, const url& u, error_code ec) {
  std::string msg = what + " " + u.to_string() + ": ";
  if (ec == beast::error::timeout)
    msg += "timed out";
  else
    msg += ec.message();
  return make_error(errc::unavailable, std::move(msg));
}

/// Runs the asynchronous operation started by `start` to completion on
/// `ioc` and returns its error code: synchronous calls with the timeouts
/// that only Beast's asynchronous operations honour.
template <class Start>
error_code run_op(net::io_context& ioc, Start&& start) {
  error_code result = net::error::would_block;
  start([&result](error_code ec, auto&&...) { result = ec; });
  ioc.restart();
  ioc.run();
  return result;
}

using plain_stream = beast::tcp_stream;
using tls_stream = beast::ssl_stream<beast::tcp_stream>;

/// One connection (plain or TLS) with its own io_context.
struct connection {
  net::io_context ioc;
  std::shared_ptr<ssl::context> ssl_ctx;
  std::optional<plain_stream> plain;
  std::optional<tls_stream> secure;
  beast::flat_buffer buffer;

  bool is_open() const {
    if (plain)
      return plain->socket().is_open();
    if (secure)
      return beast::get_lowest_layer(*secure).socket().is_open();
    return false;
  }

  beast::tcp_stream& lowest() {
    return plain ? *plain : beast::get_lowest_layer(*secure);
  }

  void close() noexcept {
    error_code ignored;
    if (plain) {
      plain->socket().shutdown(tcp::socket::shutdown_both, ignored);
      plain->socket().close(ignored);
    }
    if (secure) {
      auto& s = beast::get_lowest_layer(*secure).socket();
      s.shutdown(tcp::socket::shutdown_both, ignored);
      s.close(ignored);
    }
    plain.reset();
    secure.reset();
    buffer.clear();
  }

  status connect(const url& u, const client_options& opts) {
    close();
    // Resolve with a deadline (the resolver has no timeout of its own).
    tcp::resolver resolver{ioc};
    tcp::resolver::results_type endpoints;
    error_code rec = net::error::would_block;
    resolver.async_resolve(u.host, u.port,
                           [&](error_code ec, tcp::resolver::results_type r) {
                             rec = ec;
                             endpoints = std::move(r);
                           });
    ioc.restart();
    ioc.run_for(opts.connect_timeout);
    if (rec == net::error::would_block) {
      resolver.cancel();
      ioc.restart();
      ioc.run();
      return transport_error("cannot resolve", u, beast::error::timeout);
    }
    if (rec)
      return transport_error("cannot resolve", u, rec);
    if (u.tls()) {
      if (!ssl_ctx) {
        ssl_ctx = std::make_shared<ssl::context>(ssl::context::tls_client);
        error_code ec;
        if (!opts.ca_file.empty())
          ssl_ctx->load_verify_file(opts.ca_file, ec);
        else
          ssl_ctx->set_default_verify_paths(ec);
        if (ec)
          return make_error(errc::bad_request, "cannot load CA certificates: "
                                                 + ec.message());
        ssl_ctx->set_verify_mode(opts.verify_peer ? ssl::verify_peer
                                                  : ssl::verify_none);
      }
      secure.emplace(ioc, *ssl_ctx);
      if (!SSL_set_tlsext_host_name(secure->native_handle(), u.host.c_str()))
        return make_error(errc::unavailable, "cannot set TLS SNI host name");
      if (opts.verify_peer)
        secure->set_verify_callback(ssl::host_name_verification(u.host));
    } else {
      plain.emplace(ioc);
    }
    auto& low = lowest();
    low.expires_after(opts.connect_timeout);
    auto ec = run_op(ioc, [&](auto h) { low.async_connect(endpoints, std::move(h)); });
    if (ec) {
      close();
      return transport_error("cannot connect to", u, ec);
    }
    if (secure) {
      ec = run_op(ioc, [&](auto h) {
        secure->async_handshake(ssl::stream_base::client, std::move(h));
      });
      if (ec) {
        close();
        return transport_error("TLS handshake failed with", u, ec);
      }
    }
    low.expires_never();
    return ok();
  }

  template <class Message>
  error_code write(Message& msg) {
    if (plain)
      return run_op(ioc, [&](auto h) { bhttp::async_write(*plain, msg, std::move(h)); });
    return run_op(ioc, [&](auto h) { bhttp::async_write(*secure, msg, std::move(h)); });
  }

  template <class Parser>
  error_code read(Parser& p) {
    if (plain)
      return run_op(ioc, [&](auto h) { bhttp::async_read(*plain, buffer, p, std::move(h)); });
    return run_op(ioc, [&](auto h) { bhttp::async_read(*secure, buffer, p, std::move(h)); });
  }

  template <class Parser>
  error_code read_header(Parser& p) {
    if (plain)
      return run_op(ioc, [&](auto h) {
        bhttp::async_read_header(*plain, buffer, p, std::move(h));
      });
    return run_op(ioc, [&](auto h) {
      bhttp::async_read_header(*secure, buffer, p, std::move(h));
    });
  }
};

bool connection_dropped(error_code ec) {
  return ec == bhttp::error::end_of_stream || ec == net::error::eof
         || ec == net::error::connection_reset || ec == net::error::broken_pipe
         || ec == net::error::connection_aborted
         || ec == ssl::error::stream_truncated;
}

header_list to_header_list(const bhttp::fields& f) {
  header_list out;
  for (const auto& field : f)
    out.emplace_back(std::string{field.name_string()}, std::string{field.value()});
  return out;
}

} // namespace

// -- response ---------------------------------------------------------------

std::optional<std::string> response::header(std::string_view name) const {
  for (const auto& [k, v] : headers)
    if (iequals(k, name))
      return v;
  return std::nullopt;
}

nlohmann::json response::json() const {
  return nlohmann::json::parse(body, nullptr, false);
}

// -- client -----------------------------------------------------------------

struct client::impl {
  std::string base_text;
  std::optional<url> base;
  std::optional<error> base_error;
  client_options opts;
  connection conn;
};

client::client(std::string base, client_options options)
  : impl_(std::make_unique<impl>()) {
  impl_->base_text = std::move(base);
  impl_->opts = std::move(options);
  auto u = url::parse(impl_->base_text);
  if (u)
    impl_->base = std::move(*u);
  else
    impl_->base_error = u.error();
}

client::~client() {
  if (impl_)
    impl_->conn.close();
}

client::client(client&&) noexcept = default;
client& client::operator=(client&&) noexcept = default;

void client::close() noexcept {
  impl_->conn.close();
}

const std::string& client::base() const noexcept {
  return impl_->base_text;
}

const client_options& client::options() const noexcept {
  return impl_->opts;
}

void client::set_bearer_token(std::string token) {
  impl_->opts.bearer_token = std::move(token);
}

expected<response> client::request(std::string_view method,
                                   std::string_view target, std::string body,
                                   const header_list& headers) {
  auto& st = *impl_;
  if (st.base_error)
    return *st.base_error;
  const url& u = *st.base;
  bhttp::request<bhttp::string_body> req;
  beast::string_view method_sv{method.data(), method.size()};
  auto verb = bhttp::string_to_verb(method_sv);
  if (verb == bhttp::verb::unknown)
    req.method_string(method_sv);
  else
    req.method(verb);
  req.target(u.prefix + std::string{target});
  req.version(11);
  req.set(bhttp::field::host, u.host + ":" + u.port);
  req.set(bhttp::field::user_agent, st.opts.user_agent);
  req.set(bhttp::field::accept, "application/json, application/problem+json, */*");
  if (!st.opts.bearer_token.empty())
    req.set(bhttp::field::authorization, "Bearer " + st.opts.bearer_token);
  if (!body.empty())
    req.set(bhttp::field::content_type, "application/json");
  for (const auto& [k, v] : headers)
    req.set(k, v);
  req.keep_alive(true);
  req.body() = std::move(body);
  req.prepare_payload();

  for (int attempt = 0;; ++attempt) {
    bool reused = st.conn.is_open();
    if (!reused) {
      if (auto s = st.conn.connect(u, st.opts); !s)
        return s.error();
    }
    auto& low = st.conn.lowest();
    low.expires_after(st.opts.request_timeout);
    auto ec = st.conn.write(req);
    bhttp::response_parser<bhttp::string_body> parser;
    parser.body_limit(st.opts.body_limit);
    if (!ec) {
      // HEAD responses have no body even with a Content-Length.
      if (req.method() == bhttp::verb::head)
        parser.skip(true);
      ec = st.conn.read(parser);
    }
    if (ec) {
      bool nothing_received = !parser.got_some();
      st.conn.close();
      // A server may close an idle keep-alive connection at any time; the
      // request never reached it, so sending it again is safe.
      if (reused && attempt == 0 && nothing_received
          && (connection_dropped(ec) || ec == net::error::operation_aborted))
        continue;
      if (ec == bhttp::error::body_limit)
        return make_error(errc::unavailable,
                          "response from " + u.to_string() + " exceeds "
                            + std::to_string(st.opts.body_limit) + " bytes");
      return transport_error("request failed:", u, ec);
    }
    low.expires_never();
    auto res = parser.release();
    response out;
    out.status = static_cast<int>(res.result_int());
    out.headers = to_header_list(res.base());
    out.body = std::move(res.body());
    if (!res.keep_alive())
      st.conn.close();
    return out;
  }
}

// -- event_stream -----------------------------------------------------------

struct event_stream::impl {
  url base;
  connection conn;
  bhttp::response_parser<bhttp::buffer_body> parser;
  std::string pending;
  bool ended = false;

  /// Reads some body bytes into `pending`, until `deadline`. Returns false
  /// on timeout (nothing read), an error when the stream ended.
  expected<bool> read_some(std::chrono::steady_clock::time_point deadline) {
    if (ended || parser.is_done())
      return make_error(errc::unavailable, "event stream ended");
    char buf[4096];
    parser.get().body().data = buf;
    parser.get().body().size = sizeof(buf);
    // A timer that cancels the read keeps the connection usable (Beast's
    // own stream timeout would close the socket).
    net::steady_timer timer{conn.ioc};
    bool timed_out = false;
    timer.expires_at(deadline);
    timer.async_wait([&](error_code ec) {
      if (!ec) {
        timed_out = true;
        error_code ignored;
        conn.lowest().socket().cancel(ignored);
      }
    });
    error_code result = net::error::would_block;
    auto handler = [&](error_code ec, std::size_t) {
      result = ec;
      timer.cancel();
    };
    if (conn.plain)
      bhttp::async_read_some(*conn.plain, conn.buffer, parser, handler);
    else
      bhttp::async_read_some(*conn.secure, conn.buffer, parser, handler);
    conn.ioc.restart();
    conn.ioc.run();
    auto n = sizeof(buf) - parser.get().body().size;
    pending.append(buf, n);
    if (result == bhttp::error::need_buffer)
      result = {};
    if (result == net::error::operation_aborted && timed_out)
      return n > 0;
    if (result) {
      ended = true;
      conn.close();
      if (n > 0)
        return true;
      return make_error(errc::unavailable,
                        "event stream from " + base.to_string()
                          + " broke: " + result.message());
    }
    if (parser.is_done())
      ended = true;
    return true;
  }

  /// Takes one complete event block from `pending`, if there is one.
  std::optional<sse_event> take_event() {
    for (;;) {
      // Normalize CRLF to LF as we go.
      std::string::size_type cr;
      while ((cr = pending.find('\r')) != std::string::npos) {
        if (cr + 1 < pending.size() && pending[cr + 1] == '\n')
          pending.erase(cr, 1);
        else if (cr + 1 < pending.size())
          pending[cr] = '\n';
        else
          break; // maybe half of a CRLF: wait for more
      }
      auto end = pending.find("\n\n");
      if (end == std::string::npos)
        return std::nullopt;
      std::string block = pending.substr(0, end);
      pending.erase(0, end + 2);
      sse_event ev;
      bool any = false;
      bool first_data = true;
      std::string::size_type pos = 0;
      while (pos <= block.size()) {
        auto nl = block.find('\n', pos);
        if (nl == std::string::npos)
          nl = block.size();
        std::string line = block.substr(pos, nl - pos);
        pos = nl + 1;
        if (line.empty() || line.front() == ':')
          continue;
        auto colon = line.find(':');
        std::string field = line.substr(0, colon);
        std::string value;
        if (colon != std::string::npos) {
          value = line.substr(colon + 1);
          if (!value.empty() && value.front() == ' ')
            value.erase(0, 1);
        }
        if (field == "data") {
          if (!first_data)
            ev.data += '\n';
          ev.data += value;
          first_data = false;
          any = true;
        } else if (field == "event") {
          ev.event = value;
          any = true;
        } else if (field == "id") {
          ev.id = value;
          any = true;
        }
      }
      if (any)
        return ev;
    }
  }
};

event_stream::event_stream(std::unique_ptr<impl> p) : impl_(std::move(p)) {}
event_stream::event_stream(event_stream&&) noexcept = default;
event_stream& event_stream::operator=(event_stream&&) noexcept = default;
event_stream::~event_stream() {
  if (impl_)
    impl_->conn.close();
}

expected<event_stream> event_stream::open(const std::string& base,
                                          std::string_view target,
                                          client_options options) {
  auto u = url::parse(base);
  if (!u)
    return u.error();
  auto p = std::make_unique<impl>();
  p->base = *u;
  if (auto s = p->conn.connect(*u, options); !s)
    return s.error();
  bhttp::request<bhttp::empty_body> req{bhttp::verb::get,
                                        u->prefix + std::string{target}, 11};
  req.set(bhttp::field::host, u->host + ":" + u->port);
  req.set(bhttp::field::user_agent, options.user_agent);
  req.set(bhttp::field::accept, "text/event-stream");
  req.set(bhttp::field::cache_control, "no-cache");
  if (!options.bearer_token.empty())
    req.set(bhttp::field::authorization, "Bearer " + options.bearer_token);
  auto& low = p->conn.lowest();
  low.expires_after(options.request_timeout);
  auto ec = p->conn.write(req);
  if (!ec)
    ec = p->conn.read_header(p->parser);
  if (ec)
    return transport_error("cannot open event stream at", *u, ec);
  low.expires_never();
  p->parser.body_limit(boost::none);
  int status = static_cast<int>(p->parser.get().result_int());
  if (status != 200) {
    // Read what there is of the (small) error body, best effort.
    std::string body;
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(2);
    while (!p->parser.is_done() && std::chrono::steady_clock::now() < deadline) {
      auto r = p->read_some(deadline);
      if (!r || !*r)
        break;
    }
    body = p->pending;
    errc code = status == 401   ? errc::unauthorized
                : status == 403 ? errc::forbidden
                : status == 404 ? errc::not_found
                                : errc::internal;
    return make_error(code, "event stream: HTTP " + std::to_string(status) + ": " + body);
  }
  return event_stream{std::move(p)};
}

expected<std::optional<sse_event>>
event_stream::next(std::chrono::steady_clock::time_point deadline) {
  auto& st = *impl_;
  for (;;) {
    if (auto ev = st.take_event())
      return std::optional<sse_event>{std::move(*ev)};
    if (std::chrono::steady_clock::now() >= deadline)
      return std::optional<sse_event>{};
    auto r = st.read_some(deadline);
    if (!r)
      return r.error();
  }
}

} // namespace twin::http
