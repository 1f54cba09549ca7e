#include <boost/test/unit_test.hpp>

#include <array>
#include <cmath>
#include <fstream>
#include <functional>
#include <sstream>

#include "fmu_test_support.hpp"
#include "twin/fmu/archive.hpp"

using namespace twin;
using namespace twin::fmu;
namespace fs = std::filesystem;
namespace tt = boost::test_tools;

namespace {

// Thermal value references (models/CMakeLists.txt).
constexpr value_reference T = 1, P = 2, TAU = 3, R = 4, TAMB = 5, T0 = 6, STEPS = 100,
                          ENABLED = 200, LABEL = 300;

double get1(co_simulator& s, value_reference vr) {
  std::array<value_reference, 1> v{vr};
  std::array<double, 1> out{};
  auto st = s.get_float64(v, out);
  BOOST_TEST_REQUIRE(st.has_value(), st);
  return out[0];
}

void set1(co_simulator& s, value_reference vr, double x) {
  std::array<value_reference, 1> v{vr};
  std::array<double, 1> in{x};
  auto st = s.set_float64(v, in);
  BOOST_TEST_REQUIRE(st.has_value(), st);
}

void init(co_simulator& s, double t0 = 0.0) {
  experiment e;
  e.start_time = t0;
  BOOST_TEST_REQUIRE(s.setup(e).has_value());
  BOOST_TEST_REQUIRE(s.enter_initialization().has_value());
  auto st = s.exit_initialization();
  BOOST_TEST_REQUIRE(st.has_value(), st);
}

} // namespace

// Shared with worker_tests.cpp: the thermal FMU against its closed form.
void check_thermal_exact(co_simulator& s) {
  const double tau = 50, r = 0.02, tamb = 15, t0 = 30, h = 0.5;
  experiment e;
  BOOST_TEST_REQUIRE(s.setup(e).has_value());
  set1(s, TAU, tau);
  set1(s, R, r);
  set1(s, TAMB, tamb);
  set1(s, T0, t0);
  BOOST_TEST_REQUIRE(s.enter_initialization().has_value());
  BOOST_TEST_REQUIRE(s.exit_initialization().has_value());
  BOOST_TEST(get1(s, T) == t0);
  // P = 1000 W for t < 100 s, then off: T relaxes to T_amb + R*P, then back.
  auto exact = [&](double t) {
    const double tinf1 = tamb + r * 1000;
    if (t <= 100)
      return tinf1 + (t0 - tinf1) * std::exp(-t / tau);
    const double t100 = tinf1 + (t0 - tinf1) * std::exp(-100 / tau);
    return tamb + (t100 - tamb) * std::exp(-(t - 100) / tau);
  };
  double max_err = 0;
  for (int k = 0; k < 600; ++k) {
    const double t = k * h;
    set1(s, P, t < 100 ? 1000.0 : 0.0);
    auto st = s.do_step(t, h);
    BOOST_TEST_REQUIRE(st.has_value(), st);
    max_err = std::max(max_err, std::abs(get1(s, T) - exact(t + h)));
  }
  BOOST_TEST(max_err < 1e-10);
  BOOST_TEST(s.time() == 300.0);
  BOOST_TEST(s.terminate().has_value());
}

