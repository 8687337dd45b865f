// A mirror session as the collector sees it: one VNI (optionally split by
// outer source), its name, its counters and the counters of every sink it feeds.
// Plain data shared by collector/ and sinks/; owned by one receive worker,
// read by other threads (the exporter, the thread that closes replaced sinks).
#pragma once
#include <array>
#include <atomic>
#include <cstdint>
#include <memory>
#include <string>

#include "support/counter.hpp"
#include "core/sink_counters.hpp"

namespace mirrortap {

inline constexpr size_t kMaxSinks = 8;
inline constexpr size_t kMaxSourcesPerSession = 16;

// Outer source address, IPv4 mapped into IPv6 form so one type serves both.
using SourceAddress = std::array<uint8_t, 16>;

struct Session {
    uint32_t id = 0;     // index in the owning worker's table, dense from 0; sinks key state by it
    uint32_t vni = 0;
    // Directory and `session` label. A reload may rename a session: the name is
    // swapped whole, and a reader on another thread keeps the string it loaded
    // alive until it is done with its copy. Cold path only (file open, scrape).
    std::string name() const {
        const auto n = name_.load(std::memory_order_acquire);
        return n ? *n : std::string();
    }
    void set_name(std::shared_ptr<const std::string> n) { name_.store(std::move(n), std::memory_order_release); }
    // Which kinds of sink this session feeds (bit i: kSinkNames[i]). Written by
    // the owning worker on a reload, read by the exporter.
    std::atomic<uint32_t> sink_mask{~0u};

    RelaxedCounter packets;
    RelaxedCounter bytes;
    // By counter slot (Sink::slot()): each kind of sink has two, see sinks/sink_registry.hpp.
    std::array<SinkCounters, kMaxSinks> sinks;

    // Outer sources seen: a bounded set, published by count so readers on
    // other threads see only fully written entries.
    std::array<SourceAddress, kMaxSourcesPerSession> sources{};
    std::atomic<uint32_t> source_count{0};
    RelaxedCounter sources_overflow;  // packets from sources beyond the bound: counted, not kept

    // Whether the slot holds a session: set by the owning worker once the
    // session is built (a slot is reused after its session expired); other
    // threads read nothing else of a slot without it.
    std::atomic<bool> in_use{false};

private:
    std::atomic<std::shared_ptr<const std::string>> name_;
};

}  // namespace mirrortap
