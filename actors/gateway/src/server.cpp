// The transport: Boost.Beast HTTP/1.1 over TCP or TLS. This is the only
// translation unit that includes Beast (it compiles slowly); everything
// about the API itself lives in api.cpp.
//
// Ownership and threads:
// - `runtime` (shared_ptr) owns the io_units, the TLS context, the api and
//   the metric handles. The gateway holds it; so does every pending fabric
//   reply and every SSE callback, so that posting onto an io_unit from a fabric
//   thread is always valid, even after the gateway is gone (the handler is
//   then never run, only destroyed with the io_context).
// - Each I/O thread runs its own io_context (an `io_unit`); a session lives
//   on one unit, chosen round-robin at accept, and all of its handlers run
//   on that unit's thread. So no strand is needed, and the concrete
//   io_context executor replaces the type-erased `any_io_executor` (ADR 0007).
// - Timeouts are coarse: a session keeps one deadline (a time point, set per
//   operation without touching a timer) and its unit's sweeper checks the
//   deadlines of the unit's sessions a few times per timeout. Per-operation
//   `tcp_stream` timers cost a timer-queue update (and a timerfd syscall)
//   on every read and write.
// - A session (shared_ptr) is kept alive by its pending asynchronous
//   operations and by pending fabric replies. It refers to the runtime by
//   reference: every path that uses it runs on an io thread or in stop(),
//   both while the gateway holds the runtime.

#include "twin/gateway/gateway.hpp"

#include <atomic>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <unordered_map>
#include <thread>
#include <vector>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <prometheus/counter.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include "api.hpp"

namespace twin::gateway {

namespace beast = boost::beast;
namespace http = beast::http;
namespace net = boost::asio;
namespace ssl = boost::asio::ssl;
using tcp = net::ip::tcp;
using clock_type = std::chrono::steady_clock;
using executor_type = net::io_context::executor_type;
using plain_stream = beast::basic_stream<tcp, executor_type>;
using tls_stream = beast::ssl_stream<plain_stream>;
using timer_type =
  net::basic_waitable_timer<clock_type, net::wait_traits<clock_type>,
                            executor_type>;

namespace {

// -- metrics --------------------------------------------------------------------

struct gateway_metrics {
  prometheus::Family<prometheus::Counter>& requests;
  prometheus::Family<prometheus::Histogram>& duration;
  prometheus::Gauge& sse_clients;
  prometheus::Counter& sse_dropped;

  explicit gateway_metrics(prometheus::Registry& reg)
    : requests(prometheus::BuildCounter()
                 .Name("http_requests_total")
                 .Help("HTTP requests answered by the REST gateway, by method, "
                       "route template and status class")
                 .Register(reg)),
      duration(prometheus::BuildHistogram()
                 .Name("http_request_duration_seconds")
                 .Help("Time from a complete request to its response being "
                       "ready, by method and route template")
                 .Register(reg)),
      sse_clients(prometheus::BuildGauge()
                    .Name("sse_clients")
                    .Help("Open server-sent event streams")
                    .Register(reg)
                    .Add({})),
      sse_dropped(prometheus::BuildCounter()
                    .Name("sse_dropped_clients_total")
                    .Help("SSE clients disconnected because they could not "
                          "keep up with the event stream")
                    .Register(reg)
                    .Add({})) {}

  static std::string method_label(std::string_view m) {
    for (auto known : {"GET", "PUT", "POST", "PATCH", "DELETE", "HEAD",
                       "OPTIONS"})
      if (m == known)
        return std::string(m);
    return "other";
  }

  /// A session's last series: a keep-alive connection mostly repeats one
  /// kind of request, so it skips the key and the lock below.
  struct last_series {
    std::string method;
    std::string route;
    int status_class = -1;
    prometheus::Counter* requests = nullptr;
    prometheus::Histogram* duration = nullptr;
  };

