// The audit hash chain. See audit_chain.hpp.

#include "twin/security/audit_chain.hpp"

#include <array>
#include <cstdint>
#include <stdexcept>

#include <openssl/evp.h>

namespace twin::security {

std::string sha256_hex(const std::string& bytes) {
  std::array<unsigned char, EVP_MAX_MD_SIZE> md{};
  unsigned int len = 0;
  if (EVP_Digest(bytes.data(), bytes.size(), md.data(), &len, EVP_sha256(),
                 nullptr)
      != 1)
    // Only fails if OpenSSL cannot allocate or the provider is missing:
    // an impossible state for a node that started.
    throw std::runtime_error("EVP_Digest(SHA-256) failed");
  static constexpr char hex[] = "0123456789abcdef";
  std::string out;
  out.reserve(len * 2);
  for (unsigned int i = 0; i < len; ++i) {
    out.push_back(hex[md[i] >> 4]);
    out.push_back(hex[md[i] & 0x0f]);
  }
  return out;
}

namespace {

// The canonical form: dump() (sorted keys, no whitespace). Invalid UTF-8 is
// replaced by U+FFFD rather than thrown, so hashing never fails; the stored
// bytes are produced the same way, so a re-parsed record hashes alike.
std::string canonical(const nlohmann::json& record) {
  return record.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

} // namespace

std::string audit_hash(const nlohmann::json& record) {
  if (record.is_object() && record.contains("hash")) {
    auto copy = record;
    copy.erase("hash");
    return sha256_hex(canonical(copy));
  }
  return sha256_hex(canonical(record));
}

void seal_audit_record(nlohmann::json& record, const std::string& prev) {
  record["prevHash"] = prev;
  record.erase("hash");
  record["hash"] = sha256_hex(canonical(record));
}

std::optional<std::string> check_audit_record(const nlohmann::json& record,
                                              const std::string& prev) {
  if (record.is_discarded())
    return "not valid JSON";
  if (!record.is_object())
    return "not a JSON object";
  auto prev_it = record.find("prevHash");
  if (prev_it == record.end() || !prev_it->is_string())
    return "missing prevHash";
  auto hash_it = record.find("hash");
  if (hash_it == record.end() || !hash_it->is_string())
    return "missing hash";
  if (prev_it->get_ref<const std::string&>() != prev) {
    auto seq_it = record.find("seq");
    if (seq_it != record.end() && seq_it->is_number_integer()
        && seq_it->get<std::int64_t>() > 1)
      return "prevHash does not link to record "
             + std::to_string(seq_it->get<std::int64_t>() - 1);
    if (seq_it != record.end() && seq_it->is_number_integer()
        && seq_it->get<std::int64_t>() == 1)
      return "prevHash of the first record is not the genesis hash";
    return "prevHash does not link to the previous record";
  }
  if (audit_hash(record) != hash_it->get_ref<const std::string&>())
    return "hash mismatch: record content changed";
  return std::nullopt;
}

} // namespace twin::security
