// How a file is cut for a multipart upload, within S3's limits: at most
// 10,000 parts, each 5 MiB to 5 GiB, the last one allowed to be smaller.
#pragma once
#include <cstdint>
#include <optional>
#include <string>

#include "base/result.hpp"

namespace mirrortap::cloud {

inline constexpr uint64_t kMiB = uint64_t(1) << 20;
inline constexpr uint64_t kMinPartSize = 5 * kMiB;
inline constexpr uint64_t kMaxPartSize = uint64_t(5) << 30;
inline constexpr uint32_t kMaxParts = 10'000;

struct PartPlan {
    uint64_t part_size = 0;  // every part but the last
    uint32_t count = 0;      // at least 1
    uint64_t last_part_size = 0;

    uint64_t offset(uint32_t part_number) const { return uint64_t(part_number - 1) * part_size; }
    uint64_t size(uint32_t part_number) const { return part_number == count ? last_part_size : part_size; }
};

// Parts of `preferred_part_size` (held to 5 MiB .. 5 GiB), or larger ones,
// in whole MiB, when the file would need more than 10,000. A failure
// for a file larger than 10,000 parts of 5 GiB.
mirrortap::Result<PartPlan> plan_parts(uint64_t file_size, uint64_t preferred_part_size);

}  // namespace mirrortap::cloud