  void observe(last_series& last, std::string_view method,
               const std::string& route, int status,
               clock_type::duration took) {
    if (last.requests == nullptr || last.status_class != status / 100
        || last.method != method || last.route != route) {
      auto series = find_series(method, route, status);
      last.method = std::string(method);
      last.route = route;
      last.status_class = status / 100;
      last.requests = series.first;
      last.duration = series.second;
    }
    last.requests->Increment();
    last.duration->Observe(std::chrono::duration<double>(took).count());
  }

  std::pair<prometheus::Counter*, prometheus::Histogram*>
  find_series(std::string_view method, const std::string& route, int status) {
    // Family::Add builds a label map, hashes it and locks the family: far
    // too much per request. Resolve each (method, route, class) once.
    auto m = method_label(method);
    std::string cls = std::to_string(status / 100) + "xx";
    std::string key = m;
    key += '\n';
    key += route;
    key += '\n';
    key += cls;
    std::pair<prometheus::Counter*, prometheus::Histogram*> series;
    {
      std::lock_guard guard{series_mtx};
      auto it = series_cache.find(key);
      if (it == series_cache.end()) {
        static const prometheus::Histogram::BucketBoundaries buckets{
          0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
          0.1,    0.25,  0.5,    1.0,   2.5,  5.0,   10.0};
        auto* c = &requests.Add({{"method", m}, {"route", route}, {"status", cls}});
        auto* h = &duration.Add({{"method", m}, {"route", route}}, buckets);
        it = series_cache.emplace(std::move(key), std::make_pair(c, h)).first;
      }
      series = it->second;
    }
    return series;
  }

  std::mutex series_mtx;
  std::unordered_map<std::string,
                     std::pair<prometheus::Counter*, prometheus::Histogram*>>
    series_cache;
};

class session_base;

/// One I/O thread's share of the gateway: an io_context that only this
/// thread runs, and the sweeper that enforces its sessions' deadlines.
struct io_unit {
  net::io_context ioc{1};
  /// Keeps run() going while the unit has no session; reset by stop().
  std::optional<net::executor_work_guard<executor_type>> work{
    ioc.get_executor()};
  timer_type sweeper{ioc.get_executor()};
  bool sweeping = false;
  /// The unit's sessions; touched only on the unit's thread.
  std::vector<std::weak_ptr<session_base>> sessions;
};

struct runtime : std::enable_shared_from_this<runtime> {
  runtime(gateway_options o, actors::fabric& fabric,
          const security::token_table& tokens)
    : opts(std::move(o)),
      api(fabric, tokens, detail::make_asset_source(opts.ui_directory)),
      metrics(fabric.metrics()) {
    for (std::size_t i = 0; i < std::max<std::size_t>(1, opts.threads); ++i)
      units.push_back(std::make_unique<io_unit>());
    auto shortest = std::min(opts.idle_timeout, opts.write_timeout);
    sweep_interval = std::clamp<std::chrono::milliseconds>(
      shortest / 4, std::chrono::milliseconds(10), std::chrono::seconds(1));
  }