// Shared with worker_tests.cpp: parameters, start values and every type.
void check_thermal_parameters(co_simulator& s) {
  experiment e;
  e.start_time = 5;
  BOOST_TEST_REQUIRE(s.setup(e).has_value());
  // Start values as the model description declares them.
  std::array<value_reference, 1> steps{STEPS}, enabled{ENABLED}, label{LABEL};
  std::array<std::string, 1> text;
  BOOST_TEST_REQUIRE(s.get_string(label, text).has_value());
  BOOST_TEST(text[0] == "thermal");
  BOOST_TEST(get1(s, TAU) == 60.0);
  // Parameters and start values set before initialization.
  BOOST_TEST_REQUIRE(s.set_from_text("tau", "10").has_value());
  BOOST_TEST_REQUIRE(s.set_from_text("T0", "80").has_value());
  BOOST_TEST_REQUIRE(s.set_from_text("label", "oven 3").has_value());
  BOOST_TEST_REQUIRE(s.set_from_text("enabled", "false").has_value());
  auto bad = s.set_from_text("tau", "slow");
  BOOST_TEST_REQUIRE(!bad.has_value());
  BOOST_TEST(bad.error().message.find("not a valid Float64") != std::string::npos, bad);
  auto unknown = s.set_from_text("nope", "1");
  BOOST_TEST_REQUIRE(!unknown.has_value());
  BOOST_TEST((unknown.error().code == errc::not_found));
  BOOST_TEST_REQUIRE(s.enter_initialization().has_value());
  BOOST_TEST_REQUIRE(s.exit_initialization().has_value());
  BOOST_TEST(get1(s, T) == 80.0);
  set1(s, P, 1000);
  BOOST_TEST_REQUIRE(s.do_step(5, 10).has_value());
  // Heater disabled: P is ignored, T relaxes from 80 towards 20 with tau 10.
  BOOST_TEST(get1(s, T) == 20 + 60 * std::exp(-1.0), tt::tolerance(1e-12));
  std::array<std::int32_t, 1> n{};
  BOOST_TEST_REQUIRE(s.get_int32(steps, n).has_value());
  BOOST_TEST(n[0] == 1);
  bool on[1] = {true};
  BOOST_TEST_REQUIRE(s.set_boolean(enabled, on).has_value());
  bool back[1] = {false};
  BOOST_TEST_REQUIRE(s.get_boolean(enabled, back).has_value());
  BOOST_TEST(back[0]);
  BOOST_TEST_REQUIRE(s.get_string(label, text).has_value());
  BOOST_TEST(text[0] == "oven 3");
  auto v = s.get_value(*s.description().find("label"));
  BOOST_TEST_REQUIRE(v.has_value());
  BOOST_TEST(std::get<std::string>(*v) == "oven 3");
  BOOST_TEST(s.time() == 15.0);
}

// Shared with worker_tests.cpp: the failing FMU's Error stops the instance.
void check_failing_fmu(co_simulator& s, const std::function<void()>& before_free) {
  init(s);
  for (int k = 0; k < 3; ++k)
    BOOST_TEST_REQUIRE(s.do_step(k, 1).has_value());
  auto st = s.do_step(3, 1);
  BOOST_TEST_REQUIRE(!st.has_value());
  BOOST_TEST(st.error().message.find("DoStep returned Error at t=3") != std::string::npos, st);
  BOOST_TEST(st.error().message.find("deliberate failure") != std::string::npos, st);
  BOOST_TEST((s.state() == instance_state::failed));
  auto again = s.do_step(4, 1);
  BOOST_TEST_REQUIRE(!again.has_value());
  BOOST_TEST((again.error().code == errc::illegal_transition));
  BOOST_TEST(!s.terminate().has_value()); // not after Error
  if (before_free)
    before_free();
  s.free();
  BOOST_TEST((s.state() == instance_state::freed));
}

BOOST_AUTO_TEST_SUITE(host_in_process)

BOOST_AUTO_TEST_CASE(thermal_matches_its_exact_solution) {
  for (const auto& v : fmu_test::versions) {
    BOOST_TEST_CONTEXT(v) {
      auto s = fmu_test::open_in_process("thermal", v);
      check_thermal_exact(*s);
    }
  }
}

BOOST_AUTO_TEST_CASE(parameters_and_start_values_reach_the_model) {
  for (const auto& v : fmu_test::versions) {
    BOOST_TEST_CONTEXT(v) {
      auto s = fmu_test::open_in_process("thermal", v);
      check_thermal_parameters(*s);
    }
  }
}

BOOST_AUTO_TEST_CASE(invalid_parameter_fails_initialization_with_the_model_message) {
  for (const auto& v : fmu_test::versions) {
    BOOST_TEST_CONTEXT(v) {
      auto s = fmu_test::open_in_process("thermal", v);
      BOOST_TEST_REQUIRE(s->setup({}).has_value());
      set1(*s, TAU, -1);
      BOOST_TEST_REQUIRE(s->enter_initialization().has_value());
      auto st = s->exit_initialization();
      BOOST_TEST_REQUIRE(!st.has_value());
      BOOST_TEST(st.error().message.find("tau must be > 0") != std::string::npos, st);
      BOOST_TEST((s->state() == instance_state::failed));
    }
  }
}

