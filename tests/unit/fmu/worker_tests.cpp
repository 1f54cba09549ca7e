#include <boost/test/unit_test.hpp>

#include <array>
#include <csignal>
#include <functional>
#include <sys/wait.h>

#include "fmu_test_support.hpp"

using namespace twin;
using namespace twin::fmu;
using namespace std::chrono_literals;

void check_thermal_exact(co_simulator& s);
void check_thermal_parameters(co_simulator& s);
void check_failing_fmu(co_simulator& s, const std::function<void()>& before_free);

namespace {

std::unique_ptr<worker_fmu> make_worker(const std::string& name, const std::string& v,
                                        worker_options o = fmu_test::worker_opts()) {
  auto w = worker_fmu::create(fmu_test::fmu_path(name, v), o);
  BOOST_TEST_REQUIRE(w.has_value(), w);
  return std::move(*w);
}

void start(co_simulator& s) {
  BOOST_TEST_REQUIRE(s.setup({}).has_value());
  BOOST_TEST_REQUIRE(s.enter_initialization().has_value());
  BOOST_TEST_REQUIRE(s.exit_initialization().has_value());
}

} // namespace

BOOST_AUTO_TEST_SUITE(host_in_worker)

BOOST_AUTO_TEST_CASE(thermal_in_a_worker_matches_its_exact_solution) {
  for (const auto& v : fmu_test::versions) {
    BOOST_TEST_CONTEXT(v) {
      auto w = make_worker("thermal", v);
      BOOST_TEST(w->alive());
      check_thermal_exact(*w);
    }
  }
}

BOOST_AUTO_TEST_CASE(batched_step_in_a_worker_equals_separate_calls_in_process) {
  for (const auto& v : fmu_test::versions) {
    BOOST_TEST_CONTEXT(v) {
      auto w = make_worker("thermal", v);
      auto p = fmu_test::open_in_process("thermal", v);
      start(*w);
      start(*p);
      const std::array<value_reference, 1> in{2};
      const std::array<value_reference, 2> outs{1, 4};
      for (int k = 0; k < 20; ++k) {
        const std::array<double, 1> power{100.0 * k};
        std::array<double, 2> a{}, b{};
        BOOST_TEST_REQUIRE(w->step_float64(in, power, k * 0.5, 0.5, outs, a).has_value());
        BOOST_TEST_REQUIRE(p->set_float64(in, power).has_value());
        BOOST_TEST_REQUIRE(p->do_step(k * 0.5, 0.5).has_value());
        BOOST_TEST_REQUIRE(p->get_float64(outs, b).has_value());
        BOOST_TEST(a[0] == b[0]);
        BOOST_TEST(a[1] == b[1]);
      }
      BOOST_TEST(w->time() == 10.0);
    }
  }
}

BOOST_AUTO_TEST_CASE(parameters_and_every_type_cross_the_worker_boundary) {
  for (const auto& v : fmu_test::versions) {
    BOOST_TEST_CONTEXT(v) {
      auto w = make_worker("thermal", v);
      check_thermal_parameters(*w);
    }
  }
}

BOOST_AUTO_TEST_CASE(fmu_error_in_a_worker_is_reported_and_the_worker_lives) {
  for (const auto& v : fmu_test::versions) {
    BOOST_TEST_CONTEXT(v) {
      auto w = make_worker("failing", v);
      const pid_t pid = w->pid();
      // An Error is the FMU's answer, not a crash: the same worker lives on.
      check_failing_fmu(*w, [&] {
        BOOST_TEST(w->alive());
        BOOST_TEST(w->pid() == pid);
        BOOST_TEST(w->consecutive_failures() == 0);
      });
    }
  }
}