  std::vector<std::unique_ptr<io_unit>> units;
  std::chrono::milliseconds sweep_interval{1000};
  std::atomic<bool> stopping{false};
  std::optional<ssl::context> tls;
  gateway_options opts;
  detail::api api;
  gateway_metrics metrics;
};

class session_base : public std::enable_shared_from_this<session_base> {
public:
  virtual ~session_base() = default;
  /// Posts a graceful close onto the session's io_unit: an idle connection
  /// closes now, a busy one after its current response.
  virtual void close() = 0;
  /// Closes at once. Only when no io thread runs (after stop joined them).
  virtual void force_close() = 0;
  /// On the unit's thread: closes the connection if its deadline has
  /// passed. False once the connection is closed (the sweeper forgets it).
  virtual bool sweep(clock_type::time_point now) = 0;
};

void sweep(runtime& rt, io_unit& u);

/// Arms the unit's sweeper: every sweep_interval, and every 10 ms while the
/// gateway stops (so that stop() does not wait a whole interval for the
/// last connection).
void arm(runtime& rt, io_unit& u) {
  u.sweeping = true;
  u.sweeper.expires_after(rt.stopping ? std::chrono::milliseconds(10)
                                      : rt.sweep_interval);
  u.sweeper.async_wait([&rt, &u](beast::error_code) { sweep(rt, u); });
}

/// On a unit's thread: closes the sessions past their deadline, forgets the
/// closed ones, and re-arms while any is left.
void sweep(runtime& rt, io_unit& u) {
  auto now = clock_type::now();
  std::erase_if(u.sessions, [now](auto& w) {
    auto s = w.lock();
    return !s || !s->sweep(now);
  });
  if (u.sessions.empty())
    u.sweeping = false;
  else
    arm(rt, u);
}

/// On the unit's thread: registers a new session (the unit's list is also
/// what stop() closes).
void watch(runtime& rt, io_unit& u, std::weak_ptr<session_base> s) {
  u.sessions.push_back(std::move(s));
  if (!u.sweeping)
    arm(rt, u);
}

/// Keeps the runtime alive longer than the session in a pending callback:
/// members are destroyed in reverse order, so the session (and its socket)
/// goes before the io_context it belongs to.
template <class Session>
struct keeper {
  std::shared_ptr<runtime> rt;
  std::shared_ptr<Session> self;
};

/// What an SSE callback (on fabric threads) shares with its session.
struct sse_sink {
  std::mutex mutex;
  std::deque<std::string> frames;
  std::size_t max = 10000;
  bool wake_pending = false;
  bool overflow = false;
  bool dead = false;
  std::atomic<std::uint64_t> counter{0};
};

std::string_view sv(beast::string_view s) {
  return {s.data(), s.size()};
}

std::string sanitize_line(std::string s) {
  std::erase_if(s, [](char c) { return c == '\r' || c == '\n'; });
  return s;
}

/// `id: N\nevent: TYPE\ndata: JSON\n\n` for one CloudEvent.
std::string sse_frame(const nlohmann::json& ce, std::uint64_t fallback_id) {
  std::string id = std::to_string(fallback_id);
  std::string type = "message";
  if (ce.is_object()) {
    if (auto it = ce.find("id"); it != ce.end()) {
      if (it->is_string())
        id = it->get<std::string>();
      else if (it->is_number())
        id = it->dump();
    }
    if (auto it = ce.find("type"); it != ce.end() && it->is_string())
      type = it->get<std::string>();
  }
  std::string out = "id: " + sanitize_line(std::move(id)) + "\nevent: "
                    + sanitize_line(std::move(type)) + "\ndata: ";
  out += ce.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  out += "\n\n";
  return out;
}

// -- session ----------------------------------------------------------------------

template <class Stream>
class http_session final : public session_base {
  static constexpr bool is_tls = !std::is_same_v<Stream, plain_stream>;

public:
  template <class... Args>
  explicit http_session(runtime& rt, io_unit& unit, Args&&... args)
    : rt_(rt), unit_(unit), stream_(std::forward<Args>(args)...),
      timer_(stream_.get_executor()) {}

  void run() {
    net::dispatch(stream_.get_executor(), [self = self_ptr()] {
      watch(self->rt_, self->unit_, self);
      if (self->rt_.stopping)
        return self->shutdown(); // accepted while stop() ran: not served
      if constexpr (is_tls) {
        self->set_deadline(self->rt_.opts.idle_timeout);
        self->stream_.async_handshake(
          ssl::stream_base::server,
          [self](beast::error_code ec) {
            if (ec)
              return self->shutdown();
            self->do_read();
          });
      } else {
        self->do_read();
      }
    });
  }

  void close() override {
    net::post(stream_.get_executor(), [self = self_ptr()] {
      self->closing_ = true;
      switch (self->state_) {
        case state::reading:
        case state::streaming:
          self->shutdown();
          break;
        default:
          break; // processing/writing: close after the response
      }
    });
  }

