// --since/--until: RFC 3339 (2026-12-01T10:02:00Z, 2026-12-01T10:02:00.5+01:00)
// or a time relative to now (-15m, -2h, -1d, -30s).
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace mirrortap::find {

// Nanoseconds since the epoch, or nullopt with `why`.
std::optional<uint64_t> parse_time_arg(std::string_view text, uint64_t now_ns, std::string& why);

}  // namespace mirrortap::find
