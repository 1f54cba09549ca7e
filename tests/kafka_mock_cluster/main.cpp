// kafka-mock-cluster: runs librdkafka's mock cluster (in memory, loopback
// listeners on ephemeral ports) until SIGTERM/SIGINT.
//
//   kafka-mock-cluster [--brokers N] [--topic NAME:PARTITIONS]...
//                      [--prefix P] [--shards S]
//
// With --shards S it creates the fabric's topics P+"telemetry", P+"changelog",
// P+"events" (S partitions each) and P+"cluster" (1 partition); the prefix
// defaults to "twin.". Replication factor min(3, brokers). The first stdout
// line is "bootstrap HOST:PORT,...", flushed; then "ready".

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <pthread.h>
#include <string>
#include <utility>
#include <vector>

namespace {

[[noreturn]] void usage(const char* msg) {
  std::fprintf(stderr,
               "kafka-mock-cluster: %s\n"
               "usage: kafka-mock-cluster [--brokers N] [--topic NAME:PARTITIONS]... "
               "[--prefix P] [--shards S]\n",
               msg);
  std::exit(2);
}

int parse_positive(const std::string& s, const char* what) {
  char* end = nullptr;
  long v = std::strtol(s.c_str(), &end, 10);
  if (s.empty() || *end != '\0' || v <= 0 || v > 100000)
    usage((std::string("bad ") + what + ": '" + s + "'").c_str());
  return static_cast<int>(v);
}

} // namespace

int main(int argc, char** argv) {
  int brokers = 3;
  int shards = 0;
  std::string prefix = "twin.";
  std::vector<std::pair<std::string, int>> topics;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc)
        usage((a + " needs a value").c_str());
      return argv[++i];
    };
    if (a == "--brokers") {
      brokers = parse_positive(value(), "--brokers");
    } else if (a == "--topic") {
      std::string t = value();
      auto colon = t.rfind(':');
      if (colon == std::string::npos || colon == 0)
        usage(("--topic wants NAME:PARTITIONS, got '" + t + "'").c_str());
      topics.emplace_back(t.substr(0, colon), parse_positive(t.substr(colon + 1), "partitions"));
    } else if (a == "--prefix") {
      prefix = value();
    } else if (a == "--shards") {
      shards = parse_positive(value(), "--shards");
    } else if (a == "--help" || a == "-h") {
      usage("help");
    } else {
      usage(("unknown argument '" + a + "'").c_str());
    }
  }
  if (shards > 0) {
    topics.emplace_back(prefix + "telemetry", shards);
    topics.emplace_back(prefix + "changelog", shards);
    topics.emplace_back(prefix + "events", shards);
    topics.emplace_back(prefix + "cluster", 1);
  }

  // Block the signals before librdkafka starts its threads, so they inherit
  // the mask and sigwait() below receives them.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  char errstr[512];
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  // The handle only hosts the mock; it never connects anywhere.
  if (rd_kafka_conf_set(conf, "log_level", "3", errstr, sizeof errstr) != RD_KAFKA_CONF_OK) {
    std::fprintf(stderr, "kafka-mock-cluster: %s\n", errstr);
    return 1;
  }
  rd_kafka_t* rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof errstr);
  if (!rk) {
    std::fprintf(stderr, "kafka-mock-cluster: creating the host handle failed: %s\n", errstr);
    return 1;
  }
  rd_kafka_mock_cluster_t* mc = rd_kafka_mock_cluster_new(rk, brokers);
  if (!mc) {
    std::fprintf(stderr, "kafka-mock-cluster: rd_kafka_mock_cluster_new(%d) failed\n", brokers);
    rd_kafka_destroy(rk);
    return 1;
  }
  const int rf = brokers < 3 ? brokers : 3;
  for (const auto& [name, partitions] : topics) {
    rd_kafka_resp_err_t err = rd_kafka_mock_topic_create(mc, name.c_str(), partitions, rf);
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
      std::fprintf(stderr, "kafka-mock-cluster: creating topic %s (%d partitions) failed: %s\n",
                   name.c_str(), partitions, rd_kafka_err2str(err));
      rd_kafka_mock_cluster_destroy(mc);
      rd_kafka_destroy(rk);
      return 1;
    }
  }

  std::printf("bootstrap %s\n", rd_kafka_mock_cluster_bootstraps(mc));
  for (const auto& [name, partitions] : topics)
    std::printf("topic %s %d\n", name.c_str(), partitions);
  std::printf("ready\n");
  std::fflush(stdout);

  int sig = 0;
  while (sigwait(&signals, &sig) != 0) {
  }
  std::fprintf(stderr, "kafka-mock-cluster: %s, shutting down\n",
               sig == SIGINT ? "SIGINT" : "SIGTERM");
  rd_kafka_mock_cluster_destroy(mc);
  rd_kafka_destroy(rk);
  return 0;
}
