// The file-system side of the pcap sink, run only by the pcap writer thread:
// per-session files `<dir>/<session>/<session>-<UTC start>-<seq>.pcap`,
// written as `.pcap.part` and renamed when finished (tools watching the
// directory see only finished files), `<dir>/<session>/current` pointing at the
// file being written, rotation by size and time, retention, the free-space
// floor and disk-full handling. Health and totals are read from other threads.
#pragma once
#include <sys/uio.h>

#include <atomic>
#include <cstdint>
#include <deque>
#include <list>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "base/result.hpp"

#include "config/config.hpp"
#include "core/finished_capture.hpp"
#include "core/sink.hpp"
#include "sinks/capture_files.hpp"
#include "sinks/flow_index.hpp"
#include "sinks/pcap_blocks.hpp"

namespace mirrortap {

struct PcapRotatorOptions;

// The last file sequence each session name took, kept by the writer thread
// across reloads (a sink and its successor share one writer): a reload's new
// sink goes on from it. A file finished in the same second as one before the
// reload would otherwise take that file's name, which the disk no longer
// shows once the uploader stored and removed it (delete_after_upload), and
// its object would replace the earlier one in the bucket. By name, not by
// session id: the name is what the files and keys carry. The writer
// thread's alone.
class FileSequences {
public:
    uint32_t next(const std::string& session_name) { return ++last_[session_name]; }

private:
    std::unordered_map<std::string, uint32_t> last_;
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
        return rotate_seconds > 0 && now_ns >= deadline(opened_ns);
    }
    // When a file opened at `opened_ns` is due to be finished; never when rotate_seconds is 0.
    uint64_t deadline(uint64_t opened_ns) const {
        return rotate_seconds > 0 ? opened_ns + rotate_seconds * 1'000'000'000ull : ~0ull;
    }
};

struct FinishedFile {
    std::string path;
    uint64_t bytes = 0;
};

struct RetentionPolicy {
    uint32_t max_files;   // 0 = no limit
    uint64_t max_bytes;   // 0 = no limit
    // Whether `count` files of `bytes` in all are more than it keeps.
    bool over(size_t count, uint64_t bytes) const {
        return (max_files > 0 && count > max_files) || (max_bytes > 0 && bytes > max_bytes);
    }
    // How many of the oldest files (front of the list) to delete.
    size_t excess(const std::deque<FinishedFile>& oldest_first) const;
};

// Writer thread. Removes the session directories under pcap_dir that hold
// nothing and are not in `live` (rmdir only: never a file, never through a link).
void remove_empty_session_dirs(const std::string& pcap_dir, const std::unordered_set<std::string>& live);

class PcapFiles {
public:
    PcapFiles(const PcapRotatorOptions& options, FileSequences& sequences);
    ~PcapFiles();

    // Writer thread. Writes one session's runs of records, in order, to its
    // files, as few writev calls as the rotation allows; counts each record
    // written or dropped.
    void write_runs(Session& s, std::span<const RecordRun> runs);
    // Writer thread. Whether the session with this id has a file open (its
    // descriptor open or parked) that its next records go to.
    bool has_open_file(uint32_t id) const;
    // Writer thread. Time has moved on (a worker tick, or a record's timestamp):
    // finish files past their time, check free space, retry failed sessions.
    void tick(uint64_t now_ns);
    // Writer thread. SIGHUP: finish every open file.
    void finish_all();
    // Writer thread. Finish everything and take down our `current` links.
    void close();
    // Writer thread. The session with this id has ended: finish its file,
    // take down its `current`, and forget it (the id will name another session).
    void end_session(uint32_t id);

    // Writer thread. pcap.retain_seconds over the whole capture directory (the
    // writer runs it for each directory with its newest sink's settings):
    // every finished capture (.pcap, never the .pcap.part being written) last
    // written (modification time) more than retain_seconds before `now_ns`
    // (wall clock) is removed with its flow index. With an uploader, a file
    // without the uploaded mark stays unless the disk is below its floor.
    struct AgeSweep {
        std::vector<std::string> removed;  // <dir>/<session>/<file> of each file removed
        int64_t next_due_ns = 0;           // when the next file left grows too old; 0: none is left
    };
    AgeSweep apply_age_retention(int64_t now_ns);
    // Writer thread. Files another sink's retention removed: no longer this sink's to count or remove.
    void forget_finished(const std::vector<std::string>& paths);

