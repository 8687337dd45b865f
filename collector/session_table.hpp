// VNI (optionally with the outer source) -> Session. Owned and written by one
// receive worker; read by the exporter through size(), at() and in_use(),
// which see only fully built sessions. Sessions live in blocks allocated as
// sessions appear, so memory follows the sessions that exist rather than
// max_sessions, and a Session never moves: sinks and other threads hold
// Session pointers.
//
// A session idle for session_idle_seconds ends in two steps. end_idle() takes
// it out of the index (its VNI's next packet makes a new session) and the
// worker tells its sinks, which finish its files and let go of it on their own
// threads. Once every sink has let go, release() adds its counters to
// expired(), and its slot goes on a free list for the next new session, with
// the same id: memory is reused, and the budget counts live sessions only.
#pragma once
#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <unordered_map>
#include <vector>

#include "core/session.hpp"
#include "config/config.hpp"

namespace mirrortap {

// Shared by all workers so that max_sessions bounds the whole process.
struct SessionBudget {
    explicit SessionBudget(uint32_t max) : max_sessions(max) {}
    const uint32_t max_sessions;
    std::atomic<uint32_t> created{0};
    bool take() {
        if (created.fetch_add(1, std::memory_order_relaxed) < max_sessions) return true;
        created.fetch_sub(1, std::memory_order_relaxed);
        return false;
    }
    void give_back() { created.fetch_sub(1, std::memory_order_relaxed); }
};

// Where /metrics shows a session (Session::series_place, collector/session_series.hpp).
enum class SeriesPlace : uint8_t { undecided, own, other };

// What the sessions a worker released had counted, so that the process-wide
// identities (received = Σ refusals + Σ session packets) hold after their
// series are gone from /metrics.
struct ExpiredSessions {
    RelaxedCounter sessions;
    RelaxedCounter packets;
    RelaxedCounter bytes;
    std::array<SinkCounters, kMaxSinks> sinks;  // by counter slot, as Session::sinks
    // By bit of Session::sink_mask: packets of the released sessions that fed that kind of sink.
    std::array<RelaxedCounter, kMaxSinks> fed;
};

class SessionTable {
public:
    // Sessions per block: one block (~50 KiB) is allocated when the first
    // session of it appears.
    static constexpr uint32_t kBlockSessions = 64;

    // `config` must outlive the table or the next apply() (the worker holds it).
    SessionTable(const Config& config, SessionBudget& budget);

    // After a reload: names of new sessions come from `config`, and existing
    // sessions whose name it changes are renamed. Same lifetime rule.
    void apply(const Config& config);

    // The session for this packet, created on first sight; nullptr when the
    // session budget is spent (the caller counts `session_limit`).
    Session* route(uint32_t vni, const SourceAddress& source);

    // Slots [0, size()) are whole; at(i) for i below a size() read on any
    // thread. A slot holds a session (live or ending) while in_use(i); other
    // threads read a slot's session only then, holding hold() so that it is
    // neither released nor reused meanwhile.
    uint32_t size() const { return published_.load(std::memory_order_acquire); }
    bool in_use(uint32_t i) const { return at(i).in_use.load(std::memory_order_acquire); }
    std::unique_lock<std::mutex> hold() const { return std::unique_lock(release_mutex_); }
    // Read under hold(), with the sessions in use: their sum is what all sessions ever counted.
    const ExpiredSessions& expired() const { return expired_; }
    // The same for released sessions that /metrics showed in session="other"
    // (Session::series_place): they stay there, so that its counters never go down.
    const ExpiredSessions& expired_in_other() const { return expired_in_other_; }
    const Session& at(uint32_t i) const { return blocks_[i / kBlockSessions][i % kBlockSessions]; }
    Session& at(uint32_t i) { return blocks_[i / kBlockSessions][i % kBlockSessions]; }

    // Worker. Looks at up to `scan` slots from where the last call stopped and
    // ends, at most `limit` of them, the live sessions that received nothing
    // for `idle_ns` (time by `now_ns`, any monotonic clock); appends them to `ended`.
    void end_idle(uint64_t now_ns, uint64_t idle_ns, uint32_t scan, size_t limit, std::vector<Session*>& ended);
    // Worker. Ends up to `limit` live sessions whose VNI `allow` refuses (after a reload).
    void end_refused(const Allowlist& allow, size_t limit, std::vector<Session*>& ended);
    // Worker. Sessions ended before, which no sink touches any more: their
    // counters go to expired() and their slots to the free list. False (nothing
    // done) when a reader holds the table: try again on the next tick.
    bool release(std::span<Session* const> ended);

    static std::string name_for(const Config& config, uint32_t vni, const SourceAddress* source);
    static std::string format_source(const SourceAddress& a);

private:
    struct Key {
        uint32_t vni;
        SourceAddress source;
        bool operator==(const Key&) const = default;
    };
    static uint32_t hash(const Key& k);
    // Key -> Session, open addressing with linear probing: a lookup is one
    // cache line at most sessions, where std::unordered_map chased a bucket
    // and a node (its lookup was 14 % of the collector's CPU at 10,000
    // interleaved sessions, perf on bench rows m). Grows on the cold path
    // (create), kept at most half full; erase shifts back, leaving no tombstones.
    class Index {
    public:
        Session* find(const Key& key) const;
        void insert(const Key& key, Session* s);
        void erase(const Key& key);

    private:
        struct Entry {
            Key key{};
            uint32_t hash = 0;
            Session* session = nullptr;  // nullptr: empty
        };
        void grow();
        std::vector<Entry> entries_;  // a power of two long, or empty
        size_t used_ = 0;
    };

    // The worker's own view of a slot.
    enum class SlotState : uint8_t { live, ending, free };
    struct Slot {
        Key key{};
        SlotState state = SlotState::free;
        uint64_t seen_packets = 0;  // Session::packets when last looked at
        uint64_t idle_since_ns = 0; // when it was last seen to change
    };

    Session* create(const Key& key);
    void end(Session& s);
    void forget(Session& s);
    static void remember_source(Session& s, const SourceAddress& source);

    const Config* config_;
    SessionBudget& budget_;
    const uint32_t capacity_;  // max_sessions: fixed for the life of the process
    // Block b holds sessions [b * kBlockSessions, (b + 1) * kBlockSessions).
    // A block pointer is set once, before the first of its sessions is
    // published; readers reach it only through size().
    std::unique_ptr<std::unique_ptr<Session[]>[]> blocks_;
    std::atomic<uint32_t> published_{0};
    Index index_;
    std::vector<Slot> slots_;        // by Session::id, for [0, size())
    std::vector<uint32_t> free_;     // released slots; the last released is reused first
    uint32_t scan_at_ = 0;           // where end_idle() goes on
    // Taken by the worker only to release a session (never to route or create
    // one), and with try_lock: a scrape can delay a release, never a packet.
    mutable std::mutex release_mutex_;
    ExpiredSessions expired_;
    ExpiredSessions expired_in_other_;
    // Mirror traffic comes in long runs of one session: one compare usually
    // replaces the hash lookup.
    Key last_key_{};
    Session* last_ = nullptr;
};

}  // namespace mirrortap
