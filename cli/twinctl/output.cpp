#include "output.hpp"

#include <algorithm>
#include <cctype>
#include <ostream>

namespace twinctl {

namespace {

/// Display width of a UTF-8 string (code points, good enough for a table).
std::size_t width(const std::string& s) {
  std::size_t n = 0;
  for (unsigned char c : s)
    if ((c & 0xC0) != 0x80)
      ++n;
  return n;
}

std::string shorten(std::string s, std::size_t max) {
  for (auto& c : s)
    if (c == '\n' || c == '\t' || c == '\r')
      c = ' ';
  if (max < 4 || width(s) <= max)
    return s;
  // Cut at a code point boundary.
  std::size_t n = 0;
  std::size_t i = 0;
  for (; i < s.size(); ++i) {
    if ((static_cast<unsigned char>(s[i]) & 0xC0) != 0x80) {
      if (n == max - 3)
        break;
      ++n;
    }
  }
  s.resize(i);
  return s + "...";
}

} // namespace

table::table(std::vector<std::string> headers, std::size_t max_cell)
  : headers_(std::move(headers)), max_cell_(max_cell) {}

void table::add(std::vector<std::string> row) {
  row.resize(headers_.size());
  for (auto& c : row)
    c = shorten(std::move(c), max_cell_);
  rows_.push_back(std::move(row));
}

void table::print(std::ostream& out) const {
  std::vector<std::size_t> widths;
  for (const auto& h : headers_)
    widths.push_back(width(h));
  for (const auto& r : rows_)
    for (std::size_t i = 0; i < r.size(); ++i)
      widths[i] = std::max(widths[i], width(r[i]));
  auto line = [&](const std::vector<std::string>& r, bool upper) {
    std::string s;
    for (std::size_t i = 0; i < r.size(); ++i) {
      std::string c = r[i];
      if (upper)
        for (auto& ch : c)
          ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
      s += c;
      if (i + 1 < r.size())
        s += std::string(widths[i] - width(c) + 2, ' ');
    }
    out << s << '\n';
  };
  line(headers_, true);
  for (const auto& r : rows_)
    line(r, false);
}

std::string cell(const nlohmann::json& v) {
  if (v.is_null())
    return "-";
  if (v.is_string())
    return v.get<std::string>();
  return v.dump();
}

std::string cell(const nlohmann::json& obj, const char* key) {
  if (!obj.is_object())
    return "-";
  auto it = obj.find(key);
  if (it == obj.end())
    return "-";
  return cell(*it);
}

void print_fields(std::ostream& out,
                  const std::vector<std::pair<std::string, std::string>>& kv) {
  std::size_t w = 0;
  for (const auto& [k, v] : kv)
    w = std::max(w, k.size() + 1);
  for (const auto& [k, v] : kv)
    out << k << ':' << std::string(w - k.size() - 1 + 2, ' ') << v << '\n';
}

} // namespace twinctl
