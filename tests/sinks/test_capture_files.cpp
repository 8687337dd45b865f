// The capture directory as the uploader's queue: crash leftovers finished,
// files not yet uploaded found, uploaded ones removed or marked. Real files
// in a scratch directory, read back with libpcap.
#include <doctest/doctest.h>

#include <fcntl.h>
#include <pcap/pcap.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "sinks/capture_files.hpp"
#include "sinks/pcap_format.hpp"
#include "tests/support/temp_dir.hpp"

using namespace mirrortap;
using namespace mirrortap::test;
namespace fs = std::filesystem;

namespace {

constexpr uint64_t kCaptureT0 = 1'700'000'000'000'000'000ull;

// A pcap as the writer makes it: the header, then `records` records of 100 bytes 1 ms apart from `t0`.
std::string pcap_bytes(size_t records, uint64_t t0 = kCaptureT0) {
    std::string out;
    PcapFileHeader header;
    out.append(reinterpret_cast<const char*>(&header), sizeof header);
    for (size_t i = 0; i < records; ++i) {
        const PcapRecordHeader h = make_record_header(t0 + i * 1'000'000, 100, 100);
        out.append(reinterpret_cast<const char*>(&h), sizeof h);
        out.append(100, char('a' + i % 26));
    }
    return out;
}

void write_file(const fs::path& p, const std::string& bytes) {
    fs::create_directories(p.parent_path());
    std::ofstream(p, std::ios::binary) << bytes;
}

size_t libpcap_records(const fs::path& p) {
    char err[PCAP_ERRBUF_SIZE];
    pcap_t* pc = pcap_open_offline_with_tstamp_precision(p.c_str(), PCAP_TSTAMP_PRECISION_NANO, err);
    REQUIRE_MESSAGE(pc, err);
    pcap_pkthdr* h;
    const u_char* d;
    size_t n = 0;
    int rc;
    while ((rc = pcap_next_ex(pc, &h, &d)) == 1) ++n;
    CHECK(rc == PCAP_ERROR_BREAK);  // the end of the file, nothing cut short
    pcap_close(pc);
    return n;
}

}  // namespace

TEST_CASE("capture files: a .pcap.part left by a crash is cut back to its last whole record and finished") {
    TempDir tmp;
    const fs::path web = tmp.path / "web";
    write_file(web / "web-20231114T221320Z-000001.pcap.part", pcap_bytes(5) + std::string(30, 'x'));
    fs::create_symlink("web-20231114T221320Z-000001.pcap.part", web / "current");
    const auto lines = recover_part_files(tmp.path.string());
    REQUIRE(lines.size() == 1);
    CHECK(lines[0].find("5 records, 30 bytes of a partial record cut") != std::string::npos);
    const fs::path done = web / "web-20231114T221320Z-000001.pcap";
    REQUIRE(fs::exists(done));
    CHECK_FALSE(fs::exists(web / "web-20231114T221320Z-000001.pcap.part"));
    CHECK_FALSE(fs::exists(fs::symlink_status(web / "current")));  // never names a file that is gone
    CHECK(fs::file_size(done) == pcap_bytes(5).size());
    CHECK(libpcap_records(done) == 5);
}

TEST_CASE("capture files: a .part without a whole record is removed, a foreign one left alone") {
    TempDir tmp;
    write_file(tmp.path / "a" / "a-20231114T221320Z-000001.pcap.part", pcap_bytes(0) + std::string(10, 'x'));
    write_file(tmp.path / "a" / "a-20231114T221320Z-000002.pcap.part", "not a pcap at all, nothing to cut");
    const auto lines = recover_part_files(tmp.path.string());
    CHECK(lines.size() == 2);
    CHECK_FALSE(fs::exists(tmp.path / "a" / "a-20231114T221320Z-000001.pcap.part"));
    CHECK(fs::exists(tmp.path / "a" / "a-20231114T221320Z-000002.pcap.part"));
}