BOOST_AUTO_TEST_CASE(segfaulting_fmu_kills_only_its_worker_and_restarts_with_backoff) {
  for (const auto& v : fmu_test::versions) {
    BOOST_TEST_CONTEXT(v) {
      auto w = make_worker("crashing", v);
      const pid_t first = w->pid();
      start(*w);
      for (int k = 0; k < 3; ++k)
        BOOST_TEST_REQUIRE(w->do_step(k, 1).has_value());
      auto st = w->do_step(3, 1);
      BOOST_TEST_REQUIRE(!st.has_value());
      BOOST_TEST((st.error().code == errc::unavailable));
BOOST_TEST(fmu_test::names_worker_crash(st.error().message), st);
      BOOST_TEST(st.error().message.find("during do_step") != std::string::npos, st);
      BOOST_TEST(!w->alive());
      BOOST_TEST((w->state() == instance_state::freed));
      BOOST_TEST(w->consecutive_failures() == 1);
      BOOST_TEST(w->restart_delay().count() == 100);
      auto refused = w->do_step(3, 1);
      BOOST_TEST_REQUIRE(!refused.has_value());
      BOOST_TEST(refused.error().message.find("not running") != std::string::npos, refused);
      // The supervisor restarts it: a fresh instance that works again.
      auto r = w->restart();
      BOOST_TEST_REQUIRE(r.has_value(), r);
      BOOST_TEST(w->alive());
      BOOST_TEST(w->pid() != first);
      BOOST_TEST(w->restarts() == 1);
      start(*w);
      BOOST_TEST_REQUIRE(w->do_step(0, 1).has_value());
      for (int k = 1; k < 3; ++k)
        BOOST_TEST_REQUIRE(w->do_step(k, 1).has_value());
      BOOST_TEST(!w->do_step(3, 1).has_value());
      BOOST_TEST(w->consecutive_failures() == 2);
      BOOST_TEST(w->restart_delay().count() == 200);
    }
  }
}

BOOST_AUTO_TEST_CASE(hanging_fmu_times_out_and_its_worker_is_killed) {
  auto o = fmu_test::worker_opts();
  o.call_timeout = 300ms;
  auto w = make_worker("crashing", "fmi3", o);
  BOOST_TEST_REQUIRE(w->set_from_text("mode", "2").has_value());
  BOOST_TEST_REQUIRE(w->set_from_text("failAfter", "0").has_value());
  start(*w);
  const pid_t pid = w->pid();
  auto t0 = std::chrono::steady_clock::now();
  auto st = w->do_step(0, 1);
  BOOST_TEST_REQUIRE(!st.has_value());
  BOOST_TEST((std::chrono::steady_clock::now() - t0 < 5s));
  BOOST_TEST(st.error().message.find("did not answer within 300 ms") != std::string::npos, st);
  BOOST_TEST(!w->alive());
  // Reaped: no such process any more.
  BOOST_TEST(::kill(pid, 0) != 0);
}

BOOST_AUTO_TEST_CASE(worker_reports_open_errors_and_missing_binary) {
  auto o = fmu_test::worker_opts();
  o.executable = "/nonexistent/twin-fmu-worker";
  auto w = worker_fmu::create(fmu_test::fmu_path("thermal", "fmi3"), o);
  BOOST_TEST_REQUIRE(!w.has_value());
  BOOST_TEST((w.error().code == errc::unavailable));
  auto missing = worker_fmu::create("/nonexistent.fmu", fmu_test::worker_opts());
  BOOST_TEST_REQUIRE(!missing.has_value());
  BOOST_TEST((missing.error().code == errc::not_found));
}

BOOST_AUTO_TEST_CASE(freeing_a_worker_reaps_its_process) {
  auto w = make_worker("pid", "fmi2");
  const pid_t pid = w->pid();
  start(*w);
  BOOST_TEST_REQUIRE(w->terminate().has_value());
  w->free();
  BOOST_TEST(!w->alive());
  BOOST_TEST(::kill(pid, 0) != 0);
}

BOOST_AUTO_TEST_SUITE_END()
