#include "peers.hpp"

#include <condition_variable>
#include <deque>
#include <map>
#include <mutex>
#include <random>
#include <thread>

#include <caf/all.hpp>
#include <caf/io/all.hpp>
#include <caf/openssl/all.hpp>
#include <nlohmann/json.hpp>

namespace twin::cluster::detail {

namespace {

using json = nlohmann::json;
using deliver_atom = caf::atom_constant<caf::atom("deliver")>;
using clock = std::chrono::steady_clock;

std::string random_nonce() {
  std::random_device rd;
  std::string s(32, '\0');
  for (auto& c : s)
    c = "0123456789abcdef"[rd() % 16];
  return s;
}

struct call_holder {
  call_fn fn;
};

/// One forwarded request: a short-lived actor awaiting the peer's answer
/// (spawn arguments, not captures: CAF 0.17 and UBSan, see ADR 0001).
void forward_actor(caf::event_based_actor* self, caf::actor peer, std::string request,
                   std::int64_t timeout_ms, std::shared_ptr<call_holder> cb) {
  self->request(peer, std::chrono::milliseconds{timeout_ms}, std::move(request))
    .then([cb](std::string& response) { cb->fn(std::move(response)); },
          [cb](caf::error& err) {
            cb->fn(make_error(errc::unavailable,
                              "peer request failed: " + caf::to_string(err)));
          });
}

} // namespace

struct peer_link::impl {
  options opts;
  const security::trust_anchor* ca = nullptr;
  const security::node_identity* self = nullptr;
  std::unique_ptr<caf::actor_system_config> cfg;
  std::unique_ptr<caf::actor_system> sys;
  caf::actor endpoint;
  std::uint16_t port = 0;

  struct waiter {
    clock::time_point deadline;
    std::function<void(expected<caf::actor>)> fn;
  };
  struct peer {
    std::string endpoint;
    caf::actor handle;
    bool connecting = false;
    std::vector<waiter> waiting;
  };
  std::mutex mtx;
  std::condition_variable cv;
  std::map<std::string, peer> peers;
  std::deque<std::pair<std::string, std::string>> connect_queue; // node, endpoint
  bool stopping = false;
  std::thread connector;

  bool we_open(const std::string& node) const { return self->node_id() < node; }

  /// Hands the connection to the waiting calls (outside the lock).
  void settle(const std::string& node, const expected<caf::actor>& result,
              bool only_expired = false) {
    std::vector<waiter> ready;
    {
      std::lock_guard lk{mtx};
      auto it = peers.find(node);
      if (it == peers.end())
        return;
      auto& w = it->second.waiting;
      auto now = clock::now();
      for (auto i = w.begin(); i != w.end();) {
        if (!only_expired || i->deadline <= now) {
          ready.push_back(std::move(*i));
          i = w.erase(i);
        } else {
          ++i;
        }
      }
    }
    for (auto& w : ready)
      w.fn(result);
  }

  void connector_loop() {
    for (;;) {
      std::pair<std::string, std::string> job;
      std::vector<std::string> with_waiters;
      {
        std::unique_lock lk{mtx};
        cv.wait_for(lk, std::chrono::milliseconds{100},
                    [&] { return stopping || !connect_queue.empty(); });
        if (stopping)
          return;
        if (connect_queue.empty()) {
          for (auto& [n, p] : peers)
            if (!p.waiting.empty())
              with_waiters.push_back(n);
        } else {
          job = connect_queue.front();
          connect_queue.pop_front();
        }
      }
      for (auto& n : with_waiters)
        settle(n, make_error(errc::unavailable, "node " + n + " has not connected to us yet"),
               true);
      if (job.first.empty())
        continue;
      auto result = connect(job.first, job.second);
      {
        std::lock_guard lk{mtx};
        auto& p = peers[job.first];
        p.connecting = false;
        if (result && p.endpoint == job.second)
          p.handle = *result;
      }
      settle(job.first, result);
    }
  }

