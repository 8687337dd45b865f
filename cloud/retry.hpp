// Bounded retries with exponential backoff and full jitter: the n-th retry
// waits a uniformly random time in [0, min(cap, base * 2^(n-1))], so that
// many clients throttled together do not come back together.
#pragma once
#include <chrono>
#include <cstdint>

namespace mirrortap::cloud {

struct RetryPolicy {
    int max_attempts = 5;                   // per request, the first one included; at least 1
    std::chrono::milliseconds base{200};    // ceiling of the first retry's wait
    std::chrono::milliseconds cap{20'000};  // no wait is longer
};

// The longest wait before retry number `retry` (1 = the first retry).
std::chrono::milliseconds backoff_ceiling(const RetryPolicy& policy, int retry);

// The wait before retry number `retry`, picked by `random` (any 64-bit
// value; uniform randomness gives a uniform wait) in [0, backoff_ceiling].
std::chrono::milliseconds backoff_delay(const RetryPolicy& policy, int retry, uint64_t random);

// backoff_delay with a random value of its own (thread-safe).
std::chrono::milliseconds backoff_delay(const RetryPolicy& policy, int retry);

}  // namespace mirrortap::cloud
