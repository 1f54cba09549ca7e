#include <boost/test/unit_test.hpp>

#include <bit>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <unistd.h>

#include "twin/edge/file_source.hpp"

namespace tt = boost::test_tools;
namespace fs = std::filesystem;
using namespace twin::edge;

namespace {

/// A fresh directory removed at the end of the test.
struct temp_dir {
  fs::path path;
  temp_dir() {
    static int counter = 0;
    path = fs::temp_directory_path() /
           ("twin_edge_test_" + std::to_string(::getpid()) + "_" + std::to_string(counter++));
    fs::create_directories(path);
  }
  ~temp_dir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
  fs::path write(const std::string& name, const std::string& bytes) const {
    auto p = path / name;
    std::ofstream(p, std::ios::binary) << bytes;
    return p;
  }
};

void put16(std::string& s, std::uint16_t v) {
  s.push_back(static_cast<char>(v & 0xff));
  s.push_back(static_cast<char>(v >> 8));
}
void put32(std::string& s, std::uint32_t v) {
  for (int i = 0; i < 4; ++i)
    s.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}

/// A canonical 44-byte-header WAV around `payload`.
std::string wav(std::uint16_t format, std::uint16_t channels, std::uint32_t rate,
                std::uint16_t bits, const std::string& payload,
                std::uint32_t data_len_override = 0) {
  std::string fmt;
  put16(fmt, format);
  put16(fmt, channels);
  put32(fmt, rate);
  put32(fmt, rate * channels * (bits / 8u));
  put16(fmt, static_cast<std::uint16_t>(channels * (bits / 8u)));
  put16(fmt, bits);
  std::string body = "WAVE";
  body += "fmt ";
  put32(body, static_cast<std::uint32_t>(fmt.size()));
  body += fmt;
  body += "LIST"; // an unrelated odd-sized chunk to skip (padded)
  put32(body, 3);
  body += std::string("abc\0", 4);
  body += "data";
  put32(body, data_len_override ? data_len_override : static_cast<std::uint32_t>(payload.size()));
  body += payload;
  std::string out = "RIFF";
  put32(out, static_cast<std::uint32_t>(body.size()));
  return out + body;
}

} // namespace

BOOST_AUTO_TEST_SUITE(file_source)

BOOST_AUTO_TEST_CASE(a_one_column_csv_without_header_is_read_as_samples) {
  temp_dir d;
  auto r = read_csv(d.write("a.csv", "1.5\n-2\n\n# comment\n3e-3\r\n+4\n"));
  BOOST_TEST_REQUIRE(r.has_value());
  BOOST_TEST(r->samples == (std::vector<double>{1.5, -2.0, 3e-3, 4.0}), tt::per_element());
  BOOST_TEST(!r->sample_rate_hz.has_value());
}

BOOST_AUTO_TEST_CASE(a_csv_header_is_skipped_and_a_named_or_indexed_column_is_picked) {
  temp_dir d;
  auto p = d.write("b.csv", "time, accel ,temp\n0.0,0.25,40\n0.0001,-0.5,41\n");
  auto by_name = read_csv(p, {"accel", 0, ','});
  BOOST_TEST_REQUIRE(by_name.has_value());
  BOOST_TEST(by_name->samples == (std::vector<double>{0.25, -0.5}), tt::per_element());
  auto by_index = read_csv(p, {"", 2, ','});
  BOOST_TEST_REQUIRE(by_index.has_value());
  BOOST_TEST(by_index->samples == (std::vector<double>{40.0, 41.0}), tt::per_element());
  auto semi = read_csv(d.write("c.csv", "x;y\n1;2\n3;4\n"), {"y", 0, ';'});
  BOOST_TEST_REQUIRE(semi.has_value());
  BOOST_TEST(semi->samples == (std::vector<double>{2.0, 4.0}), tt::per_element());
}

