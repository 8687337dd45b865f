// Counters read by other threads (the exporter). A RelaxedCounter is written
// by exactly one thread: a relaxed load+store is enough for a single writer
// and, unlike fetch_add, costs no locked instruction on the hot path.
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

// A gauge that two threads move: one adds what it accepts, another subtracts
// what it has delivered (a receive worker and a sink's writer thread). Each
// move is a locked instruction, so callers move it once per batch, not per packet.
class SharedGauge {
public:
    void add(uint64_t n) { v_.fetch_add(n, std::memory_order_relaxed); }
    void sub(uint64_t n) { v_.fetch_sub(n, std::memory_order_relaxed); }
    void set(uint64_t n) { v_.store(n, std::memory_order_relaxed); }
    uint64_t get() const { return v_.load(std::memory_order_relaxed); }

private:
    std::atomic<uint64_t> v_{0};
};

}  // namespace mirrortap