  void force_close() override {
    closing_ = true;
    end_stream();
    timer_.cancel();
    beast::get_lowest_layer(stream_).close();
    state_ = state::closed;
  }

  bool sweep(clock_type::time_point now) override {
    auto& lowest = beast::get_lowest_layer(stream_);
    if (!lowest.socket().is_open())
      return false;
    if (now < deadline_)
      return true;
    // Like a Beast stream timeout: the pending operations complete with an
    // error and their handlers end the session.
    deadline_ = clock_type::time_point::max();
    lowest.close();
    return false;
  }

private:
  enum class state { reading, processing, writing, streaming, closed };

  void set_deadline(clock_type::duration d) {
    deadline_ = clock_type::now() + d;
  }
  void clear_deadline() {
    deadline_ = clock_type::time_point::max();
  }

  std::shared_ptr<http_session> self_ptr() {
    return std::static_pointer_cast<http_session>(shared_from_this());
  }

  // -- requests ---------------------------------------------------------------

  void do_read() {
    if (closing_)
      return shutdown();
    state_ = state::reading;
    parser_.emplace();
    parser_->body_limit(rt_.opts.max_body);
    set_deadline(rt_.opts.idle_timeout);
    http::async_read_header(
      stream_, buffer_, *parser_,
      [self = self_ptr()](beast::error_code ec, std::size_t) {
        self->on_header(ec);
      });
  }

  void on_header(beast::error_code ec) {
    if (ec == http::error::body_limit)
      return reject_too_large();
    if (ec)
      return shutdown(); // end_of_stream, timeout, reset, garbage
    auto& req = parser_->get();
    if (auto len = parser_->content_length();
        len && *len > rt_.opts.max_body)
      return reject_too_large();
    if (beast::iequals(req[http::field::expect], "100-continue")) {
      continue_.emplace(http::status::continue_, req.version());
      return http::async_write(
        stream_, *continue_,
        [self = self_ptr()](beast::error_code ec, std::size_t) {
          if (ec)
            return self->shutdown();
          self->read_body();
        });
    }
    // A request without a body (every GET) is complete with its header:
    // no second read operation (and its completion hop) for it.
    if (parser_->is_done())
      return on_request();
    read_body();
  }

  void read_body() {
    http::async_read(stream_, buffer_, *parser_,
                     [self = self_ptr()](beast::error_code ec, std::size_t) {
                       if (ec == http::error::body_limit)
                         return self->reject_too_large();
                       if (ec)
                         return self->shutdown();
                       self->on_request();
                     });
  }

  void reject_too_large() {
    // The rest of the body is unread: answer and close the connection.
    closing_ = true;
    linger_ = true;
    state_ = state::processing;
    started_ = clock_type::now();
    route_ = "unmatched";
    auto& req = parser_->get();
    method_ = std::string(req.method_string());
    request_id_ = detail::choose_request_id(sv(req["X-Request-Id"]));
    keep_alive_ = false;
    send(detail::api::too_large(std::string(req.target()),
                                rt_.opts.max_body));
  }

  void on_request() {
    state_ = state::processing;
    clear_deadline();
    started_ = clock_type::now();
    auto& msg = parser_->get();
    detail::request req;
    req.method = std::string(msg.method_string());
    req.target = std::string(msg.target());
    req.authorization = std::string(msg[http::field::authorization]);
    request_id_ = detail::choose_request_id(sv(msg["X-Request-Id"]));
    req.request_id = request_id_;
    if (auto it = msg.find(http::field::if_match); it != msg.end()) {
      req.has_if_match = true;
      req.if_match = std::string(it->value());
    }
    req.body = std::move(msg.body());
    method_ = req.method;
    keep_alive_ = msg.keep_alive();

    const auto seq = ++request_seq_;
    auto k = std::make_shared<keeper<http_session>>(
      keeper<http_session>{rt_.shared_from_this(), self_ptr()});
    auto done = [k, seq](detail::response r) {
      auto self = k->self;
      net::post(self->stream_.get_executor(),
                [self, seq, r = std::move(r)]() mutable {
                  self->on_reply(seq, std::move(r));
                });
    };
    k.reset();
    auto out = rt_.api.handle(req, std::move(done));
    route_ = out.route;
    if (out.now)
      return on_reply(seq, std::move(*out.now));
    if (out.stream)
      return start_stream(std::move(*out.stream));
    // else: the fabric replies later, through `done`.
  }

