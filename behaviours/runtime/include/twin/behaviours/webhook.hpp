#pragma once
// Delivers alerts to webhooks: subscribes to the change stream, takes every
// CloudEvent whose type starts with "twin.alert." and POSTs it (the
// CloudEvent JSON, Content-Type application/json) to each URL, with retries
// and exponential backoff. One bounded queue and one sender thread per URL;
// a full queue drops the oldest alert (counted). Metrics:
// twin_alert_webhook_total{url, result="delivered|failed|dropped"},
// twin_alert_webhook_attempts_total{url}, twin_alert_webhook_queue{url}.

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "twin/actors/fabric.hpp"
#include "twin/error.hpp"

namespace twin::behaviours {

struct webhook_options {
  /// http:// or https:// URLs, path included (e.g. http://ops:9000/hooks/twin).
  std::vector<std::string> urls;
  /// Alerts waiting per URL.
  std::size_t queue_capacity = 1000;
  /// Tries per alert (first try included); 5xx, 408, 429 and transport
  /// errors are retried, other 4xx are not.
  int max_attempts = 6;
  std::chrono::milliseconds initial_backoff{250};
  std::chrono::milliseconds max_backoff{30'000};
  /// Per request (connect + send + answer).
  std::chrono::milliseconds timeout{5'000};
  /// Sent as `Authorization: Bearer ...` when non-empty.
  std::string bearer_token;
  std::string principal = "alert-webhook";
  std::function<void(const std::string&)> log;
};

struct webhook_stats {
  std::uint64_t delivered = 0;
  std::uint64_t failed = 0;   ///< gave up after max_attempts (or a 4xx)
  std::uint64_t dropped = 0;  ///< queue full
  std::uint64_t attempts = 0;
};

class webhook_dispatcher {
public:
  /// Checks the URLs (bad_request naming the bad one), subscribes, starts
  /// one sender per URL.
  static expected<std::unique_ptr<webhook_dispatcher>> start(actors::fabric& fabric,
                                                             webhook_options options);
  ~webhook_dispatcher();
  /// Unsubscribes and stops the senders (alerts still queued are dropped
  /// after the one in flight). Idempotent.
  void stop();
  /// Sum over the URLs.
  webhook_stats stats() const;

  /// Queues one CloudEvent for every URL (what the subscription does).
  void offer(const nlohmann::json& cloud_event);

  struct impl;

private:
  explicit webhook_dispatcher(std::unique_ptr<impl> p);
  std::unique_ptr<impl> impl_;
};

/// The delay before try `attempt` (2, 3, ...): initial * 2^(attempt-2),
/// capped at max.
std::chrono::milliseconds backoff_delay(int attempt, std::chrono::milliseconds initial,
                                        std::chrono::milliseconds max);

/// Whether an HTTP answer (or a transport failure: status 0) is worth a retry.
bool retryable_status(int status) noexcept;

} // namespace twin::behaviours
