// The two clocks the programs read. clock_gettime is served by the vDSO, so
// reading either costs no system call, even on the hot path.
#pragma once
#include <cstdint>
#include <ctime>

namespace mirrortap {

inline uint64_t clock_ns(clockid_t clock) {
    timespec ts{};
    clock_gettime(clock, &ts);
    return uint64_t(ts.tv_sec) * 1'000'000'000ull + uint64_t(ts.tv_nsec);
}

// For intervals, deadlines and liveness: never jumps.
inline uint64_t monotonic_ns() { return clock_ns(CLOCK_MONOTONIC); }

// For timestamps people read (pcap records, file names).
inline uint64_t realtime_ns() { return clock_ns(CLOCK_REALTIME); }

}  // namespace mirrortap
