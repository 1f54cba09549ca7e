#include "twin/edge/file_source.hpp"

#include <algorithm>
#include <bit>
#include <cctype>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <iterator>
#include <sstream>
#include <string_view>

namespace twin::edge {

namespace {

error csv_error(const std::filesystem::path& file, std::size_t line, std::string msg) {
  auto e = make_error(errc::bad_request, file.string() + ":" + std::to_string(line) + ": " + msg,
                      "edge.csv", "line " + std::to_string(line));
  e.source = file.string();
  return e;
}

error wav_error(const std::filesystem::path& file, std::string msg) {
  auto e = make_error(errc::bad_request, file.string() + ": " + msg, "edge.wav");
  e.source = file.string();
  return e;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front())))
    s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back())))
    s.remove_suffix(1);
  if (s.size() >= 2 && s.front() == '"' && s.back() == '"')
    s = s.substr(1, s.size() - 2);
  return s;
}

std::vector<std::string_view> split(std::string_view line, char d) {
  std::vector<std::string_view> out;
  std::size_t start = 0;
  for (;;) {
    auto pos = line.find(d, start);
    out.push_back(trim(line.substr(start, pos == std::string_view::npos ? pos : pos - start)));
    if (pos == std::string_view::npos)
      break;
    start = pos + 1;
  }
  return out;
}

std::optional<double> parse_number(std::string_view s) {
  if (!s.empty() && s.front() == '+')
    s.remove_prefix(1);
  if (s.empty())
    return std::nullopt;
  double v = 0.0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc{} || p != s.data() + s.size())
    return std::nullopt;
  return v;
}

