// A mirror session as the collector sees it: one VNI (optionally split by
// outer source), its name, its counters and the counters of every sink it feeds.
// Plain data shared by collector/ and sinks/; owned by one receive worker.
#pragma once
#include <array>
#include <atomic>
#include <cstdint>
#include <string>

#include "support/counter.hpp"
#include "core/sink_counters.hpp"

namespace mirrortap {

inline constexpr size_t kMaxSinks = 8;
inline constexpr size_t kMaxSourcesPerSession = 16;

// Outer source address, IPv4 mapped into IPv6 form so one type serves both.
using SourceAddress = std::array<uint8_t, 16>;

struct Session {
    uint32_t id = 0;     // index in the owning worker's table; sinks key state by it
    uint32_t vni = 0;
    // Directory and `session` label. A reload may rename a session: the name is
    // swapped as a pointer to a string its SessionTable keeps until exit, so a
    // reader on another thread never sees a string being rewritten.
    const std::string& name() const { return *name_.load(std::memory_order_acquire); }
    void set_name(const std::string* n) { name_.store(n, std::memory_order_release); }
    uint32_t sink_mask = ~0u;  // which sinks (bits by SinkSlot) this session feeds; the worker's alone

    RelaxedCounter packets;
    RelaxedCounter bytes;
    std::array<SinkCounters, kMaxSinks> sinks;

    // Outer sources seen: a bounded set, published by count so readers on
    // other threads see only fully written entries.
    std::array<SourceAddress, kMaxSourcesPerSession> sources{};
    std::atomic<uint32_t> source_count{0};
    RelaxedCounter sources_overflow;  // packets from sources beyond the bound: counted, not kept

private:
    static inline const std::string kUnnamed;
    std::atomic<const std::string*> name_{&kUnnamed};
};

}  // namespace mirrortap
