// Per-session rotated pcap files: `<dir>/<session>/<session>-<UTC start>-<seq>.pcap`.
// A file is written as `.pcap.part` and renamed when closed, so that tools
// watching the directory see only finished files; `<dir>/<session>/current`
// points at the file being written for people who tail it live.
#pragma once
#include <atomic>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "config/config.hpp"
#include "core/sink.hpp"

namespace mirrortap {

struct PcapRotatorOptions {
    PcapConfig pcap;
    uint32_t snaplen = 65535;
    uint32_t max_sessions = 1024;
    uint32_t sink_index = 0;  // this sink's slot in Session::sinks
    // How long to wait before trying to open a file again after a failure.
    uint64_t retry_interval_ns = 1'000'000'000;
    int group_id = -1;  // chown new files and directories to this group; -1 = leave
};

// What rotation and retention decide, kept apart from the I/O so it can be tested alone.
struct RotationPolicy {
    uint64_t rotate_size_bytes;
    uint64_t rotate_seconds;
    bool should_rotate(uint64_t file_bytes, uint64_t record_bytes, uint64_t records_in_file) const {
        // A record larger than the limit still gets a file of its own.
        return records_in_file > 0 && file_bytes + record_bytes > rotate_size_bytes;
    }
    bool expired(uint64_t opened_ns, uint64_t now_ns) const {
        return rotate_seconds > 0 && now_ns >= opened_ns + rotate_seconds * 1'000'000'000ull;
    }
};

struct FinishedFile {
    std::string path;
    uint64_t bytes = 0;
};

struct RetentionPolicy {
    uint32_t max_files;   // 0 = no limit
    uint64_t max_bytes;   // 0 = no limit
    // How many of the oldest files (front of the list) to delete.
    size_t excess(const std::deque<FinishedFile>& oldest_first) const;
};

class PcapRotator final : public Sink {
public:
    explicit PcapRotator(PcapRotatorOptions options);
    ~PcapRotator() override;

    std::string_view name() const override { return "pcap"; }
    uint32_t slot() const override { return opt_.sink_index; }
    void write(std::span<const Packet> batch) override;
    void tick(uint64_t now_ns) override;
    void rotate() override;
    void close() override;
    SinkStats stats() const override;
    bool healthy(std::string& why) const override;

private:
    struct SessionFiles;

    SessionFiles& files_for(Session& s);
    bool open_file(SessionFiles& f, uint64_t now_ns);
    void append(SessionFiles& f, const Packet& p);
    bool flush(SessionFiles& f);
    void finish_file(SessionFiles& f);
    void drop_buffered(SessionFiles& f, SinkDropReason reason);
    void apply_retention(SessionFiles& f, int dir_fd);
    void note_failure(SessionFiles& f, const std::string& what, int err);
    void check_free_space(uint64_t now_ns);
    // The session's directory, created if missing, never through a symlink; -1 with errno.
    int open_dir_fd(const SessionFiles& f) const;

    PcapRotatorOptions opt_;
    RotationPolicy rotation_;
    RetentionPolicy retention_;
    std::vector<std::unique_ptr<SessionFiles>> sessions_;  // by Session::id
    std::vector<SessionFiles*> open_;  // sessions with a file open, for tick()
    uint64_t last_now_ns_ = 0;
    uint64_t next_space_check_ns_ = 0;
    bool closed_ = false;
    // Below min_free_bytes: nothing is written until space comes back.
    std::atomic<bool> disk_low_{false};

    RelaxedCounter bytes_written_;
    RelaxedCounter files_rotated_;
    // Health is read by the exporter thread; the reason is cold-path only.
    std::atomic<uint32_t> failing_sessions_{0};
    mutable std::mutex why_mutex_;
    std::string why_;
};

}  // namespace mirrortap
