#include "fake_fabric.hpp"

#include <algorithm>
#include <stdexcept>

namespace twin::test {

struct fake_fabric::subscriber {
  std::function<void(const json&)> on_event;
  actors::request_context ctx;
};

class fake_fabric::fake_subscription final : public actors::subscription {
public:
  fake_subscription(fake_fabric& f, std::shared_ptr<subscriber> s)
    : fabric_(f), sub_(std::move(s)) {}
  ~fake_subscription() override {
    std::lock_guard lock(fabric_.mutex_);
    std::erase(fabric_.subscribers_, sub_);
    fabric_.cv_.notify_all();
  }

private:
  fake_fabric& fabric_;
  std::shared_ptr<subscriber> sub_;
};

namespace {

fabric_call make_call(std::string op, const actors::request_context& ctx,
                      std::string id = {}, json body = {}) {
  fabric_call c;
  c.op = std::move(op);
  c.ctx = ctx;
  c.id = std::move(id);
  c.body = std::move(body);
  return c;
}

} // namespace

fake_fabric::fake_fabric() = default;

fake_fabric::~fake_fabric() {
  for (auto& t : repliers_)
    t.join();
}

json fake_fabric::default_answer(const fabric_call& c) {
  if (c.op == "get_twin" || c.op == "create_twin" || c.op == "patch_twin"
      || c.op == "transition")
    return {{"$id", c.id},
            {"$model", "dtmi:example:Bearing;1"},
            {"$lifecycle", "active"},
            {"$revision", 7},
            {"properties", json::object()},
            {"telemetry", json::object()}};
  if (c.op == "ingest")
    return {{"revision", 8}};
  if (c.op == "list_twins" || c.op == "list_models" || c.op == "list_audit"
      || c.op == "list_alerts")
    return {{"items", json::array()}};
  if (c.op == "verify_audit")
    return {{"intact", true}, {"records", 0}};
  if (c.op == "add_models")
    return {{"models", json::array({"dtmi:example:Bearing;1"})}};
  return json::object();
}

void fake_fabric::record(fabric_call c, actors::reply_fn reply,
                         std::optional<expected<json>> canned) {
  expected<json> answer = respond  ? respond(c)
                          : canned ? std::move(*canned)
                                   : expected<json>(default_answer(c));
  {
    std::lock_guard lock(mutex_);
    calls_.push_back(std::move(c));
    cv_.notify_all();
  }
  if (async_replies) {
    std::lock_guard lock(mutex_);
    repliers_.emplace_back(
      [reply = std::move(reply), answer = std::move(answer)]() mutable {
        std::this_thread::yield();
        reply(std::move(answer));
      });
  } else {
    reply(std::move(answer));
  }
}

std::vector<fabric_call> fake_fabric::calls() const {
  std::lock_guard lock(mutex_);
  return calls_;
}

fabric_call fake_fabric::last_call() const {
  std::lock_guard lock(mutex_);
  if (calls_.empty())
    throw std::logic_error("no call recorded");
  return calls_.back();
}

std::size_t fake_fabric::call_count() const {
  std::lock_guard lock(mutex_);
  return calls_.size();
}

std::size_t fake_fabric::push(const json& cloud_event) {
  std::vector<std::shared_ptr<subscriber>> subs;
  {
    std::lock_guard lock(mutex_);
    subs = subscribers_;
  }
  for (auto& s : subs)
    s->on_event(cloud_event);
  return subs.size();
}

std::size_t fake_fabric::subscribers() const {
  std::lock_guard lock(mutex_);
  return subscribers_.size();
}

bool fake_fabric::wait_subscribers(std::size_t n,
                                   std::chrono::milliseconds deadline) {
  std::unique_lock lock(mutex_);
  return cv_.wait_for(lock, deadline,
                      [&] { return subscribers_.size() == n; });
}

// -- the port -------------------------------------------------------------------

void fake_fabric::create_twin(const actors::request_context& ctx,
                              const std::string& id, json body,
                              actors::reply_fn reply) {
  fabric_call c = make_call("create_twin", ctx, id, std::move(body));
  record(std::move(c), std::move(reply));
}

void fake_fabric::get_twin(const actors::request_context& ctx,
                           const std::string& id, actors::reply_fn reply) {
  record(make_call("get_twin", ctx, id), std::move(reply));
}

void fake_fabric::patch_twin(const actors::request_context& ctx,
                             const std::string& id, json merge_patch,
                             std::optional<std::uint64_t> if_match,
                             actors::reply_fn reply) {
  fabric_call c = make_call("patch_twin", ctx, id, std::move(merge_patch));
  c.if_match = if_match;
  record(std::move(c), std::move(reply));
}

void fake_fabric::ingest(const actors::request_context& ctx,
                         const std::string& id, json body,
                         actors::reply_fn reply) {
  record(make_call("ingest", ctx, id, std::move(body)), std::move(reply));
}

void fake_fabric::transition(const actors::request_context& ctx,
                             const std::string& id, json body,
                             actors::reply_fn reply) {
  record(make_call("transition", ctx, id, std::move(body)),
         std::move(reply));
}

void fake_fabric::lineage(const actors::request_context& ctx,
                          const std::string& id, const std::string& property,
                          const std::optional<std::string>& at,
                          actors::reply_fn reply) {
  fabric_call c = make_call("lineage", ctx, id);
  c.property = property;
  c.at = at;
  record(std::move(c), std::move(reply));
}

void fake_fabric::list_twins(const actors::request_context& ctx,
                             actors::list_query q, actors::reply_fn reply) {
  fabric_call c = make_call("list_twins", ctx);
  c.query = std::move(q);
  record(std::move(c), std::move(reply));
}

void fake_fabric::add_models(const actors::request_context& ctx, json body,
                             actors::reply_fn reply) {
  record(make_call("add_models", ctx, {}, std::move(body)),
         std::move(reply));
}

void fake_fabric::list_models(const actors::request_context& ctx,
                              actors::reply_fn reply) {
  record(make_call("list_models", ctx), std::move(reply));
}

void fake_fabric::get_model(const actors::request_context& ctx,
                            const std::string& dtmi, actors::reply_fn reply) {
  record(make_call("get_model", ctx, dtmi), std::move(reply));
}

void fake_fabric::delete_model(const actors::request_context& ctx,
                               const std::string& dtmi,
                               actors::reply_fn reply) {
  record(make_call("delete_model", ctx, dtmi), std::move(reply));
}

void fake_fabric::list_audit(const actors::request_context& ctx,
                             std::uint64_t from, std::size_t limit,
                             actors::reply_fn reply) {
  fabric_call c = make_call("list_audit", ctx);
  c.from = from;
  c.limit = limit;
  record(std::move(c), std::move(reply));
}

void fake_fabric::verify_audit(const actors::request_context& ctx,
                               actors::reply_fn reply) {
  record(make_call("verify_audit", ctx), std::move(reply));
}

void fake_fabric::list_alerts(const actors::request_context& ctx,
                              std::uint64_t from, std::size_t limit,
                              actors::reply_fn reply) {
  fabric_call c = make_call("list_alerts", ctx);
  c.from = from;
  c.limit = limit;
  record(std::move(c), std::move(reply));
}

expected<std::unique_ptr<actors::subscription>>
fake_fabric::subscribe(const actors::request_context& ctx,
                       std::function<void(const json&)> on_event) {
  {
    std::lock_guard lock(mutex_);
    calls_.push_back(make_call("subscribe", ctx));
  }
  if (subscribe_error)
    return *subscribe_error;
  auto s = std::make_shared<subscriber>(subscriber{std::move(on_event), ctx});
  {
    std::lock_guard lock(mutex_);
    subscribers_.push_back(s);
    cv_.notify_all();
  }
  return std::unique_ptr<actors::subscription>(
    std::make_unique<fake_subscription>(*this, s));
}

void fake_fabric::cluster_status(const actors::request_context& ctx,
                                 actors::reply_fn reply) {
  std::optional<json> doc;
  {
    std::lock_guard lock(mutex_);
    doc = cluster_doc;
  }
  if (respond || doc) {
    std::optional<expected<json>> canned;
    if (doc)
      canned = expected<json>(std::move(*doc));
    record(make_call("cluster_status", ctx), std::move(reply), std::move(canned));
    return;
  }
  {
    std::lock_guard lock(mutex_);
    calls_.push_back(make_call("cluster_status", ctx));
    cv_.notify_all();
  }
  actors::fabric::cluster_status(ctx, std::move(reply)); // the port's default
}

json fake_fabric::health() {
  std::lock_guard lock(mutex_);
  return health_doc;
}

prometheus::Registry& fake_fabric::metrics() {
  return registry_;
}

// -- fixture --------------------------------------------------------------------

gateway_fixture::gateway_fixture(gateway::gateway_options options)
  : tokens([] {
      auto t = security::token_table::parse(
        std::string(admin_token) + " alice admin\n" + viewer_token
        + " victor viewer\n");
      if (!t)
        throw std::runtime_error("token table: " + t.error().describe());
      return std::move(t).value();
    }()) {
  options.address = "127.0.0.1";
  options.port = 0;
  auto g = gateway::gateway::start(std::move(options), fabric, tokens);
  if (!g)
    throw std::runtime_error("gateway start: " + g.error().describe());
  gw = std::move(g).value();
}

gateway_fixture::~gateway_fixture() {
  if (gw)
    gw->stop();
}

bool eventually(const std::function<bool()>& pred,
                std::chrono::milliseconds deadline) {
  auto until = std::chrono::steady_clock::now() + deadline;
  while (std::chrono::steady_clock::now() < until) {
    if (pred())
      return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return pred();
}

} // namespace twin::test
