#include "cloud/retry.hpp"

#include <algorithm>
#include <random>

namespace mirrortap::cloud {

std::chrono::milliseconds backoff_ceiling(const RetryPolicy& policy, int retry) {
    const int64_t base = std::max<int64_t>(policy.base.count(), 0);
    const int64_t cap = std::max<int64_t>(policy.cap.count(), 0);
    int64_t ceiling = base;
    // Doubling stops at the cap, so neither a large retry number nor a large
    // base can overflow.
    for (int i = 1; i < retry && ceiling < cap; ++i) ceiling *= 2;
    return std::chrono::milliseconds(std::min(ceiling, cap));
}

std::chrono::milliseconds backoff_delay(const RetryPolicy& policy, int retry, uint64_t random) {
    const auto ceiling = static_cast<uint64_t>(backoff_ceiling(policy, retry).count());
    return std::chrono::milliseconds(static_cast<int64_t>(random % (ceiling + 1)));
}

std::chrono::milliseconds backoff_delay(const RetryPolicy& policy, int retry) {
    thread_local std::mt19937_64 generator{std::random_device{}()};
    return backoff_delay(policy, retry, generator());
}

}  // namespace mirrortap::cloud
