// The IDS feed as a live classic-pcap stream: a global header, then records,
// to stdout (`-`), a FIFO, or a unix socket (`unix:PATH`, we listen), so that
// `mirrortap-collector --stream - | tshark -i -` works. One writer thread owns
// the output; each receive worker hands it records through its own bounded
// single-producer ring, so a slow or absent reader costs drops, never a wait.
#pragma once
#include <array>
#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string_view>
#include <string>
#include <thread>
#include <vector>

#include <sys/types.h>

#include "core/sink.hpp"

struct sockaddr_un;

namespace mirrortap {

// What --stream PATH names.
struct StreamTarget {
    enum class Kind { stdout_pipe, fifo, unix_listen } kind = Kind::fifo;
    std::string path;  // empty for stdout
    std::string text;  // as the user wrote it, for messages
};
// `-` is stdout, `unix:PATH` a listening unix stream socket; anything else a
// FIFO, created when missing. Fails when PATH cannot be one.
Result<StreamTarget> parse_stream_target(std::string_view text);

// One ring entry, 16-byte aligned; the pcap record header and data follow.
struct StreamEntry {
    Session* session;       // nullptr: padding to the end of the ring
    uint32_t record_bytes;  // pcap record header + captured bytes
    uint8_t outcome;        // set by the writer before it publishes `done`
    uint8_t unused[3];
};
static_assert(sizeof(StreamEntry) == 16);
inline constexpr uint8_t kStreamPending = 0;
inline constexpr uint8_t kStreamWritten = 1;
inline uint8_t stream_outcome(SinkDropReason r) { return uint8_t(2 + uint8_t(r)); }

// Single producer (a receive worker), single consumer (the writer thread).
// Three positions, all counted in bytes and never wrapped: the producer
// publishes up to `head`; the writer consumes and sets each entry's outcome up
// to `done`; the producer reads outcomes, counts them and frees up to its own `tail`.
class StreamRing {
public:
    explicit StreamRing(size_t capacity_bytes);  // rounded up to a power of two

    // Producer: room for one record of `record_bytes`, or nullptr when full.
    std::byte* reserve(Session* session, uint32_t record_bytes);
    void publish() { head_.store(pending_head_, std::memory_order_seq_cst); }
    // Producer: calls on_done(entry) for each entry the writer has finished, oldest first.
    template <typename F>
    void reclaim(F&& on_done) {
        const uint64_t done = done_.load(std::memory_order_acquire);
        while (tail_ < done) {
            StreamEntry* e = entry_at(tail_);
            tail_ = next(tail_, e);
            if (e->session) on_done(*e);
        }
    }
    // Producer, at close: each entry published and not finished, as if abandoned.
    template <typename F>
    void abandon(F&& on_each) {
        reclaim([](const StreamEntry&) {});
        while (tail_ < pending_head_) {
            StreamEntry* e = entry_at(tail_);
            tail_ = next(tail_, e);
            if (e->session) on_each(*e);
        }
    }

    // Producer: where the next record goes, and how far finished records are counted.
    uint64_t reserved_to() const { return pending_head_; }
    uint64_t reclaimed_to() const { return tail_; }

    // Writer side.
    uint64_t head() const { return head_.load(std::memory_order_seq_cst); }
    uint64_t done() const { return done_.load(std::memory_order_acquire); }
    void set_done(uint64_t pos) { done_.store(pos, std::memory_order_release); }
    StreamEntry* entry_at(uint64_t pos) { return reinterpret_cast<StreamEntry*>(buf_.get() + (pos & mask_)); }
    uint64_t next(uint64_t pos, const StreamEntry* e) const {
        // Padding runs to the end of the buffer; a record occupies its aligned size.
        if (!e->session) return pos + (capacity_ - (pos & mask_));
        return pos + entry_bytes(e->record_bytes);
    }
    static uint64_t entry_bytes(uint32_t record_bytes) { return (sizeof(StreamEntry) + record_bytes + 15) & ~15ull; }
    size_t capacity() const { return capacity_; }

    // Set by the producer: it is closing (the writer stops waiting on a
    // stalled reader for long), and whether a producer owns the ring at all.
    std::atomic<bool> closing{false};
    std::atomic<bool> in_use{false};
    // Who owns the ring (kAnyProducer: no order with other rings) and when it
    // was taken: a producer's later ring waits for its earlier one (StreamWriter::add_producer).
    std::atomic<uint32_t> producer{0};
    std::atomic<uint64_t> taken_at{0};
    // Bytes of records the writer delivered from this ring (writer-only).
    std::atomic<uint64_t> bytes_written{0};

private:
    size_t capacity_;
    uint64_t mask_;
    std::unique_ptr<std::byte[]> buf_;
    alignas(64) std::atomic<uint64_t> head_{0};
    alignas(64) std::atomic<uint64_t> done_{0};
    alignas(64) uint64_t pending_head_ = 0;  // producer-private
    uint64_t tail_ = 0;                      // producer-private
};

// A producer whose records need no order with those of any other ring.
inline constexpr uint32_t kAnyProducer = ~0u;

struct StreamWriterOptions {
    StreamTarget target;
    uint32_t snaplen = 65535;
    size_t ring_bytes = 4u << 20;  // per producer
    uint64_t reopen_interval_ns = 200'000'000;  // how often a FIFO is tried for a new reader
    uint64_t drain_timeout_ns = 2'000'000'000;  // while closing, how long a stalled reader is waited for
    // Who makes the FIFO or the socket (the --user the process becomes), -1 = us.
    // An existing socket at the path is replaced only when it is this owner's
    // and nobody listens on it.
    int owner_uid = -1;
    int owner_gid = -1;
};

class StreamWriter final : public SharedOutput {
public:
    explicit StreamWriter(StreamWriterOptions options);
    // Finishes what is queued (bounded), closes the output, stops the thread.
    // A FIFO it created goes too if no sink ever used it (a refused reload built it).
    ~StreamWriter() override;

