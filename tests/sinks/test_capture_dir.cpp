#include <doctest/doctest.h>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "sinks/capture_dir.hpp"
#include "tests/support/temp_dir.hpp"

using namespace mirrortap;
using namespace mirrortap::test;
namespace fs = std::filesystem;

namespace {

constexpr uid_t kSomeoneElse = 65534;  // nobody

std::string read_all(const fs::path& p) {
    std::ifstream in(p);
    std::stringstream s;
    s << in.rdbuf();
    return s.str();
}

}  // namespace

TEST_CASE("capture dir: missing parents are made searchable, the last one with its own mode") {
    TempDir tmp;
    const fs::path dir = tmp.path / "a" / "b" / "captures";
    const auto fd = open_dir_path(dir.string(), true, 0700);
    REQUIRE_MESSAGE(fd, fd.error());
    ::close(*fd);
    struct stat st{};
    REQUIRE(stat((tmp.path / "a").c_str(), &st) == 0);
    const mode_t mask = umask(0);
    umask(mask);
    CHECK((st.st_mode & 0777) == (0755 & ~mask));
    REQUIRE(stat(dir.c_str(), &st) == 0);
    CHECK((st.st_mode & 0777) == (0700 & ~mask));
}

TEST_CASE("capture dir: a link someone else can have planted is refused, root's own is followed") {
    if (geteuid() != 0) return;  // lchown to another owner needs root
    TempDir tmp;
    fs::create_directory(tmp.path / "real");
    fs::create_symlink(tmp.path / "real", tmp.path / "roots-link");
    const auto followed = open_dir_path((tmp.path / "roots-link").string(), false, 0);
    CHECK_MESSAGE(followed, followed.error());
    if (followed) ::close(*followed);

    fs::create_symlink(tmp.path / "real", tmp.path / "planted");
    REQUIRE(lchown((tmp.path / "planted").c_str(), kSomeoneElse, kSomeoneElse) == 0);
    const auto planted = open_dir_path((tmp.path / "planted" / "deeper").string(), true, 0750);
    CHECK_FALSE(planted);
    CHECK(errno == ELOOP);
    CHECK(planted.error().find("symbolic link") != std::string::npos);
    CHECK_FALSE(fs::exists(tmp.path / "real" / "deeper"));  // nothing made through it

    // A link of root's in a directory someone else may write is theirs to swap.
    fs::create_directory(tmp.path / "open");
    REQUIRE(chown((tmp.path / "open").c_str(), kSomeoneElse, kSomeoneElse) == 0);
    fs::create_symlink(tmp.path / "real", tmp.path / "open" / "link");
    CHECK_FALSE(open_dir_path((tmp.path / "open" / "link").string(), false, 0));
}

TEST_CASE("capture dir: session directories are never reached through a link") {
    TempDir tmp;
    fs::create_directory(tmp.path / "outside");
    fs::create_symlink(tmp.path / "outside", tmp.path / "vni-7");
    const int capture = ::open(tmp.path.c_str(), O_RDONLY | O_DIRECTORY);
    REQUIRE(capture >= 0);
    CHECK(open_session_dir(capture, "vni-7", 0750, -1) == -1);
    CHECK((errno == ELOOP || errno == ENOTDIR));
    const int made = open_session_dir(capture, "vni-8", 0750, -1);
    CHECK(made >= 0);
    CHECK(fs::is_directory(fs::symlink_status(tmp.path / "vni-8")));
    ::close(made);
    ::close(capture);
}

TEST_CASE("capture dir: the write check follows and truncates nothing, and leaves nothing behind") {
    TempDir tmp;
    const fs::path bait = tmp.path / "bait";
    std::ofstream(bait) << "keep me\n";
    fs::create_directory(tmp.path / "captures");
    fs::create_symlink(bait, tmp.path / "captures" / ".mirrortap-write-test");
    PcapConfig pcap;
    pcap.dir = (tmp.path / "captures").string();
    CHECK(check_capture_dir_writable(pcap));
    CHECK(read_all(bait) == "keep me\n");
    size_t entries = 0;
    for ([[maybe_unused]] auto& e : fs::directory_iterator(tmp.path / "captures")) ++entries;
    CHECK(entries == 1);  // only the planted link
}
