#pragma once
// A test double of the fabric port: records every call and answers with a
// canned result, synchronously or (async_replies) from another thread, as
// the real fabric does. Plus the fixture that starts a gateway on port 0.

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <prometheus/registry.h>

#include "client.hpp"
#include "twin/actors/fabric.hpp"
#include "twin/gateway/gateway.hpp"

namespace twin::test {

using nlohmann::json;

/// One recorded call of the port.
struct fabric_call {
  std::string op;                  ///< "get_twin", "list_twins", ...
  actors::request_context ctx;
  std::string id;                  ///< twin id or DTMI
  json body;
  std::optional<std::uint64_t> if_match;
  actors::list_query query;
  std::string property;
  std::optional<std::string> at;
  std::uint64_t from = 0;
  std::size_t limit = 0;
};

class fake_fabric final : public actors::fabric {
public:
  fake_fabric();
  ~fake_fabric() override;

  /// The answer to a call; default: a twin document for twin operations,
  /// {"revision": 8} for ingest, {"items": []} for lists, {} otherwise.
  std::function<expected<json>(const fabric_call&)> respond;
  /// Reply from a separate thread instead of inside the call.
  std::atomic<bool> async_replies{false};
  /// Error subscribe() returns, if set.
  std::optional<error> subscribe_error;

  /// Calls recorded so far (copy).
  std::vector<fabric_call> calls() const;
  fabric_call last_call() const;
  std::size_t call_count() const;

  /// Delivers `cloud_event` to every live subscriber (as a fabric thread
  /// would). Returns the number of subscribers reached.
  std::size_t push(const json& cloud_event);
  std::size_t subscribers() const;
  /// Waits until the number of live subscribers is `n`.
  bool wait_subscribers(std::size_t n, std::chrono::milliseconds deadline);

  json health_doc = {{"status", "ok"}, {"twinsActive", 3}};
  /// The answer of cluster_status (when `respond` is not set); none: the
  /// port's default implementation answers (the standalone view).
  std::optional<json> cluster_doc;

  // -- the port ---------------------------------------------------------------
  void create_twin(const actors::request_context& ctx, const std::string& id,
                   json body, actors::reply_fn reply) override;
  void get_twin(const actors::request_context& ctx, const std::string& id,
                actors::reply_fn reply) override;
  void patch_twin(const actors::request_context& ctx, const std::string& id,
                  json merge_patch, std::optional<std::uint64_t> if_match,
                  actors::reply_fn reply) override;
  void ingest(const actors::request_context& ctx, const std::string& id,
              json body, actors::reply_fn reply) override;
  void transition(const actors::request_context& ctx, const std::string& id,
                  json body, actors::reply_fn reply) override;
  void lineage(const actors::request_context& ctx, const std::string& id,
               const std::string& property,
               const std::optional<std::string>& at,
               actors::reply_fn reply) override;
  void list_twins(const actors::request_context& ctx, actors::list_query q,
                  actors::reply_fn reply) override;
  void add_models(const actors::request_context& ctx, json body,
                  actors::reply_fn reply) override;
  void list_models(const actors::request_context& ctx,
                   actors::reply_fn reply) override;
  void get_model(const actors::request_context& ctx, const std::string& dtmi,
                 actors::reply_fn reply) override;
  void delete_model(const actors::request_context& ctx,
                    const std::string& dtmi, actors::reply_fn reply) override;
  void list_audit(const actors::request_context& ctx, std::uint64_t from,
                  std::size_t limit, actors::reply_fn reply) override;
  void verify_audit(const actors::request_context& ctx,
                    actors::reply_fn reply) override;
  void list_alerts(const actors::request_context& ctx, std::uint64_t from,
                   std::size_t limit, actors::reply_fn reply) override;
  expected<std::unique_ptr<actors::subscription>>
  subscribe(const actors::request_context& ctx,
            std::function<void(const json&)> on_event) override;
  void cluster_status(const actors::request_context& ctx,
                      actors::reply_fn reply) override;
  json health() override;
  prometheus::Registry& metrics() override;

private:
  struct subscriber;
  class fake_subscription;

  void record(fabric_call c, actors::reply_fn reply,
              std::optional<expected<json>> answer = std::nullopt);
  static json default_answer(const fabric_call& c);

  mutable std::mutex mutex_;
  std::condition_variable cv_;
  std::vector<fabric_call> calls_;
  std::vector<std::thread> repliers_;
  std::vector<std::shared_ptr<subscriber>> subscribers_;
  prometheus::Registry registry_;
};

/// Tokens of the tests.
inline constexpr const char* admin_token = "admin-token-0123456789";
inline constexpr const char* viewer_token = "viewer-token-0123456789";

/// A fake fabric and a gateway on 127.0.0.1:0 in front of it.
struct gateway_fixture {
  explicit gateway_fixture(gateway::gateway_options options = {});
  ~gateway_fixture();

  std::uint16_t port() const { return gw->port(); }
  header_list auth(const char* token = admin_token) const {
    return {{"Authorization", std::string("Bearer ") + token}};
  }
  http_reply get(const std::string& target,
                 const char* token = admin_token) const {
    return http(port(), "GET", target, auth(token));
  }

  fake_fabric fabric;
  security::token_table tokens;
  std::unique_ptr<gateway::gateway> gw;
};

/// Waits until `pred` holds, polling, at most `deadline`.
bool eventually(const std::function<bool()>& pred,
                std::chrono::milliseconds deadline = std::chrono::seconds(5));

} // namespace twin::test
