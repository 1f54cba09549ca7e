#pragma once
// Shared fixture of the integration tests: a fresh data directory, a tokens
// file and a running twin-node; its log is printed when a test fails.

#include <memory>
#include <string>
#include <vector>

#include <boost/test/results_collector.hpp>
#include <boost/test/unit_test.hpp>

#include "twin/test/support.hpp"

namespace twin::test {

/// True if the running test case has failed so far.
inline bool current_test_failed() {
  using namespace boost::unit_test;
  auto id = framework::current_test_case().p_id;
  return !results_collector.results(id).passed();
}

struct node_fixture {
  temp_dir dir{"twin-it"};
  fs::path data_dir = dir / "data";
  fs::path tokens_file = dir / "tokens";
  tokens tok = write_tokens_file(tokens_file);
  std::unique_ptr<node_process> node;

  explicit node_fixture(std::vector<std::string> extra_args = {}, bool start_now = true)
    : extra_args_(std::move(extra_args)) {
    fs::create_directories(data_dir);
    if (start_now)
      start();
  }

  ~node_fixture() {
    if (node && current_test_failed())
      node->print_log();
    else if (!node && !last_log_.empty() && current_test_failed())
      std::cerr << last_log_;
  }

  /// Starts (or restarts) the node on the same data directory.
  void start() {
    if (node) {
      last_log_ = node->log();
      node.reset();
    }
    node_options o;
    o.data_dir = data_dir;
    o.tokens_file = tokens_file;
    o.extra_args = extra_args_;
    node = std::make_unique<node_process>(std::move(o));
  }

  const std::string& url() const { return node->base_url(); }
  api_client admin() const { return api_client{url(), tok.admin}; }
  api_client operator_() const { return api_client{url(), tok.operator_}; }
  api_client viewer() const { return api_client{url(), tok.viewer}; }
  api_client anonymous() const { return api_client{url(), ""}; }

  /// Uploads the bearing model (201, or 409 if it is there already).
  void upload_bearing() {
    auto c = admin();
    auto r = c.post("/api/v1/models", nlohmann::json::array({bearing_model()}));
    BOOST_REQUIRE_MESSAGE(r.status == 201 || r.status == 409,
                          "model upload: " << r.status << " " << r.raw.body);
  }

  /// Creates a twin of the bearing model; requires 201.
  nlohmann::json create_twin(const std::string& id,
                             const nlohmann::json& props = nlohmann::json::object()) {
    auto c = operator_();
    auto r = c.put(twin_path(id), {{"$model", bearing_dtmi}, {"properties", props}});
    BOOST_REQUIRE_MESSAGE(r.status == 201, "create " << id << ": " << r.status << " "
                                                     << r.raw.body);
    return r.body;
  }

  /// Moves a twin to `to`; requires 200.
  nlohmann::json transition(const std::string& id, const std::string& to,
                            const std::string& reason = "test") {
    auto c = operator_();
    auto r = c.post(twin_path(id) + "/lifecycle", {{"to", to}, {"reason", reason}});
    BOOST_REQUIRE_MESSAGE(r.status == 200, "lifecycle " << id << " -> " << to << ": "
                                                        << r.status << " " << r.raw.body);
    return r.body;
  }

private:
  std::vector<std::string> extra_args_;
  std::string last_log_;
};

} // namespace twin::test