BOOST_AUTO_TEST_CASE(pid_loop_settles_the_thermal_plant) {
  for (const auto& v : fmu_test::versions) {
    BOOST_TEST_CONTEXT(v) {
      auto pid = fmu_test::open_in_process("pid", v);
      auto plant = fmu_test::open_in_process("thermal", v);
      BOOST_TEST_REQUIRE(pid->setup({}).has_value());
      BOOST_TEST_REQUIRE(plant->setup({}).has_value());
      // PI on a plant of gain R = 0.05 K/W and tau = 60 s, starting 30 K
      // below the setpoint with the heater saturated at first.
      for (auto [n, x] : {std::pair{"kp", "300"}, {"ki", "60"}, {"uMin", "0"},
                          {"uMax", "5000"}, {"setpoint", "50"}})
        BOOST_TEST_REQUIRE(pid->set_from_text(n, x).has_value());
      BOOST_TEST_REQUIRE(pid->set_from_text("measurement", "20").has_value());
      BOOST_TEST_REQUIRE(pid->enter_initialization().has_value());
      BOOST_TEST_REQUIRE(pid->exit_initialization().has_value());
      BOOST_TEST_REQUIRE(plant->enter_initialization().has_value());
      BOOST_TEST_REQUIRE(plant->exit_initialization().has_value());
      const double h = 0.1;
      double peak = 0, temp = 20, u = 0;
      for (int k = 0; k < 1200; ++k) {
        const double t = k * h;
        set1(*pid, 2, temp);
        BOOST_TEST_REQUIRE(pid->do_step(t, h).has_value());
        u = get1(*pid, 3);
        set1(*plant, P, u);
        BOOST_TEST_REQUIRE(plant->do_step(t, h).has_value());
        temp = get1(*plant, T);
        peak = std::max(peak, temp);
      }
      BOOST_TEST(temp == 50.0, tt::tolerance(1e-5));
      BOOST_TEST(u == 600.0, tt::tolerance(1e-4)); // (50 - 20) / R
      BOOST_TEST(peak < 55.0);                     // bounded overshoot
    }
  }
}

BOOST_AUTO_TEST_CASE(bearing_wear_grows_with_load_speed_and_temperature) {
  for (const auto& v : fmu_test::versions) {
    BOOST_TEST_CONTEXT(v) {
      auto rate_at = [&](const char* load, const char* speed, const char* temp) {
        auto s = fmu_test::open_in_process("bearing", v);
        BOOST_TEST_REQUIRE(s->setup({}).has_value());
        BOOST_TEST_REQUIRE(s->set_from_text("load", load).has_value());
        BOOST_TEST_REQUIRE(s->set_from_text("shaftSpeed", speed).has_value());
        BOOST_TEST_REQUIRE(s->set_from_text("temperature", temp).has_value());
        BOOST_TEST_REQUIRE(s->enter_initialization().has_value());
        BOOST_TEST_REQUIRE(s->exit_initialization().has_value());
        for (int k = 0; k < 60; ++k)
          BOOST_TEST_REQUIRE(s->do_step(k * 60.0, 60.0).has_value());
        const double wear = get1(*s, 10), rul = get1(*s, 11), rate = get1(*s, 12);
        BOOST_TEST(wear == rate * 3600.0, tt::tolerance(1e-9));
        BOOST_TEST(rul == (1 - wear) / rate / 86400.0, tt::tolerance(1e-9));
        return rate;
      };
      const double base = rate_at("1000", "1500", "70");
      // Defaults: C/P = 10, L10 = 1e9 revolutions at 25 rev/s.
      BOOST_TEST(base == 25.0 / 1e9, tt::tolerance(1e-9));
      BOOST_TEST(rate_at("2000", "1500", "70") / base == 8.0, tt::tolerance(1e-9));
      BOOST_TEST(rate_at("1000", "3000", "70") / base == 2.0, tt::tolerance(1e-9));
      const double arrhenius = std::exp(0.3 / 8.617333262e-5 * (1 / 343.15 - 1 / 363.15));
      BOOST_TEST(rate_at("1000", "1500", "90") / base == arrhenius, tt::tolerance(1e-9));
    }
  }
}