BOOST_AUTO_TEST_CASE(malformed_csv_files_are_rejected_with_the_line) {
  temp_dir d;
  auto bad_cell = read_csv(d.write("a.csv", "v\n1\n2\nabc\n"));
  BOOST_TEST_REQUIRE(!bad_cell.has_value());
  BOOST_TEST(bad_cell.error().code == twin::errc::bad_request);
  BOOST_TEST(bad_cell.error().path == "line 4");
  BOOST_TEST(!read_csv(d.write("b.csv", "a,b\n1,2\n3\n"), {"b", 0, ','}).has_value());
  BOOST_TEST(!read_csv(d.write("c.csv", "a,b\n1,2\n"), {"zz", 0, ','}).has_value());
  BOOST_TEST(!read_csv(d.write("d.csv", "")).has_value());
  BOOST_TEST(!read_csv(d.write("e.csv", "header only\n")).has_value());
  BOOST_TEST(!read_csv(d.write("f.csv", "1\nnan\n")).has_value());
  BOOST_TEST(!read_csv(d.write("g.csv", "1\n2x\n")).has_value());
  auto missing = read_csv(d.path / "nope.csv");
  BOOST_TEST_REQUIRE(!missing.has_value());
  BOOST_TEST(missing.error().code == twin::errc::not_found);
}

BOOST_AUTO_TEST_CASE(a_16_bit_pcm_mono_wav_is_scaled_to_plus_minus_one) {
  temp_dir d;
  std::string pcm;
  for (std::int16_t v : {0, 16384, -32768, 32767, -1})
    put16(pcm, static_cast<std::uint16_t>(v));
  auto r = read_wav(d.write("a.wav", wav(1, 1, 8000, 16, pcm)));
  BOOST_TEST_REQUIRE(r.has_value(), (r ? "" : r.error().describe()));
  BOOST_TEST(*r->sample_rate_hz == 8000.0);
  BOOST_TEST(r->samples == (std::vector<double>{0.0, 0.5, -1.0, 32767.0 / 32768.0,
                                                -1.0 / 32768.0}),
             tt::per_element());
}

BOOST_AUTO_TEST_CASE(a_float_stereo_wav_yields_the_chosen_channel) {
  temp_dir d;
  std::string pcm;
  const std::vector<float> left{0.1f, 0.2f, 0.3f}, right{-1.0f, 2.5f, -3.25f};
  for (std::size_t i = 0; i < 3; ++i) {
    put32(pcm, std::bit_cast<std::uint32_t>(left[i]));
    put32(pcm, std::bit_cast<std::uint32_t>(right[i]));
  }
  auto p = d.write("s.wav", wav(3, 2, 10'000, 32, pcm));
  auto r = read_wav(p, {1});
  BOOST_TEST_REQUIRE(r.has_value(), (r ? "" : r.error().describe()));
  BOOST_TEST(*r->sample_rate_hz == 10'000.0);
  BOOST_TEST(r->samples == (std::vector<double>{-1.0, 2.5, -3.25}), tt::per_element());
  auto l = read_samples(p); // by extension, channel 0
  BOOST_TEST_REQUIRE(l.has_value());
  BOOST_TEST(l->samples[1] == 0.2f);
  BOOST_TEST(!read_wav(p, {2}).has_value()); // no third channel
}

BOOST_AUTO_TEST_CASE(malformed_or_unsupported_wav_files_are_rejected) {
  temp_dir d;
  std::string pcm;
  for (int i = 0; i < 4; ++i)
    put16(pcm, static_cast<std::uint16_t>(i));
  auto good = wav(1, 1, 8000, 16, pcm);
  BOOST_TEST(read_wav(d.write("ok.wav", good)).has_value());
  BOOST_TEST(!read_wav(d.write("a.wav", "not a wav at all")).has_value());
  BOOST_TEST(!read_wav(d.write("b.wav", good.substr(0, good.size() - 3))).has_value()); // truncated
  BOOST_TEST(!read_wav(d.write("c.wav", wav(1, 1, 8000, 16, pcm, 1000))).has_value());
  BOOST_TEST(!read_wav(d.write("d.wav", wav(1, 1, 8000, 24, pcm.substr(0, 6)))).has_value());
  BOOST_TEST(!read_wav(d.write("e.wav", wav(2, 1, 8000, 16, pcm))).has_value()); // ADPCM
  BOOST_TEST(!read_wav(d.write("f.wav", good.substr(0, 36))).has_value());       // no data
  BOOST_TEST(!read_wav(d.write("g.wav", wav(1, 1, 8000, 16, ""))).has_value());   // empty
  auto r = read_wav(d.write("h.wav", "RIFF\x04\0\0\0WAVX"));
  BOOST_TEST_REQUIRE(!r.has_value());
  BOOST_TEST(r.error().code == twin::errc::bad_request);
  BOOST_TEST(r.error().rule == "edge.wav");
}

BOOST_AUTO_TEST_SUITE_END()
