#include "sinks/pcap_files.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <climits>
#include <cerrno>
#include <cstring>
#include <ctime>
#include <unordered_set>

#include "sinks/capture_dir.hpp"
#include "sinks/capture_files.hpp"
#include "sinks/pcap_format.hpp"
#include "sinks/pcap_rotator.hpp"
#include "support/capture_names.hpp"
#include "support/flow_index_format.hpp"

namespace mirrortap {

namespace {


SinkDropReason reason_for(int err) {
    switch (err) {
        case ENOSPC:
        case EDQUOT: return SinkDropReason::disk_full;
        case EACCES:
        case EPERM:
        case EROFS:
        case ENOENT:
        case ELOOP:  // a symlink where a session directory should be: never followed
        case ENOTDIR: return SinkDropReason::not_open;
        default: return SinkDropReason::write_error;
    }
}

std::string utc_stamp(uint64_t ns) {
    const time_t secs = time_t(ns / 1'000'000'000ull);
    tm t{};
    gmtime_r(&secs, &t);
    char buf[32];
    strftime(buf, sizeof buf, "%Y%m%dT%H%M%SZ", &t);
    return buf;
}

// The last component of a path: what the *at() calls take beside a directory descriptor.
const char* base_name(const std::string& path) {
    const size_t slash = path.rfind('/');
    return path.c_str() + (slash == std::string::npos ? 0 : slash + 1);
}

bool ends_with(std::string_view s, std::string_view tail) {
    return s.size() >= tail.size() && s.substr(s.size() - tail.size()) == tail;
}

// Directories get execute wherever their files get read: 0640 -> 0750.
mode_t dir_mode_for(uint32_t file_mode) {
    mode_t m = mode_t(file_mode) | 0700;
    if (file_mode & 0040) m |= 0010;
    if (file_mode & 0004) m |= 0001;
    return m;
}

PcapRecordHeader record_at(const std::byte* p) {
    PcapRecordHeader h;
    std::memcpy(&h, p, sizeof h);
    return h;
}

uint64_t timestamp_of(const PcapRecordHeader& h) { return uint64_t(h.ts_sec) * 1'000'000'000ull + h.ts_nsec; }

// The timestamp of the last of the whole records in data[0, bytes).
uint64_t last_timestamp(const std::byte* data, size_t bytes) {
    uint64_t last = 0;
    for (size_t at = 0; at + sizeof(PcapRecordHeader) <= bytes;) {
        const PcapRecordHeader h = record_at(data + at);
        last = timestamp_of(h);
        at += sizeof h + h.caplen;
    }
    return last;
}

// Every byte of `iov` to `fd`, resuming after short writes. 0, or the errno
// that stopped it (ENOSPC when the kernel took nothing and said nothing).
int write_all(int fd, iovec* iov, int count) {
    while (count > 0) {
        const ssize_t n = ::writev(fd, iov, count);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return n < 0 ? errno : ENOSPC;
        size_t done = size_t(n);
        while (count > 0 && done >= iov->iov_len) {
            done -= iov->iov_len;
            ++iov;
            --count;
        }
        if (count > 0) {
            iov->iov_base = static_cast<std::byte*>(iov->iov_base) + done;
            iov->iov_len -= done;
        }
    }
    return 0;
}

}  // namespace

size_t RetentionPolicy::excess(const std::deque<FinishedFile>& oldest_first) const {
    uint64_t total = 0;
    for (const auto& f : oldest_first) total += f.bytes;
    size_t remove = 0;
    size_t count = oldest_first.size();
    while (remove < oldest_first.size()) {
        if (!over(count, total)) break;
        total -= oldest_first[remove].bytes;
        --count;
        ++remove;
    }
    return remove;
}

struct PcapFiles::SessionFiles {
    Session* session = nullptr;
    std::string name;  // the session directory's name: the session's name when it first showed up
    std::string dir;   // capture directory/name, for messages and FinishedFile paths
    int fd = -1;
    // The file's descriptor was closed while the file stays open (.pcap.part):
    // the next records open it again, if it is still the file we wrote.
    bool parked = false;
    dev_t device = 0;
    ino_t inode = 0;
    uint64_t last_write_ns = 0;
    std::list<SessionFiles*>::iterator by_last_write;  // valid while fd >= 0
    std::string part_path;
    std::string final_path;
    std::string current_target;    // what our `current` link names, "" when we made none
    uint64_t committed_bytes = 0;  // known to be in the file, header included
    uint64_t records_in_file = 0;
    uint64_t opened_ns = 0;
    uint64_t last_ns = 0;  // the open file's last record's timestamp
    bool failing = false;
    SinkDropReason failure_reason = SinkDropReason::write_error;
    uint64_t retry_at_ns = 0;
    bool listed_open = false;
    std::deque<FinishedFile> finished;  // oldest first, for retention
    std::unique_ptr<FlowIndex> index;   // of the open file; null when none is open or pcap.flow_index is off
    bool file_open() const { return fd >= 0 || parked; }
    // The file's size once the header is out: it goes with the first records.
    uint64_t file_bytes() const { return committed_bytes > 0 ? committed_bytes : sizeof(PcapFileHeader); }
    SinkCounters& counters(uint32_t sink_index) { return session->sinks[sink_index]; }
};

PcapFiles::PcapFiles(const PcapRotatorOptions& o, FileSequences& sequences)
    : pcap_(o.pcap),
      snaplen_(o.snaplen),
      sink_index_(o.sink_index),
      retry_interval_ns_(o.retry_interval_ns),
      group_id_(o.group_id),
      listener_(o.listener),
      collector_id_(o.collector_id),
      rotation_{o.pcap.rotate_size_bytes, o.pcap.rotate_seconds},
      retention_{o.pcap.retain_files, o.pcap.retain_bytes},
      idle_close_ns_(uint64_t(o.pcap.idle_close_seconds) * 1'000'000'000ull),
      sequences_(sequences) {}

PcapFiles::~PcapFiles() {
    for (auto& s : sessions_)
        if (s && s->fd >= 0) park(*s);
}

PcapFiles::SessionFiles& PcapFiles::files_for(Session& s) {
    if (s.id >= sessions_.size()) sessions_.resize(s.id + 1);
    auto& slot = sessions_[s.id];
    if (slot) return *slot;
    // A session's first block: the cold path, allowed to allocate and scan.
    slot = std::make_unique<SessionFiles>();
    slot->session = &s;
    slot->name = s.name();
    slot->dir = pcap_.dir + "/" + slot->name;
    // Files left by an earlier run (or an earlier configuration) count against
    // this session's retention: regular files only, nothing followed.
    const int dir_fd = open_dir_fd(*slot);
    if (DIR* d = dir_fd >= 0 ? fdopendir(dir_fd) : nullptr) {
        std::vector<FinishedFile> found;
        const std::string prefix = slot->name + "-";
        while (dirent* e = readdir(d)) {
            std::string_view n = e->d_name;
            if (n.substr(0, prefix.size()) != prefix || !ends_with(n, ".pcap")) continue;
            struct stat st{};
            if (fstatat(dir_fd, e->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISREG(st.st_mode))
                found.push_back({slot->dir + "/" + std::string(n), uint64_t(st.st_size)});
        }
        closedir(d);  // closes dir_fd
        // Names carry the UTC start time and a sequence: their order is their age.
        std::sort(found.begin(), found.end(), [](auto& a, auto& b) { return a.path < b.path; });
        slot->finished.assign(found.begin(), found.end());
    } else if (dir_fd >= 0) {
        ::close(dir_fd);
    }
    return *slot;
}

void PcapFiles::note_failure(SessionFiles& f, const std::string& what, int err) {
    f.failure_reason = reason_for(err);
    // A full disk is the filesystem's state, not this session's: stop every
    // session until check_free_space() sees room again.
    if (f.failure_reason == SinkDropReason::disk_full) {
        disk_low_.store(true, std::memory_order_relaxed);
        next_space_check_ns_ = now_ns_ + 1'000'000'000ull;
    }
    f.retry_at_ns = now_ns_ + retry_interval_ns_;
    if (!f.failing) {
        f.failing = true;
        ++failing_;
    }
    std::lock_guard lock(why_mutex_);
    why_ = "pcap: " + what + ": " + std::strerror(err);
}

// Health turns with the counts already in place: whoever sees /healthz go red
// finds the drops that explain it.
void PcapFiles::publish_health() { failing_sessions_.store(failing_, std::memory_order_relaxed); }

bool PcapFiles::open_file(SessionFiles& f, uint64_t start_ns) {
    if (f.failing && now_ns_ < f.retry_at_ns) return false;
    check_free_space(now_ns_);  // rate-limited; makes the floor hold from the first file on
    if (disk_low_.load(std::memory_order_relaxed)) {
        f.failure_reason = SinkDropReason::disk_full;
        return false;
    }
    const int dir_fd = open_dir_fd(f);
    if (dir_fd < 0) {
        note_failure(f, "cannot open " + f.dir, errno);
        return false;
    }
    const std::string stem = f.dir + "/" + f.name + "-" + utc_stamp(start_ns) + "-";
    make_room_for_descriptor();
    int fd = -1;
    for (int attempt = 0; attempt < 1000 && fd < 0; ++attempt) {
        char seq[16];
        snprintf(seq, sizeof seq, "%06u", sequences_.next(f.name));
        f.final_path = stem + seq + std::string(capture_names::kPcapSuffix);
        f.part_path = f.final_path + std::string(capture_names::kPartSuffix);
        struct stat st{};
        if (fstatat(dir_fd, base_name(f.final_path), &st, AT_SYMLINK_NOFOLLOW) == 0) continue;  // never clobber
        // O_NOFOLLOW with O_EXCL: a name someone planted is never opened through.
        fd = openat(dir_fd, base_name(f.part_path), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
                    mode_t(pcap_.file_mode));
        if (fd < 0 && errno != EEXIST) break;
    }
    if (fd < 0) {
        const int err = errno;
        ::close(dir_fd);
        note_failure(f, "cannot create " + f.part_path, err);
        return false;
    }
    // The umask may have taken bits the user asked for.
    fchmod(fd, mode_t(pcap_.file_mode));
    if (group_id_ >= 0 && fchown(fd, uid_t(-1), gid_t(group_id_)) != 0) { /* keep the file; mode still holds */ }
    struct stat st{};
    fstat(fd, &st);
    f.device = st.st_dev;
    f.inode = st.st_ino;
    f.fd = fd;
    track_descriptor(f);
    f.opened_ns = start_ns;
    f.committed_bytes = 0;
    f.records_in_file = 0;
    if (pcap_.flow_index) f.index = std::make_unique<FlowIndex>(pcap_.index_max_flows);
    if (f.failing) {
        f.failing = false;
        --failing_;
    }
    if (!f.listed_open) {
        open_.push_back(&f);
        f.listed_open = true;
    }
    next_expiry_ns_ = std::min(next_expiry_ns_, rotation_.deadline(start_ns));
    point_current_at(f, dir_fd, base_name(f.part_path));
    ::close(dir_fd);
    return true;
}

// A symlink swapped in by rename is never missing. unlinkat, symlinkat and
// renameat act on names in the directory, never through a link planted there.
void PcapFiles::point_current_at(SessionFiles& f, int dir_fd, const char* target) {
    if (point_current_link(dir_fd, target)) f.current_target = target;
}

// The session's directory, opened without following any link the
// unprivileged user could have planted (capture_dir.hpp); created when
// missing. Opened per cold-path step so that a session holds one descriptor
// (its open file) between them. -1 with errno on failure.
int PcapFiles::open_dir_fd(const SessionFiles& f) const {
    const auto opened = open_dir_path(pcap_.dir, false, 0);
    if (!opened) return -1;
    const int capture_fd = *opened;
    const int fd = open_session_dir(capture_fd, f.name, dir_mode_for(pcap_.file_mode), group_id_);
    const int err = errno;
    ::close(capture_fd);
    errno = err;
    return fd;
}

void PcapFiles::check_free_space(uint64_t now_ns) {
    const bool watching = pcap_.min_free_bytes > 0 || disk_low_.load(std::memory_order_relaxed);
    if (!watching || now_ns < next_space_check_ns_) return;
    next_space_check_ns_ = now_ns + 1'000'000'000ull;
    struct statvfs sv{};
    if (statvfs(pcap_.dir.c_str(), &sv) != 0) return;
    const uint64_t free_bytes = uint64_t(sv.f_bavail) * sv.f_frsize;
    // After ENOSPC, wait for room for a few buffers before trying again.
    const uint64_t floor = std::max<uint64_t>(pcap_.min_free_bytes, 4ull * pcap_.buffer_bytes);
    const bool low = free_bytes < floor;
    if (low) {
        // Low before the files are finished: their retention may then remove
        // files not yet uploaded (counted), where it otherwise keeps them.
        disk_low_.store(true, std::memory_order_relaxed);
        finish_all();  // finish open files while there is room to do it cleanly
        std::lock_guard lock(why_mutex_);
        why_ = "pcap: " + std::to_string(free_bytes) + " bytes free under " + pcap_.dir + ", below " +
               std::to_string(floor);
    } else {
        disk_low_.store(false, std::memory_order_relaxed);
    }
}

void PcapFiles::settle(SessionFiles& f, uint32_t records, bool written, SinkDropReason reason) {
    if (records == 0) return;
    SinkCounters& c = f.counters(sink_index_);
    if (written) c.written.add(records);
    else c.drop(reason, records);
    c.buffered.sub(records);
}

bool PcapFiles::append(SessionFiles& f, uint32_t records) {
    PcapFileHeader header;
    header.snaplen = snaplen_;
    iov_[0] = {&header, sizeof header};
    const size_t from = f.committed_bytes == 0 ? 0 : 1;
    iov_in_flight_.assign(iov_.begin() + ptrdiff_t(from), iov_.end());
    size_t total = 0;
    for (const iovec& v : iov_in_flight_) total += v.iov_len;
    const uint64_t first_record_offset = f.file_bytes();
    if (const int err = write_all(f.fd, iov_in_flight_.data(), int(iov_in_flight_.size())); err != 0) {
        // Cut the file back to its last whole record so that it stays readable,
        // and account for every record that did not make it.
        if (ftruncate(f.fd, off_t(f.committed_bytes)) != 0) { /* the rename below still ends the file */ }
        settle(f, records, false, reason_for(err));
        note_failure(f, "cannot write " + f.part_path, err);
        finish_file(f);
        return false;
    }
    f.committed_bytes += total;
    f.records_in_file += records;
    uint64_t offset = first_record_offset;
    for (size_t i = 1; i < iov_.size(); ++i) {
        index_records(f, offset, static_cast<const std::byte*>(iov_[i].iov_base), iov_[i].iov_len);
        offset += iov_[i].iov_len;
    }
    bytes_written_.add(total);
    settle(f, records, true);
    return true;
}

// What the open file still has room for: its size and records so far, and
// the time at which it is due to be finished.
struct PcapFiles::FileRoom {
    uint64_t file_bytes;
    uint64_t records_in_file;
    uint64_t deadline;
};

size_t PcapFiles::records_for_this_file(FileRoom& room, const RecordRun& run, size_t from, uint32_t& records) const {
    // The usual case: the whole run fits, in size and in time.
    if (from == 0 && room.file_bytes + run.bytes <= rotation_.rotate_size_bytes && run.last_ns < room.deadline) {
        records = run.records;
        room.file_bytes += run.bytes;
        room.records_in_file += run.records;
        return run.bytes;
    }
    records = 0;
    size_t at = from;
    while (at < run.bytes) {
        const PcapRecordHeader h = record_at(run.data + at);
        const uint64_t record_bytes = sizeof h + h.caplen;
        if (rotation_.should_rotate(room.file_bytes, record_bytes, room.records_in_file) ||
            (room.records_in_file > 0 && timestamp_of(h) >= room.deadline))
            break;
        room.file_bytes += record_bytes;
        ++room.records_in_file;
        at += record_bytes;
        ++records;
    }
    return at - from;
}

void PcapFiles::write_runs(Session& s, std::span<const RecordRun> runs) {
    // Pieces of one writev: the kernel takes at most IOV_MAX (1024), the header's place included.
    constexpr size_t kMaxPieces = 1024;
    if (runs.empty()) return;
    now_ns_ = std::max(now_ns_, runs.back().last_ns);
    SessionFiles& f = files_for(s);
    size_t i = 0;               // the run being written
    size_t at = 0;              // bytes of it already taken
    uint32_t taken_in_run = 0;  // and records
    while (i < runs.size()) {
        if (f.parked && !unpark(f)) {
            // Not the file we wrote (or gone): leave that name alone, a new file begins.
            f.parked = false;
            f.index.reset();
        }
        if (f.fd < 0 && !open_file(f, timestamp_of(record_at(runs[i].data + at)))) {
            uint32_t left = runs[i].records - taken_in_run;
            for (size_t j = i + 1; j < runs.size(); ++j) left += runs[j].records;
            settle(f, left, false, f.failure_reason);
            break;
        }
        FileRoom room{f.file_bytes(), f.records_in_file, rotation_.deadline(f.opened_ns)};
        iov_.assign(1, iovec{});
        uint32_t records = 0;
        uint64_t last_ns = 0;
        while (i < runs.size() && iov_.size() < kMaxPieces) {
            const RecordRun& run = runs[i];
            uint32_t n = 0;
            const size_t bytes = records_for_this_file(room, run, at, n);
            if (bytes == 0) break;
            iov_.push_back({const_cast<std::byte*>(run.data + at), bytes});
            records += n;
            last_ns = at == 0 && bytes == run.bytes ? run.last_ns : last_timestamp(run.data + at, bytes);
            at += bytes;
            taken_in_run += n;
            if (at < run.bytes) break;  // the file is full or old enough
            ++i;
            at = 0;
            taken_in_run = 0;
        }
        if (records == 0) {  // this file is full or old enough: the next one takes the rest
            finish_file(f);
            continue;
        }
        if (append(f, records)) f.last_ns = last_ns;  // on failure: counted, and the file is finished
    }
    if (f.fd >= 0) {
        f.last_write_ns = now_ns_;
        by_last_write_.splice(by_last_write_.end(), by_last_write_, f.by_last_write);
    }
    publish_health();
}

// Each record just written, at the offset it now has in the file: the index
// is built from the block in memory, never from the file.
void PcapFiles::index_records(SessionFiles& f, uint64_t offset, const std::byte* data, size_t bytes) {
    if (!f.index) return;
    for (size_t at = 0; at < bytes;) {
        const PcapRecordHeader h = record_at(data + at);
        f.index->add(offset + at, timestamp_of(h), h.len, Bytes(data + at + sizeof h, h.caplen));
        at += sizeof h + h.caplen;
    }
}

// Written as .part and renamed, before the pcap is renamed (docs/flow-index.md):
// whoever sees a finished pcap finds its index, unless writing it failed.
std::string PcapFiles::write_index(SessionFiles& f, int dir_fd) {
    if (!f.index) return "";
    std::string name = std::string(base_name(f.final_path)) + std::string(flow_index::kSuffix);
    const std::string part = name + std::string(capture_names::kPartSuffix);
    const IndexedFile file{f.name, f.session->vni, collector_id_, base_name(f.final_path)};
    int err = f.index->write(dir_fd, part.c_str(), pcap_.file_mode, group_id_, file, f.committed_bytes);
    if (err == 0 && renameat(dir_fd, part.c_str(), dir_fd, name.c_str()) != 0) {
        err = errno;
        unlinkat(dir_fd, part.c_str(), 0);
    }
    if (err != 0) {
        // The pcap goes on without its index: a reader falls back to reading it.
        flow_index_totals().failed.fetch_add(1, std::memory_order_relaxed);
        std::lock_guard lock(why_mutex_);
        why_ = "pcap: cannot write the flow index " + f.dir + "/" + part + ": " + std::strerror(err);
        return "";
    }
    flow_index_totals().written.fetch_add(1, std::memory_order_relaxed);
    if (!f.index->complete()) flow_index_totals().incomplete.fetch_add(1, std::memory_order_relaxed);
    return name;
}

void PcapFiles::finish_file(SessionFiles& f) {
    if (!f.file_open()) return;
    if (f.fd >= 0) park(f);
    f.parked = false;
    const int dir_fd = open_dir_fd(f);
    if (dir_fd < 0) {
        note_failure(f, "cannot open " + f.dir, errno);
        return;
    }
    if (f.committed_bytes <= sizeof(PcapFileHeader)) {
        // Not one record made it: an empty capture helps nobody.
        unlinkat(dir_fd, base_name(f.part_path), 0);
    } else if (const std::string index_name = write_index(f, dir_fd);
               renameat(dir_fd, base_name(f.part_path), dir_fd, base_name(f.final_path)) != 0) {
        const int err = errno;
        if (!index_name.empty()) unlinkat(dir_fd, index_name.c_str(), 0);  // no index without its pcap
        note_failure(f, "cannot rename " + f.part_path, err);
    } else {
        files_rotated_.add();
        // `current` must never name a file that is gone: it follows the file
        // to its finished name, and the next file (if any) takes it over. A
        // `tail -F current` keeps reading the finished file until then.
        if (f.current_target == base_name(f.part_path)) point_current_at(f, dir_fd, base_name(f.final_path));
        f.finished.push_back({f.final_path, f.committed_bytes});
        tell_finished(f, index_name);
        apply_retention(f, dir_fd);
    }
    f.index.reset();  // its memory goes with the file, not kept while the session idles
    ::close(dir_fd);
}

void PcapFiles::tell_finished(const SessionFiles& f, const std::string& index_name) const {
    if (!listener_) return;
    FinishedCapture c;
    c.directory = f.dir;
    c.session = f.name;
    c.file_name = base_name(f.final_path);
    c.index_name = index_name;
    c.vni = f.session->vni;
    c.packets = f.records_in_file;
    c.bytes = f.committed_bytes;
    c.first_ns = f.opened_ns;
    c.last_ns = f.last_ns;
    listener_->capture_finished(c);
}

bool PcapFiles::may_remove(const std::string& dir, const char* name) const {
    if (!listener_ || !listener_->holds(dir, name)) return true;
    if (!disk_low_.load(std::memory_order_relaxed)) return false;
    listener_->removed_before_shipping(dir, name);
    return true;
}

void PcapFiles::apply_retention(SessionFiles& f, int dir_fd) {
    // Only finished files are candidates: the one being written is never in
    // the list. Oldest first; a file not yet uploaded is passed over (the
    // next one goes instead) unless the disk floor forces it out.
    uint64_t total = 0;
    for (const auto& file : f.finished) total += file.bytes;
    size_t count = f.finished.size();
    for (auto it = f.finished.begin(); it != f.finished.end() && retention_.over(count, total);) {
        if (!may_remove(f.dir, base_name(it->path))) {
            ++it;
            continue;
        }
        remove_session_capture(dir_fd, base_name(it->path));  // with its index; `current` moves off it
        total -= it->bytes;
        --count;
        it = f.finished.erase(it);
    }
    if (pcap_.retain_total_bytes > 0) apply_total_retention();
}

// pcap.retain_total_bytes: the finished files of every session directory,
// oldest (by modification time) first, until they fit. Files of sessions
// this sink does not hold are found on disk, so every worker's sink (and a
// reload's predecessor) keeps the same budget.
void PcapFiles::apply_total_retention() {
    std::vector<CaptureFileEntry> files = finished_capture_files(pcap_.dir);
    uint64_t total = 0;
    for (const auto& file : files) total += file.bytes;
    for (const auto& file : files) {
        if (total <= pcap_.retain_total_bytes) break;
        const std::string dir = pcap_.dir + "/" + file.session;
        if (!may_remove(dir, file.name.c_str()) || !remove_capture_file(pcap_.dir, file.session, file.name)) continue;
        total -= file.bytes;
        forget_finished({dir + "/" + file.name});
    }
}

bool PcapFiles::may_remove_aged(const std::string& dir, const CaptureFileEntry& file) const {
    if (!listener_ || file.uploaded) return true;
    if (!disk_low_.load(std::memory_order_relaxed)) return false;
    if (listener_->holds(dir, file.name)) listener_->removed_before_shipping(dir, file.name);
    return true;
}

PcapFiles::AgeSweep PcapFiles::apply_age_retention(int64_t now_ns) {
    AgeSweep out;
    if (pcap_.retain_seconds == 0) return out;
    const int64_t limit_ns = int64_t(pcap_.retain_seconds) * 1'000'000'000;
    const AgedCaptures found = captures_older_than(pcap_.dir, now_ns - limit_ns);
    if (found.next_mtime_ns != 0) out.next_due_ns = found.next_mtime_ns + limit_ns;
    for (const auto& file : found.older) {
        const std::string dir = pcap_.dir + "/" + file.session;
        if (may_remove_aged(dir, file) && remove_capture_file(pcap_.dir, file.session, file.name))
            out.removed.push_back(dir + "/" + file.name);
    }
    forget_finished(out.removed);
    return out;
}

void PcapFiles::forget_finished(const std::vector<std::string>& paths) {
    if (paths.empty()) return;
    const std::unordered_set<std::string> gone(paths.begin(), paths.end());
    for (auto& s : sessions_)
        if (s) std::erase_if(s->finished, [&](const FinishedFile& f) { return gone.count(f.path) > 0; });
}

bool PcapFiles::has_open_file(uint32_t id) const {
    return id < sessions_.size() && sessions_[id] && sessions_[id]->file_open() && !sessions_[id]->failing;
}

void PcapFiles::tick(uint64_t now_ns) {
    now_ns_ = std::max(now_ns_, now_ns);
    check_free_space(now_ns_);
    // A failing session tries again on its own, so health recovers even when
    // no packet arrives to prompt it.
    if (failing_ > 0)
        for (auto& s : sessions_)
            if (s && s->failing && !s->file_open() && now_ns_ >= s->retry_at_ns) open_file(*s, now_ns_);
    finish_expired_files();
    park_idle_files();
    publish_health();
}

// Only when the earliest deadline has come: the writer ticks every pass, and
// a walk over every open file each time cost 3 % of the collector's CPU at
// 10,000 sessions (perf, bench rows m). Files finished elsewhere (by size,
// SIGHUP, a session's end) stay listed until then; open_file() lists a file once.
void PcapFiles::finish_expired_files() {
    if (now_ns_ < next_expiry_ns_) return;
    next_expiry_ns_ = ~0ull;
    for (size_t i = 0; i < open_.size();) {
        SessionFiles& f = *open_[i];
        if (f.file_open() && rotation_.expired(f.opened_ns, now_ns_)) finish_file(f);
        if (!f.file_open()) {
            f.listed_open = false;
            open_[i] = open_.back();
            open_.pop_back();
            continue;
        }
        next_expiry_ns_ = std::min(next_expiry_ns_, rotation_.deadline(f.opened_ns));
        ++i;
    }
}

void PcapFiles::finish_all() {
    for (SessionFiles* f : open_) {
        finish_file(*f);
        f->listed_open = false;
    }
    open_.clear();
}

void PcapFiles::close() {
    finish_all();
    for (auto& s : sessions_)
        if (s) take_down_current(*s);
    publish_health();
}

// Only while it still names our file: after a reload the sink that replaced
// us may already point it at its own.
void PcapFiles::take_down_current(const SessionFiles& f) {
    if (f.current_target.empty()) return;
    const int dir_fd = open_dir_fd(f);
    if (dir_fd < 0) return;
    remove_current_link_naming(dir_fd, f.current_target);
    ::close(dir_fd);
}

void PcapFiles::end_session(uint32_t id) {
    if (id >= sessions_.size() || !sessions_[id]) return;
    SessionFiles& f = *sessions_[id];
    finish_file(f);
    take_down_current(f);
    // An ended session that left nothing (every file uploaded and removed, or
    // none written) leaves no directory either; rmdir refuses a non-empty one.
    if (const auto capture_fd = open_dir_path(pcap_.dir, false, 0)) {
        unlinkat(*capture_fd, f.name.c_str(), AT_REMOVEDIR);
        ::close(*capture_fd);
    }
    if (f.listed_open) std::erase(open_, &f);
    if (f.failing) --failing_;
    sessions_[id].reset();
    publish_health();
}

void PcapFiles::make_room_for_descriptor() {
    // At the cap, the file unwritten longest gives up its descriptor first, so the cap always holds.
    // 0 is no cap here: the collector resolves it to a share of its descriptor limit before.
    if (pcap_.max_open_files == 0) return;
    while (!by_last_write_.empty() && by_last_write_.size() >= pcap_.max_open_files) park(*by_last_write_.front());
}

void PcapFiles::track_descriptor(SessionFiles& f) {
    f.by_last_write = by_last_write_.insert(by_last_write_.end(), &f);
    f.last_write_ns = now_ns_;
    open_descriptors_.store(open_descriptors_.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
}

void PcapFiles::park(SessionFiles& f) {
    ::close(f.fd);
    f.fd = -1;
    f.parked = true;
    by_last_write_.erase(f.by_last_write);
    open_descriptors_.store(open_descriptors_.load(std::memory_order_relaxed) - 1, std::memory_order_relaxed);
}

// Only the file we wrote, as we left it: the same inode, reached without
// following a link, its size at least what we wrote (anything after that,
// someone else's, is cut off so the file stays whole records).
bool PcapFiles::unpark(SessionFiles& f) {
    const int dir_fd = open_dir_fd(f);
    if (dir_fd < 0) {
        note_failure(f, "cannot open " + f.dir, errno);
        return false;
    }
    make_room_for_descriptor();
    const int fd = openat(dir_fd, base_name(f.part_path), O_WRONLY | O_NOFOLLOW | O_CLOEXEC);
    const int err = errno;
    ::close(dir_fd);
    struct stat st{};
    if (fd < 0 || fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_dev != f.device || st.st_ino != f.inode ||
        uint64_t(st.st_size) < f.committed_bytes ||
        (uint64_t(st.st_size) > f.committed_bytes && ftruncate(fd, off_t(f.committed_bytes)) != 0) ||
        lseek(fd, off_t(f.committed_bytes), SEEK_SET) < 0) {
        if (fd >= 0) ::close(fd);
        std::lock_guard lock(why_mutex_);
        why_ = "pcap: " + f.part_path + " was removed or replaced while closed for idling: " +
               (fd < 0 ? std::strerror(err) : "not the file written");
        return false;
    }
    f.fd = fd;
    f.parked = false;
    track_descriptor(f);
    return true;
}

void PcapFiles::park_idle_files() {
    if (idle_close_ns_ == 0) return;
    while (!by_last_write_.empty() && now_ns_ >= by_last_write_.front()->last_write_ns + idle_close_ns_)
        park(*by_last_write_.front());
}

void PcapFiles::add_session_names(std::unordered_set<std::string>& names) const {
    for (const auto& s : sessions_)
        if (s) names.insert(s->name);
}

void remove_empty_session_dirs(const std::string& pcap_dir, const std::unordered_set<std::string>& live) {
    const auto opened = open_dir_path(pcap_dir, false, 0);
    if (!opened) return;
    const int capture_fd = *opened;
    const int list_fd = dup(capture_fd);
    DIR* d = list_fd >= 0 ? fdopendir(list_fd) : nullptr;
    if (!d) {
        if (list_fd >= 0) ::close(list_fd);
        ::close(capture_fd);
        return;
    }
    // rmdir takes only an empty directory, and never follows a link; every
    // file of ours is created on the writer thread, which runs this, so none
    // can appear in between.
    struct stat st{};
    while (dirent* e = readdir(d)) {
        if (e->d_name[0] == '.' || live.count(e->d_name)) continue;
        const bool dir = e->d_type == DT_DIR || (e->d_type == DT_UNKNOWN &&
                                                 fstatat(capture_fd, e->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
                                                 S_ISDIR(st.st_mode));
        if (dir) unlinkat(capture_fd, e->d_name, AT_REMOVEDIR);
    }
    closedir(d);
    ::close(capture_fd);
}

Result<> PcapFiles::health() const {
    if (failing_sessions_.load(std::memory_order_relaxed) == 0 && !disk_low_.load(std::memory_order_relaxed))
        return {};
    std::lock_guard lock(why_mutex_);
    return fail(why_);
}

}  // namespace mirrortap