BOOST_AUTO_TEST_CASE(bearing_reports_failure_at_end_of_life) {
  for (const auto& v : fmu_test::versions) {
    BOOST_TEST_CONTEXT(v) {
      auto s = fmu_test::open_in_process("bearing", v);
      BOOST_TEST_REQUIRE(s->setup({}).has_value());
      BOOST_TEST_REQUIRE(s->set_from_text("initialWear", "0.99999").has_value());
      BOOST_TEST_REQUIRE(s->enter_initialization().has_value());
      BOOST_TEST_REQUIRE(s->exit_initialization().has_value());
      auto failed = [&] { return std::get<bool>(*s->get_value(*s->description().find("failed"))); };
      BOOST_TEST(!failed());
      BOOST_TEST_REQUIRE(s->do_step(0, 86400).has_value());
      BOOST_TEST(failed());
      BOOST_TEST(get1(*s, 10) == 1.0);
      BOOST_TEST(get1(*s, 11) == 0.0);
    }
  }
}

BOOST_AUTO_TEST_CASE(fmu_error_stops_the_instance_with_a_clear_message) {
  for (const auto& v : fmu_test::versions) {
    BOOST_TEST_CONTEXT(v) {
      auto s = fmu_test::open_in_process("failing", v);
      check_failing_fmu(*s, {});
    }
  }
}

BOOST_AUTO_TEST_CASE(fmu_warning_is_logged_and_the_call_succeeds) {
  for (const auto& v : fmu_test::versions) {
    BOOST_TEST_CONTEXT(v) {
      auto f = fmu_file::open(fmu_test::fmu_path("failing", v));
      BOOST_TEST_REQUIRE(f.has_value(), f);
      std::vector<std::string> warnings;
      instance_options o;
      o.log = [&](log_level l, std::string_view m) {
        if (l == log_level::warning)
          warnings.emplace_back(m);
      };
      auto s = fmu_instance::create(*f, o);
      BOOST_TEST_REQUIRE(s.has_value(), s);
      BOOST_TEST_REQUIRE((*s)->set_from_text("mode", "3").has_value());
      BOOST_TEST_REQUIRE((*s)->set_from_text("failAfter", "0").has_value());
      init(**s);
      auto st = (*s)->do_step(0, 1);
      BOOST_TEST(st.has_value(), st);
      BOOST_TEST(((*s)->state() == instance_state::step));
      BOOST_TEST_REQUIRE(!warnings.empty());
      BOOST_TEST(warnings.back().find("deliberate warning") != std::string::npos);
    }
  }
}

BOOST_AUTO_TEST_CASE(fmu_fatal_frees_the_instance_at_once) {
  for (const auto& v : fmu_test::versions) {
    BOOST_TEST_CONTEXT(v) {
      auto s = fmu_test::open_in_process("failing", v);
      BOOST_TEST_REQUIRE(s->set_from_text("mode", "4").has_value());
      BOOST_TEST_REQUIRE(s->set_from_text("failAfter", "1").has_value());
      init(*s);
      BOOST_TEST_REQUIRE(s->do_step(0, 1).has_value());
      auto st = s->do_step(1, 1);
      BOOST_TEST_REQUIRE(!st.has_value());
      BOOST_TEST(st.error().message.find("returned Fatal at t=1") != std::string::npos, st);
      BOOST_TEST(st.error().message.find("(instance freed)") != std::string::npos, st);
      BOOST_TEST((s->state() == instance_state::freed));
      BOOST_TEST(!s->get_value(*s->description().find("x")).has_value());
    }
  }
}

BOOST_AUTO_TEST_CASE(fmu_instantiable_once_per_process_refuses_a_second_instance) {
  fmu_test::scratch s;
  auto xml = read_archive_entry(fmu_test::fmu_path("pid", "fmi2"), "modelDescription.xml");
  auto dir = unpack_archive(fmu_test::fmu_path("pid", "fmi2"));
  BOOST_TEST_REQUIRE(xml.has_value());
  BOOST_TEST_REQUIRE(dir.has_value());
  std::string changed = *xml;
  auto pos = changed.find("<CoSimulation ");
  changed.insert(pos + 14, "canBeInstantiatedOnlyOncePerProcess=\"true\" ");
  std::ifstream so{dir->path() / "binaries/linux64/pid.so", std::ios::binary};
  std::stringstream bytes;
  bytes << so.rdbuf();
  auto path = s.path / "once.fmu";
  fmu_test::write_zip(path, {{"modelDescription.xml", changed},
                             {"binaries/linux64/pid.so", bytes.str()}});
  auto f = fmu_file::open(path);
  BOOST_TEST_REQUIRE(f.has_value(), f);
  auto first = fmu_instance::create(*f);
  BOOST_TEST_REQUIRE(first.has_value(), first);
  auto second = fmu_instance::create(*f);
  BOOST_TEST_REQUIRE(!second.has_value());
  BOOST_TEST(second.error().message.find("only once per process") != std::string::npos, second);
  (*first)->free();
  BOOST_TEST(fmu_instance::create(*f).has_value());
}

