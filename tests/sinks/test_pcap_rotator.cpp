#include <doctest/doctest.h>

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>

#include "sinks/pcap_rotator.hpp"
#include "tests/support/frames.hpp"
#include "tests/support/pcap_read.hpp"
#include "tests/support/temp_dir.hpp"

using namespace mirrortap;
using namespace mirrortap::test;
namespace fs = std::filesystem;

namespace {

std::vector<fs::path> files_in(const fs::path& dir, const std::string& ext) {
    std::vector<fs::path> out;
    if (!fs::exists(dir)) return out;
    for (auto& e : fs::directory_iterator(dir))
        if (e.path().extension() == ext) out.push_back(e.path());
    std::sort(out.begin(), out.end());
    return out;
}

// What every file the rotator finishes must be for libpcap: classic pcap
// 2.4 in host byte order, Ethernet, nanosecond timestamps, read to a clean end.
void check_readable(const PcapRead& r, int snaplen = 65535) {
    INFO(r.error);
    REQUIRE(r.opened);
    CHECK(r.major == 2);
    CHECK(r.minor == 4);
    CHECK_FALSE(r.swapped);
    CHECK(r.linktype == DLT_EN10MB);
    CHECK(r.snaplen == snaplen);
    CHECK(r.whole);
}

struct Fixture {
    TempDir tmp;
    Session session;
    const std::string name = "s7";
    Buf frame = udp4_frame({10, 0, 0, 1}, {10, 0, 0, 2}, 1000, 2000, 200);
    PcapRotatorOptions options() {
        PcapRotatorOptions o;
        o.pcap.dir = tmp.path.string();
        o.max_sessions = 4;
        return o;
    }
    Fixture() {
        session.id = 0;
        session.vni = 7;
        session.set_name(std::make_shared<const std::string>(name));
    }
    Packet packet(uint64_t ts_ns) { return Packet{&session, ts_ns, view(frame), uint32_t(frame.size()), {}}; }
    fs::path dir() { return tmp.path / "s7"; }
};

constexpr uint64_t kT0 = 1'700'000'000'000'000'000ull;

}  // namespace

TEST_CASE("pcap: records are written with nanosecond timestamps and renamed on close") {
    Fixture fx;
    PcapRotator sink(fx.options());
    std::vector<Packet> batch = {fx.packet(kT0 + 1), fx.packet(kT0 + 999'999'999)};
    sink.write(batch);
    CHECK(files_in(fx.dir(), ".part").size() == 1);
    CHECK(files_in(fx.dir(), ".pcap").empty());
    CHECK(fs::is_symlink(fx.dir() / "current"));
    sink.close();
    CHECK(files_in(fx.dir(), ".part").empty());
    CHECK_FALSE(fs::exists(fs::symlink_status(fx.dir() / "current")));
    auto files = files_in(fx.dir(), ".pcap");
    REQUIRE(files.size() == 1);
    CHECK(files[0].filename().string().rfind("s7-20231114T221320Z-000001", 0) == 0);
    const PcapRead r = read_pcap(files[0]);
    check_readable(r);
    REQUIRE(r.records.size() == 2);
    // Odd nanoseconds: a microsecond file could not carry them.
    CHECK(r.records[0].ts_ns == kT0 + 1);
    CHECK(r.records[1].ts_ns == kT0 + 999'999'999);
    for (const PcapRecord& rec : r.records) {
        CHECK(rec.caplen == fx.frame.size());
        CHECK(rec.len == fx.frame.size());
        CHECK(rec.data == fx.frame);
    }
    CHECK(fx.session.sinks[0].written.get() == 2);
    CHECK(fx.session.sinks[0].buffered.get() == 0);
}