  void on_reply(std::uint64_t seq, detail::response r) {
    // Only the first answer to the current request counts.
    if (seq != request_seq_ || state_ != state::processing)
      return;
    send(std::move(r));
  }

  void send(detail::response r) {
    state_ = state::writing;
    rt_.metrics.observe(series_, method_, route_, r.status,
                        clock_type::now() - started_);
    res_.emplace();
    res_->version(11);
    res_->result(static_cast<unsigned>(r.status));
    res_->set(http::field::server, "twin-fabric");
    res_->set("X-Request-Id", request_id_);
    if (!r.content_type.empty())
      res_->set(http::field::content_type, r.content_type);
    for (auto& [name, value] : r.headers)
      res_->set(name, value);
    res_->body() = std::move(r.body);
    res_->keep_alive(keep_alive_ && !closing_);
    res_->prepare_payload();
    set_deadline(rt_.opts.write_timeout);
    http::async_write(stream_, *res_,
                      [self = self_ptr()](beast::error_code ec, std::size_t) {
                        self->on_write(ec);
                      });
  }

  void on_write(beast::error_code ec) {
    bool keep = res_ && res_->keep_alive();
    res_.reset();
    if (!ec && linger_)
      return linger();
    if (ec)
      return shutdown();
    if (!keep)
      return shutdown(true);
    do_read();
  }

  /// After a 413 the client may still be sending the body: half-close and
  /// drain for a moment, so that our answer is not lost to a TCP reset.
  void linger() {
    if constexpr (is_tls) {
      shutdown(true);
    } else {
      beast::error_code ec;
      stream_.socket().shutdown(tcp::socket::shutdown_send, ec);
      state_ = state::closed;
      set_deadline(std::chrono::seconds(2));
      drain();
    }
  }

  void drain() {
    if constexpr (!is_tls) {
      stream_.async_read_some(
        net::buffer(discard_),
        [self = self_ptr()](beast::error_code ec, std::size_t) {
          if (ec)
            return self->stream_.close();
          self->drain();
        });
    }
  }

  // -- server-sent events ----------------------------------------------------

  void start_stream(actors::request_context ctx) {
    sink_ = std::make_shared<sse_sink>();
    sink_->max = rt_.opts.sse_max_queue;
    std::weak_ptr<http_session> weak = self_ptr();
    auto rt = rt_.shared_from_this();
    auto ex = stream_.get_executor();
    auto on_event = [sink = sink_, weak, rt, ex](const nlohmann::json& ce) {
      // Fabric thread: format, queue, maybe wake the session. Never block
      // beyond the short queue lock, never throw into the fabric.
      try {
        bool wake = false;
        auto frame = sse_frame(ce, ++sink->counter); // outside the lock
        {
          std::lock_guard lock(sink->mutex);
          if (sink->dead)
            return;
          if (sink->frames.size() >= sink->max) {
            sink->overflow = true;
            sink->dead = true;
            sink->frames.clear();
            wake = true; // even if a flush is pending: it may be stuck
          } else {
            sink->frames.push_back(std::move(frame));
            if (!sink->wake_pending) {
              sink->wake_pending = true;
              wake = true;
            }
          }
        }
        if (wake)
          net::post(ex, [weak] {
            if (auto self = weak.lock())
              self->flush();
          });
      } catch (...) {
        // Formatting or allocation failed: drop this event for this client.
      }
    };
    expected<std::unique_ptr<actors::subscription>> sub = [&] {
      try {
        return rt_.api.fabric().subscribe(ctx, std::move(on_event));
      } catch (const std::exception& e) {
        return expected<std::unique_ptr<actors::subscription>>(
          make_error(errc::internal, e.what()));
      }
    }();
    if (!sub) {
      sink_.reset();
      auto target = std::string(parser_->get().target());
      return send(
        detail::problem_response(sub.error(), target.substr(0, target.find('?'))));
    }
    sub_ = std::move(*sub);
    rt_.metrics.observe(series_, method_, route_, 200, clock_type::now() - started_);
    rt_.metrics.sse_clients.Increment();
    counted_client_ = true;
    state_ = state::streaming;
    writing_ = true;
    out_ = "HTTP/1.1 200 OK\r\n"
           "Server: twin-fabric\r\n"
           "Content-Type: text/event-stream\r\n"
           "Cache-Control: no-cache\r\n"
           "X-Accel-Buffering: no\r\n"
           "X-Request-Id: "
           + request_id_ + "\r\n\r\n";
    set_deadline(rt_.opts.write_timeout);
    net::async_write(stream_, net::buffer(out_),
                     [self = self_ptr()](beast::error_code ec, std::size_t) {
                       self->on_stream_write(ec);
                     });
    watch_disconnect();
    arm_keepalive();
  }