BOOST_AUTO_TEST_CASE(calls_in_the_wrong_state_are_refused) {
  auto s = fmu_test::open_in_process("thermal", "fmi3");
  auto st = s->do_step(0, 1);
  BOOST_TEST_REQUIRE(!st.has_value());
  BOOST_TEST((st.error().code == errc::illegal_transition));
  BOOST_TEST(st.error().message.find("not allowed in state instantiated") != std::string::npos);
  BOOST_TEST(!s->exit_initialization().has_value());
  std::array<value_reference, 2> vrs{1, 2};
  std::array<double, 1> one{};
  BOOST_TEST(!s->get_float64(vrs, one).has_value());
}

BOOST_AUTO_TEST_CASE(binary_without_a_required_function_is_named) {
  // An FMI 3.0 description over the FMI 2.0 binary: no fmi3* symbols.
  fmu_test::scratch s;
  auto xml = read_archive_entry(fmu_test::fmu_path("thermal", "fmi3"), "modelDescription.xml");
  auto dir2 = unpack_archive(fmu_test::fmu_path("thermal", "fmi2"));
  BOOST_TEST_REQUIRE(xml.has_value());
  BOOST_TEST_REQUIRE(dir2.has_value());
  std::ifstream so{dir2->path() / "binaries/linux64/thermal.so", std::ios::binary};
  std::stringstream bytes;
  bytes << so.rdbuf();
  auto mixed = s.path / "mixed.fmu";
  fmu_test::write_zip(mixed, {{"modelDescription.xml", *xml},
                              {"binaries/x86_64-linux/thermal.so", bytes.str()}});
  auto f = fmu_file::open(mixed);
  BOOST_TEST_REQUIRE(!f.has_value());
  BOOST_TEST(f.error().message.find("does not export the required function fmi3GetVersion")
               != std::string::npos,
             f);
  // And an FMU without a binary for this platform.
  auto nobin = s.path / "nobin.fmu";
  fmu_test::write_zip(nobin, {{"modelDescription.xml", *xml}});
  auto g = fmu_file::open(nobin);
  BOOST_TEST_REQUIRE(!g.has_value());
  BOOST_TEST(g.error().message.find("no binary for this platform") != std::string::npos, g);
}

BOOST_AUTO_TEST_CASE(wrong_instantiation_token_is_refused_by_the_fmu) {
  fmu_test::scratch s;
  auto xml = read_archive_entry(fmu_test::fmu_path("pid", "fmi3"), "modelDescription.xml");
  auto dir = unpack_archive(fmu_test::fmu_path("pid", "fmi3"));
  BOOST_TEST_REQUIRE(xml.has_value());
  std::string changed = *xml;
  auto pos = changed.find("instantiationToken=\"{");
  changed.replace(pos + 21, 1, "{0");
  std::ifstream so{dir->path() / "binaries/x86_64-linux/pid.so", std::ios::binary};
  std::stringstream bytes;
  bytes << so.rdbuf();
  auto path = s.path / "token.fmu";
  fmu_test::write_zip(path, {{"modelDescription.xml", changed},
                             {"binaries/x86_64-linux/pid.so", bytes.str()}});
  auto f = fmu_file::open(path);
  BOOST_TEST_REQUIRE(f.has_value(), f);
  instance_options o;
  o.log = [](log_level, std::string_view) {};
  auto i = fmu_instance::create(*f, o);
  BOOST_TEST_REQUIRE(!i.has_value());
  BOOST_TEST(i.error().message.find("refused to instantiate: instantiation token")
               != std::string::npos,
             i);
}

BOOST_AUTO_TEST_SUITE_END()