    // Any thread.
    SinkStats stats() const { return {bytes_written_.get(), files_rotated_.get()}; }
    // Writer thread. The directory names of the sessions this sink holds.
    void add_session_names(std::unordered_set<std::string>& names) const;
    const std::string& dir() const { return pcap_.dir; }
    // Descriptors of files being written that this sink holds open now.
    uint32_t open_descriptors() const { return open_descriptors_.load(std::memory_order_relaxed); }
    Result<> health() const;

private:
    struct SessionFiles;

    SessionFiles& files_for(Session& s);
    // A new file for f, named after `start_ns` (its first record's time).
    bool open_file(SessionFiles& f, uint64_t start_ns);
    // iov_'s pieces (whole records, `records` of them) to the end of f's open
    // file in one writev, the file header first when it has none yet.
    bool append(SessionFiles& f, uint32_t records);
    struct FileRoom;
    // From `run`, the leading bytes (and, in `records`, records) that still
    // belong in the open file, whose size and record count `room` carries on.
    size_t records_for_this_file(FileRoom& room, const RecordRun& run, size_t from, uint32_t& records) const;
    void finish_file(SessionFiles& f);
    void tell_finished(const SessionFiles& f, const std::string& index_name) const;
    void index_records(SessionFiles& f, uint64_t offset, const std::byte* data, size_t bytes);
    // The index of f's file written beside it: its name, or "" when off or failed (counted).
    std::string write_index(SessionFiles& f, int dir_fd);
    void take_down_current(const SessionFiles& f);
    void settle(SessionFiles& f, uint32_t records, bool written, SinkDropReason reason = SinkDropReason::write_error);
    void apply_retention(SessionFiles& f, int dir_fd);
    void apply_total_retention();
    // Whether retention may remove this finished file now: not while the
    // uploader holds it, unless the disk is below its floor (then it is told).
    bool may_remove(const std::string& dir, const char* name) const;
    // The same for retention by age, which also finds files the uploader has
    // not queued yet (at start, before its scan): one without the uploaded mark stays.
    bool may_remove_aged(const std::string& dir, const CaptureFileEntry& file) const;
    void point_current_at(SessionFiles& f, int dir_fd, const char* target);
    // Descriptors follow active sessions: an open file's descriptor is
    // closed ("parked") when it idles or the sink is at max_open_files, and
    // opened again, checked to be the same file, by its next records.
    void make_room_for_descriptor();
    void track_descriptor(SessionFiles& f);
    void park(SessionFiles& f);
    bool unpark(SessionFiles& f);
    void park_idle_files();
    // Files past rotate_seconds are finished; the rest stay listed in open_.
    void finish_expired_files();

    int open_dir_fd(const SessionFiles& f) const;
    void note_failure(SessionFiles& f, const std::string& what, int err);
    void publish_health();
    void check_free_space(uint64_t now_ns);

    const PcapConfig pcap_;
    const uint32_t snaplen_;
    const uint32_t sink_index_;
    const uint64_t retry_interval_ns_;
    const int group_id_;
    const std::shared_ptr<FinishedCaptureListener> listener_;
    const std::string collector_id_;
    RotationPolicy rotation_;
    RetentionPolicy retention_;
    // By Session::id, grown when a session first shows up.
    std::vector<std::unique_ptr<SessionFiles>> sessions_;
    std::vector<SessionFiles*> open_;  // sessions with a file open (its descriptor open or parked)
    std::list<SessionFiles*> by_last_write_;  // open descriptors, the longest unwritten first
    const uint64_t idle_close_ns_;
    FileSequences& sequences_;  // the writer's, which outlives this sink
    uint64_t next_expiry_ns_ = ~0ull;  // the earliest rotation deadline of the files in open_
    uint64_t now_ns_ = 0;              // the latest time seen: ticks and record timestamps
    uint64_t next_space_check_ns_ = 0;
    uint32_t failing_ = 0;  // sessions whose last attempt failed; published by publish_health()
    // One writev's pieces: [0] is the file header's place, then runs of records.
    std::vector<iovec> iov_;
    std::vector<iovec> iov_in_flight_;  // the copy write_all() may advance

    std::atomic<uint32_t> open_descriptors_{0};
    RelaxedCounter bytes_written_;
    RelaxedCounter files_rotated_;
    // Health is read by the exporter thread; the reason is cold-path only.
    // Below min_free_bytes (or after ENOSPC) nothing is written until space comes back.
    std::atomic<bool> disk_low_{false};
    std::atomic<uint32_t> failing_sessions_{0};
    mutable std::mutex why_mutex_;
    std::string why_;
};

}  // namespace mirrortap
