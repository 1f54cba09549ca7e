#pragma once
// The in-process librdkafka mock cluster shared by the kafka tests (3
// brokers on loopback), and small waiting helpers.

#include <twin/kafka/kafka.hpp>

#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <string>
#include <thread>

namespace kafka_test {

/// The cluster, created on first use; destroyed by the global fixture.
struct mock_cluster {
  static mock_cluster& get();
  static void shutdown();
  /// rd_kafka_mock_topic_create with replication factor 3.
  void create_topic(const std::string& name, int partitions);
  std::string bootstrap;

  struct impl;
  impl* p = nullptr;
};

/// Consumer settings for fast group rebalances on the mock.
inline twin::kafka::settings fast_group() {
  return {{"session.timeout.ms", "3000"},
          {"heartbeat.interval.ms", "500"},
          {"fetch.wait.max.ms", "100"}};
}

/// Polls pred every 10 ms until true or timeout; returns pred().
inline bool wait_for(const std::function<bool()>& pred, std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (pred())
      return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return pred();
}

inline double seconds_since(std::chrono::steady_clock::time_point t) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t).count();
}

/// Produces n records and waits for every delivery; returns the deliveries.
std::vector<twin::kafka::delivery> produce_all(twin::kafka::producer& p, const std::string& topic,
                                               const std::vector<std::pair<std::string, std::string>>& kv,
                                               std::int32_t partition = -1);

} // namespace kafka_test
