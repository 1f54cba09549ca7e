#pragma once
// The tamper-evident audit chain: each record carries the SHA-256 of the
// previous record ("prevHash") and its own hash ("hash") computed over its
// canonical form (the record without "hash", serialized by nlohmann::json's
// dump(), which sorts keys). The first record's prevHash is 64 zeros.
//
// CONTRACT: persistence/ uses exactly the declarations below.

#include <optional>
#include <string>

#include <nlohmann/json.hpp>

namespace twin::security {

inline const std::string genesis_hash(64, '0');

/// Lowercase hex SHA-256 of `bytes`.
std::string sha256_hex(const std::string& bytes);

/// The hash of `record` (its "hash" member, if any, is ignored).
std::string audit_hash(const nlohmann::json& record);

/// Sets record["prevHash"] = prev and record["hash"] = audit_hash(record).
void seal_audit_record(nlohmann::json& record, const std::string& prev);

/// Checks one record against the previous record's hash. Returns nullopt if
/// it is intact, else the reason ("prevHash does not link to record 41",
/// "hash mismatch: record content changed", "not valid JSON", ...).
std::optional<std::string> check_audit_record(const nlohmann::json& record,
                                              const std::string& prev);

} // namespace twin::security
