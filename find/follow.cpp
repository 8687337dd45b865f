#include "find/follow.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <map>
#include <memory>
#include <set>
#include <thread>

#include "find/store.hpp"
#include "support/text.hpp"

namespace mirrortap::find {

namespace {

std::string stem(std::string_view name) {
    if (name.ends_with(kPartSuffix)) name.remove_suffix(kPartSuffix.size());
    return std::string(name);
}

bool capture_name(std::string_view name, const std::string& session) {
    return name.starts_with(session + "-") && (capture_names::is_finished(name) || capture_names::is_growing(name));
}

struct Batched {
    uint64_t ts_ns;
    uint32_t len;
    std::string data;
    const Origin* origin;  // the follower's: lives as long as the followers
};

// One session of one directory: the file it reads and how far.
class Follower {
public:
    Follower(std::string dir, std::string session, std::FILE* log, bool from_current)
        : dir_(std::move(dir)), session_(std::move(session)), log_(log), from_current_(from_current) {
        origin_.session = session_;
        origin_.collector = dir_;  // no index is read here: the directory stands for its collector
    }
    ~Follower() {
        close_file();
        if (dir_fd_ >= 0) ::close(dir_fd_);
    }

    // New packets since the last call, filtered, appended to `batch`.
    void poll(const CompiledFilter& filter, std::vector<Batched>& batch) {
        if (dir_fd_ < 0 && !open_dir()) return;
        for (int files = 0; files < 64; ++files) {  // bounded: a backlog is worked off over several polls
            if (fd_ < 0 && !open_next()) return;
            const bool was_part = is_part_;
            // Gone from .part means finished: everything is written, so one
            // more read to the end takes the rest, and then the next file.
            const bool finished = !was_part || !name_exists(name_ + std::string(kPartSuffix));
            read_new(filter, batch);
            if (!finished) return;
            if (!broken_ && (!pending_.empty() || !header_done_))
                std::fprintf(log_, "mirrortap-find: %s ends inside a record\n", printable(file_path()).c_str());
            last_ = name_;
            close_file();
        }
    }

    std::string where() const { return dir_ + "/" + session_; }

private:
    std::string file_path() const { return where() + "/" + name_ + (is_part_ ? std::string(kPartSuffix) : ""); }

    // A file that cannot be a capture (a record longer than its snaplen or
    // kMaxRecordBytes, a zero-length one): said once, and read no further
    // (the buffer never grows for it); the next file is taken when it is finished.
    void refuse(const std::string& why) {
        std::fprintf(log_, "mirrortap-find: %s: %s; the rest of this file is skipped\n", printable(file_path()).c_str(),
                     why.c_str());
        broken_ = true;
        pending_.clear();
    }

    bool open_dir() {
        const std::string path = dir_ + "/" + session_;
        dir_fd_ = ::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (dir_fd_ < 0) {
            if (!said_waiting_)
                std::fprintf(log_, "mirrortap-find: waiting for session %s in %s\n", session_.c_str(), dir_.c_str());
            said_waiting_ = true;
            from_current_ = false;  // a session that starts later is read from its first file
            return false;
        }
        if (from_current_) start_at_current();
        return true;
    }

    // Start with the file being written (from its start); when none is, after the newest finished one.
    void start_at_current() {
        char target[256];
        const ssize_t n = readlinkat(dir_fd_, "current", target, sizeof target - 1);
        std::vector<std::string> names = list();
        if (n > 0) {
            const std::string t(target, size_t(n));
            if (t.find('/') == std::string::npos && capture_name(t, session_)) {
                // Everything before it: already finished.
                last_ = "";
                for (const auto& name : names)
                    if (stem(name) < stem(t)) last_ = std::max(last_, stem(name));
                return;
            }
        }
        last_ = names.empty() ? "" : stem(names.back());
        // Only a finished file can be the newest here: wait for a newer one.
        if (!names.empty() && names.back().ends_with(kPartSuffix)) last_ = "";
    }

    std::vector<std::string> list() const {
        std::vector<std::string> out;
        const int fd = ::dup(dir_fd_);
        DIR* d = fd >= 0 ? fdopendir(fd) : nullptr;
        if (!d) {
            if (fd >= 0) ::close(fd);
            return out;
        }
        rewinddir(d);
        while (dirent* e = readdir(d))
            if (capture_name(e->d_name, session_)) out.push_back(e->d_name);
        closedir(d);
        std::sort(out.begin(), out.end(), [](const std::string& a, const std::string& b) { return stem(a) < stem(b); });
        return out;
    }

