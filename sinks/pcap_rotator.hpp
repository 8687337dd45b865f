// Per-session rotated pcap files: `<dir>/<session>/<session>-<UTC start>-<seq>.pcap`.
// A file is written as `.pcap.part` and renamed when closed, so that tools
// watching the directory see only finished files; `<dir>/<session>/current`
// points at the file being written for people who tail it live.
//
// The sink is the receive worker's half: it copies records into fixed-size
// blocks from a pool allocated once, every session into the same block in
// the order records come, and hands full blocks, and one older than half the
// flush interval, to the pcap writer thread (sinks/pcap_writer.hpp), which
// gathers each session's records and makes every file-system call. The pool
// holds the traffic of a flush interval, however many sessions share it.
// Only when the writer is truly behind (the pool nearly empty) are records
// dropped, counted as queue_full, and then first those of the sessions that
// hold most of what waits, so that a loud session cannot starve quiet ones.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "config/config.hpp"
#include "core/finished_capture.hpp"
#include "core/sink.hpp"
#include "sinks/pcap_files.hpp"

namespace mirrortap {

class PcapChannel;
class PcapWriter;

// A pool of this many bytes unless block_count says otherwise: what one
// worker's pcap sink may have in flight when the disk stalls (at 1 Gbit/s, half
// a second), only touched as far as it is used.
inline constexpr size_t kDefaultPcapPoolBytes = 64ull << 20;

struct PcapRotatorOptions {
    PcapConfig pcap;
    uint32_t snaplen = 65535;
    // Not a size: per-session state grows with the sessions that appear.
    uint32_t max_sessions = 1024;
    uint32_t sink_index = 0;  // this sink's slot in Session::sinks
    // How long to wait before trying to open a file again after a failure.
    uint64_t retry_interval_ns = 1'000'000'000;
    int group_id = -1;  // chown new files and directories to this group; -1 = leave
    // Blocks in the pool, each pcap.buffer_bytes; 0 = kDefaultPcapPoolBytes' worth.
    uint32_t block_count = 0;
    // The writer thread, shared by the sinks whose files must stay in order
    // (a sink and its successor after a reload); empty = one of the sink's own.
    std::shared_ptr<PcapWriter> writer;
    // Told of every file finished (on the writer thread); nullptr for nobody.
    std::shared_ptr<FinishedCaptureListener> listener;
    // The `collector` of flow index lines (Config::collector_id, resolved).
    std::string collector_id;
};

class PcapRotator final : public Sink {
public:
    explicit PcapRotator(PcapRotatorOptions options);
    // Closes without waiting: the writer finishes the files (see drain()).
    ~PcapRotator() override;

    std::string_view name() const override { return "pcap"; }
    uint32_t slot() const override { return opt_.sink_index; }
    void write(std::span<const Packet> batch) override;
    void tick(uint64_t now_ns) override;
    void rotate() override;
    // Hands every block to the writer, which finishes the files; returns at once.
    void close() override;
    // Waits until the writer has finished this sink's files, and those of every
    // pcap sink closed before it on this thread. The sessions this sink counts
    // into must live until then.
    void drain() override;
    // Hands the session's block over, then an end mark: the writer finishes
    // its file, takes down `current`, and forgets it.
    uint64_t expire(Session& s) override;
    bool released(uint64_t ticket) override;
    SinkStats stats() const override;
    Result<> health() const override;

    // Waits until the writer has dealt with everything handed to it so far.
    void sync();
    uint32_t block_count() const;

private:
    static constexpr uint32_t kNoBlock = ~0u;

    bool start_block(uint64_t timestamp_ns);
    void hand_over();
    void take_back_free_blocks();
    // The writer is behind: few blocks are free. Then a session holding more
    // than its share of what waits is refused, so the rest keep their room.
    bool over_share(const Session& s);
    void report_buffered();
    void publish();

    PcapRotatorOptions opt_;
    std::shared_ptr<PcapWriter> writer_;
    std::shared_ptr<PcapChannel> channel_;
    uint32_t filling_ = kNoBlock;  // the block being filled
    std::vector<uint32_t> spare_;  // free blocks; the last freed is used first, so few pages stay warm
    // Records accepted for one session and not yet on its buffered gauge: the
    // gauge moves once per run of a session, not per packet.
    Session* run_session_ = nullptr;
    uint32_t run_records_ = 0;
    uint64_t accepted_ = 0;        // records copied into blocks, ever (the writer counts those it settled)
    uint64_t sessions_ended_ = 0;  // end marks handed to the writer
    bool closed_ = false;
};

}  // namespace mirrortap
