#pragma once
// Files embedded at build time by embed.cmake (generated embedded_assets.cpp).

#include <cstddef>
#include <string_view>

namespace twin::gateway::detail {

struct embedded_file {
  std::string_view name; ///< file name, e.g. "index.html", "openapi.json"
  std::string_view data; ///< contents
};

extern const embedded_file embedded_files[];
extern const std::size_t embedded_file_count;

} // namespace twin::gateway::detail