  /// Opens the pair's connection and runs the hello exchange (blocking;
  /// connector thread).
  expected<caf::actor> connect(const std::string& node, const std::string& endpoint) {
    auto colon = endpoint.rfind(':');
    if (colon == std::string::npos)
      return make_error(errc::unavailable, "bad endpoint '" + endpoint + "' of " + node);
    auto host = endpoint.substr(0, colon);
    std::uint16_t port = 0;
    try {
      port = static_cast<std::uint16_t>(std::stoul(endpoint.substr(colon + 1)));
    } catch (...) {
      return make_error(errc::unavailable, "bad endpoint '" + endpoint + "' of " + node);
    }
    auto h = caf::openssl::remote_actor(*sys, host, port);
    if (!h)
      return make_error(errc::unavailable, "cannot connect to node " + node + " at "
                                             + endpoint + ": " + sys->render(h.error()));
    auto nonce = random_nonce();
    json hello{{"op", "hello"},
               {"node", self->node_id()},
               {"to", node},
               {"nonce", nonce},
               {"certificate", self->certificate_pem()},
               {"sig", security::to_base64(self->sign("hello:" + node + ":" + nonce))}};
    expected<caf::actor> out = make_error(errc::unavailable, "no answer to hello");
    caf::scoped_actor me{*sys};
    me->request(*h, std::chrono::seconds{5}, hello.dump(), endpoint_handle())
      .receive(
        [&](std::string& r) {
          auto j = json::parse(r, nullptr, false);
          if (j.is_discarded() || !j.contains("ok")) {
            out = make_error(errc::unauthorized, "node " + node + " refused hello: "
                                                   + r.substr(0, 300));
            return;
          }
          auto& ok = j["ok"];
          auto sig = security::from_base64(ok.value("sig", ""));
          if (!sig) {
            out = sig.error();
            return;
          }
          auto who = ca->verify_signed(ok.value("certificate", ""), nonce, *sig);
          if (!who) {
            out = make_error(errc::unauthorized, "node at " + endpoint
                                                   + " failed the identity check: "
                                                   + who.error().message);
            return;
          }
          if (*who != node) {
            out = make_error(errc::unauthorized, "the node at " + endpoint + " is '" + *who
                                                   + "', but '" + node
                                                   + "' announced that endpoint");
            return;
          }
          out = *h;
        },
        [&](caf::error& err) {
          out = make_error(errc::unavailable,
                           "hello to " + node + " failed: " + sys->render(err));
        });
    return out;
  }

  caf::actor endpoint_handle() const { return endpoint; }

  /// The other side of connect(): a peer with a smaller id opened the
  /// connection; check it and keep its endpoint as our way back.
  std::string accept_hello(const json& j, const caf::actor& back) {
    auto node = j.value("node", "");
    auto nonce = j.value("nonce", "");
    if (j.value("to", "") != self->node_id())
      return json{{"error", {{"code", "unauthorized"},
                             {"message", "hello addressed to " + j.value("to", "")}}}}
        .dump();
    auto sig = security::from_base64(j.value("sig", ""));
    auto who = sig ? ca->verify_signed(j.value("certificate", ""),
                                       "hello:" + self->node_id() + ":" + nonce, *sig)
                   : expected<std::string>{sig.error()};
    if (!who || *who != node || !back)
      return json{{"error",
                   {{"code", "unauthorized"},
                    {"message", "identity check failed: "
                                  + (who ? "certificate names '" + *who + "'"
                                         : who.error().message)}}}}
        .dump();
    {
      std::lock_guard lk{mtx};
      peers[node].handle = back;
    }
    settle(node, back);
    return json{{"ok", {{"node", self->node_id()},
                        {"certificate", self->certificate_pem()},
                        {"sig", security::to_base64(self->sign(nonce))}}}}
      .dump();
  }

  void drop(const std::string& node) {
    std::lock_guard lk{mtx};
    if (auto it = peers.find(node); it != peers.end() && we_open(node))
      it->second.handle = caf::actor{};
  }

  void request_connect(peer& p, const std::string& node) {
    if (!p.connecting && we_open(node)) {
      p.connecting = true;
      connect_queue.emplace_back(node, p.endpoint);
      cv.notify_one();
    }
  }

