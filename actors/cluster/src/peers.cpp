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

struct endpoint_state {
  std::uint64_t next = 0;
  std::map<std::uint64_t, caf::response_promise> pending;
  static inline const char* name = "cluster-endpoint";
};

/// The published actor: hands each request to the handler and answers
/// through a message to itself (promises are delivered on the actor).
caf::behavior endpoint_actor(caf::stateful_actor<endpoint_state>* self,
                             std::shared_ptr<peer_link::handler_fn> handler) {
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
    [=](deliver_atom, std::uint64_t token, std::string& response) {
      auto it = self->state.pending.find(token);
      if (it == self->state.pending.end())
        return;
      it->second.deliver(std::move(response));
      self->state.pending.erase(it);
    },
  };
}

struct call_holder {
  call_fn fn;
};

/// One forwarded request: a short-lived actor awaiting the peer's answer
/// (spawn arguments, not captures: see ADR 0011).
void forward_actor(caf::event_based_actor* self, caf::actor peer, std::string request,
                   std::int64_t timeout_ms, std::shared_ptr<call_holder> cb) {
  self->request(peer, std::chrono::milliseconds{timeout_ms}, std::move(request))
    .then([cb](std::string& response) { cb->fn(std::move(response)); },
          [cb](caf::error& err) {
            cb->fn(make_error(errc::unavailable,
                              "peer request failed: " + caf::to_string(err)));
          });
}

std::string random_nonce() {
  std::random_device rd;
  std::string s(32, '\0');
  for (auto& c : s)
    c = "0123456789abcdef"[rd() % 16];
  return s;
}

} // namespace

struct peer_link::impl {
  options opts;
  const security::trust_anchor* ca = nullptr;
  std::unique_ptr<caf::actor_system_config> cfg;
  std::unique_ptr<caf::actor_system> sys;
  caf::actor endpoint;
  std::uint16_t port = 0;

  struct peer {
    std::string endpoint;
    caf::actor handle;
    bool connecting = false;
    std::vector<std::function<void(expected<caf::actor>)>> waiting;
  };
  std::mutex mtx;
  std::condition_variable cv;
  std::map<std::string, peer> peers;
  std::deque<std::pair<std::string, std::string>> connect_queue; // node, endpoint
  bool stopping = false;
  std::thread connector;

  void connector_loop() {
    for (;;) {
      std::pair<std::string, std::string> job;
      {
        std::unique_lock lk{mtx};
        cv.wait(lk, [&] { return stopping || !connect_queue.empty(); });
        if (stopping)
          return;
        job = connect_queue.front();
        connect_queue.pop_front();
      }
      auto result = connect(job.first, job.second);
      std::vector<std::function<void(expected<caf::actor>)>> waiting;
      {
        std::lock_guard lk{mtx};
        auto& p = peers[job.first];
        p.connecting = false;
        if (result && p.endpoint == job.second)
          p.handle = *result;
        waiting.swap(p.waiting);
      }
      for (auto& w : waiting)
        w(result);
    }
  }

  /// Connects and checks the peer's identity (blocking; connector thread).
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
    expected<caf::actor> out = make_error(errc::unavailable, "no answer to hello");
    caf::scoped_actor self{*sys};
    self->request(*h, std::chrono::seconds{5}, json{{"op", "hello"}, {"nonce", nonce}}.dump())
      .receive(
        [&](std::string& r) {
          auto j = json::parse(r, nullptr, false);
          if (j.is_discarded() || !j.contains("ok")) {
            out = make_error(errc::unauthorized, "node " + node + " answered hello with "
                                                   + r.substr(0, 200));
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

  void drop(const std::string& node) {
    std::lock_guard lk{mtx};
    if (auto it = peers.find(node); it != peers.end())
      it->second.handle = caf::actor{};
  }

  void with_peer(const std::string& node, const std::string& endpoint,
                 std::function<void(expected<caf::actor>)> fn) {
    caf::actor ready;
    {
      std::lock_guard lk{mtx};
      if (!stopping) {
        auto& p = peers[node];
        if (p.endpoint != endpoint) {
          p.endpoint = endpoint;
          p.handle = caf::actor{};
        }
        if (!p.handle) {
          p.waiting.push_back(std::move(fn));
          if (!p.connecting) {
            p.connecting = true;
            connect_queue.emplace_back(node, endpoint);
            cv.notify_one();
          }
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

peer_link::peer_link(std::unique_ptr<impl> p) : impl_(std::move(p)) {
}

peer_link::~peer_link() {
  stop();
}

expected<std::unique_ptr<peer_link>>
peer_link::start(options o, handler_fn handler, const security::trust_anchor* ca) {
  auto p = std::make_unique<impl>();
  p->opts = o;
  p->ca = ca;
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
  p->endpoint = p->sys->spawn(endpoint_actor, h);
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
  std::vector<std::function<void(expected<caf::actor>)>> waiting;
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
    w(make_error(errc::unavailable, "the cluster link is stopping"));
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

void peer_link::call(const std::string& node, const std::string& endpoint,
                     std::string request, std::chrono::milliseconds timeout,
                     call_fn done) {
  auto* p = impl_.get();
  p->with_peer(node, endpoint,
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
