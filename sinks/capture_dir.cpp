#include "sinks/capture_dir.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <sys/fsuid.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <deque>
#include <random>
#include <utility>
#include <vector>

namespace mirrortap {

namespace {

constexpr int kDirFlags = O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC;
constexpr int kMaxLinks = 40;  // as the kernel's own path walk

// Closes a descriptor when it goes out of scope unless released.
struct Fd {
    int fd = -1;
    explicit Fd(int f) : fd(f) {}
    ~Fd() {
        if (fd >= 0) ::close(fd);
    }
    Fd(const Fd&) = delete;
    Fd& operator=(const Fd&) = delete;
    void reset(int f) {
        if (fd >= 0) ::close(fd);
        fd = f;
    }
    int release() { return std::exchange(fd, -1); }
};

void push_components(std::deque<std::string>& todo, const std::string& path) {
    std::vector<std::string> parts;
    for (size_t start = 0; start <= path.size();) {
        const size_t slash = std::min(path.find('/', start), path.size());
        if (slash > start && path.compare(start, slash - start, ".") != 0)
            parts.push_back(path.substr(start, slash - start));
        start = slash + 1;
    }
    todo.insert(todo.begin(), parts.begin(), parts.end());
}

// A link that only root can have made, in a directory only root can change.
bool planted_by_root(const struct stat& link, const struct stat& dir) {
    const bool dir_is_roots = dir.st_uid == 0 && (!(dir.st_mode & (S_IWGRP | S_IWOTH)) || (dir.st_mode & S_ISVTX));
    return link.st_uid == 0 && dir_is_roots;
}

std::string user_name(uid_t uid) {
    passwd pw{}, *found = nullptr;
    char buf[4096];
    if (getpwuid_r(uid, &pw, buf, sizeof buf, &found) == 0 && found) return pw.pw_name;
    return "uid " + std::to_string(uid);
}

// Nothing but "." and ".." in the directory behind `fd` (read through a
// copy, so `fd` keeps its offset). st_nlink cannot say it: btrfs gives every
// directory 1, and files do not count in it anywhere.
bool dir_is_empty(int fd) {
    const int copy = fcntl(fd, F_DUPFD_CLOEXEC, 0);
    DIR* d = copy >= 0 ? fdopendir(copy) : nullptr;
    if (!d) {
        if (copy >= 0) ::close(copy);
        return false;
    }
    rewinddir(d);
    bool empty = true;
    while (const dirent* e = readdir(d))
        if (std::strcmp(e->d_name, ".") != 0 && std::strcmp(e->d_name, "..") != 0) empty = false;
    closedir(d);
    return empty;
}

std::string random_suffix() {
    std::random_device rd;
    char out[17];
    snprintf(out, sizeof out, "%08x%08x", rd(), rd());
    return out;
}

}  // namespace

Result<UserIds> lookup_user(const std::string& user) {
    passwd pw{}, *found = nullptr;
    char buf[4096];
    if (getpwnam_r(user.c_str(), &pw, buf, sizeof buf, &found) != 0 || !found)
        return mirrortap::fail("unknown user '" + user + "'");
    return UserIds{pw.pw_uid, pw.pw_gid, pw.pw_name};
}

Result<int> group_id(const std::string& name) {
    if (name.empty()) return -1;
    group gr{}, *found = nullptr;
    char buf[16384];
    if (getgrnam_r(name.c_str(), &gr, buf, sizeof buf, &found) == 0 && found) return int(gr.gr_gid);
    return mirrortap::fail("unknown group '" + name + "'");
}

Result<int> open_dir_path(const std::string& path, bool create, mode_t last_mode, bool* created_last) {
    if (created_last) *created_last = false;
    // Every failure keeps the errno of the call that failed, for callers that count by it.
    const auto refuse = [](std::string message, int err) {
        Result<int> refused = mirrortap::fail(std::move(message));
        errno = err;
        return refused;
    };
    if (path.empty()) return refuse("empty directory path", ENOENT);
    Fd cur(::open(path[0] == '/' ? "/" : ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (cur.fd < 0) return refuse(path + ": " + std::strerror(errno), errno);
    std::string walked = path[0] == '/' ? "" : ".";
    std::deque<std::string> todo;
    push_components(todo, path);
    int links = 0;
    while (!todo.empty()) {
        const std::string name = todo.front();
        todo.pop_front();
        const std::string here = walked + "/" + name;
        int next = openat(cur.fd, name.c_str(), kDirFlags);
        bool made = false;
        if (next < 0 && errno == ENOENT && create) {
            made = mkdirat(cur.fd, name.c_str(), todo.empty() ? last_mode : 0755) == 0;
            if (!made && errno != EEXIST) return refuse("cannot create " + here + ": " + std::strerror(errno), errno);
            next = openat(cur.fd, name.c_str(), kDirFlags);
        }
        if (created_last) *created_last = made && todo.empty();
        if (next < 0 && (errno == ELOOP || errno == ENOTDIR)) {
            const int err = errno;
            struct stat link{}, dir{};
            if (fstatat(cur.fd, name.c_str(), &link, AT_SYMLINK_NOFOLLOW) != 0 || !S_ISLNK(link.st_mode))
                return refuse(here + " is not a directory", ENOTDIR);
            if (fstat(cur.fd, &dir) != 0 || !planted_by_root(link, dir))
                return refuse(here + " is a symbolic link that " +
                                user_name(link.st_uid == 0 ? dir.st_uid : link.st_uid) +
                                " can change; name the real directory instead",
                            ELOOP);
            if (++links > kMaxLinks) return refuse(here + ": " + std::strerror(err), ELOOP);
            std::string target(4096, '\0');
            const ssize_t n = readlinkat(cur.fd, name.c_str(), target.data(), target.size());
            if (n <= 0 || size_t(n) >= target.size()) return refuse("cannot read the link " + here, ELOOP);
            target.resize(size_t(n));
            push_components(todo, target);
            if (target[0] == '/') {
                cur.reset(::open("/", O_RDONLY | O_DIRECTORY | O_CLOEXEC));
                if (cur.fd < 0) return refuse("/: " + std::string(std::strerror(errno)), errno);
                walked = "";
            }
            continue;
        }
        if (next < 0) return refuse(here + ": " + std::strerror(errno), errno);
        cur.reset(next);
        walked = here;
    }
    return cur.release();
}

Result<> prepare_capture_dir(const PcapConfig& pcap, const std::string& user) {
    const bool hand_over = geteuid() == 0 && !user.empty();
    std::optional<UserIds> owner;
    if (hand_over) {
        auto found = lookup_user(user);
        if (!found) return fail(found.error() + " for --user");
        owner = std::move(*found);
    }
    bool created = false;
    auto opened = open_dir_path(pcap.dir, true, 0750, &created);
    if (!opened) return fail("cannot create pcap directory " + pcap.dir + ": " + opened.error());
    Fd dir(*opened);
    if (!hand_over) return check_capture_dir_writable(pcap);
    struct stat st{};
    if (fstat(dir.fd, &st) != 0) return fail("pcap directory " + pcap.dir + ": " + std::strerror(errno));
    if (st.st_uid == owner->uid) return {};
    // Only a directory made just now, still root's and empty (someone who can
    // write the parent may have swapped another in between mkdir and open),
    // and only it, through the descriptor we opened.
    if (!created || st.st_uid != 0 || !dir_is_empty(dir.fd))
        return fail("pcap directory " + pcap.dir + " exists and belongs to " + user_name(st.st_uid) + ", not to " +
                    user +
                    ": root does not hand over a directory it did not make; if it is meant for captures, give it to " +
                    user + " yourself (chown " + user + " " + pcap.dir + "), or name a directory that does not exist yet");
    if (fchown(dir.fd, owner->uid, owner->gid) != 0)
        return fail("cannot give pcap directory " + pcap.dir + " to " + user + ": " + std::strerror(errno));
    return {};
}

Result<> check_capture_dir_writable(const PcapConfig& pcap) {
    const std::string me = user_name(geteuid());
    auto opened = open_dir_path(pcap.dir, false, 0);
    if (!opened)
        return fail("pcap directory " + pcap.dir + " cannot be opened as user " + me + ": " + opened.error() +
                    " (every directory above it must let " + me + " search it: chmod o+x, or a group " + me + " is in)");
    Fd dir(*opened);
    const std::string probe = ".mirrortap-write-test-" + random_suffix();
    Fd file(openat(dir.fd, probe.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600));
    if (file.fd < 0)
        return fail("pcap directory " + pcap.dir + " is not writable as user " + me + ": " + std::strerror(errno) +
                    " (give it to " + me + ": chown " + me + " " + pcap.dir + ")");
    Result<> result;
    if (!pcap.group.empty()) {
        const auto gid = group_id(pcap.group);
        if (!gid) result = fail("pcap.group: " + gid.error());
        else if (fchown(file.fd, uid_t(-1), gid_t(*gid)) != 0)
            result = fail("pcap.group " + pcap.group + ": user " + me + " cannot give files to that group (" +
                          std::strerror(errno) + "); make " + me + " a member (usermod -aG " + pcap.group + " " + me +
                          ") or remove pcap.group");
    }
    file.reset(-1);
    unlinkat(dir.fd, probe.c_str(), 0);
    return result;
}

int open_session_dir(int capture_fd, const std::string& name, mode_t mode, int group_id) {
    int fd = openat(capture_fd, name.c_str(), kDirFlags);
    if (fd >= 0 || errno != ENOENT) return fd;
    const bool made = mkdirat(capture_fd, name.c_str(), mode) == 0;
    if (!made && errno != EEXIST) return -1;
    fd = openat(capture_fd, name.c_str(), kDirFlags);
    if (fd >= 0 && made && group_id >= 0 && fchown(fd, uid_t(-1), gid_t(group_id)) != 0) { /* checked at start; mode still holds */ }
    return fd;
}

ActAsOwner::ActAsOwner(const std::optional<UserIds>& owner) {
    if (!owner || geteuid() != 0) return;
    // setfsuid returns the previous value whatever happens; read back to check.
    old_gid_ = gid_t(setfsgid(owner->gid));
    old_uid_ = uid_t(setfsuid(owner->uid));
    active_ = true;
}

ActAsOwner::~ActAsOwner() {
    if (!active_) return;
    setfsuid(old_uid_);
    setfsgid(old_gid_);
}

}  // namespace mirrortap
