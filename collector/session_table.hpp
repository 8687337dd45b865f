// VNI (optionally with the outer source) -> Session. Owned and written by one
// receive worker; read by the exporter through size() and at(), which see only
// fully built sessions. Sessions live in blocks allocated as sessions appear,
// so memory follows the sessions that exist rather than max_sessions, and a
// Session never moves: sinks and other threads hold Session pointers.
#pragma once
#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <unordered_map>

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

    // Sessions [0, size()) are whole; at(i) for i below a size() read on any thread.
    uint32_t size() const { return published_.load(std::memory_order_acquire); }
    const Session& at(uint32_t i) const { return blocks_[i / kBlockSessions][i % kBlockSessions]; }
    Session& at(uint32_t i) { return blocks_[i / kBlockSessions][i % kBlockSessions]; }

    static std::string name_for(const Config& config, uint32_t vni, const SourceAddress* source);
    static std::string format_source(const SourceAddress& a);

private:
    struct Key {
        uint32_t vni;
        SourceAddress source;
        bool operator==(const Key&) const = default;
    };
    struct KeyHash {
        size_t operator()(const Key& k) const;
    };

    Session* create(const Key& key);
    static void remember_source(Session& s, const SourceAddress& source);

    const Config* config_;
    SessionBudget& budget_;
    const uint32_t capacity_;  // max_sessions: fixed for the life of the process
    // Block b holds sessions [b * kBlockSessions, (b + 1) * kBlockSessions).
    // A block pointer is set once, before the first of its sessions is
    // published; readers reach it only through size().
    std::unique_ptr<std::unique_ptr<Session[]>[]> blocks_;
    std::atomic<uint32_t> published_{0};
    std::unordered_map<Key, Session*, KeyHash> index_;  // grows with the sessions, on the cold path
    // Mirror traffic comes in long runs of one session: one compare usually
    // replaces the hash lookup.
    Key last_key_{};
    Session* last_ = nullptr;
};

}  // namespace mirrortap