  void watch_disconnect() {
    // The client sends nothing on an event stream: any read completion with
    // an error means it went away. The read has no deadline; the deadline
    // of a pending write stays.
    stream_.async_read_some(
      net::buffer(discard_),
      [self = self_ptr()](beast::error_code ec, std::size_t) {
        if (self->state_ != state::streaming)
          return;
        if (ec)
          return self->shutdown();
        self->watch_disconnect();
      });
  }

  void arm_keepalive() {
    timer_.expires_after(rt_.opts.sse_keepalive);
    timer_.async_wait([self = self_ptr()](beast::error_code ec) {
      if (ec || self->state_ != state::streaming)
        return;
      {
        std::lock_guard lock(self->sink_->mutex);
        self->sink_->frames.push_back(": keepalive\n\n");
      }
      self->flush();
      self->arm_keepalive();
    });
  }

  void flush() {
    if (state_ != state::streaming)
      return;
    bool drop = false;
    {
      std::lock_guard lock(sink_->mutex);
      if (sink_->overflow) {
        // Checked before `writing_`: a client stuck in a write is exactly
        // the one to drop, without waiting for the write timeout.
        sink_->overflow = false;
        drop = true;
      } else if (writing_) {
        return; // on_stream_write() flushes again
      } else {
        sink_->wake_pending = false;
        out_.clear();
        for (auto& f : sink_->frames)
          out_ += f;
        sink_->frames.clear();
      }
    }
    if (drop) {
      rt_.metrics.sse_dropped.Increment();
      return shutdown();
    }
    if (out_.empty())
      return;
    writing_ = true;
    set_deadline(rt_.opts.write_timeout);
    net::async_write(stream_, net::buffer(out_),
                     [self = self_ptr()](beast::error_code ec, std::size_t) {
                       self->on_stream_write(ec);
                     });
  }

  void on_stream_write(beast::error_code ec) {
    writing_ = false;
    clear_deadline();
    if (ec || closing_)
      return shutdown();
    flush();
  }

  void end_stream() {
    if (sink_) {
      std::lock_guard lock(sink_->mutex);
      sink_->dead = true;
    }
    // Unsubscribe here, on the session's thread (or in stop()), never from a fabric
    // thread inside its own callback.
    sub_.reset();
    if (counted_client_) {
      counted_client_ = false;
      rt_.metrics.sse_clients.Decrement();
    }
  }

  // -- closing ----------------------------------------------------------------

  /// Ends the connection. `graceful` (only after a completed write, when no
  /// read is pending): TLS sends close_notify first; otherwise the socket is
  /// simply closed, which also cancels a pending read or write.
  void shutdown(bool graceful = false) {
    if (state_ == state::closed)
      return;
    state_ = state::closed;
    end_stream();
    timer_.cancel();
    beast::error_code ec;
    if constexpr (is_tls) {
      if (!graceful)
        return beast::get_lowest_layer(stream_).close();
      set_deadline(std::chrono::seconds(2));
      stream_.async_shutdown([self = self_ptr()](beast::error_code) {
        beast::get_lowest_layer(self->stream_).close();
      });
    } else {
      stream_.socket().shutdown(tcp::socket::shutdown_both, ec);
      stream_.close();
    }
  }