TEST_CASE("pcap: records wait in the buffer until the flush interval") {
    Fixture fx;
    auto o = fx.options();
    o.pcap.flush_interval_ms = 500;
    PcapRotator sink(o);
    std::vector<Packet> batch = {fx.packet(kT0)};
    sink.write(batch);
    auto part = files_in(fx.dir(), ".part").at(0);
    CHECK(fs::file_size(part) == 0);
    CHECK(fx.session.sinks[0].buffered.get() == 1);
    sink.tick(kT0 + 100'000'000);
    CHECK(fs::file_size(part) == 0);
    sink.tick(kT0 + 600'000'000);
    CHECK(fs::file_size(part) == kPcapFileHeaderBytes + kPcapRecordHeaderBytes + fx.frame.size());
    // What someone tailing `current` reads at this moment: a whole file so far.
    const PcapRead r = read_pcap(part);
    check_readable(r);
    REQUIRE(r.records.size() == 1);
    CHECK(r.records[0].ts_ns == kT0);
    CHECK(r.records[0].data == fx.frame);
    CHECK(fx.session.sinks[0].written.get() == 1);
    CHECK(fx.session.sinks[0].buffered.get() == 0);
}

TEST_CASE("pcap: size rotation makes many valid files holding every record once") {
    Fixture fx;
    auto o = fx.options();
    o.pcap.rotate_size_bytes = 4096;
    PcapRotator sink(o);
    for (uint64_t i = 0; i < 100; ++i) {
        std::vector<Packet> batch = {fx.packet(kT0 + i)};
        sink.write(batch);
    }
    sink.close();
    auto files = files_in(fx.dir(), ".pcap");
    CHECK(files.size() > 5);
    size_t total = 0;
    uint64_t expect_ns = kT0;
    for (auto& f : files) {
        CHECK(fs::file_size(f) <= 4096);
        const PcapRead r = read_pcap(f);
        check_readable(r);
        CHECK_FALSE(r.records.empty());
        for (const PcapRecord& rec : r.records) {
            CHECK(rec.ts_ns == expect_ns++);
            CHECK(rec.data == fx.frame);
        }
        total += r.records.size();
    }
    CHECK(total == 100);
    CHECK(sink.stats().files_rotated == files.size());
}

