#include "sinks/pcap_rotator.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <ctime>

#include "sinks/capture_dir.hpp"
#include "sinks/pcap_format.hpp"

namespace mirrortap {

namespace {

constexpr const char* kPartSuffix = ".part";
constexpr const char* kCurrentLink = "current";
constexpr const char* kCurrentLinkNew = "current.new";

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

// The last component of a path, for the *at() calls relative to its directory.
const char* base_name(const std::string& path) { return path.c_str() + path.rfind('/') + 1; }

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

}  // namespace

size_t RetentionPolicy::excess(const std::deque<FinishedFile>& oldest_first) const {
    uint64_t total = 0;
    for (const auto& f : oldest_first) total += f.bytes;
    size_t remove = 0;
    size_t count = oldest_first.size();
    while (remove < oldest_first.size()) {
        const bool too_many = max_files > 0 && count > max_files;
        const bool too_big = max_bytes > 0 && total > max_bytes;
        if (!too_many && !too_big) break;
        total -= oldest_first[remove].bytes;
        --count;
        ++remove;
    }
    return remove;
}

struct PcapRotator::SessionFiles {
    Session* session = nullptr;
    std::string dir;   // for messages; operations go through a descriptor of it
    std::string name;  // the directory's name in the capture directory
    int fd = -1;
    std::string part_path;
    std::string final_path;
    std::unique_ptr<std::byte[]> buffer;
    size_t used = 0;
    uint64_t committed_bytes = 0;  // known to be in the file
    uint64_t file_bytes = 0;       // committed + buffered
    uint64_t records_in_file = 0;
    uint64_t buffered_records = 0;
    uint64_t opened_ns = 0;
    uint64_t last_flush_ns = 0;
    uint32_t seq = 0;
    bool failing = false;
    SinkDropReason failure_reason = SinkDropReason::write_error;
    uint64_t retry_at_ns = 0;
    bool listed_open = false;
    std::deque<FinishedFile> finished;  // oldest first, for retention
    SinkCounters& counters(uint32_t sink_index) { return session->sinks[sink_index]; }
};

PcapRotator::PcapRotator(PcapRotatorOptions options)
    : opt_(std::move(options)),
      rotation_{opt_.pcap.rotate_size_bytes, opt_.pcap.rotate_seconds},
      retention_{opt_.pcap.retain_files, opt_.pcap.retain_bytes},
      sessions_(opt_.max_sessions) {
    open_.reserve(opt_.max_sessions);
}

PcapRotator::~PcapRotator() { close(); }

PcapRotator::SessionFiles& PcapRotator::files_for(Session& s) {
    // Session ids are dense and below max_sessions: the table never grows here.
    auto& slot = sessions_[s.id];
    if (slot) return *slot;
    // First packet of a session: the cold path, allowed to allocate and scan.
    slot = std::make_unique<SessionFiles>();
    slot->session = &s;
    slot->name = s.name();
    slot->dir = opt_.pcap.dir + "/" + slot->name;
    slot->buffer = std::make_unique<std::byte[]>(opt_.pcap.buffer_bytes);
    // Files left by an earlier run count against this session's retention.
    const int dir_fd = open_dir_fd(*slot);
    if (DIR* d = dir_fd >= 0 ? fdopendir(dir_fd) : nullptr) {
        std::vector<FinishedFile> found;
        const std::string prefix = s.name() + "-";
        while (dirent* e = readdir(d)) {
            std::string_view n = e->d_name;
            if (n.substr(0, prefix.size()) != prefix || !ends_with(n, ".pcap")) continue;
            struct stat st{};
            // Regular files only: a symlink planted here is not ours to count or delete.
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

void PcapRotator::note_failure(SessionFiles& f, const std::string& what, int err) {
    f.failure_reason = reason_for(err);
    // A full disk is the filesystem's state, not this session's: stop every
    // session until check_free_space() sees room again.
    if (f.failure_reason == SinkDropReason::disk_full) {
        disk_low_.store(true, std::memory_order_relaxed);
        next_space_check_ns_ = last_now_ns_ + 1'000'000'000ull;
    }
    f.retry_at_ns = last_now_ns_ + opt_.retry_interval_ns;
    if (!f.failing) {
        f.failing = true;
        failing_sessions_.fetch_add(1, std::memory_order_relaxed);
    }
    std::lock_guard lock(why_mutex_);
    why_ = "pcap: " + what + ": " + std::strerror(err);
}

bool PcapRotator::open_file(SessionFiles& f, uint64_t now_ns) {
    if (f.failing && now_ns < f.retry_at_ns) return false;
    check_free_space(now_ns);  // rate-limited; makes the floor hold from the first file on
    if (disk_low_.load(std::memory_order_relaxed)) {
        f.failure_reason = SinkDropReason::disk_full;
        return false;
    }
    const int dir_fd = open_dir_fd(f);
    if (dir_fd < 0) {
        note_failure(f, "cannot create " + f.dir, errno);
        return false;
    }
    const std::string stem = f.dir + "/" + f.session->name() + "-" + utc_stamp(now_ns) + "-";
    int fd = -1;
    for (int attempt = 0; attempt < 1000 && fd < 0; ++attempt) {
        char seq[16];
        snprintf(seq, sizeof seq, "%06u", ++f.seq);
        f.final_path = stem + seq + ".pcap";
        f.part_path = f.final_path + kPartSuffix;
        struct stat st{};
        if (fstatat(dir_fd, base_name(f.final_path), &st, AT_SYMLINK_NOFOLLOW) == 0) continue;  // never clobber
        fd = openat(dir_fd, base_name(f.part_path), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
                    mode_t(opt_.pcap.file_mode));
        if (fd < 0 && errno != EEXIST) break;
    }
    if (fd < 0) {
        const int err = errno;
        ::close(dir_fd);
        note_failure(f, "cannot create " + f.part_path, err);
        return false;
    }
    // The umask may have taken bits the user asked for.
    fchmod(fd, mode_t(opt_.pcap.file_mode));
    if (opt_.group_id >= 0 && fchown(fd, uid_t(-1), gid_t(opt_.group_id)) != 0) { /* keep the file; mode still holds */ }
    f.fd = fd;
    f.opened_ns = now_ns;
    f.last_flush_ns = now_ns;
    f.committed_bytes = 0;
    f.records_in_file = 0;
    PcapFileHeader header;
    header.snaplen = opt_.snaplen;
    std::memcpy(f.buffer.get(), &header, sizeof header);
    f.used = sizeof header;
    f.file_bytes = sizeof header;
    if (f.failing) {
        f.failing = false;
        failing_sessions_.fetch_sub(1, std::memory_order_relaxed);
    }
    if (!f.listed_open) {
        open_.push_back(&f);
        f.listed_open = true;
    }
    // Point `current` at the new file: a symlink swapped in by rename is never
    // missing. unlinkat, symlinkat and renameat act on names, never through one.
    unlinkat(dir_fd, kCurrentLinkNew, 0);
    if (symlinkat(base_name(f.part_path), dir_fd, kCurrentLinkNew) == 0)
        renameat(dir_fd, kCurrentLinkNew, dir_fd, kCurrentLink);
    ::close(dir_fd);
    return true;
}

int PcapRotator::open_dir_fd(const SessionFiles& f) const {
    // Walked afresh each time (cold path: once per file): a capture directory
    // replaced while we run is found again, and no symlink is ever followed.
    std::string why;
    const int capture_fd = open_dir_path(opt_.pcap.dir, false, 0, why);
    if (capture_fd < 0) return -1;
    const int fd = open_session_dir(capture_fd, f.name, dir_mode_for(opt_.pcap.file_mode), opt_.group_id);
    const int err = errno;
    ::close(capture_fd);
    errno = err;
    return fd;
}

void PcapRotator::check_free_space(uint64_t now_ns) {
    const bool watching = opt_.pcap.min_free_bytes > 0 || disk_low_.load(std::memory_order_relaxed);
    if (!watching || now_ns < next_space_check_ns_) return;
    next_space_check_ns_ = now_ns + 1'000'000'000ull;
    struct statvfs sv{};
    if (statvfs(opt_.pcap.dir.c_str(), &sv) != 0) return;
    const uint64_t free_bytes = uint64_t(sv.f_bavail) * sv.f_frsize;
    // After ENOSPC, wait for room for a few buffers before trying again.
    const uint64_t floor = std::max<uint64_t>(opt_.pcap.min_free_bytes, 4ull * opt_.pcap.buffer_bytes);
    const bool low = free_bytes < floor;
    if (low) {
        if (!open_.empty()) rotate();  // finish open files while there is room to do it cleanly
        std::lock_guard lock(why_mutex_);
        why_ = "pcap: " + std::to_string(free_bytes) + " bytes free under " + opt_.pcap.dir + ", below " +
               std::to_string(floor);
        disk_low_.store(true, std::memory_order_relaxed);
    } else {
        disk_low_.store(false, std::memory_order_relaxed);
    }
}

void PcapRotator::drop_buffered(SessionFiles& f, SinkDropReason reason) {
    auto& c = f.counters(opt_.sink_index);
    c.drop(reason, f.buffered_records);
    c.buffered.set(0);
    f.buffered_records = 0;
    f.used = 0;
    f.file_bytes = f.committed_bytes;
}

bool PcapRotator::flush(SessionFiles& f) {
    if (f.fd < 0 || f.used == 0) return true;
    size_t done = 0;
    while (done < f.used) {
        const ssize_t n = ::write(f.fd, f.buffer.get() + done, f.used - done);
        if (n > 0) {
            done += size_t(n);
            continue;
        }
        if (n < 0 && errno == EINTR) continue;
        const int err = n < 0 ? errno : ENOSPC;
        // Cut the file back to its last whole record so that it stays readable,
        // and account for every record that did not make it.
        if (ftruncate(f.fd, off_t(f.committed_bytes)) != 0) { /* the rename below still ends the file */ }
        drop_buffered(f, reason_for(err));
        note_failure(f, "cannot write " + f.part_path, err);
        finish_file(f);
        return false;
    }
    auto& c = f.counters(opt_.sink_index);
    c.written.add(f.buffered_records);
    c.buffered.set(0);
    bytes_written_.add(f.used);
    f.committed_bytes += f.used;
    f.buffered_records = 0;
    f.used = 0;
    f.last_flush_ns = last_now_ns_;
    return true;
}

void PcapRotator::finish_file(SessionFiles& f) {
    if (f.fd < 0) return;
    if (f.used > 0) flush(f);  // on failure, flush finishes the file itself
    if (f.fd < 0) return;
    ::close(f.fd);
    f.fd = -1;
    const int dir_fd = open_dir_fd(f);
    if (dir_fd < 0) {
        note_failure(f, "cannot open " + f.dir + " to finish " + f.part_path, errno);
        return;
    }
    if (f.committed_bytes <= sizeof(PcapFileHeader)) {
        // Not one record made it: an empty capture helps nobody.
        unlinkat(dir_fd, base_name(f.part_path), 0);
    } else if (renameat(dir_fd, base_name(f.part_path), dir_fd, base_name(f.final_path)) != 0) {
        note_failure(f, "cannot rename " + f.part_path, errno);
    } else {
        files_rotated_.add();
        f.finished.push_back({f.final_path, f.committed_bytes});
        apply_retention(f, dir_fd);
    }
    ::close(dir_fd);
}

void PcapRotator::apply_retention(SessionFiles& f, int dir_fd) {
    // Only finished files are candidates: the one being written is never in the list.
    for (size_t n = retention_.excess(f.finished); n > 0; --n) {
        unlinkat(dir_fd, base_name(f.finished.front().path), 0);
        f.finished.pop_front();
    }
}

void PcapRotator::append(SessionFiles& f, const Packet& p) {
    const uint32_t caplen = uint32_t(std::min<size_t>(p.frame.size(), opt_.snaplen));
    const PcapRecordHeader rec = make_record_header(p.timestamp_ns, caplen, p.original_length);
    std::byte* out = f.buffer.get() + f.used;
    std::memcpy(out, &rec, sizeof rec);
    std::memcpy(out + sizeof rec, p.frame.data(), caplen);
    f.used += sizeof rec + caplen;
    f.file_bytes += sizeof rec + caplen;
    f.records_in_file++;
    f.buffered_records++;
    f.counters(opt_.sink_index).buffered.set(f.buffered_records);
}

void PcapRotator::write(std::span<const Packet> batch) {
    for (const Packet& p : batch) {
        SessionFiles& f = files_for(*p.session);
        if (closed_) {
            f.counters(opt_.sink_index).drop(SinkDropReason::not_open);
            continue;
        }
        last_now_ns_ = std::max(last_now_ns_, p.timestamp_ns);
        if (f.fd < 0 && !open_file(f, p.timestamp_ns)) {
            f.counters(opt_.sink_index).drop(f.failure_reason);
            continue;
        }
        const uint64_t record_bytes = sizeof(PcapRecordHeader) + std::min<size_t>(p.frame.size(), opt_.snaplen);
        if (rotation_.should_rotate(f.file_bytes, record_bytes, f.records_in_file)) {
            finish_file(f);
            if (!open_file(f, p.timestamp_ns)) {
                f.counters(opt_.sink_index).drop(f.failure_reason);
                continue;
            }
        }
        // One write(2) per full buffer, not per packet.
        if (f.used + record_bytes > opt_.pcap.buffer_bytes && !flush(f)) {
            f.counters(opt_.sink_index).drop(f.failure_reason);
            continue;
        }
        append(f, p);
    }
}

void PcapRotator::tick(uint64_t now_ns) {
    last_now_ns_ = std::max(last_now_ns_, now_ns);
    check_free_space(now_ns);
    // A failing session tries again on its own, so health recovers even when
    // no packet arrives to prompt it.
    if (failing_sessions_.load(std::memory_order_relaxed) > 0 && !closed_)
        for (auto& s : sessions_)
            if (s && s->failing && s->fd < 0 && now_ns >= s->retry_at_ns) open_file(*s, now_ns);
    const uint64_t flush_ns = uint64_t(opt_.pcap.flush_interval_ms) * 1'000'000ull;
    for (size_t i = 0; i < open_.size();) {
        SessionFiles& f = *open_[i];
        if (f.fd >= 0 && rotation_.expired(f.opened_ns, now_ns)) finish_file(f);
        else if (f.fd >= 0 && f.used > 0 && now_ns >= f.last_flush_ns + flush_ns) flush(f);
        if (f.fd < 0) {
            f.listed_open = false;
            open_[i] = open_.back();
            open_.pop_back();
            continue;
        }
        ++i;
    }
}

void PcapRotator::rotate() {
    for (SessionFiles* f : open_) {
        finish_file(*f);
        f->listed_open = false;
    }
    open_.clear();
}

void PcapRotator::close() {
    if (closed_) return;
    rotate();
    for (auto& s : sessions_) {
        if (!s) continue;
        if (const int dir_fd = open_dir_fd(*s); dir_fd >= 0) {
            unlinkat(dir_fd, kCurrentLink, 0);
            ::close(dir_fd);
        }
    }
    closed_ = true;
}

SinkStats PcapRotator::stats() const { return {bytes_written_.get(), files_rotated_.get()}; }

bool PcapRotator::healthy(std::string& why) const {
    if (failing_sessions_.load(std::memory_order_relaxed) == 0 && !disk_low_.load(std::memory_order_relaxed))
        return true;
    std::lock_guard lock(why_mutex_);
    why = why_;
    return false;
}

}  // namespace mirrortap