  runtime& rt_;
  io_unit& unit_;
  Stream stream_;
  timer_type timer_;
  clock_type::time_point deadline_ = clock_type::time_point::max();
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  std::optional<http::response<http::empty_body>> continue_;
  std::optional<http::response<http::string_body>> res_;
  state state_ = state::reading;
  bool closing_ = false;
  bool linger_ = false;
  bool keep_alive_ = true;
  std::uint64_t request_seq_ = 0;
  std::string method_;
  std::string route_;
  /// This session's last metric series (see gateway_metrics::observe).
  gateway_metrics::last_series series_;
  std::string request_id_;
  clock_type::time_point started_{};
  // streaming
  std::shared_ptr<sse_sink> sink_;
  std::unique_ptr<actors::subscription> sub_;
  bool counted_client_ = false;
  bool writing_ = false;
  std::string out_;
  std::array<char, 512> discard_{};
};

// -- listener ----------------------------------------------------------------

class listener : public std::enable_shared_from_this<listener> {
public:
  listener(runtime& rt, tcp::acceptor acceptor)
    : rt_(rt), acceptor_(std::move(acceptor)) {}

  void run() { do_accept(); }

  void close() {
    net::post(acceptor_.get_executor(), [self = shared_from_this()] {
      beast::error_code ec;
      self->acceptor_.close(ec);
    });
  }

private:
  void do_accept() {
    auto& unit = *rt_.units[next_unit_++ % rt_.units.size()];
    acceptor_.async_accept(
      unit.ioc,
      [self = shared_from_this(), &unit](beast::error_code ec,
                                         plain_stream::socket_type socket) {
        if (ec == net::error::operation_aborted || !self->acceptor_.is_open())
          return;
        if (!ec)
          self->start_session(unit, std::move(socket));
        self->do_accept();
      });
  }

  void start_session(io_unit& unit, plain_stream::socket_type socket) {
    beast::error_code ec;
    socket.set_option(tcp::no_delay(true), ec);
    if (rt_.tls) {
      std::make_shared<http_session<tls_stream>>(rt_, unit, std::move(socket), *rt_.tls)
        ->run();
    } else {
      std::make_shared<http_session<plain_stream>>(rt_, unit, std::move(socket))->run();
    }
  }

  runtime& rt_;
  tcp::acceptor acceptor_;
  std::size_t next_unit_ = 0;
};

} // namespace

// -- gateway ---------------------------------------------------------------------

class gateway::impl {
public:
  std::shared_ptr<runtime> rt;
  std::shared_ptr<listener> accept;
  std::vector<std::thread> threads;
  std::string endpoint;
  std::uint16_t port = 0;

  std::mutex mutex;
  std::condition_variable cv;
  std::size_t running = 0;
  bool stopped = false;

