#pragma once
// A single thread running delayed tasks in deadline order (retries of
// requests for moving shards, announcements, offset commits). Tasks must
// not block for long: they share the thread.

#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <queue>
#include <thread>
#include <vector>

namespace twin::cluster::detail {

class timer_queue {
public:
  using clock = std::chrono::steady_clock;

  timer_queue() : thread_([this] { run(); }) {}
  ~timer_queue() { stop(); }
  timer_queue(const timer_queue&) = delete;
  timer_queue& operator=(const timer_queue&) = delete;

  /// Runs fn after `delay`; after stop(), never.
  void after(std::chrono::milliseconds delay, std::function<void()> fn) {
    std::lock_guard lk{mtx_};
    if (stopping_)
      return;
    tasks_.push(task{clock::now() + delay, seq_++, std::move(fn)});
    cv_.notify_one();
  }

  /// Drops pending tasks and joins the thread. Idempotent.
  void stop() {
    {
      std::lock_guard lk{mtx_};
      if (stopping_)
        return;
      stopping_ = true;
      cv_.notify_all();
    }
    if (thread_.joinable())
      thread_.join();
  }

private:
  struct task {
    clock::time_point when;
    std::uint64_t seq;
    std::function<void()> fn;
    bool operator>(const task& o) const {
      return when != o.when ? when > o.when : seq > o.seq;
    }
  };

  void run() {
    std::unique_lock lk{mtx_};
    while (!stopping_) {
      if (tasks_.empty()) {
        cv_.wait(lk);
        continue;
      }
      auto when = tasks_.top().when;
      if (clock::now() < when) {
        cv_.wait_until(lk, when);
        continue;
      }
      auto fn = std::move(const_cast<task&>(tasks_.top()).fn);
      tasks_.pop();
      lk.unlock();
      fn();
      lk.lock();
    }
  }

  std::mutex mtx_;
  std::condition_variable cv_;
  std::priority_queue<task, std::vector<task>, std::greater<>> tasks_;
  std::uint64_t seq_ = 0;
  bool stopping_ = false;
  std::thread thread_;
};

} // namespace twin::cluster::detail
