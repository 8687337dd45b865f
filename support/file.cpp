#include "support/file.hpp"

#include <fcntl.h>
#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstdio>
#include <cstdlib>
#include <cstring>


namespace mirrortap {

namespace {

const char* kind_of(mode_t mode) {
    if (S_ISDIR(mode)) return "a directory";
    if (S_ISFIFO(mode)) return "a FIFO";
    if (S_ISSOCK(mode)) return "a socket";
    if (S_ISCHR(mode)) return "a character device";
    if (S_ISBLK(mode)) return "a block device";
    return "not a regular file";
}

std::string not_regular(std::string_view what, mode_t mode) {
    return "cannot read " + std::string(what) + ": it is " + kind_of(mode) + ", not a regular file";
}

std::string size_text(size_t bytes) {
    if (bytes % (1 << 20) == 0) return std::to_string(bytes >> 20) + " MiB";
    if (bytes % 1024 == 0) return std::to_string(bytes >> 10) + " KiB";
    return std::to_string(bytes) + " bytes";
}

// Closes the descriptor on every way out.
struct Fd {
    int fd;
    ~Fd() {
        if (fd >= 0) ::close(fd);
    }
};

}  // namespace

Result<std::string> read_regular_file(const std::string& path, size_t max_bytes, std::string_view what) {
    // O_NONBLOCK: opening a FIFO for reading would otherwise wait for a writer.
    Fd file{::open(path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC)};
    if (file.fd < 0) {
        const int err = errno;
        struct stat st{};
        // A unix socket cannot be opened at all (ENXIO); say what it is.
        if (::stat(path.c_str(), &st) == 0 && !S_ISREG(st.st_mode)) return fail(not_regular(what, st.st_mode));
        return fail("cannot read " + std::string(what) + ": " + std::strerror(err));
    }
    struct stat st{};
    if (::fstat(file.fd, &st) != 0) {
        return fail("cannot read " + std::string(what) + ": " + std::strerror(errno));
    }
    if (!S_ISREG(st.st_mode)) {
        return fail(not_regular(what, st.st_mode));
    }
    const std::string too_big = std::string(what) + " is larger than " + size_text(max_bytes) + ", the most we read";
    if (uint64_t(st.st_size) > max_bytes) {
        return fail(too_big);
    }
    // Read up to one byte past the cap: the file may have grown since fstat.
    std::string content(max_bytes + 1, '\0');
    size_t got = 0;
    while (got < content.size()) {
        const ssize_t n = ::read(file.fd, content.data() + got, content.size() - got);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) {
            return fail("cannot read " + std::string(what) + ": " + std::strerror(errno));
        }
        if (n == 0) break;
        got += size_t(n);
    }
    if (got > max_bytes) {
        return fail(too_big);
    }
    content.resize(got);
    return content;
}

Result<std::string> read_config_file(const std::string& path) {
    auto text = read_regular_file(path, kMaxConfigFileBytes, "config file");
    if (text && text->empty()) return fail("config file is empty");
    return text;
}

Result<std::string> read_secret_file(const std::string& path) {
    auto text = read_regular_file(path, kMaxSecretFileBytes, "secret file");
    if (!text) return text;
    std::string_view secret = *text;
    while (!secret.empty() && std::strchr(" \t\r\n", secret.back())) secret.remove_suffix(1);
    while (!secret.empty() && std::strchr(" \t\r\n", secret.front())) secret.remove_prefix(1);
    if (secret.empty()) return fail("secret file is empty");
    if (secret.find_first_of("\r\n") != std::string_view::npos)
        return fail("secret file holds more than one line; a secret is one line");
    return std::string(secret);
}

namespace {

std::string owner_name(uid_t uid) {
    passwd pw{}, *found = nullptr;
    char buf[4096];
    if (getpwuid_r(uid, &pw, buf, sizeof buf, &found) == 0 && found) return pw.pw_name;
    return "uid " + std::to_string(uid);
}

std::string mode_text(mode_t mode) {
    char out[8];
    snprintf(out, sizeof out, "%04o", unsigned(mode & 07777));
    return out;
}

// One entry of the path: its owner among `owners`, no write for group or others.
Result<> check_trusted_entry(const std::string& path, const struct stat& st, std::span<const uid_t> owners,
                             std::string_view what) {
    const std::string kind = S_ISDIR(st.st_mode) ? "the directory of the " + std::string(what) : std::string(what);
    if (std::find(owners.begin(), owners.end(), st.st_uid) == owners.end()) {
        std::string allowed;
        for (const uid_t uid : owners)
            if (allowed.find(owner_name(uid)) == std::string::npos)
                allowed += (allowed.empty() ? "" : " or ") + owner_name(uid);
        return fail(kind + " " + path + " belongs to " + owner_name(st.st_uid) + ", who could change what root does: " +
                    "it must belong to " + allowed + " (like OpenSSH's StrictModes); chown root " + path);
    }
    if (st.st_mode & (S_IWGRP | S_IWOTH))
        return fail(kind + " " + path + " is writable by " + ((st.st_mode & S_IWOTH) ? "anyone" : "its group") +
                    " (mode " + mode_text(st.st_mode) + "), who could change what root does (like OpenSSH's " +
                    "StrictModes); chmod go-w " + path);
    return {};
}

}  // namespace

Result<> check_trusted_file(const std::string& path, std::span<const uid_t> owners, std::string_view what) {
    // Resolved, so that a link cannot lead from a trusted place to an untrusted one.
    char resolved[PATH_MAX];
    if (!realpath(path.c_str(), resolved)) return fail(std::string(what) + " " + path + ": " + std::strerror(errno));
    const std::string real = resolved;
    struct stat st{};
    if (stat(real.c_str(), &st) != 0) return fail(std::string(what) + " " + real + ": " + std::strerror(errno));
    if (auto trusted = check_trusted_entry(real, st, owners, what); !trusted) return trusted;
    const size_t slash = real.rfind('/');
    const std::string dir = slash == 0 ? "/" : real.substr(0, slash);
    if (stat(dir.c_str(), &st) != 0) return fail(std::string(what) + " " + dir + ": " + std::strerror(errno));
    return check_trusted_entry(dir, st, owners, what);
}

}  // namespace mirrortap