  void with_peer(const std::string& node, const std::string& endpoint,
                 std::chrono::milliseconds wait,
                 std::function<void(expected<caf::actor>)> fn) {
    caf::actor ready;
    {
      std::lock_guard lk{mtx};
      if (!stopping) {
        auto& p = peers[node];
        if (p.endpoint != endpoint && we_open(node)) {
          p.endpoint = endpoint;
          p.handle = caf::actor{};
        }
        p.endpoint = endpoint;
        if (!p.handle) {
          p.waiting.push_back(waiter{clock::now() + wait, std::move(fn)});
          request_connect(p, node);
          return;
        }
        ready = p.handle;
      }
    }
    if (ready)
      return fn(ready);
    fn(make_error(errc::unavailable, "the cluster link is stopping"));
  }
};

namespace {

struct endpoint_state {
  std::uint64_t next = 0;
  std::map<std::uint64_t, caf::response_promise> pending;
  static inline const char* name = "cluster-endpoint";
};

/// The published actor: hands each request to the handler and answers
/// through a message to itself (promises are delivered on the actor).
caf::behavior endpoint_actor(caf::stateful_actor<endpoint_state>* self,
                             std::shared_ptr<peer_link::handler_fn> handler,
                             peer_link::impl* link) {
  return {
    [=](std::string& request) -> caf::result<std::string> {
      auto rp = self->make_response_promise<std::string>();
      auto token = ++self->state.next;
      self->state.pending.emplace(token, rp);
      caf::actor me = caf::actor_cast<caf::actor>(self);
      (*handler)(std::move(request), [me, token](std::string response) {
        caf::anon_send(me, deliver_atom::value, token, std::move(response));
      });
      return rp;
    },
    [=](std::string& hello, caf::actor& back) -> std::string {
      auto j = json::parse(hello, nullptr, false);
      if (j.is_discarded())
        return R"({"error":{"code":"bad_request","message":"bad hello"}})";
      return link->accept_hello(j, back);
    },
    [=](deliver_atom, std::uint64_t token, std::string& response) {
      auto it = self->state.pending.find(token);
      if (it == self->state.pending.end())
        return;
      it->second.deliver(std::move(response));
      self->state.pending.erase(it);
    },
  };
}

} // namespace

peer_link::peer_link(std::unique_ptr<impl> p) : impl_(std::move(p)) {
}

peer_link::~peer_link() {
  stop();
}

expected<std::unique_ptr<peer_link>>
peer_link::start(options o, handler_fn handler, const security::trust_anchor* ca,
                 const security::node_identity* self) {
  auto p = std::make_unique<impl>();
  p->opts = o;
  p->ca = ca;
  p->self = self;
  p->cfg = std::make_unique<caf::actor_system_config>();
  p->cfg->load<caf::io::middleman>();
  p->cfg->load<caf::openssl::manager>();
  p->cfg->set("scheduler.max-threads", std::max<std::size_t>(1, o.threads));
  p->cfg->set("scheduler.policy", caf::atom("sharing"));
  p->cfg->set("logger.verbosity", caf::atom("quiet"));
  p->cfg->set("middleman.enable-automatic-connections", false);
  // All three set: mutual authentication against the fabric CA. The files
  // were checked by node_identity::load (CAF would die at the first
  // connection on a bad one).
  p->cfg->openssl_certificate = o.tls.certificate;
  p->cfg->openssl_key = o.tls.key;
  p->cfg->openssl_cafile = o.tls.ca;
  p->sys = std::make_unique<caf::actor_system>(*p->cfg);
  auto h = std::make_shared<handler_fn>(std::move(handler));
  p->endpoint = p->sys->spawn(endpoint_actor, h, p.get());
  auto port = caf::openssl::publish(p->endpoint, o.port, o.host.c_str(), true);
  if (!port) {
    auto msg = p->sys->render(port.error());
    caf::anon_send_exit(p->endpoint, caf::exit_reason::user_shutdown);
    return make_error(errc::unavailable, "cannot listen for cluster peers on " + o.host
                                           + ":" + std::to_string(o.port) + ": " + msg);
  }
  p->port = *port;
  p->connector = std::thread{[raw = p.get()] { raw->connector_loop(); }};
  return std::unique_ptr<peer_link>(new peer_link(std::move(p)));
}

void peer_link::stop() {
  if (!impl_ || !impl_->sys)
    return;
  std::vector<impl::waiter> waiting;
  {
    std::lock_guard lk{impl_->mtx};
    if (impl_->stopping)
      return;
    impl_->stopping = true;
    for (auto& [n, p] : impl_->peers)
      for (auto& w : p.waiting)
        waiting.push_back(std::move(w));
    impl_->peers.clear();
    impl_->cv.notify_all();
  }
  for (auto& w : waiting)
    w.fn(make_error(errc::unavailable, "the cluster link is stopping"));
  if (impl_->connector.joinable())
    impl_->connector.join();
  caf::anon_send_exit(impl_->endpoint, caf::exit_reason::user_shutdown);
  impl_->endpoint = caf::actor{};
  impl_->sys.reset();
  impl_->cfg.reset();
}

std::uint16_t peer_link::port() const noexcept {
  return impl_->port;
}

void peer_link::introduce(const std::string& node, const std::string& endpoint) {
  auto* p = impl_.get();
  std::lock_guard lk{p->mtx};
  if (p->stopping || !p->we_open(node))
    return;
  auto& peer = p->peers[node];
  if (peer.endpoint != endpoint) {
    peer.endpoint = endpoint;
    peer.handle = caf::actor{};
  }
  if (!peer.handle)
    p->request_connect(peer, node);
}

void peer_link::call(const std::string& node, const std::string& endpoint,
                     std::string request, std::chrono::milliseconds timeout,
                     call_fn done) {
  auto* p = impl_.get();
  p->with_peer(node, endpoint, std::min(timeout, std::chrono::milliseconds{5000}),
               [p, node, request = std::move(request), timeout,
                done = std::move(done)](expected<caf::actor> h) mutable {
                 if (!h)
                   return done(h.error());
                 auto cb = std::make_shared<call_holder>();
                 cb->fn = [p, node, done = std::move(done)](expected<std::string> r) {
                   if (!r)
                     p->drop(node);
                   done(std::move(r));
                 };
                 p->sys->spawn(forward_actor, *h, std::move(request),
                               static_cast<std::int64_t>(timeout.count()), cb);
               });
}

void peer_link::forget(const std::string& node) {
  impl_->drop(node);
}

} // namespace twin::cluster::detail
