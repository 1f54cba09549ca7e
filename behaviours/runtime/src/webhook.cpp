#include "twin/behaviours/webhook.hpp"

#include <atomic>
#include <condition_variable>
#include <deque>
#include <iostream>
#include <mutex>
#include <thread>

#include <prometheus/counter.h>
#include <prometheus/gauge.h>
#include <prometheus/registry.h>

#include "twin/http/client.hpp"

namespace twin::behaviours {

using json = nlohmann::json;

std::chrono::milliseconds backoff_delay(int attempt, std::chrono::milliseconds initial,
                                        std::chrono::milliseconds max) {
  if (attempt <= 1)
    return std::chrono::milliseconds{0};
  long long d = initial.count();
  for (int i = 2; i < attempt && d < max.count(); ++i)
    d *= 2;
  return std::chrono::milliseconds{std::min<long long>(d, max.count())};
}

bool retryable_status(int status) noexcept {
  return status == 0 || status == 408 || status == 429 || status >= 500;
}

namespace {

struct sender {
  std::string url;
  std::string base;
  std::string target;
  const webhook_options* opt = nullptr;
  std::mutex mu;
  std::condition_variable cv;
  std::deque<std::string> queue;
  bool stopping = false;
  std::thread thread;
  std::atomic<std::uint64_t> delivered{0}, failed{0}, dropped{0}, attempts{0};
  prometheus::Counter* m_delivered = nullptr;
  prometheus::Counter* m_failed = nullptr;
  prometheus::Counter* m_dropped = nullptr;
  prometheus::Counter* m_attempts = nullptr;
  prometheus::Gauge* m_queue = nullptr;

  void offer(std::string body) {
    {
      std::lock_guard lk{mu};
      if (stopping)
        return;
      if (queue.size() >= opt->queue_capacity) {
        queue.pop_front(); // the oldest goes
        ++dropped;
        if (m_dropped)
          m_dropped->Increment();
      }
      queue.push_back(std::move(body));
      if (m_queue)
        m_queue->Set(static_cast<double>(queue.size()));
    }
    cv.notify_all();
  }

  /// Sleeps unless stopped; returns false when stopping.
  bool pause(std::chrono::milliseconds d) {
    std::unique_lock lk{mu};
    return !cv.wait_for(lk, d, [&] { return stopping; });
  }

