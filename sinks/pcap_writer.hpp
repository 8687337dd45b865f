// The pcap writer: one thread per collector ("mt-pcap-writer") that makes
// every file-system call of the pcap sink, so that a receive worker never
// waits on a disk. Each pcap sink (one per worker, a new one per reload) owns
// a channel: a block pool, the rings that carry blocks to the writer and back,
// and the files (PcapFiles) that only the writer touches.
//
// One thread for the collector rather than one per worker: the disk, not the
// CPU, is what a writer waits on (it copies nothing; a writev carries a
// session's records of a whole flush interval); one thread keeps the
// directory operations of every session serialised, leaves the cores to the
// receive workers, and, living as long as its owner (collector/collector.hpp
// holds it in SinkServices), lets a reload hand its old sink's files over
// without waiting for a thread to end.
#pragma once
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "sinks/pcap_blocks.hpp"
#include "sinks/pcap_files.hpp"

namespace mirrortap {

// One sink's end of the writer. The sink (on its worker's thread) fills
// blocks and pushes them on `to_writer`; the writer takes them in, holds them
// until the flush interval is up (or half the pool is in its hands), then
// writes each session's runs from all of them at once and pushes the blocks
// back on `to_worker`. Everything else is the writer's alone, or atomic.
class PcapChannel {
public:
    // Stands for SIGHUP in `to_writer`: finish every open file here.
    static constexpr uint32_t kRotateMark = ~0u;
    // kEndMark | Session::id in `to_writer`: that session has ended; finish its
    // file and forget it. Block indices and session ids stay below it.
    static constexpr uint32_t kEndMark = 1u << 31;

    PcapChannel(const PcapRotatorOptions& options, size_t block_bytes, uint32_t block_count, FileSequences& sequences);

    BlockPool pool;
    SpscRing to_writer;  // blocks to write, and rotate marks
    SpscRing to_worker;  // blocks written or dropped: free again
    PcapFiles files;
    // Set by the worker, read by the writer.
    std::atomic<uint64_t> now_ns{0};      // the worker's latest tick: time for rotation
    std::atomic<bool> closing{false};     // set after the last block: finish and let go
    // Set by the writer: everything handed over is written or counted.
    std::atomic<bool> done{false};
    // Set by the writer: how many end marks it has dealt with (sessions it let go of).
    std::atomic<uint64_t> sessions_ended{0};
    // Set by the writer: records of the blocks it gave back (written or counted as dropped).
    std::atomic<uint64_t> records_settled{0};

    // Writer thread only.
    struct Snapshot {
        bool closing = false;
        uint64_t head = 0;
    };
    void take_snapshot();
    // Writes what the snapshot holds; returns whether there was any work.
    bool serve();
    bool has_work() const;

private:
    // The block's runs join their sessions' pending lists; the block is held until flush().
    void take(uint32_t block);
    // Each session's pending runs to its files, then every held block back to the worker.
    void flush();
    void write_pending(uint32_t session_id);
    bool flush_due() const;

    // A quiet session's records (pcap.quiet_flush_ms), copied out of the
    // blocks so that the blocks go back to the worker at every flush.
    struct Carry {
        std::vector<std::byte> bytes;
        uint32_t records = 0;
        uint64_t last_ns = 0;
        uint64_t due_ns = 0;  // when it goes to the file at the latest
    };
    struct CarryDue {
        uint32_t id;
        uint64_t due_ns;
    };
    // At a flush: the session's pending runs to its file, or, when it is
    // quiet (little pending, its file open), to its carry.
    void flush_session(uint32_t id, uint64_t now);
    void carry_over(uint32_t id, uint64_t now);
    // Carries whose time has come (all of them with `all`) to their files.
    void write_due_carries(bool all);
    bool carry_due() const;

    Snapshot snapshot_;
    const uint64_t flush_ns_;
    const uint64_t quiet_ns_;                    // 0: every session is written at every flush
    std::vector<Carry> carry_;                   // by Session::id
    std::deque<CarryDue> carry_due_;             // one per carry begun, in the order they are due
    std::vector<uint32_t> held_;                 // blocks taken in and not yet written
    uint64_t held_oldest_ns_ = 0;                // the first record time of the oldest of them
    std::vector<std::vector<RecordRun>> pending_;  // by Session::id: runs of held blocks, in order
    std::vector<Session*> pending_session_;      // by Session::id: whose runs they are
    std::vector<uint32_t> touched_;              // ids with pending runs (may repeat)
};

class PcapWriter {
public:
    // dir_sweep_interval: how often the writer removes session directories
    // that hold nothing and belong to no session of any sink (an ended
    // session's, after its files were uploaded and deleted, or retention);
    // the first sweep comes one interval after start().
    explicit PcapWriter(std::chrono::milliseconds dir_sweep_interval = std::chrono::seconds(60))
        : dir_sweep_interval_(dir_sweep_interval) {}
    ~PcapWriter();  // stop()
    // Finishes every channel (each closed by its sink first), then ends the
    // thread and returns. The owner calls it once no sink hands it anything.
    void stop();
    PcapWriter(const PcapWriter&) = delete;
    PcapWriter& operator=(const PcapWriter&) = delete;

    // Starts the thread. Until then channels fill and nothing is written
    // (tests use that to stand for a stalled disk).
    void start();
    // Any thread but a receive worker's (takes a lock).
    void attach(std::shared_ptr<PcapChannel> channel);
    // From a worker, after publishing: wakes the writer if it sleeps. One load
    // when it is awake; a futex wake, no file-system call, when it is not.
    void wake() {
        if (sleeping_.load(std::memory_order_seq_cst)) wake_now();
    }
    // Blocks until the writer has made a whole pass that began after this call.
    void sync();
    // sync(), giving up at `deadline` (a stalled disk): true when the pass was made.
    bool sync_until(std::chrono::steady_clock::time_point deadline);
    // Blocks until `channel` is done (closed and finished). Channels closed
    // before it by the same thread are then done too.
    void wait_done(const PcapChannel& channel);
    // The file sequences of every sink it serves: used on its thread only.
    FileSequences& file_sequences() { return file_sequences_; }

private:
    void run();
    bool pass();
    void idle_wait();
    void wake_now();
    bool anything_to_do() const;
    void sweep_empty_session_dirs();
    // pcap.retain_seconds, for each capture directory by its newest sink's
    // settings (a reload's): when the oldest file grows too old, at least
    // once a minute (a file the uploader held may be marked since), at once
    // after a sink is attached (a start, a reload), and at most once a second.
    void sweep_by_age();

    FileSequences file_sequences_;  // before the channels: they refer to it until they go
    std::mutex mutex_;  // attach(), sync(), wait_done(): never a receive worker
    std::condition_variable passed_;
    std::vector<std::shared_ptr<PcapChannel>> incoming_;  // under mutex_
    uint64_t passes_ = 0;                                 // under mutex_
    bool stopping_ = false;                               // under mutex_
    std::vector<std::shared_ptr<PcapChannel>> channels_;  // the writer's, oldest first
    std::atomic<uint32_t> wake_word_{0};
    std::atomic<bool> sleeping_{false};
    const std::chrono::milliseconds dir_sweep_interval_;
    std::chrono::steady_clock::time_point next_dir_sweep_;  // the writer thread's
    std::chrono::steady_clock::time_point next_age_sweep_;  // the writer thread's
    bool started_ = false;  // start() and stop() are called by the owner's thread only
    std::thread thread_;
};

}  // namespace mirrortap
