#include <boost/test/unit_test.hpp>

#include <cmath>
#include <limits>
#include <string>

#include "twin/sparkplug/payload.hpp"

using namespace twin::sparkplug;

namespace {

metric make(std::string name, data_type t, metric_value v) {
  metric m;
  m.name = std::move(name);
  m.datatype = t;
  m.value = std::move(v);
  return m;
}

payload round_trip(const payload& p) {
  auto enc = encode_payload(p);
  BOOST_TEST_REQUIRE(enc.has_value(), (enc ? "" : enc.error().describe()));
  auto dec = decode_payload(std::span<const std::uint8_t>{*enc});
  BOOST_TEST_REQUIRE(dec.has_value(), (dec ? "" : dec.error().describe()));
  return *dec;
}

} // namespace

BOOST_AUTO_TEST_SUITE(sparkplug_payloads)

BOOST_AUTO_TEST_CASE(every_supported_datatype_survives_an_encode_decode_round_trip) {
  payload p;
  p.timestamp = 1'700'000'000'123ULL;
  p.seq = 42;
  p.uuid = "schema-1";
  p.body = bytes{9, 8, 7};
  p.metrics = {
      make("i8min", data_type::int8, std::int64_t{-128}),
      make("i8max", data_type::int8, std::int64_t{127}),
      make("i16", data_type::int16, std::int64_t{-32768}),
      make("i32", data_type::int32, std::int64_t{std::numeric_limits<std::int32_t>::min()}),
      make("i64", data_type::int64, std::int64_t{std::numeric_limits<std::int64_t>::min()}),
      make("u8", data_type::uint8, std::uint64_t{255}),
      make("u16", data_type::uint16, std::uint64_t{65535}),
      make("u32", data_type::uint32, std::uint64_t{4294967295ULL}),
      make("u64", data_type::uint64, std::uint64_t{std::numeric_limits<std::uint64_t>::max()}),
      make("f", data_type::float_, 3.25f),
      make("d", data_type::double_, -1.0e300),
      make("b", data_type::boolean, true),
      make("s", data_type::string, std::string{"héllo"}),
      make("dt", data_type::date_time, std::uint64_t{1'700'000'000'000ULL}),
      make("txt", data_type::text, std::string(1000, 'x')),
      make("id", data_type::uuid, std::string{"123e4567-e89b-12d3-a456-426614174000"}),
      make("raw", data_type::bytes, bytes{0, 1, 255}),
      make("file", data_type::file, bytes{}),
      make("nothing", data_type::double_, null_value{}),
  };
  p.metrics[0].alias = 7;
  p.metrics[0].timestamp = 1'700'000'000'000ULL;
  p.metrics[1].is_historical = true;
  p.metrics[2].is_transient = true;
  BOOST_TEST((round_trip(p) == p));
}

BOOST_AUTO_TEST_CASE(a_payload_far_larger_than_the_decoders_first_block_round_trips) {
  payload p;
  p.seq = 1;
  for (int i = 0; i < 2000; ++i) {
    p.metrics.push_back(make("metric/" + std::to_string(i), data_type::string,
                             std::string(100, static_cast<char>('a' + i % 26))));
    p.metrics.back().alias = static_cast<std::uint64_t>(i);
  }
  BOOST_TEST((round_trip(p) == p));
}

BOOST_AUTO_TEST_CASE(a_metric_without_a_datatype_decodes_to_its_raw_wire_value) {
  payload p;
  metric m;
  m.alias = 3;
  m.value = std::int64_t{-5};
  p.metrics.push_back(m);
  auto back = round_trip(p);
  BOOST_REQUIRE_EQUAL(back.metrics.size(), 1u);
  BOOST_TEST((back.metrics[0].datatype == data_type::unknown));
  BOOST_TEST(std::get<std::uint64_t>(back.metrics[0].value) == static_cast<std::uint64_t>(-5));
  auto v = coerce(back.metrics[0].value, data_type::int16);
  BOOST_REQUIRE(v);
  BOOST_TEST(std::get<std::int64_t>(*v) == -5);
}

BOOST_AUTO_TEST_CASE(a_value_that_does_not_fit_its_datatype_is_refused_by_the_encoder) {
  payload p;
  p.metrics = {make("x", data_type::int8, std::int64_t{200})};
  auto e = encode_payload(p);
  BOOST_REQUIRE(!e);
  BOOST_TEST(e.error().message.find("out of range for datatype Int8") != std::string::npos);

  p.metrics = {make("x", data_type::boolean, std::string{"yes"})};
  e = encode_payload(p);
  BOOST_REQUIRE(!e);
  BOOST_TEST(e.error().message.find("string value does not fit datatype Boolean") !=
             std::string::npos);

  p.metrics = {make("x", data_type::uint16, std::int64_t{-1})};
  BOOST_TEST(!encode_payload(p).has_value());
}

