// .fmu unpacking with libzip.

#include "twin/fmu/archive.hpp"

#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <memory>
#include <sys/stat.h>
#include <unistd.h>

#include <zip.h>

namespace twin::fmu {

namespace fs = std::filesystem;

namespace {

constexpr const char* rule = "fmu.archive";

struct zip_closer {
  void operator()(zip_t* z) const noexcept { zip_discard(z); }
};
struct zip_file_closer {
  void operator()(zip_file_t* f) const noexcept { zip_fclose(f); }
};
using zip_ptr = std::unique_ptr<zip_t, zip_closer>;
using zip_file_ptr = std::unique_ptr<zip_file_t, zip_file_closer>;

expected<zip_ptr> open_zip(const fs::path& path) {
  std::error_code ec;
  if (!fs::is_regular_file(path, ec))
    return make_error(errc::not_found, "cannot open " + path.string() + ": no such file",
                      rule);
  int err = 0;
  zip_t* z = zip_open(path.c_str(), ZIP_RDONLY, &err);
  if (!z) {
    zip_error_t ze;
    zip_error_init_with_code(&ze, err);
    std::string msg = path.string() + " is not a valid FMU archive: " + zip_error_strerror(&ze);
    zip_error_fini(&ze);
    return make_error(errc::bad_request, std::move(msg), rule);
  }
  return zip_ptr{z};
}

// A name is safe when it is relative, has no "..", no backslash, no NUL.
bool safe_name(std::string_view name) {
  if (name.empty() || name.front() == '/' || name.find('\\') != std::string_view::npos)
    return false;
  std::size_t pos = 0;
  while (pos <= name.size()) {
    auto next = name.find('/', pos);
    if (next == std::string_view::npos)
      next = name.size();
    auto part = name.substr(pos, next - pos);
    if (part == "..")
      return false;
    pos = next + 1;
  }
  return true;
}

bool is_symlink_entry(zip_t* z, zip_uint64_t i) {
  zip_uint8_t opsys = 0;
  zip_uint32_t attr = 0;
  if (zip_file_get_external_attributes(z, i, 0, &opsys, &attr) != 0)
    return false;
  return opsys == ZIP_OPSYS_UNIX && S_ISLNK(attr >> 16);
}

error archive_error(const fs::path& path, std::string what) {
  return make_error(errc::bad_request, path.string() + ": " + std::move(what), rule);
}

} // namespace

unpacked_dir& unpacked_dir::operator=(unpacked_dir&& other) noexcept {
  if (this != &other) {
    unpacked_dir old{std::move(*this)};
    root_ = std::exchange(other.root_, {});
  }
  return *this;
}

unpacked_dir::~unpacked_dir() {
  if (!root_.empty()) {
    std::error_code ec;
    fs::remove_all(root_, ec);
  }
}

expected<unpacked_dir> unpack_archive(const fs::path& fmu, const unpack_limits& limits,
                                      const fs::path& parent) {
  auto z = open_zip(fmu);
  if (!z)
    return std::move(z).error();
  zip_int64_t n = zip_get_num_entries(z->get(), 0);
  if (n < 0 || static_cast<std::uint64_t>(n) > limits.max_entries)
    return archive_error(fmu, "too many entries (" + std::to_string(n) + " > "
                                + std::to_string(limits.max_entries) + ")");
  std::string tmpl
    = ((parent.empty() ? fs::temp_directory_path() : parent) / "twin-fmu-XXXXXX").string();
  if (!::mkdtemp(tmpl.data()))
    return make_error(errc::storage_failure,
                      "cannot create a temporary directory: " + std::string{std::strerror(errno)},
                      rule);
  unpacked_dir dir{fs::path{tmpl}};
  std::uint64_t total = 0;
  std::string buf(1 << 16, '\0');
  for (zip_int64_t i = 0; i < n; ++i) {
    zip_stat_t st;
    zip_stat_init(&st);
    if (zip_stat_index(z->get(), static_cast<zip_uint64_t>(i), 0, &st) != 0)
      return archive_error(fmu, "cannot read entry #" + std::to_string(i));
    std::string name = st.name ? st.name : "";
    if (!safe_name(name))
      return archive_error(fmu, "unsafe entry name \"" + name + "\" (absolute or with ..)");
    if (is_symlink_entry(z->get(), static_cast<zip_uint64_t>(i)))
      return archive_error(fmu, "entry \"" + name + "\" is a symbolic link");
    fs::path target = dir.path() / name;
    std::error_code ec;
    if (name.back() == '/') {
      fs::create_directories(target, ec);
      if (ec)
        return make_error(errc::storage_failure, "cannot create " + target.string(), rule);
      continue;
    }
    if ((st.valid & ZIP_STAT_SIZE) && st.size > limits.max_entry_bytes)
      return archive_error(fmu, "entry \"" + name + "\" is larger than the limit ("
                                  + std::to_string(limits.max_entry_bytes) + " bytes)");
    fs::create_directories(target.parent_path(), ec);
    if (ec)
      return make_error(errc::storage_failure,
                        "cannot create " + target.parent_path().string(), rule);
    zip_file_ptr f{zip_fopen_index(z->get(), static_cast<zip_uint64_t>(i), 0)};
    if (!f)
      return archive_error(fmu, "cannot open entry \"" + name + "\": "
                                  + zip_strerror(z->get()));
    // O_EXCL: never follow or overwrite something already there.
    int fd = ::open(target.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0)
      return make_error(errc::storage_failure, "cannot create " + target.string() + ": "
                                                 + std::strerror(errno), rule);
    std::uint64_t written = 0;
    for (;;) {
      zip_int64_t got = zip_fread(f.get(), buf.data(), buf.size());
      if (got < 0) {
        ::close(fd);
        return archive_error(fmu, "cannot read entry \"" + name + "\" (corrupt archive)");
      }
      if (got == 0)
        break;
      written += static_cast<std::uint64_t>(got);
      total += static_cast<std::uint64_t>(got);
      // Checked while reading: the sizes in the directory may lie.
      if (written > limits.max_entry_bytes || total > limits.max_total_bytes) {
        ::close(fd);
        return archive_error(fmu, "uncompressed size exceeds the limit at \"" + name + "\"");
      }
      const char* p = buf.data();
      auto left = static_cast<std::size_t>(got);
      while (left > 0) {
        ssize_t w = ::write(fd, p, left);
        if (w < 0) {
          if (errno == EINTR)
            continue;
          int e = errno;
          ::close(fd);
          return make_error(errc::storage_failure,
                            "cannot write " + target.string() + ": " + std::strerror(e), rule);
        }
        p += w;
        left -= static_cast<std::size_t>(w);
      }
    }
    ::close(fd);
  }
  return dir;
}

expected<std::string> read_archive_entry(const fs::path& fmu, const std::string& name,
                                         const unpack_limits& limits) {
  auto z = open_zip(fmu);
  if (!z)
    return std::move(z).error();
  zip_stat_t st;
  zip_stat_init(&st);
  if (zip_stat(z->get(), name.c_str(), 0, &st) != 0)
    return make_error(errc::not_found, fmu.string() + " has no " + name, rule);
  zip_file_ptr f{zip_fopen(z->get(), name.c_str(), 0)};
  if (!f)
    return archive_error(fmu, "cannot open entry \"" + name + "\"");
  std::string out;
  std::string buf(1 << 16, '\0');
  for (;;) {
    zip_int64_t got = zip_fread(f.get(), buf.data(), buf.size());
    if (got < 0)
      return archive_error(fmu, "cannot read entry \"" + name + "\" (corrupt archive)");
    if (got == 0)
      break;
    out.append(buf.data(), static_cast<std::size_t>(got));
    if (out.size() > limits.max_entry_bytes)
      return archive_error(fmu, "entry \"" + name + "\" is larger than the limit");
  }
  return out;
}

} // namespace twin::fmu
