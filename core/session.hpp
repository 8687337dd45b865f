// A mirror session as the collector sees it: one VNI (optionally split by
// outer source), its name, its counters and the counters of every sink it feeds.
// Plain data shared by collector/ and sinks/; owned by one receive worker,
// read by other threads (the exporter, the thread that closes replaced sinks).
#pragma once
#include <array>
#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
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
    // swapped whole under a lock, and a reader on another thread keeps the
    // string it took alive until it is done with it. Cold path only (file
    // open, scrape, reload), so a plain mutex: libstdc++'s atomic<shared_ptr>
    // guards itself with a lock bit ThreadSanitizer cannot see, and reported
    // its own swap as a race.
    std::string name() const {
        std::lock_guard lock(name_mutex_);
        return name_ ? *name_ : std::string();
    }
    void set_name(std::shared_ptr<const std::string> n) {
        std::lock_guard lock(name_mutex_);
        name_.swap(n);  // the old name is freed outside the lock, as `n` goes
    }
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

    // Where /metrics shows it (collector/session_series.hpp's SeriesPlace): 0
    // until a scrape decides, then kept for the session's life. Written by the
    // exporter and read at release, both under the session table's hold().
    mutable std::atomic<uint8_t> series_place{0};

    // Whether the slot holds a session: set by the owning worker once the
    // session is built (a slot is reused after its session expired); other
    // threads read nothing else of a slot without it.
    std::atomic<bool> in_use{false};

private:
    mutable std::mutex name_mutex_;
    std::shared_ptr<const std::string> name_;
};

}  // namespace mirrortap