expected<std::string> slurp(const std::filesystem::path& file) {
  std::ifstream in(file, std::ios::binary);
  if (!in)
    return make_error(errc::not_found, "cannot open " + file.string(), "edge.file");
  std::string data((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (in.bad())
    return make_error(errc::storage_failure, "read error on " + file.string(), "edge.file");
  return data;
}

std::uint16_t le16(const unsigned char* p) {
  return static_cast<std::uint16_t>(p[0] | (p[1] << 8));
}
std::uint32_t le32(const unsigned char* p) {
  return static_cast<std::uint32_t>(p[0]) | (static_cast<std::uint32_t>(p[1]) << 8) |
         (static_cast<std::uint32_t>(p[2]) << 16) | (static_cast<std::uint32_t>(p[3]) << 24);
}

} // namespace

expected<signal> read_csv(const std::filesystem::path& file, const csv_options& options) {
  auto data = slurp(file);
  if (!data)
    return std::move(data).error();
  std::istringstream in(*data);
  std::string raw;
  std::size_t line_no = 0;
  bool first_row = true;
  std::optional<std::size_t> col;
  if (options.column.empty())
    col = options.column_index;
  signal out;
  while (std::getline(in, raw)) {
    ++line_no;
    std::string_view line = raw;
    if (!line.empty() && line.back() == '\r')
      line.remove_suffix(1);
    if (line_no == 1 && line.starts_with("\xEF\xBB\xBF"))
      line.remove_prefix(3); // UTF-8 BOM
    if (trim(line).empty() || trim(line).starts_with('#'))
      continue;
    auto fields = split(line, options.delimiter);
    if (first_row) {
      first_row = false;
      if (!options.column.empty()) {
        auto it = std::find(fields.begin(), fields.end(), std::string_view(options.column));
        if (it == fields.end())
          return csv_error(file, line_no, "no column named '" + options.column + "' in header");
        col = static_cast<std::size_t>(it - fields.begin());
        continue;
      }
      if (*col >= fields.size())
        return csv_error(file, line_no,
                         "row has " + std::to_string(fields.size()) + " columns, column " +
                             std::to_string(*col) + " requested");
      if (!parse_number(fields[*col]))
        continue; // header row
    }
    if (*col >= fields.size())
      return csv_error(file, line_no,
                       "row has " + std::to_string(fields.size()) + " columns, column " +
                           std::to_string(*col) + " requested");
    auto v = parse_number(fields[*col]);
    if (!v)
      return csv_error(file, line_no, "not a number: '" + std::string(fields[*col]) + "'");
    if (!std::isfinite(*v))
      return csv_error(file, line_no, "non-finite value");
    out.samples.push_back(*v);
  }
  if (out.samples.empty())
    return csv_error(file, line_no, "no samples");
  return out;
}

expected<signal> read_wav(const std::filesystem::path& file, const wav_options& options) {
  auto data = slurp(file);
  if (!data)
    return std::move(data).error();
  const auto* b = reinterpret_cast<const unsigned char*>(data->data());
  const std::size_t size = data->size();
  if (size < 12 || std::memcmp(b, "RIFF", 4) != 0 || std::memcmp(b + 8, "WAVE", 4) != 0)
    return wav_error(file, "not a RIFF/WAVE file");

  bool have_fmt = false;
  std::uint16_t format = 0, channels = 0, bits = 0, block_align = 0;
  std::uint32_t rate = 0;
  const unsigned char* pcm = nullptr;
  std::size_t pcm_size = 0;
  std::size_t pos = 12;
  while (pos + 8 <= size) {
    const unsigned char* h = b + pos;
    const std::uint32_t len = le32(h + 4);
    const std::size_t body = pos + 8;
    if (std::memcmp(h, "fmt ", 4) == 0) {
      if (len < 16 || body + len > size)
        return wav_error(file, "truncated fmt chunk");
      format = le16(b + body);
      channels = le16(b + body + 2);
      rate = le32(b + body + 4);
      block_align = le16(b + body + 12);
      bits = le16(b + body + 14);
      if (format == 0xFFFE) { // WAVE_FORMAT_EXTENSIBLE: sub-format GUID at +24
        if (len < 40)
          return wav_error(file, "truncated extensible fmt chunk");
        format = le16(b + body + 24);
      }
      have_fmt = true;
    } else if (std::memcmp(h, "data", 4) == 0) {
      if (!have_fmt)
        return wav_error(file, "data chunk before fmt chunk");
      if (body + len > size)
        return wav_error(file, "truncated data chunk: header says " + std::to_string(len) +
                                   " bytes, file has " + std::to_string(size - body));
      pcm = b + body;
      pcm_size = len;
      break;
    }
    pos = body + len + (len & 1u); // chunks are word-aligned
  }
  if (!have_fmt)
    return wav_error(file, "no fmt chunk");
  if (!pcm)
    return wav_error(file, "no data chunk");
  const bool pcm16 = format == 1 && bits == 16;
  const bool float32 = format == 3 && bits == 32;
  if (!pcm16 && !float32)
    return wav_error(file, "unsupported sample format " + std::to_string(format) + " with " +
                               std::to_string(bits) + " bits (need PCM 16 or float 32)");
  if (channels == 0 || rate == 0)
    return wav_error(file, "zero channels or sample rate");
  const std::size_t bytes = bits / 8u;
  if (block_align != channels * bytes)
    return wav_error(file, "block align " + std::to_string(block_align) + " does not match " +
                               std::to_string(channels) + " channels of " +
                               std::to_string(bits) + " bits");
  if (options.channel >= channels)
    return wav_error(file, "channel " + std::to_string(options.channel) + " requested, file has " +
                               std::to_string(channels));
  if (pcm_size % block_align != 0)
    return wav_error(file, "data size is not a whole number of frames");
  const std::size_t frames = pcm_size / block_align;
  if (frames == 0)
    return wav_error(file, "no samples");

  signal out;
  out.sample_rate_hz = static_cast<double>(rate);
  out.samples.resize(frames);
  for (std::size_t i = 0; i < frames; ++i) {
    const unsigned char* p = pcm + i * block_align + options.channel * bytes;
    if (pcm16) {
      out.samples[i] = static_cast<double>(static_cast<std::int16_t>(le16(p))) / 32768.0;
    } else {
      const float v = std::bit_cast<float>(le32(p));
      if (!std::isfinite(v))
        return wav_error(file, "non-finite sample at frame " + std::to_string(i));
      out.samples[i] = static_cast<double>(v);
    }
  }
  return out;
}

expected<signal> read_samples(const std::filesystem::path& file, const csv_options& options) {
  std::string ext = file.extension().string();
  std::transform(ext.begin(), ext.end(), ext.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  if (ext == ".wav")
    return read_wav(file, wav_options{options.column_index});
  return read_csv(file, options);
}

} // namespace twin::edge