BOOST_AUTO_TEST_CASE(garbage_bytes_are_rejected_with_a_clear_error) {
  for (std::string garbage : {std::string{"\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff", 11},
                              std::string{"hello world"}, std::string{"\x12\x7f", 2},
                              std::string{"\x0a\x05", 2}, std::string{"\x00", 1}}) {
    auto d = decode_payload(garbage);
    BOOST_TEST_REQUIRE(!d.has_value(), "accepted garbage of size " << garbage.size());
    BOOST_TEST((d.error().code == twin::errc::bad_request));
    BOOST_TEST(d.error().message.find("not a valid Sparkplug B protobuf") != std::string::npos);
  }
}

BOOST_AUTO_TEST_CASE(every_truncation_of_a_one_metric_payload_is_rejected) {
  payload p;
  p.metrics = {make("Motor/Temperature", data_type::double_, 71.5)};
  p.metrics[0].alias = 300;
  p.metrics[0].timestamp = 1'700'000'000'000ULL;
  auto enc = encode_payload(p);
  BOOST_REQUIRE(enc);
  for (std::size_t n = 1; n < enc->size(); ++n) {
    auto d = decode_payload(std::span<const std::uint8_t>{enc->data(), n});
    BOOST_TEST(!d.has_value(), "prefix of " << n << " bytes accepted");
  }
}

BOOST_AUTO_TEST_CASE(random_bytes_never_crash_the_decoder) {
  std::uint64_t state = 0x9e3779b97f4a7c15ULL;
  bytes buf;
  for (int round = 0; round < 2000; ++round) {
    buf.resize(static_cast<std::size_t>(round % 97));
    for (auto& b : buf) {
      state = state * 6364136223846793005ULL + 1442695040888963407ULL;
      b = static_cast<std::uint8_t>(state >> 56);
    }
    auto d = decode_payload(std::span<const std::uint8_t>{buf});
    if (d)
      BOOST_TEST(d->metrics.size() <= buf.size());
  }
}

BOOST_AUTO_TEST_CASE(an_oversized_payload_is_rejected_before_parsing) {
  payload p;
  p.metrics = {make("blob", data_type::bytes, bytes(2000, 0xab))};
  auto enc = encode_payload(p);
  BOOST_REQUIRE(enc);
  decode_options small;
  small.max_bytes = 1000;
  auto d = decode_payload(std::span<const std::uint8_t>{*enc}, small);
  BOOST_REQUIRE(!d);
  BOOST_TEST(d.error().message.find("exceeds the limit of 1000 bytes") != std::string::npos);
  BOOST_TEST(decode_payload(std::span<const std::uint8_t>{*enc}).has_value());
}

BOOST_AUTO_TEST_CASE(an_unknown_datatype_is_rejected_naming_the_number) {
  // Metric{name="m", datatype=99, int_value=1}
  const std::string wire{"\x12\x07\x0a\x01m\x20\x63\x50\x01", 9};
  auto d = decode_payload(wire);
  BOOST_REQUIRE(!d);
  BOOST_TEST(d.error().message.find("unknown datatype 99") != std::string::npos);
  BOOST_TEST(d.error().message.find("'m'") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(an_unsupported_datatype_is_rejected_naming_it) {
  payload p;
  p.metrics = {make("table", data_type::data_set, null_value{})};
  auto e = encode_payload(p);
  BOOST_REQUIRE(!e);
  BOOST_TEST(e.error().message.find("datatype DataSet is not supported") != std::string::npos);
  // Metric{name="t", datatype=16 (DataSet), is_null=true}
  const std::string wire{"\x12\x07\x0a\x01t\x20\x10\x38\x01", 9};
  auto d = decode_payload(wire);
  BOOST_REQUIRE(!d);
  BOOST_TEST(d.error().message.find("DataSet") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(a_metric_with_neither_value_nor_is_null_is_rejected) {
  // Metric{name="v", datatype=10 (Double)}
  const std::string wire{"\x12\x05\x0a\x01v\x20\x0a", 7};
  auto d = decode_payload(wire);
  BOOST_REQUIRE(!d);
  BOOST_TEST(d.error().message.find("has no value") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(a_value_field_that_contradicts_the_datatype_is_rejected) {
  // Metric{name="v", datatype=11 (Boolean), string_value="x"}
  const std::string wire{"\x12\x08\x0a\x01v\x20\x0b\x7a\x01x", 10};
  auto d = decode_payload(wire);
  BOOST_REQUIRE(!d);
  BOOST_TEST(d.error().message.find("does not fit datatype Boolean") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(the_empty_payload_decodes_to_an_empty_payload) {
  auto d = decode_payload(std::string_view{});
  BOOST_REQUIRE(d);
  BOOST_TEST(d->metrics.empty());
  BOOST_TEST(!d->seq.has_value());
}

BOOST_AUTO_TEST_SUITE_END()
