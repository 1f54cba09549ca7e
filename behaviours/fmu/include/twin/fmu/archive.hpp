#pragma once
// Unpacking a .fmu (a zip archive) into a private temporary directory.

#include <cstdint>
#include <filesystem>
#include <string>

#include "twin/error.hpp"

namespace twin::fmu {

/// Limits against zip bombs and hostile archives.
struct unpack_limits {
  /// Largest number of entries (files and directories).
  std::uint64_t max_entries = 10'000;
  /// Largest uncompressed size of one entry, in bytes (256 MiB).
  std::uint64_t max_entry_bytes = 256ull << 20;
  /// Largest uncompressed size of all entries together (1 GiB).
  std::uint64_t max_total_bytes = 1ull << 30;
};

/// A directory holding an unpacked FMU; removed (recursively) on
/// destruction. Move-only. Owned by whoever loads the FMU.
class unpacked_dir {
public:
  unpacked_dir() = default;
  explicit unpacked_dir(std::filesystem::path root) : root_(std::move(root)) {}
  unpacked_dir(unpacked_dir&& other) noexcept : root_(std::exchange(other.root_, {})) {}
  unpacked_dir& operator=(unpacked_dir&& other) noexcept;
  unpacked_dir(const unpacked_dir&) = delete;
  unpacked_dir& operator=(const unpacked_dir&) = delete;
  ~unpacked_dir();

  const std::filesystem::path& path() const noexcept { return root_; }

private:
  std::filesystem::path root_;
};

/// Extracts `fmu` into a fresh directory (mode 0700) under `parent` (empty:
/// the system temp directory). Entries are written below that directory only: absolute
/// names, `..` components, backslashes and symlinks are refused.
/// Errors: not_found (cannot open the file), bad_request (not a zip, an
/// unsafe entry name, a limit exceeded, a read error inside the archive),
/// storage_failure (cannot create or write the directory).
expected<unpacked_dir> unpack_archive(const std::filesystem::path& fmu,
                                      const unpack_limits& limits = {},
                                      const std::filesystem::path& parent = {});

/// Reads one entry of a zip archive into memory without unpacking the rest
/// (used by `inspect`). Errors as unpack_archive, not_found if no such entry.
expected<std::string> read_archive_entry(const std::filesystem::path& fmu,
                                         const std::string& name,
                                         const unpack_limits& limits = {});

} // namespace twin::fmu