TEST_CASE("pcap: time rotation closes a file once it is old enough") {
    Fixture fx;
    auto o = fx.options();
    o.pcap.rotate_seconds = 10;
    PcapRotator sink(o);
    std::vector<Packet> first = {fx.packet(kT0)};
    sink.write(first);
    sink.tick(kT0 + 9'000'000'000ull);
    CHECK(files_in(fx.dir(), ".pcap").empty());
    sink.tick(kT0 + 10'000'000'000ull);
    CHECK(files_in(fx.dir(), ".pcap").size() == 1);
    CHECK(files_in(fx.dir(), ".part").empty());
    std::vector<Packet> later = {fx.packet(kT0 + 11'000'000'000ull)};
    sink.write(later);
    CHECK(files_in(fx.dir(), ".part").size() == 1);
}

TEST_CASE("pcap: rotate() (SIGHUP) finishes every open file") {
    Fixture fx;
    PcapRotator sink(fx.options());
    std::vector<Packet> batch = {fx.packet(kT0)};
    sink.write(batch);
    sink.rotate();
    CHECK(files_in(fx.dir(), ".pcap").size() == 1);
    sink.write(batch);
    sink.rotate();
    auto files = files_in(fx.dir(), ".pcap");
    CHECK(files.size() == 2);
    for (auto& f : files) {
        const PcapRead r = read_pcap(f);
        check_readable(r);
        CHECK(r.records.size() == 1);
    }
}

TEST_CASE("pcap: snaplen cuts records and keeps the original length") {
    Fixture fx;
    auto o = fx.options();
    o.snaplen = 64;
    PcapRotator sink(o);
    std::vector<Packet> batch = {fx.packet(kT0)};
    batch[0].original_length = 1514;
    sink.write(batch);
    sink.close();
    const PcapRead r = read_pcap(files_in(fx.dir(), ".pcap").at(0));
    check_readable(r, 64);
    REQUIRE(r.records.size() == 1);
    CHECK(r.records[0].caplen == 64);
    CHECK(r.records[0].len == 1514);
    CHECK(r.records[0].data == Buf(fx.frame.begin(), fx.frame.begin() + 64));
}

TEST_CASE("pcap: a frame cut short before us (AWS packet length) keeps its bytes and its original length") {
    Fixture fx;
    PcapRotator sink(fx.options());
    const Buf cut(fx.frame.begin(), fx.frame.begin() + 128);
    std::vector<Packet> batch = {fx.packet(kT0), fx.packet(kT0 + 1)};
    batch[0].frame = view(cut);
    batch[0].original_length = uint32_t(fx.frame.size());
    sink.write(batch);
    sink.close();
    const PcapRead r = read_pcap(files_in(fx.dir(), ".pcap").at(0));
    check_readable(r);
    REQUIRE(r.records.size() == 2);
    CHECK(r.records[0].caplen == 128);
    CHECK(r.records[0].len == fx.frame.size());
    CHECK(r.records[0].data == cut);
    // The record after a short one starts where it should.
    CHECK(r.records[1].ts_ns == kT0 + 1);
    CHECK(r.records[1].caplen == fx.frame.size());
    CHECK(r.records[1].data == fx.frame);
}

TEST_CASE("retention: oldest files go first, by count and by bytes") {
    std::deque<FinishedFile> files = {{"a", 100}, {"b", 100}, {"c", 100}, {"d", 100}};
    CHECK(RetentionPolicy{0, 0}.excess(files) == 0);
    CHECK(RetentionPolicy{3, 0}.excess(files) == 1);
    CHECK(RetentionPolicy{0, 250}.excess(files) == 2);
    CHECK(RetentionPolicy{1, 350}.excess(files) == 3);
    CHECK(RetentionPolicy{10, 1000}.excess(files) == 0);
}

TEST_CASE("retention: applied on rotation, never to the file being written") {
    Fixture fx;
    auto o = fx.options();
    o.pcap.rotate_size_bytes = 4096;
    o.pcap.retain_files = 2;
    PcapRotator sink(o);
    for (uint64_t i = 0; i < 200; ++i) {
        std::vector<Packet> batch = {fx.packet(kT0 + i)};
        sink.write(batch);
        CHECK(files_in(fx.dir(), ".pcap").size() <= 2);
    }
    CHECK(files_in(fx.dir(), ".part").size() == 1);
    sink.close();
    auto files = files_in(fx.dir(), ".pcap");
    CHECK(files.size() == 2);
    // The newest records survive.
    for (auto& f : files) check_readable(read_pcap(f));
    const PcapRead last = read_pcap(files.back());
    REQUIRE_FALSE(last.records.empty());
    CHECK(last.records.back().ts_ns == kT0 + 199);
}

TEST_CASE("rotation policy: a record larger than the limit still gets a file") {
    RotationPolicy p{1000, 0};
    CHECK_FALSE(p.should_rotate(24, 5000, 0));
    CHECK(p.should_rotate(524, 500, 1));
    CHECK_FALSE(p.should_rotate(500, 500, 1));
    CHECK_FALSE(p.expired(0, ~0ull));
}

TEST_CASE("pcap: an unwritable directory drops and counts, and says why") {
    Fixture fx;
    auto o = fx.options();
    // A path under a regular file can never be created, even by root.
    std::ofstream(fx.tmp.path / "plainfile") << "x";
    o.pcap.dir = (fx.tmp.path / "plainfile").string();
    PcapRotator sink(o);
    std::vector<Packet> batch = {fx.packet(kT0), fx.packet(kT0 + 1)};
    sink.write(batch);
    CHECK(fx.session.sinks[0].written.get() == 0);
    CHECK(fx.session.sinks[0].dropped[size_t(SinkDropReason::not_open)].get() == 2);
    std::string why;
    CHECK_FALSE(sink.healthy(why));
    CHECK(why.find("plainfile") != std::string::npos);
}