  void stop() {
    {
      std::lock_guard lock(mutex);
      if (stopped)
        return;
      stopped = true;
    }
    rt->stopping = true;
    accept->close();
    // On each unit's thread: a session registered before this runs is
    // closed here; one registered after sees `stopping` and closes itself.
    for (auto& u : rt->units)
      net::post(u->ioc, [raw = u.get()] {
        for (auto& w : raw->sessions)
          if (auto s = w.lock())
            s->close();
        raw->work.reset(); // run() returns once the unit's sessions are gone
        raw->sweeper.cancel(); // sweep now, then every 10 ms
      });
    {
      // Let connections close on their own, but not forever.
      std::unique_lock lock(mutex);
      cv.wait_for(lock, rt->opts.stop_grace, [&] { return running == 0; });
    }
    for (auto& u : rt->units)
      u->ioc.stop();
    for (auto& t : threads)
      if (t.joinable())
        t.join();
    // No io thread runs now: cut off whatever is left.
    for (auto& u : rt->units)
      for (auto& w : u->sessions)
        if (auto s = w.lock())
          s->force_close();
  }
};

expected<std::unique_ptr<gateway>>
gateway::start(gateway_options options, actors::fabric& fabric,
               const security::token_table& tokens) {
  if (options.threads == 0)
    options.threads = 1;
  auto p = std::make_unique<impl>();
  p->rt = std::make_shared<runtime>(std::move(options), fabric, tokens);
  auto& rt = *p->rt;
  auto& opts = rt.opts;

  if (opts.tls_cert_file.empty() != opts.tls_key_file.empty())
    return make_error(errc::bad_request,
                      "TLS needs both a certificate and a key file");
  if (!opts.tls_cert_file.empty()) {
    rt.tls.emplace(ssl::context::tls_server);
    beast::error_code ec;
    rt.tls->set_options(ssl::context::default_workarounds
                          | ssl::context::no_sslv2 | ssl::context::no_sslv3
                          | ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1
                          | ssl::context::single_dh_use,
                        ec);
    if (!ec)
      rt.tls->use_certificate_chain_file(opts.tls_cert_file, ec);
    if (ec)
      return make_error(errc::bad_request,
                        "cannot load TLS certificate '" + opts.tls_cert_file
                          + "': " + ec.message());
    rt.tls->use_private_key_file(opts.tls_key_file, ssl::context::pem, ec);
    if (ec)
      return make_error(errc::bad_request, "cannot load TLS key '"
                                             + opts.tls_key_file
                                             + "': " + ec.message());
  }

  beast::error_code ec;
  auto addr = net::ip::make_address(opts.address, ec);
  if (ec)
    return make_error(errc::bad_request,
                      "invalid address '" + opts.address + "': "
                        + ec.message());
  tcp::endpoint ep{addr, opts.port};
  tcp::acceptor acceptor(rt.units.front()->ioc);
  auto fail = [&](const char* what) {
    return make_error(errc::unavailable, std::string("cannot ") + what + " "
                                           + opts.address + ":"
                                           + std::to_string(opts.port) + ": "
                                           + ec.message());
  };
  if (acceptor.open(ep.protocol(), ec); ec)
    return fail("open");
  if (acceptor.set_option(net::socket_base::reuse_address(true), ec); ec)
    return fail("configure");
  if (acceptor.bind(ep, ec); ec)
    return fail("bind");
  if (acceptor.listen(net::socket_base::max_listen_connections, ec); ec)
    return fail("listen on");
  auto bound = acceptor.local_endpoint(ec);
  if (ec)
    return fail("read the address of");
  p->port = bound.port();
  auto host = bound.address().to_string();
  p->endpoint = (bound.address().is_v6() ? "[" + host + "]" : host) + ":"
                + std::to_string(p->port);

  p->accept = std::make_shared<listener>(rt, std::move(acceptor));
  p->accept->run();
  p->running = rt.units.size();
  for (auto& unit : rt.units)
    p->threads.emplace_back([raw = p.get(), u = unit.get()] {
      for (;;) {
        try {
          u->ioc.run();
          break;
        } catch (...) {
          // A handler threw: keep serving the other connections.
        }
      }
      std::lock_guard lock(raw->mutex);
      --raw->running;
      raw->cv.notify_all();
    });
  return std::unique_ptr<gateway>(new gateway(std::move(p)));
}

gateway::gateway(std::unique_ptr<impl> p) : impl_(std::move(p)) {}

gateway::~gateway() {
  stop();
}

std::string gateway::endpoint() const {
  return impl_->endpoint;
}

std::uint16_t gateway::port() const noexcept {
  return impl_->port;
}

bool gateway::tls() const noexcept {
  return impl_->rt->tls.has_value();
}

void gateway::stop() {
  impl_->stop();
}

} // namespace twin::gateway
