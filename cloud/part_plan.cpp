#include "cloud/part_plan.hpp"

#include <algorithm>

namespace mirrortap::cloud {

mirrortap::Result<PartPlan> plan_parts(uint64_t file_size, uint64_t preferred_part_size) {
    if (file_size > uint64_t(kMaxParts) * kMaxPartSize) {
        return fail("a file of " + std::to_string(file_size) + " bytes is larger than S3's " +
                    std::to_string(kMaxParts) + " parts of 5 GiB");
    }
    uint64_t part_size = std::clamp(preferred_part_size, kMinPartSize, kMaxPartSize);
    const uint64_t smallest_that_fits = (file_size + kMaxParts - 1) / kMaxParts;
    if (part_size < smallest_that_fits) part_size = std::min((smallest_that_fits + kMiB - 1) / kMiB * kMiB, kMaxPartSize);
    PartPlan plan;
    plan.part_size = part_size;
    plan.count = static_cast<uint32_t>(std::max<uint64_t>(1, (file_size + part_size - 1) / part_size));
    plan.last_part_size = file_size - uint64_t(plan.count - 1) * part_size;
    return plan;
}

}  // namespace mirrortap::cloud
