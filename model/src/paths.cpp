// `twinctl model validate PATH...`: load files, validate them as one set.

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <ostream>
#include <sstream>
#include <system_error>

#include "twin/model/dtdl.hpp"

namespace twin::model {

namespace {

namespace fs = std::filesystem;

bool read_file(const fs::path& p, std::string& out) {
  std::ifstream in(p, std::ios::binary);
  if (!in)
    return false;
  in.seekg(0, std::ios::end);
  auto size = in.tellg();
  if (size < 0)
    return false;
  out.resize(static_cast<std::size_t>(size));
  in.seekg(0, std::ios::beg);
  in.read(out.data(), size);
  return static_cast<bool>(in) || in.eof();
}

} // namespace

int validate_paths(const std::vector<std::string>& paths, std::ostream& out) {
  std::vector<std::string> files;
  bool io_problem = false;
  for (const auto& p : paths) {
    std::error_code ec;
    auto st = fs::status(p, ec);
    if (ec || !fs::exists(st)) {
      out << "ERROR " << p << ": cannot read: "
          << (ec ? ec.message() : std::string{"no such file or directory"}) << '\n';
      io_problem = true;
      continue;
    }
    if (fs::is_directory(st)) {
      std::vector<std::string> found;
      fs::recursive_directory_iterator it(p, fs::directory_options::skip_permission_denied, ec), end;
      if (ec) {
        out << "ERROR " << p << ": cannot list: " << ec.message() << '\n';
        io_problem = true;
        continue;
      }
      for (; it != end; it.increment(ec)) {
        if (ec) {
          out << "ERROR " << p << ": cannot list: " << ec.message() << '\n';
          io_problem = true;
          break;
        }
        std::error_code fec;
        if (it->is_regular_file(fec) && it->path().extension() == ".json")
          found.push_back(it->path().string());
      }
      std::sort(found.begin(), found.end());
      files.insert(files.end(), found.begin(), found.end());
    } else {
      files.push_back(p);
    }
  }

  std::vector<document> docs;
  docs.reserve(files.size());
  std::string text;
  for (const auto& f : files) {
    if (!read_file(f, text)) {
      out << "ERROR " << f << ": cannot read file\n";
      io_problem = true;
      continue;
    }
    auto j = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false,
                                   /*ignore_comments=*/true);
    if (j.is_discarded()) {
      // Locate the syntax error for the message.
      std::string what = "invalid JSON";
      try {
        auto again = nlohmann::json::parse(text, nullptr, true, true);
        (void) again;
      } catch (const nlohmann::json::parse_error& e) {
        what = e.what();
      }
      out << "INVALID " << f << ": json-syntax at : " << what << '\n';
      io_problem = true;
      continue;
    }
    docs.push_back(document{f, std::move(j)});
  }

  auto result = validate(docs);
  bool any_invalid = false;
  std::string buf;
  for (const auto& d : result.documents) {
    if (d.valid()) {
      buf += "VALID ";
      buf += d.source;
      buf += '\n';
      continue;
    }
    any_invalid = true;
    for (const auto& e : d.errors) {
      buf += "INVALID ";
      buf += d.source;
      buf += ": ";
      buf += e.rule;
      buf += " at ";
      buf += e.path;
      buf += ": ";
      buf += e.message;
      buf += '\n';
    }
  }
  out << buf;
  out.flush();
  if (io_problem)
    return 2;
  return any_invalid ? 1 : 0;
}

} // namespace twin::model
