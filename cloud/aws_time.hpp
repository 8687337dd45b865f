// The times AWS writes ("2024-05-01T12:34:56Z", with or without fractional
// seconds), as in credential Expiration fields, as a system_clock time:
// support/parse.hpp's RFC 3339 reader, which also takes other zones.
#pragma once
#include <chrono>
#include <optional>
#include <string_view>

namespace mirrortap::cloud {

using SystemTime = std::chrono::system_clock::time_point;

// nullopt for anything that is not an RFC 3339 time with a zone.
std::optional<SystemTime> parse_aws_time(std::string_view text);

}  // namespace mirrortap::cloud
