// The contract every output honours: fed in batches from a receive worker,
// never blocks it, and accounts for every packet it is handed.
#pragma once
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "base/result.hpp"
#include "core/session.hpp"
#include "decap/bytes.hpp"
#include "decap/flow.hpp"

namespace mirrortap {

// Datagrams per receive call, and so the most packets a sink is handed at
// once: enough to amortise the system call, small enough that a batch stays in cache.
inline constexpr size_t kReceiveBatch = 64;

// Sessions a worker has ended and its sinks not yet let go of, at most: what
// a sink must have room for in whatever carries expire() to its threads.
inline constexpr size_t kMaxEndingSessions = 64;

struct Packet {
    Session* session = nullptr;
    uint64_t timestamp_ns = 0;     // kernel receive time (SO_TIMESTAMPNS)
    Bytes frame;                   // inner Ethernet frame as received
    uint32_t original_length = 0;  // before any truncation upstream of us
    FlowKey flow;
};

// Totals across sessions; per-session figures live in Session::sinks[index].
struct SinkStats {
    uint64_t bytes_written = 0;
    uint64_t files_rotated = 0;
};

class Sink {
public:
    virtual ~Sink() = default;
    // The `sink` label.
    virtual std::string_view name() const = 0;
    // Where this sink counts in Session::sinks: one of the two counter slots
    // of its kind (sinks/sink_registry.hpp), so that the sinks a reload builds
    // and the ones they replace, closing meanwhile on another thread, never
    // write the same counters.
    virtual uint32_t slot() const = 0;
    // Called once per received batch with the packets routed to this sink.
    virtual void write(std::span<const Packet> batch) = 0;
    // Called from the worker loop at least a few times a second, also when idle:
    // flush buffers, rotate by time.
    virtual void tick(uint64_t now_ns) = 0;
    // SIGHUP: close what is open and start afresh.
    virtual void rotate() = 0;
    // SIGTERM, or replaced by a reload: flush and close everything; nothing is
    // accepted afterwards. A sink with a thread of its own may hand the
    // finishing to it and return at once (see drain()). A replaced sink may be
    // closed and destroyed on another thread than the worker that wrote it,
    // after the worker's last write().
    virtual void close() = 0;
    // After close(): returns when everything this sink accepted is delivered
    // or counted dropped, so that the sessions the sink counts into may be
    // freed. The worker calls it once receiving has stopped (SIGTERM); the
    // retirer for a sink a reload replaced, off the receive path.
    virtual void drain() {}
    // The session has ended (idle, or refused by a reload): finish what this
    // sink holds of it (its file is finished, its buffered records written)
    // and forget its per-session state, since its slot and id will serve
    // another session. Returns a ticket for released(). The worker ends at
    // most kMaxEndingSessions sessions that are not yet released.
    virtual uint64_t expire(Session&) { return 0; }
    // Worker. True once no thread of this sink will touch the session that
    // expire() gave `ticket` for: its counters are final, its slot may be reused.
    virtual bool released(uint64_t /*ticket*/) { return true; }
    virtual SinkStats stats() const = 0;
    // Fails with a short reason when the sink cannot currently deliver.
    virtual Result<> health() const = 0;
};

// What the sinks of one kind in every worker share (the TAP devices, the
// stream writer): opened once (creating a TAP needs privileges the process
// gives up after start) and kept across reloads while the config names it.
class SharedOutput {
public:
    virtual ~SharedOutput() = default;
    // Starts what runs on a thread of its own. Called once root is dropped
    // (threads made before would keep root's identity: collector/main.cpp),
    // and again for each reload's outputs; a second call does nothing.
    virtual void start() {}
};

}  // namespace mirrortap