  void run() {
    http::client_options co;
    co.connect_timeout = opt->timeout;
    co.request_timeout = opt->timeout;
    co.bearer_token = opt->bearer_token;
    co.user_agent = "twin-alert-webhook/1";
    http::client client{base, co};
    for (;;) {
      std::string body;
      {
        std::unique_lock lk{mu};
        cv.wait(lk, [&] { return stopping || !queue.empty(); });
        if (stopping)
          return;
        body = std::move(queue.front());
        queue.pop_front();
        if (m_queue)
          m_queue->Set(static_cast<double>(queue.size()));
      }
      bool done = false;
      for (int attempt = 1; attempt <= opt->max_attempts && !done; ++attempt) {
        if (attempt > 1 && !pause(backoff_delay(attempt, opt->initial_backoff, opt->max_backoff)))
          return;
        ++attempts;
        if (m_attempts)
          m_attempts->Increment();
        auto r = client.request("POST", target, body, {{"Content-Type", "application/json"}});
        int status = r ? r->status : 0;
        if (r && r->ok()) {
          ++delivered;
          if (m_delivered)
            m_delivered->Increment();
          done = true;
          break;
        }
        if (!r)
          client.close();
        if (!retryable_status(status)) {
          opt->log("webhook " + url + " refused an alert with HTTP " + std::to_string(status));
          break;
        }
      }
      if (!done) {
        ++failed;
        if (m_failed)
          m_failed->Increment();
      }
    }
  }
};

} // namespace

struct webhook_dispatcher::impl {
  webhook_options opt;
  std::vector<std::unique_ptr<sender>> senders;
  std::unique_ptr<actors::subscription> sub;
};

webhook_dispatcher::webhook_dispatcher(std::unique_ptr<impl> p) : impl_(std::move(p)) {}

webhook_dispatcher::~webhook_dispatcher() { stop(); }

expected<std::unique_ptr<webhook_dispatcher>> webhook_dispatcher::start(actors::fabric& fabric,
                                                                        webhook_options options) {
  auto p = std::make_unique<impl>();
  p->opt = std::move(options);
  if (!p->opt.log)
    p->opt.log = [](const std::string& s) { std::cerr << "alert-webhook: " << s << std::endl; };
  if (p->opt.max_attempts < 1)
    p->opt.max_attempts = 1;
  if (p->opt.queue_capacity < 1)
    p->opt.queue_capacity = 1;
  prometheus::Family<prometheus::Counter>* total = nullptr;
  prometheus::Family<prometheus::Counter>* tries = nullptr;
  prometheus::Family<prometheus::Gauge>* queued = nullptr;
  try {
    auto& reg = fabric.metrics();
    total = &prometheus::BuildCounter().Name("twin_alert_webhook_total")
               .Help("Alerts handed to a webhook by result (delivered, failed, dropped)")
               .Register(reg);
    tries = &prometheus::BuildCounter().Name("twin_alert_webhook_attempts_total")
               .Help("HTTP POSTs to a webhook (first tries and retries)")
               .Register(reg);
    queued = &prometheus::BuildGauge().Name("twin_alert_webhook_queue")
                .Help("Alerts waiting for a webhook").Register(reg);
  } catch (const std::exception& e) {
    p->opt.log(std::string{"metrics not registered: "} + e.what());
  }
  for (auto& u : p->opt.urls) {
    auto parsed = http::url::parse(u);
    if (!parsed)
      return make_error(errc::bad_request, "--alert-webhook " + u + ": " + parsed.error().message,
                        "webhook-url", "");
    auto s = std::make_unique<sender>();
    s->url = u;
    s->base = parsed->scheme + "://" + parsed->host + (parsed->port.empty() ? "" : ":" + parsed->port);
    s->target = parsed->prefix.empty() ? "/" : parsed->prefix;
    s->opt = &p->opt;
    if (total) {
      s->m_delivered = &total->Add({{"url", u}, {"result", "delivered"}});
      s->m_failed = &total->Add({{"url", u}, {"result", "failed"}});
      s->m_dropped = &total->Add({{"url", u}, {"result", "dropped"}});
      s->m_attempts = &tries->Add({{"url", u}});
      s->m_queue = &queued->Add({{"url", u}});
    }
    p->senders.push_back(std::move(s));
  }
  for (auto& s : p->senders)
    s->thread = std::thread([sp = s.get()] { sp->run(); });
  auto* raw = p.get();
  actors::request_context ctx;
  ctx.who.name = p->opt.principal;
  ctx.who.roles = {security::role::viewer};
  ctx.request_id = "alert-webhook";
  auto sub = fabric.subscribe(ctx, [raw](const json& ce) {
    auto type = ce.value("type", "");
    if (type.rfind("twin.alert.", 0) != 0)
      return;
    auto body = ce.dump();
    for (auto& s : raw->senders)
      s->offer(body);
  });
  std::unique_ptr<webhook_dispatcher> d{new webhook_dispatcher(std::move(p))};
  if (!sub)
    return sub.error();
  d->impl_->sub = std::move(*sub);
  return d;
}

void webhook_dispatcher::offer(const nlohmann::json& cloud_event) {
  auto body = cloud_event.dump();
  for (auto& s : impl_->senders)
    s->offer(body);
}

void webhook_dispatcher::stop() {
  if (!impl_)
    return;
  impl_->sub.reset();
  for (auto& s : impl_->senders) {
    {
      std::lock_guard lk{s->mu};
      s->stopping = true;
    }
    s->cv.notify_all();
  }
  for (auto& s : impl_->senders)
    if (s->thread.joinable())
      s->thread.join();
}

webhook_stats webhook_dispatcher::stats() const {
  webhook_stats st;
  for (auto& s : impl_->senders) {
    st.delivered += s->delivered;
    st.failed += s->failed;
    st.dropped += s->dropped;
    st.attempts += s->attempts;
  }
  return st;
}

} // namespace twin::behaviours
