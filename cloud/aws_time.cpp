#include "cloud/aws_time.hpp"

#include <string>

#include "support/parse.hpp"

namespace mirrortap::cloud {

std::optional<SystemTime> parse_aws_time(std::string_view text) {
    const auto ns = parse_rfc3339(text);
    if (!ns) return std::nullopt;
    return SystemTime(std::chrono::duration_cast<SystemTime::duration>(std::chrono::nanoseconds(*ns)));
}

}  // namespace mirrortap::cloud
