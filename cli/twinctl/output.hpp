#pragma once
// Text output helpers of twinctl: aligned tables and value rendering.

#include <iosfwd>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace twinctl {

/// A table printed with aligned columns (two spaces between columns, an
/// upper-case header line). Cells longer than `max_cell` are cut with "...".
class table {
public:
  explicit table(std::vector<std::string> headers, std::size_t max_cell = 60);
  void add(std::vector<std::string> row);
  bool empty() const noexcept { return rows_.empty(); }
  void print(std::ostream& out) const;

private:
  std::vector<std::string> headers_;
  std::vector<std::vector<std::string>> rows_;
  std::size_t max_cell_;
};

/// A JSON value for a table cell: strings bare, null as "-", others compact.
std::string cell(const nlohmann::json& v);

/// The member `key` of `obj` as a cell ("-" if absent).
std::string cell(const nlohmann::json& obj, const char* key);

/// Prints `key:` + value lines aligned on the value column.
void print_fields(std::ostream& out,
                  const std::vector<std::pair<std::string, std::string>>& kv);

} // namespace twinctl
