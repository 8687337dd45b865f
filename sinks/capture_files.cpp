#include "sinks/capture_files.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstring>
#include <functional>
#include <string_view>
#include <tuple>
#include <utility>
#include <vector>

#include "sinks/capture_dir.hpp"
#include "sinks/pcap_format.hpp"
#include "support/capture_names.hpp"
#include "support/unique_fd.hpp"

namespace mirrortap {

namespace {

constexpr const char* kCurrentLink = "current";
constexpr const char* kCurrentLinkNew = "current.new";

// An exclusive flock on a session directory for one step on `current`. The
// lock is on the open directory, so each step opens its own descriptor
// (callers do) and steps on one thread never wait for each other.
class CurrentLinkLock {
public:
    explicit CurrentLinkLock(int dir_fd) : fd_(dir_fd) {
        while (flock(fd_, LOCK_EX) != 0 && errno == EINTR) {
        }
    }
    ~CurrentLinkLock() { flock(fd_, LOCK_UN); }
    CurrentLinkLock(const CurrentLinkLock&) = delete;
    CurrentLinkLock& operator=(const CurrentLinkLock&) = delete;

private:
    int fd_;
};

// A symlink swapped in by rename is never missing.
bool replace_current_link(int dir_fd, const char* target) {
    unlinkat(dir_fd, kCurrentLinkNew, 0);
    return symlinkat(target, dir_fd, kCurrentLinkNew) == 0 &&
           renameat(dir_fd, kCurrentLinkNew, dir_fd, kCurrentLink) == 0;
}
// No capture of ours holds a record larger than the largest snaplen.
constexpr uint32_t kMaxRecordBytes = 262144;

// Each entry of the directory behind `dir_fd` (which stays open and ours), "." and ".." left out.
void for_each_entry(int dir_fd, const std::function<void(const std::string& name)>& visit) {
    const int copy = fcntl(dir_fd, F_DUPFD_CLOEXEC, 0);
    DIR* d = copy >= 0 ? fdopendir(copy) : nullptr;
    if (!d) {
        if (copy >= 0) ::close(copy);
        return;
    }
    rewinddir(d);  // the copy shares its offset with dir_fd
    std::vector<std::string> names;
    while (dirent* e = readdir(d)) {
        const std::string_view n = e->d_name;
        if (n != "." && n != "..") names.emplace_back(n);
    }
    closedir(d);
    for (const auto& n : names) visit(n);
}

// Each session directory of the capture directory: real directories only, no link followed.
void for_each_session_dir(const std::string& pcap_dir,
                          const std::function<void(const std::string& session, int dir_fd)>& visit) {
    const auto opened = open_dir_path(pcap_dir, false, 0);
    if (!opened) return;
    UniqueFd capture(*opened);
    for_each_entry(capture.get(), [&](const std::string& name) {
        UniqueFd dir(openat(capture.get(), name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
        if (dir.get() >= 0) visit(name, dir.get());
    });
}

// A regular file in the directory, opened without following a link. -1 with errno.
int open_regular(int dir_fd, const std::string& name, int flags) {
    const int fd = openat(dir_fd, name.c_str(), flags | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0) return -1;
    struct stat st{};
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        ::close(fd);
        errno = EINVAL;
        return -1;
    }
    return fd;
}

uint64_t file_size(int fd) {
    struct stat st{};
    return fstat(fd, &st) == 0 ? uint64_t(st.st_size) : 0;
}

// A `.pcap.part` cut back to its last whole record and renamed; one line saying what was done.
std::string recover_part(const std::string& where, int dir_fd, const std::string& name) {
    const std::string final_name = name.substr(0, name.size() - std::strlen(".part"));
    UniqueFd fd(open_regular(dir_fd, name, O_RDWR));
    if (fd.get() < 0) return where + "/" + name + ": left alone: " + std::strerror(errno);
    const uint64_t size = file_size(fd.get());
    const PcapExtent extent = read_pcap_extent(fd.get(), size);
    if (!extent.valid) return where + "/" + name + ": left alone: not a pcap file mirrortap wrote";
    if (extent.packets == 0) {
        unlinkat(dir_fd, name.c_str(), 0);
        return where + "/" + name + ": removed, it holds no whole record";
    }
    if (extent.whole_bytes < size && ftruncate(fd.get(), off_t(extent.whole_bytes)) != 0)
        return where + "/" + name + ": left alone: cannot cut it back: " + std::strerror(errno);
    if (fsync(fd.get()) != 0) { /* the rename below still finishes it */ }
    struct stat st{};
    if (fstatat(dir_fd, final_name.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0)
        return where + "/" + name + ": left alone: " + final_name + " exists already";
    if (renameat(dir_fd, name.c_str(), dir_fd, final_name.c_str()) != 0)
        return where + "/" + name + ": left alone: cannot rename it: " + std::strerror(errno);
    // `current` must never name a file that is gone.
    char target[PATH_MAX];
    const ssize_t n = readlinkat(dir_fd, "current", target, sizeof target);
    if (n > 0 && std::string_view(target, size_t(n)) == name) unlinkat(dir_fd, "current", 0);
    return where + "/" + final_name + ": finished after a crash: " + std::to_string(extent.packets) + " records, " +
           std::to_string(size - extent.whole_bytes) + " bytes of a partial record cut";
}

}  // namespace

PcapExtent read_pcap_extent(int fd, uint64_t size) {
    PcapExtent out;
    PcapFileHeader header;
    if (size < sizeof header || pread(fd, &header, sizeof header, 0) != ssize_t(sizeof header) ||
        header.magic != kPcapMagicNanoseconds)
        return out;
    out.valid = true;
    out.whole_bytes = sizeof header;
    // Record headers are read through a window of the file: bodies are skipped, not copied.
    std::vector<std::byte> window(1 << 20);
    uint64_t window_at = 0, window_bytes = 0;
    uint64_t at = sizeof header;
    while (at + sizeof(PcapRecordHeader) <= size) {
        if (at < window_at || at + sizeof(PcapRecordHeader) > window_at + window_bytes) {
            const ssize_t n = pread(fd, window.data(), window.size(), off_t(at));
            if (n < ssize_t(sizeof(PcapRecordHeader))) break;
            window_at = at;
            window_bytes = uint64_t(n);
        }
        PcapRecordHeader h;
        std::memcpy(&h, window.data() + (at - window_at), sizeof h);
        const uint64_t end = at + sizeof h + h.caplen;
        if (h.caplen > kMaxRecordBytes || h.ts_nsec >= 1'000'000'000u || end > size) break;
        const uint64_t ns = uint64_t(h.ts_sec) * 1'000'000'000ull + h.ts_nsec;
        if (out.packets == 0) out.first_ns = ns;
        out.last_ns = ns;
        ++out.packets;
        out.whole_bytes = end;
        at = end;
    }
    return out;
}

std::vector<std::string> recover_part_files(const std::string& pcap_dir) {
    std::vector<std::string> lines;
    for_each_session_dir(pcap_dir, [&](const std::string& session, int dir_fd) {
        for_each_entry(dir_fd, [&](const std::string& name) {
            if (capture_names::is_growing(name)) lines.push_back(recover_part(pcap_dir + "/" + session, dir_fd, name));
        });
    });
    return lines;
}

std::vector<FinishedCapture> pending_captures(const std::string& pcap_dir) {
    std::vector<FinishedCapture> found;
    for_each_session_dir(pcap_dir, [&](const std::string& session, int dir_fd) {
        for_each_entry(dir_fd, [&](const std::string& name) {
            if (!capture_names::is_finished(name)) return;
            UniqueFd fd(open_regular(dir_fd, name, O_RDONLY));
            if (fd.get() < 0 || marked_uploaded(fd.get())) return;
            const uint64_t size = file_size(fd.get());
            const PcapExtent extent = read_pcap_extent(fd.get(), size);
            if (!extent.valid || extent.packets == 0) return;
            FinishedCapture c;
            c.directory = pcap_dir + "/" + session;
            c.session = session;
            c.file_name = name;
            struct stat st{};
            const std::string index = name + std::string(flow_index::kSuffix);
            if (fstatat(dir_fd, index.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISREG(st.st_mode))
                c.index_name = index;
            c.packets = extent.packets;
            c.bytes = size;
            c.first_ns = extent.first_ns;
            c.last_ns = extent.last_ns;
            found.push_back(std::move(c));
        });
    });
    std::sort(found.begin(), found.end(), [](const FinishedCapture& a, const FinishedCapture& b) {
        return std::tie(a.first_ns, a.file_name) < std::tie(b.first_ns, b.file_name);
    });
    return found;
}

namespace {

// Each finished .pcap (a regular file) of every session directory, as `visit(entry, dir_fd)`.
void for_each_finished_capture(const std::string& pcap_dir,
                               const std::function<void(CaptureFileEntry entry, int dir_fd)>& visit) {
    for_each_session_dir(pcap_dir, [&](const std::string& session, int dir_fd) {
        for_each_entry(dir_fd, [&](const std::string& name) {
            struct stat st{};
            if (!capture_names::is_finished(name) || fstatat(dir_fd, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0 ||
                !S_ISREG(st.st_mode))
                return;
            visit({session, name, uint64_t(st.st_size), int64_t(st.st_mtim.tv_sec) * 1'000'000'000 + st.st_mtim.tv_nsec},
                  dir_fd);
        });
    });
}

void sort_oldest_first(std::vector<CaptureFileEntry>& files) {
    std::sort(files.begin(), files.end(), [](const CaptureFileEntry& a, const CaptureFileEntry& b) {
        return std::tie(a.mtime_ns, a.session, a.name) < std::tie(b.mtime_ns, b.session, b.name);
    });
}

}  // namespace

std::vector<CaptureFileEntry> finished_capture_files(const std::string& pcap_dir) {
    std::vector<CaptureFileEntry> found;
    for_each_finished_capture(pcap_dir, [&](CaptureFileEntry entry, int) { found.push_back(std::move(entry)); });
    sort_oldest_first(found);
    return found;
}

AgedCaptures captures_older_than(const std::string& pcap_dir, int64_t before_ns) {
    AgedCaptures out;
    for_each_finished_capture(pcap_dir, [&](CaptureFileEntry entry, int dir_fd) {
        if (entry.mtime_ns >= before_ns) {
            if (out.next_mtime_ns == 0 || entry.mtime_ns < out.next_mtime_ns) out.next_mtime_ns = entry.mtime_ns;
            return;
        }
        // Only the few old enough are opened, for their mark.
        UniqueFd fd(open_regular(dir_fd, entry.name, O_RDONLY));
        entry.uploaded = fd.get() >= 0 && marked_uploaded(fd.get());
        out.older.push_back(std::move(entry));
    });
    sort_oldest_first(out.older);
    return out;
}

bool remove_capture_file(const std::string& pcap_dir, const std::string& session, const std::string& name) {
    const auto opened = open_dir_path(pcap_dir, false, 0);
    if (!opened) return false;
    UniqueFd capture(*opened);
    UniqueFd dir(openat(capture.get(), session.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    if (dir.get() < 0) return false;
    return remove_session_capture(dir.get(), name) == 0;
}

bool point_current_link(int dir_fd, const char* target) {
    const CurrentLinkLock lock(dir_fd);
    return replace_current_link(dir_fd, target);
}

void remove_current_link_naming(int dir_fd, const std::string& target) {
    const CurrentLinkLock lock(dir_fd);
    char named[PATH_MAX];
    const ssize_t n = readlinkat(dir_fd, kCurrentLink, named, sizeof named);
    if (n > 0 && std::string_view(named, size_t(n)) == target) unlinkat(dir_fd, kCurrentLink, 0);
}

int remove_session_capture(int dir_fd, const std::string& name) {
    const CurrentLinkLock lock(dir_fd);
    char target[PATH_MAX];
    const ssize_t n = readlinkat(dir_fd, kCurrentLink, target, sizeof target);
    if (n > 0 && std::string_view(target, size_t(n)) == name) {
        std::string newest;
        for_each_entry(dir_fd, [&](const std::string& entry) {
            struct stat st{};
            if (entry == name || entry <= newest || !(capture_names::is_finished(entry) || capture_names::is_growing(entry)))
                return;
            if (fstatat(dir_fd, entry.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISREG(st.st_mode)) newest = entry;
        });
        if (newest.empty() || !replace_current_link(dir_fd, newest.c_str())) unlinkat(dir_fd, kCurrentLink, 0);
    }
    unlinkat(dir_fd, (name + std::string(flow_index::kSuffix)).c_str(), 0);  // ENOENT when it has none
    return unlinkat(dir_fd, name.c_str(), 0) == 0 ? 0 : errno;
}

Result<int> open_capture_file(const FinishedCapture& capture, const std::string& name) {
    auto opened = open_dir_path(capture.directory, false, 0);
    if (!opened) return opened;  // with its errno
    UniqueFd dir(*opened);
    const int fd = open_regular(dir.get(), name, O_RDONLY);
    if (fd >= 0) return fd;
    const int err = errno;
    Result<int> refused = fail(capture.directory + "/" + name + ": " +
                               (err == EINVAL ? "not a regular file" : std::strerror(err)));
    errno = err;
    return refused;
}

bool marked_uploaded(int fd) { return fgetxattr(fd, kUploadedAttribute, nullptr, 0) >= 0; }

Result<> settle_uploaded_capture(const FinishedCapture& capture, bool remove) {
    const auto opened = open_dir_path(capture.directory, false, 0);
    if (!opened) return fail(opened.error());
    UniqueFd dir(*opened);
    if (remove) {
        if (!capture.index_name.empty() && unlinkat(dir.get(), capture.index_name.c_str(), 0) != 0 && errno != ENOENT)
            return fail("cannot remove " + capture.directory + "/" + capture.index_name + ": " + std::strerror(errno));
        if (const int err = remove_session_capture(dir.get(), capture.file_name); err != 0 && err != ENOENT)
            return fail("cannot remove " + capture.directory + "/" + capture.file_name + ": " + std::strerror(err));
        return {};
    }
    UniqueFd fd(open_regular(dir.get(), capture.file_name, O_RDONLY));
    if (fd.get() < 0) return fail(capture.directory + "/" + capture.file_name + ": " + std::strerror(errno));
    static constexpr char kValue[] = "s3";
    if (fsetxattr(fd.get(), kUploadedAttribute, kValue, sizeof kValue - 1, 0) != 0)
        return fail("cannot mark " + capture.directory + "/" + capture.file_name + " uploaded (" + kUploadedAttribute +
                    "): " + std::strerror(errno) + "; it will be uploaded again after a restart");
    return {};
}

}  // namespace mirrortap
