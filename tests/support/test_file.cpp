#include <doctest/doctest.h>

#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <fstream>
#include <vector>

#include "support/file.hpp"
#include "tests/support/temp_dir.hpp"

using namespace mirrortap;

namespace {

std::string write(const test::TempDir& dir, const std::string& name, const std::string& content) {
    const std::string path = (dir.path / name).string();
    std::ofstream(path, std::ios::binary) << content;
    return path;
}

std::string config_refusal(const std::string& path) {
    const auto read = read_config_file(path);
    REQUIRE_FALSE(read);
    CHECK_FALSE(read.error().empty());
    return read.error();
}

std::string secret_refusal(const std::string& path) {
    const auto read = read_secret_file(path);
    REQUIRE_FALSE(read);
    CHECK_FALSE(read.error().empty());
    return read.error();
}

// "" when check_trusted_file trusts the config file at `path`, or its refusal.
std::string distrust(const std::string& path, const std::vector<uid_t>& owners) {
    const auto trusted = check_trusted_file(path, owners, "config file");
    return trusted ? "" : trusted.error();
}

}  // namespace

TEST_CASE("file: a regular config file is read whole") {
    test::TempDir dir;
    const std::string path = write(dir, "c.yaml", "listen: 127.0.0.1:1\n");
    CHECK(read_config_file(path) == "listen: 127.0.0.1:1\n");
    const std::string cap = write(dir, "cap.yaml", std::string(kMaxConfigFileBytes, '#'));
    CHECK(read_config_file(cap)->size() == kMaxConfigFileBytes);
}

TEST_CASE("file: directories, FIFOs, sockets and devices are refused without blocking") {
    test::TempDir dir;
    CHECK(config_refusal(dir.path.string()) == "cannot read config file: it is a directory, not a regular file");

    const std::string fifo = (dir.path / "fifo").string();
    REQUIRE(mkfifo(fifo.c_str(), 0600) == 0);
    // No writer: a blocking open would wait here forever (ctest's timeout would end it).
    CHECK(config_refusal(fifo).find("it is a FIFO") != std::string::npos);

    const std::string sock = (dir.path / "sock").string();
    const int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::snprintf(addr.sun_path, sizeof addr.sun_path, "%s", sock.c_str());
    REQUIRE(bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
    CHECK(config_refusal(sock).find("it is a socket") != std::string::npos);
    close(fd);

    CHECK(config_refusal("/dev/zero").find("it is a character device") != std::string::npos);
    CHECK(config_refusal("/dev/null").find("it is a character device") != std::string::npos);
    CHECK(secret_refusal("/dev/zero").find("it is a character device") != std::string::npos);
}

TEST_CASE("file: missing, over-size and empty files are refused, each with its own message") {
    test::TempDir dir;
    CHECK(config_refusal((dir.path / "missing").string()) == "cannot read config file: No such file or directory");
    const std::string big = write(dir, "big.yaml", std::string(kMaxConfigFileBytes + 1, '#'));
    CHECK(config_refusal(big) == "config file is larger than 1 MiB, the most we read");
    CHECK(config_refusal(write(dir, "empty.yaml", "")) == "config file is empty");
    // A symlink to a regular file is that file.
    const std::string target = write(dir, "real.yaml", "a: 1\n");
    const std::string link = (dir.path / "link.yaml").string();
    REQUIRE(symlink(target.c_str(), link.c_str()) == 0);
    CHECK(read_config_file(link) == "a: 1\n");
}

TEST_CASE("file: a secret is one line of at most 4 KiB, trimmed") {
    test::TempDir dir;
    CHECK(read_secret_file(write(dir, "s1", "s3cret\n")) == "s3cret");
    CHECK(read_secret_file(write(dir, "s2", "  tok-123 \r\n")) == "tok-123");
    CHECK(read_secret_file(write(dir, "s3", "no newline")) == "no newline");
    CHECK(secret_refusal(write(dir, "e1", "")) == "secret file is empty");
    CHECK(secret_refusal(write(dir, "e2", " \n\n")) == "secret file is empty");
    CHECK(secret_refusal(write(dir, "two", "one\ntwo\n")).find("more than one line") != std::string::npos);
    CHECK(secret_refusal(write(dir, "big", std::string(kMaxSecretFileBytes + 1, 'x'))) ==
          "secret file is larger than 4 KiB, the most we read");
    CHECK(secret_refusal(dir.path.string()).find("directory") != std::string::npos);
}

TEST_CASE("file: a file root reads must be its own or the service user's, and closed to others") {
    test::TempDir tmp;
    const std::string path = (tmp.path / "config.yaml").string();
    std::ofstream(path) << "workers: 1\n";
    ::chmod(path.c_str(), 0644);
    ::chmod(tmp.path.c_str(), 0755);
    const uid_t me = geteuid();
    const std::vector<uid_t> mine = {me};
    CHECK(distrust(path, mine) == "");
    // Someone else's: refused, saying whose and the fix.
    const std::vector<uid_t> others = {me + 1};
    const std::string owned = distrust(path, others);
    CHECK(owned.find("config file " + path + " belongs to ") == 0);
    CHECK(owned.find("chown root " + path) != std::string::npos);
    // Writable by the group or by anyone: refused, with the mode and the fix.
    ::chmod(path.c_str(), 0664);
    CHECK(distrust(path, mine) ==
          "config file " + path + " is writable by its group (mode 0664), who could change what root does (like "
          "OpenSSH's StrictModes); chmod go-w " + path);
    ::chmod(path.c_str(), 0646);
    CHECK(distrust(path, mine).find("is writable by anyone (mode 0646)") != std::string::npos);
    ::chmod(path.c_str(), 0644);
    // The directory holding it too: whoever may write there may swap the file.
    ::chmod(tmp.path.c_str(), 0777);
    const std::string dir = distrust(path, mine);
    CHECK(dir.find("the directory of the config file " + tmp.path.string() + " is writable by anyone") == 0);
    ::chmod(tmp.path.c_str(), 0755);
    // Through a link: the file it leads to is what is judged.
    const std::string link = (tmp.path / "link.yaml").string();
    REQUIRE(::symlink(path.c_str(), link.c_str()) == 0);
    ::chmod(path.c_str(), 0666);
    CHECK(distrust(link, mine).find("config file " + path + " is writable") == 0);
    CHECK(distrust((tmp.path / "missing").string(), mine).find("No such file") !=
          std::string::npos);
}