    // Prepares the output (creates the FIFO, binds the socket); nothing is
    // written until start(). Fails with a one-line error.
    Result<> open();
    // Starts the writer's thread (after the drop of root, see SharedOutput).
    void start() override;
    // A ring for one producer (a receive worker's sink), or nullptr when
    // kMaxRings are taken. Rings given back by release() are used again, so a
    // reload, which builds new sinks while the old ones finish, needs no more
    // than twice the workers. When a reload replaces a worker's sink, the
    // worker writes to the new ring while the old one still holds records:
    // records of the later ring of one `producer` are written only once
    // every earlier ring of it has been taken, so its order holds.
    StreamRing* add_producer(uint32_t producer = kAnyProducer);
    // The producer is done with the ring (everything it queued is finished).
    void release(StreamRing* ring);
    // Wakes the writer if it sleeps; producers call it once per published batch.
    void wake();

    bool has_reader() const { return reader_.load(std::memory_order_relaxed); }
    // How long the reader has taken nothing while records wait for it (0: it keeps up).
    uint64_t blocked_ns(uint64_t now_ns) const;
    uint64_t bytes_written() const { return bytes_written_.load(std::memory_order_relaxed); }
    uint64_t readers_seen() const { return readers_seen_.load(std::memory_order_relaxed); }
    const StreamTarget& target() const { return opt_.target; }

private:
    struct Taken {
        StreamEntry* entry;
        uint32_t ring;
        size_t out_end;
    };

    // Removes a socket an earlier run left at the path, or says why not.
    Result<> clear_stale_socket(const sockaddr_un& addr) const;
    void run();
    void try_connect(uint64_t now_ns);
    void connected(int fd);
    void disconnect();
    size_t gather();
    size_t discard_all(uint8_t outcome);
    void flush_out();
    void idle_wait();
    bool anyone_closing() const;
    bool everything_done() const;
    bool waits_for_earlier_ring(size_t ring, size_t rings) const;

    static constexpr size_t kMaxRings = 1024;
    StreamWriterOptions opt_;
    std::mutex add_mutex_;  // add_producer/release come from config threads and workers
    std::array<std::unique_ptr<StreamRing>, kMaxRings> rings_;
    std::atomic<uint32_t> ring_count_{0};  // rings_[0, ring_count_) exist
    uint64_t rings_taken_ = 0;  // under add_mutex_: orders the rings of one producer
    std::array<uint64_t, kMaxRings> cursor_{};  // writer: taken up to here, per ring
    std::atomic<bool> stop_{false};
    std::atomic<bool> sleeping_{false};
    int wake_fd_ = -1;    // eventfd
    int out_fd_ = -1;     // the reader's end, when there is one
    int listen_fd_ = -1;  // unix:PATH
    dev_t socket_dev_ = 0;  // the socket file we bound, removed at exit if still there
    ino_t socket_ino_ = 0;
    bool reconnectable_ = true;  // false for stdout once its reader left
    bool made_fifo_ = false;     // open() created the FIFO
    bool had_producer_ = false;  // under add_mutex_: some sink used this writer
    bool is_socket_ = false;
    uint64_t next_attempt_ns_ = 0;
    std::unique_ptr<std::byte[]> out_;
    size_t out_capacity_ = 0;
    size_t out_used_ = 0;
    std::vector<Taken> taken_;
    size_t start_ring_ = 0;
    std::atomic<bool> reader_{false};
    std::atomic<uint64_t> blocked_since_ns_{0};  // monotonic time the reader stopped taking bytes, 0 = it takes them
    std::atomic<uint64_t> bytes_written_{0};
    std::atomic<uint64_t> readers_seen_{0};
    std::thread thread_;
};

struct StreamSinkOptions {
    std::shared_ptr<StreamWriter> writer;
    uint32_t snaplen = 65535;
    uint32_t sink_slot = 2;
    bool required = false;  // unhealthy while nobody reads, or the reader takes nothing
    uint64_t close_timeout_ns = 5'000'000'000;
    uint32_t producer = kAnyProducer;  // the receive worker: its sinks' records keep their order across reloads
    uint64_t stall_grace_ns = 2'000'000'000;  // how long a reader may take nothing before health says so
};

// One per receive worker: the producer end of its ring. All counting is done
// here, on the worker's thread, from the outcomes the writer leaves in the ring.
class StreamSink final : public Sink {
public:
    explicit StreamSink(StreamSinkOptions options);
    ~StreamSink() override;

    std::string_view name() const override { return "stream"; }
    uint32_t slot() const override { return opt_.sink_slot; }
    void write(std::span<const Packet> batch) override;
    void tick(uint64_t) override { reclaim(); }
    void rotate() override {}
    void close() override;
    // The ring's entries hold the session: it is let go of once the records
    // queued before the end are written and counted.
    uint64_t expire(Session& s) override;
    bool released(uint64_t ticket) override;
    SinkStats stats() const override;
    Result<> health() const override;
    // False when the writer had no ring left for this sink (it would drop everything as not_open).
    bool attached() const { return ring_ != nullptr; }

private:
    void reclaim();
    void settle(Session& s, uint8_t outcome);

    StreamSinkOptions opt_;
    StreamRing* ring_;
    uint64_t bytes_at_start_ = 0;  // the ring's byte count when this sink took it
    std::vector<uint32_t> in_flight_;  // by Session::id; grows on a session's first record
    bool closed_ = false;
};

}  // namespace mirrortap
