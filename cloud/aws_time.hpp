// The times AWS writes: ISO 8601 in UTC ("2024-05-01T12:34:56Z", with or
// without fractional seconds), as in credential Expiration fields.
#pragma once
#include <chrono>
#include <optional>
#include <string_view>

namespace mirrortap::cloud {

using SystemTime = std::chrono::system_clock::time_point;

// nullopt for anything else, a time zone offset other than Z included.
std::optional<SystemTime> parse_aws_time(std::string_view text);

}  // namespace mirrortap::cloud
