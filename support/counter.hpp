// Counters written by exactly one thread and read by others (the exporter).
// A relaxed load+store is enough for a single writer and, unlike fetch_add,
// costs no locked instruction on the hot path.
#pragma once
#include <atomic>
#include <cstdint>

namespace mirrortap {

class RelaxedCounter {
public:
    void add(uint64_t n = 1) { v_.store(v_.load(std::memory_order_relaxed) + n, std::memory_order_relaxed); }
    void set(uint64_t n) { v_.store(n, std::memory_order_relaxed); }
    uint64_t get() const { return v_.load(std::memory_order_relaxed); }

private:
    std::atomic<uint64_t> v_{0};
};

}  // namespace mirrortap