TEST_CASE("capture files: pending captures are those not marked uploaded, oldest first, with their index") {
    TempDir tmp;
    write_file(tmp.path / "web" / "web-20231114T221330Z-000002.pcap", pcap_bytes(3, kCaptureT0 + 10'000'000'000));
    write_file(tmp.path / "web" / "web-20231114T221330Z-000002.pcap.flows.json.gz", "index");
    write_file(tmp.path / "db" / "db-20231114T221320Z-000001.pcap", pcap_bytes(4));
    write_file(tmp.path / "db" / "db-20231114T221320Z-000001.pcap.part", pcap_bytes(1));  // being written
    auto found = pending_captures(tmp.path.string());
    REQUIRE(found.size() == 2);
    CHECK(found[0].session == "db");
    CHECK(found[0].packets == 4);
    CHECK(found[0].first_ns == kCaptureT0);
    CHECK(found[0].last_ns == kCaptureT0 + 3'000'000);
    CHECK(found[0].index_name.empty());
    CHECK(found[0].directory == (tmp.path / "db").string());
    CHECK(found[1].file_name == "web-20231114T221330Z-000002.pcap");
    CHECK(found[1].index_name == "web-20231114T221330Z-000002.pcap.flows.json.gz");
    CHECK(found[1].bytes == pcap_bytes(3).size());

    // Kept and marked: no longer pending; removed: gone with its index.
    CHECK(settle_uploaded_capture(found[0], false));
    char value[8] = {};
    CHECK(getxattr((tmp.path / "db" / found[0].file_name).c_str(), kUploadedAttribute, value, sizeof value) == 2);
    CHECK(settle_uploaded_capture(found[1], true));
    CHECK_FALSE(fs::exists(tmp.path / "web" / found[1].file_name));
    CHECK_FALSE(fs::exists(tmp.path / "web" / found[1].index_name));
    CHECK(pending_captures(tmp.path.string()).empty());
}

TEST_CASE("capture files: links are never followed, neither to a session directory nor to a file") {
    TempDir tmp, elsewhere;
    write_file(elsewhere.path / "x" / "x-20231114T221320Z-000001.pcap", pcap_bytes(2));
    write_file(elsewhere.path / "x" / "x-20231114T221320Z-000002.pcap.part", pcap_bytes(2) + "cut");
    fs::create_directories(tmp.path / "web");
    fs::create_directory_symlink(elsewhere.path / "x", tmp.path / "linked");
    fs::create_symlink(elsewhere.path / "x" / "x-20231114T221320Z-000001.pcap",
                       tmp.path / "web" / "web-20231114T221320Z-000001.pcap");
    CHECK(pending_captures(tmp.path.string()).empty());
    CHECK(recover_part_files(tmp.path.string()).empty());
    CHECK(fs::exists(elsewhere.path / "x" / "x-20231114T221320Z-000002.pcap.part"));
    FinishedCapture c;
    c.directory = (tmp.path / "web").string();
    c.file_name = "web-20231114T221320Z-000001.pcap";
    const auto opened = open_capture_file(c, c.file_name);
    REQUIRE_FALSE(opened);
    CHECK(opened.error().find(c.file_name) != std::string::npos);
}

TEST_CASE("capture files: the extent of a file stops at the first record that is cut or impossible") {
    TempDir tmp;
    std::string bytes = pcap_bytes(3);
    PcapRecordHeader huge = make_record_header(kCaptureT0, 1u << 30, 1u << 30);  // no capture of ours has one
    bytes.append(reinterpret_cast<const char*>(&huge), sizeof huge);
    write_file(tmp.path / "f.pcap", bytes);
    const int fd = ::open((tmp.path / "f.pcap").c_str(), O_RDONLY);
    REQUIRE(fd >= 0);
    const PcapExtent e = read_pcap_extent(fd, bytes.size());
    ::close(fd);
    CHECK(e.valid);
    CHECK(e.packets == 3);
    CHECK(e.whole_bytes == pcap_bytes(3).size());
}

TEST_CASE("capture files: removing the file `current` names moves it to the newest left, then removes it") {
    TempDir tmp;
    const fs::path dir = tmp.path / "web";
    const std::string older = "web-20260101T000000Z-000001.pcap", newer = "web-20260101T000100Z-000002.pcap",
                      newest = "web-20260101T000200Z-000003.pcap";
    for (const auto& name : {older, newer, newest}) write_file(dir / name, pcap_bytes(1));
    write_file(dir / (newest + std::string(flow_index::kSuffix)), "{}");
    fs::create_directory_symlink("/", dir / "zz-a-link.pcap");  // a link is never a candidate, newest name or not
    const int dir_fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    REQUIRE(dir_fd >= 0);
    REQUIRE(point_current_link(dir_fd, newest.c_str()));
    CHECK(fs::read_symlink(dir / "current") == newest);

    // Another file goes: `current` stays where it is.
    CHECK(remove_session_capture(dir_fd, older) == 0);
    CHECK(fs::read_symlink(dir / "current") == newest);
    // Its own file goes (with its index): `current` moves to the newest one left.
    CHECK(remove_session_capture(dir_fd, newest) == 0);
    CHECK_FALSE(fs::exists(dir / (newest + std::string(flow_index::kSuffix))));
    CHECK(fs::read_symlink(dir / "current") == newer);
    // A file being written is a capture too, and newer than any finished one.
    const std::string part = "web-20260101T000300Z-000004.pcap.part";
    write_file(dir / part, pcap_bytes(1));
    CHECK(remove_session_capture(dir_fd, newer) == 0);
    CHECK(fs::read_symlink(dir / "current") == part);
    // The last one goes: so does `current`, never left naming nothing.
    CHECK(remove_session_capture(dir_fd, part) == 0);
    CHECK_FALSE(fs::exists(fs::symlink_status(dir / "current")));
    CHECK(remove_session_capture(dir_fd, part) == ENOENT);
    CHECK_FALSE(fs::exists(fs::symlink_status(dir / "current.new")));
    ::close(dir_fd);
}