    bool name_exists(const std::string& name) const {
        struct stat st{};
        return fstatat(dir_fd_, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0;
    }

    // The first file whose name sorts after the last one read.
    bool open_next() {
        for (const auto& n : list()) {
            const std::string s = stem(n);
            if (s <= last_) continue;
            // Try the part first: it may be renamed between listing and opening.
            for (const bool part : {true, false}) {
                const std::string name = part ? s + std::string(kPartSuffix) : s;
                // Without blocking (a FIFO named like a capture), and regular files only.
                const int fd = openat(dir_fd_, name.c_str(), O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
                if (fd < 0) continue;
                struct stat st{};
                if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
                    ::close(fd);
                    std::fprintf(log_, "mirrortap-find: %s/%s: not a regular file: skipped\n", printable(where()).c_str(),
                                 printable(name).c_str());
                    last_ = s;
                    return false;
                }
                fd_ = fd;
                name_ = s;
                is_part_ = part;
                offset_ = 0;
                header_done_ = false;
                broken_ = false;
                pending_.clear();
                return true;
            }
        }
        return false;
    }

    void read_new(const CompiledFilter& filter, std::vector<Batched>& batch) {
        char buf[1 << 16];
        while (!broken_) {
            const ssize_t n = ::pread(fd_, buf, sizeof buf, off_t(offset_));
            if (n < 0 && errno == EINTR) continue;
            if (n <= 0) break;
            offset_ += uint64_t(n);
            pending_.append(buf, size_t(n));
            take_records(filter, batch);
        }
    }

    void take_records(const CompiledFilter& filter, std::vector<Batched>& batch) {
        size_t pos = 0;
        if (!header_done_) {
            if (pending_.size() < 24) return;
            uint32_t magic;
            std::memcpy(&magic, pending_.data(), 4);
            ns_per_unit_ = magic == 0xA1B2C3D4 ? 1000 : 1;
            uint32_t snaplen;
            std::memcpy(&snaplen, pending_.data() + 16, 4);
            snaplen_ = snaplen == 0 ? kMaxRecordBytes : std::min(snaplen, kMaxRecordBytes);
            header_done_ = true;
            pos = 24;
        }
        while (pending_.size() - pos >= 16) {
            uint32_t h[4];
            std::memcpy(h, pending_.data() + pos, sizeof h);
            if (h[2] > snaplen_ || h[2] == 0)
                return refuse("a record of " + std::to_string(h[2]) + " bytes (the file's snaplen is " +
                              std::to_string(snaplen_) + ")");
            if (pending_.size() - pos < 16 + size_t(h[2])) break;
            const auto* data = reinterpret_cast<const uint8_t*>(pending_.data() + pos + 16);
            const pcap_pkthdr hdr{{time_t(h[0]), suseconds_t(h[1])}, h[2], h[3]};
            if (filter.matches(hdr, data))
                batch.push_back({uint64_t(h[0]) * 1'000'000'000ull + uint64_t(h[1]) * ns_per_unit_, h[3],
                                 std::string(reinterpret_cast<const char*>(data), h[2]), &origin_});
            pos += 16 + h[2];
        }
        pending_.erase(0, pos);
    }

    void close_file() {
        if (fd_ >= 0) ::close(fd_);
        fd_ = -1;
    }

    std::string dir_, session_;
    Origin origin_;
    std::FILE* log_;
    bool from_current_;
    bool said_waiting_ = false;
    int dir_fd_ = -1;
    int fd_ = -1;
    std::string name_;  // the file read, without .part
    std::string last_;  // the last file read to its end (stem); "" before the first
    bool is_part_ = false;
    uint64_t offset_ = 0;
    bool header_done_ = false;
    uint64_t ns_per_unit_ = 1;
    uint32_t snaplen_ = kMaxRecordBytes;
    bool broken_ = false;  // refused: read no further
    std::string pending_;  // bytes of a record not yet whole
};

std::set<std::string> session_dirs(const std::string& dir) {
    std::set<std::string> out;
    DIR* d = opendir(dir.c_str());
    if (!d) return out;
    while (dirent* e = readdir(d)) {
        struct stat st{};
        if (e->d_name[0] != '.' && fstatat(dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISDIR(st.st_mode))
            out.insert(e->d_name);
    }
    closedir(d);
    return out;
}

}  // namespace

int run_follow(const FollowOptions& options, const CompiledFilter& filter, PcapOutput& out, std::FILE* log,
               const std::atomic<bool>& stop) {
    std::map<std::pair<std::string, std::string>, std::unique_ptr<Follower>> followers;
    for (const auto& dir : options.dirs) {
        struct stat st{};
        if (stat(dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
            std::fprintf(log, "mirrortap-find: cannot follow %s: %s\n", dir.c_str(),
                         errno ? std::strerror(errno) : "not a directory");
            return 1;
        }
        const std::set<std::string> present = session_dirs(dir);
        if (options.sessions.empty()) {
            for (const auto& s : present) followers[{dir, s}] = std::make_unique<Follower>(dir, s, log, true);
        } else {
            for (const auto& s : options.sessions)
                followers[{dir, s}] = std::make_unique<Follower>(dir, s, log, present.count(s) > 0);
        }
    }
    std::fprintf(log, "mirrortap-find: following %zu session director%s; Ctrl-C ends\n", followers.size(),
                 followers.size() == 1 ? "y" : "ies");
    auto last_scan = std::chrono::steady_clock::now();
    std::vector<Batched> batch;
    while (!stop.load()) {
        batch.clear();
        for (auto& [id, f] : followers) f->poll(filter, batch);
        // Sessions and collectors side by side: one batch, in time order.
        std::stable_sort(batch.begin(), batch.end(), [](const Batched& a, const Batched& b) { return a.ts_ns < b.ts_ns; });
        for (const auto& p : batch) {
            if (!out.write({p.ts_ns, uint32_t(p.data.size()), p.len, reinterpret_cast<const uint8_t*>(p.data.data()),
                            p.origin}))
                return 0;  // the reader went away (EPIPE): done
        }
        if (!batch.empty() && !out.flush()) return 0;
        if (options.sessions.empty() && std::chrono::steady_clock::now() - last_scan > std::chrono::seconds(1)) {
            last_scan = std::chrono::steady_clock::now();
            for (const auto& dir : options.dirs)
                for (const auto& s : session_dirs(dir))
                    if (!followers.count({dir, s}))
                        followers[{dir, s}] = std::make_unique<Follower>(dir, s, log, false);
        }
        if (batch.empty()) std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    (void)out.flush();  // a reader gone by now is no failure of the view
    return 0;
}

}  // namespace mirrortap::find
