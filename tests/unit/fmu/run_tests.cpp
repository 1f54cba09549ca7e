#include <boost/test/unit_test.hpp>

#include <cmath>
#include <sstream>

#include "fmu_test_support.hpp"
#include "twin/fmu/co_simulate.hpp"

using namespace twin;
using namespace twin::fmu;
namespace tt = boost::test_tools;

namespace {

std::vector<std::vector<std::string>> rows_of(const std::string& csv) {
  std::vector<std::vector<std::string>> rows;
  std::istringstream in{csv};
  std::string line;
  while (std::getline(in, line)) {
    std::vector<std::string> fields;
    std::istringstream ls{line};
    std::string f;
    while (std::getline(ls, f, ','))
      fields.push_back(f);
    rows.push_back(fields);
  }
  return rows;
}

} // namespace

BOOST_AUTO_TEST_SUITE(co_simulation_run)

BOOST_AUTO_TEST_CASE(run_writes_one_row_per_communication_point_with_inputs_held) {
  for (const auto& v : fmu_test::versions) {
    for (bool worker : {false, true}) {
      BOOST_TEST_CONTEXT(v << (worker ? " worker" : " in-process")) {
        auto s = worker ? fmu_test::open_in_worker("thermal", v)
                        : fmu_test::open_in_process("thermal", v);
        auto in = parse_input_csv("time,P\n0,1000\n10,0\n");
        BOOST_TEST_REQUIRE(in.has_value(), in);
        run_options o;
        o.stop_time = 20;
        o.step_size = 2;
        o.sets = {{"tau", "10"}, {"R", "0.01"}};
        o.inputs = *in;
        std::ostringstream out;
        auto r = co_simulate(*s, o, out);
        BOOST_TEST_REQUIRE(r.has_value(), r);
        BOOST_TEST(r->steps == 10u);
        auto rows = rows_of(out.str());
        BOOST_TEST_REQUIRE(rows.size() == 12u);
        BOOST_TEST((rows[0] == std::vector<std::string>{"time", "T", "steps"}));
        BOOST_TEST(rows[1][0] == "0");
        BOOST_TEST(rows[11][0] == "20");
        // T(10) = 30 - 10 e^-1, then relaxes to 20.
        const double t10 = 30 - 10 * std::exp(-1.0);
        BOOST_TEST(std::stod(rows[6][1]) == t10, tt::tolerance(1e-12));
        BOOST_TEST(std::stod(rows[11][1]) == 20 + (t10 - 20) * std::exp(-1.0),
                   tt::tolerance(1e-12));
        BOOST_TEST(rows[11][2] == "10");
      }
    }
  }
}

BOOST_AUTO_TEST_CASE(run_defaults_come_from_the_default_experiment) {
  auto s = fmu_test::open_in_process("pid", "fmi2");
  std::ostringstream out;
  auto r = co_simulate(*s, {}, out);
  BOOST_TEST_REQUIRE(r.has_value(), r);
  BOOST_TEST(r->stop_time == 100.0);
  BOOST_TEST(r->step_size == 0.1);
  BOOST_TEST(r->steps == 1000u);
}

BOOST_AUTO_TEST_CASE(bad_run_options_and_inputs_are_refused) {
  auto s = fmu_test::open_in_process("thermal", "fmi3");
  std::ostringstream out;
  run_options o;
  o.start_time = 5;
  o.stop_time = 1;
  auto r = co_simulate(*s, o, out);
  BOOST_TEST_REQUIRE(!r.has_value());
  BOOST_TEST(r.error().message.find("must be after start time") != std::string::npos, r);
  o = {};
  o.inputs = *parse_input_csv("time,tau\n0,1\n");
  r = co_simulate(*s, o, out);
  BOOST_TEST_REQUIRE(!r.has_value());
  BOOST_TEST(r.error().message.find("\"tau\" is not an input") != std::string::npos, r);
  o.inputs = *parse_input_csv("time,nope\n0,1\n");
  r = co_simulate(*s, o, out);
  BOOST_TEST_REQUIRE(!r.has_value());
  BOOST_TEST(r.error().message.find("not a variable") != std::string::npos, r);
  BOOST_TEST(!parse_input_csv("t,P\n").has_value());
  auto bad = parse_input_csv("time,P\n0,1\n2\n");
  BOOST_TEST_REQUIRE(!bad.has_value());
  BOOST_TEST(bad.error().message.find("line 3") != std::string::npos, bad);
  BOOST_TEST(!parse_input_csv("time,P\n2,1\n1,1\n").has_value());
}

BOOST_AUTO_TEST_CASE(run_stops_at_the_first_fmu_error_after_writing_the_rows_so_far) {
  for (const auto& v : fmu_test::versions) {
    BOOST_TEST_CONTEXT(v) {
      auto s = fmu_test::open_in_worker("crashing", v);
      std::ostringstream out;
      auto r = co_simulate(*s, {}, out);
      BOOST_TEST_REQUIRE(!r.has_value());
      BOOST_TEST(fmu_test::names_worker_crash(r.error().message), r);
      BOOST_TEST(rows_of(out.str()).size() == 5u); // header, t=0..3
    }
  }
}

BOOST_AUTO_TEST_SUITE_END()
