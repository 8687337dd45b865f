// The pcap sink with its writer thread: real files in a scratch directory,
// read back with libpcap (pcap_open_offline_with_tstamp_precision, pcap_next_ex).
#include <doctest/doctest.h>

#include <pcap/pcap.h>
#include <sched.h>
#include <sys/mount.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <set>

#include "sinks/pcap_format.hpp"
#include "sinks/pcap_rotator.hpp"
#include "sinks/pcap_writer.hpp"
#include "tests/support/frames.hpp"
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

struct Record {
    uint64_t ts_ns;
    uint32_t caplen;
    uint32_t len;
    Buf data;
};

// A pcap file as libpcap reads it: `whole` is false if it stopped on an error
// (a record cut short) rather than at the end of the file.
struct ReadBack {
    bool opened = false;
    int snaplen = 0;
    int linktype = 0;
    std::vector<Record> records;
    bool whole = false;
};

ReadBack read_pcap(const fs::path& p) {
    ReadBack r;
    char err[PCAP_ERRBUF_SIZE];
    pcap_t* pc = pcap_open_offline_with_tstamp_precision(p.c_str(), PCAP_TSTAMP_PRECISION_NANO, err);
    if (!pc) return r;
    r.opened = true;
    r.snaplen = pcap_snapshot(pc);
    r.linktype = pcap_datalink(pc);
    pcap_pkthdr* h;
    const u_char* d;
    int rc;
    while ((rc = pcap_next_ex(pc, &h, &d)) == 1) {
        const auto* b = reinterpret_cast<const std::byte*>(d);
        r.records.push_back({uint64_t(h->ts.tv_sec) * 1'000'000'000ull + uint64_t(h->ts.tv_usec), h->caplen, h->len,
                             Buf(b, b + h->caplen)});
    }
    r.whole = rc == PCAP_ERROR_BREAK;  // -2: the end of the file, nothing cut short
    pcap_close(pc);
    return r;
}

// Every record of every finished file of a session, in file-name order.
std::vector<Record> records_of(const fs::path& dir) {
    std::vector<Record> all;
    for (auto& f : files_in(dir, ".pcap")) {
        ReadBack r = read_pcap(f);
        CHECK(r.opened);
        CHECK(r.whole);
        all.insert(all.end(), r.records.begin(), r.records.end());
    }
    return all;
}

struct Fixture {
    TempDir tmp;
    std::vector<std::string> names{"s7", "s8", "s9"};
    std::array<Session, 3> sessions;
    Session& session = sessions[0];
    Buf frame = udp4_frame({10, 0, 0, 1}, {10, 0, 0, 2}, 1000, 2000, 200);
    PcapRotatorOptions options() {
        PcapRotatorOptions o;
        o.pcap.dir = tmp.path.string();
        o.max_sessions = 4;
        return o;
    }
    // Options on a started writer of their own; copies share it, as the
    // collector's sinks of every generation (reloads) share one writer.
    PcapRotatorOptions shared_writer_options() {
        PcapRotatorOptions o = options();
        o.writer = std::make_shared<PcapWriter>();
        o.writer->start();
        return o;
    }
    Fixture() {
        for (uint32_t i = 0; i < sessions.size(); ++i) {
            sessions[i].id = i;
            sessions[i].vni = 7 + i;
            sessions[i].set_name(std::make_shared<const std::string>(names[i]));
        }
    }
    Packet packet(uint64_t ts_ns, uint32_t s = 0) {
        return Packet{&sessions[s], ts_ns, view(frame), uint32_t(frame.size()), {}};
    }
    fs::path dir(uint32_t s = 0) { return tmp.path / names[s]; }
    SinkCounters& counters(uint32_t s = 0) { return sessions[s].sinks[0]; }
    uint64_t dropped(SinkDropReason r, uint32_t s = 0) { return counters(s).dropped[size_t(r)].get(); }
    uint64_t dropped_all(uint32_t s = 0) {
        uint64_t n = 0;
        for (auto& d : counters(s).dropped) n += d.get();
        return n;
    }
    // in = written + dropped + buffered, for one session.
    uint64_t accounted(uint32_t s = 0) {
        return counters(s).written.get() + dropped_all(s) + counters(s).buffered.get();
    }
};

constexpr uint64_t kT0 = 1'700'000'000'000'000'000ull;
constexpr uint64_t kSecond = 1'000'000'000ull;

}  // namespace

TEST_CASE("pcap: records are written with nanosecond timestamps and renamed on close") {
    Fixture fx;
    PcapRotator sink(fx.options());
    std::vector<Packet> batch = {fx.packet(kT0 + 1), fx.packet(kT0 + 999'999'999)};
    sink.write(batch);
    sink.sync();
    // Both records wait in the worker's block: no file before a flush or close.
    CHECK(fx.counters().buffered.get() == 2);
    sink.close();
    sink.drain();
    CHECK(files_in(fx.dir(), ".part").empty());
    CHECK_FALSE(fs::exists(fs::symlink_status(fx.dir() / "current")));
    auto files = files_in(fx.dir(), ".pcap");
    REQUIRE(files.size() == 1);
    CHECK(files[0].filename().string().rfind("s7-20231114T221320Z-000001", 0) == 0);
    ReadBack r = read_pcap(files[0]);
    CHECK(r.opened);
    CHECK(r.linktype == DLT_EN10MB);
    CHECK(r.snaplen == 65535);
    CHECK(r.whole);
    REQUIRE(r.records.size() == 2);
    CHECK(r.records[0].ts_ns == kT0 + 1);
    CHECK(r.records[1].ts_ns == kT0 + 999'999'999);
    CHECK(r.records[0].data == fx.frame);
    CHECK(fx.counters().written.get() == 2);
    CHECK(fx.counters().buffered.get() == 0);
    CHECK(sink.stats().bytes_written == sizeof(PcapFileHeader) + 2 * (sizeof(PcapRecordHeader) + fx.frame.size()));
}

TEST_CASE("pcap: a block goes to the file once it is older than the flush interval") {
    Fixture fx;
    auto o = fx.options();
    o.pcap.flush_interval_ms = 500;
    PcapRotator sink(o);
    std::vector<Packet> batch = {fx.packet(kT0)};
    sink.write(batch);
    sink.tick(kT0 + 100'000'000);
    sink.sync();
    CHECK(files_in(fx.dir(), ".part").empty());
    CHECK(fx.counters().buffered.get() == 1);
    sink.tick(kT0 + 600'000'000);
    sink.sync();
    auto part = files_in(fx.dir(), ".part").at(0);
    CHECK(fs::file_size(part) == sizeof(PcapFileHeader) + sizeof(PcapRecordHeader) + fx.frame.size());
    CHECK(fs::read_symlink(fx.dir() / "current") == part.filename());
    CHECK(fx.counters().written.get() == 1);
    CHECK(fx.counters().buffered.get() == 0);
    sink.drain();
}

TEST_CASE("pcap: records of interleaved sessions reach their files in order, block after block") {
    Fixture fx;
    auto o = fx.options();
    o.pcap.buffer_bytes = 65536 + 16;  // the smallest block: many of them per session
    PcapRotator sink(o);
    constexpr uint64_t kPerSession = 3000;  // ~700 KB each: a dozen blocks
    for (uint64_t i = 0; i < kPerSession; i += 20) {
        std::vector<Packet> batch;
        for (uint64_t j = i; j < i + 20; ++j)
            for (uint32_t s = 0; s < 3; ++s) batch.push_back(fx.packet(kT0 + j, s));
        sink.write(batch);
    }
    sink.drain();
    for (uint32_t s = 0; s < 3; ++s) {
        auto records = records_of(fx.dir(s));
        REQUIRE(records.size() == kPerSession);
        for (uint64_t i = 0; i < kPerSession; ++i) CHECK(records[i].ts_ns == kT0 + i);
        CHECK(fx.counters(s).written.get() == kPerSession);
        CHECK(fx.counters(s).buffered.get() == 0);
    }
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
    sink.drain();
    auto files = files_in(fx.dir(), ".pcap");
    CHECK(files.size() > 5);
    uint64_t expect = kT0;
    size_t total = 0;
    for (auto& f : files) {
        CHECK(fs::file_size(f) <= 4096);
        ReadBack r = read_pcap(f);
        CHECK(r.whole);
        for (auto& rec : r.records) CHECK(rec.ts_ns == expect++);
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
    sink.tick(kT0 + 9 * kSecond);  // the block is old: it goes to a file opened at kT0
    sink.sync();
    CHECK(files_in(fx.dir(), ".part").size() == 1);
    CHECK(files_in(fx.dir(), ".pcap").empty());
    sink.tick(kT0 + 10 * kSecond);
    sink.sync();
    CHECK(files_in(fx.dir(), ".pcap").size() == 1);
    CHECK(files_in(fx.dir(), ".part").empty());
    std::vector<Packet> later = {fx.packet(kT0 + 11 * kSecond)};
    sink.write(later);
    sink.tick(kT0 + 12 * kSecond);
    sink.sync();
    CHECK(files_in(fx.dir(), ".part").size() == 1);
    sink.drain();
}

TEST_CASE("pcap: a file finished by time with no new file after it leaves `current` naming the finished file") {
    Fixture fx;
    auto o = fx.options();
    o.pcap.rotate_seconds = 10;
    PcapRotator sink(o);
    std::vector<Packet> first = {fx.packet(kT0)};
    sink.write(first);
    sink.tick(kT0 + 9 * kSecond);
    sink.sync();
    const fs::path part = files_in(fx.dir(), ".part").at(0);
    REQUIRE(fs::read_symlink(fx.dir() / "current") == part.filename());
    sink.tick(kT0 + 10 * kSecond);  // finished by time; the session is idle, no new file
    sink.sync();
    const fs::path done = files_in(fx.dir(), ".pcap").at(0);
    REQUIRE(fs::is_symlink(fx.dir() / "current"));
    CHECK(fs::read_symlink(fx.dir() / "current") == done.filename());
    CHECK(fs::exists(fx.dir() / "current"));  // never dangling
    // The next file takes it over; closing takes it down, since it names ours.
    std::vector<Packet> later = {fx.packet(kT0 + 11 * kSecond)};
    sink.write(later);
    sink.tick(kT0 + 12 * kSecond);
    sink.sync();
    CHECK(fs::read_symlink(fx.dir() / "current") == files_in(fx.dir(), ".part").at(0).filename());
    sink.drain();
    CHECK_FALSE(fs::exists(fs::symlink_status(fx.dir() / "current")));
}

TEST_CASE("pcap: time rotation splits a block at the record that starts the next period") {
    Fixture fx;
    auto o = fx.options();
    o.pcap.rotate_seconds = 1;
    PcapRotator sink(o);
    std::vector<Packet> batch = {fx.packet(kT0), fx.packet(kT0 + kSecond / 2), fx.packet(kT0 + kSecond + 1),
                                 fx.packet(kT0 + kSecond + 2), fx.packet(kT0 + 5 * kSecond / 2)};
    sink.write(batch);
    sink.drain();
    auto files = files_in(fx.dir(), ".pcap");
    REQUIRE(files.size() == 3);
    CHECK(read_pcap(files[0]).records.size() == 2);
    CHECK(read_pcap(files[1]).records.size() == 2);
    CHECK(read_pcap(files[2]).records.size() == 1);
    CHECK(files[1].filename().string().rfind("s7-20231114T221321Z-", 0) == 0);
}

TEST_CASE("pcap: rotate() (SIGHUP) finishes every open file") {
    Fixture fx;
    PcapRotator sink(fx.options());
    std::vector<Packet> batch = {fx.packet(kT0)};
    sink.write(batch);
    sink.rotate();
    sink.sync();
    CHECK(files_in(fx.dir(), ".pcap").size() == 1);
    sink.write(batch);
    sink.rotate();
    sink.sync();
    CHECK(files_in(fx.dir(), ".pcap").size() == 2);
    CHECK(files_in(fx.dir(), ".part").empty());
    sink.drain();
}

TEST_CASE("pcap: snaplen cuts records and keeps the original length") {
    Fixture fx;
    auto o = fx.options();
    o.snaplen = 64;
    PcapRotator sink(o);
    std::vector<Packet> batch = {fx.packet(kT0)};
    batch[0].original_length = 1514;
    sink.write(batch);
    sink.drain();
    ReadBack r = read_pcap(files_in(fx.dir(), ".pcap").at(0));
    REQUIRE(r.records.size() == 1);
    CHECK(r.snaplen == 64);
    CHECK(r.records[0].caplen == 64);
    CHECK(r.records[0].len == 1514);
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
        if (i % 20 == 19) {
            sink.tick(kT0 + i + kSecond);  // every block out, as the flush interval would
            sink.sync();
            CHECK(files_in(fx.dir(), ".pcap").size() <= 2);
            CHECK(files_in(fx.dir(), ".part").size() == 1);
        }
    }
    sink.drain();
    auto files = files_in(fx.dir(), ".pcap");
    CHECK(files.size() == 2);
    // The newest records survive.
    ReadBack last = read_pcap(files.back());
    CHECK(last.records.back().ts_ns == kT0 + 199);
}

TEST_CASE("rotation policy: a record larger than the limit still gets a file") {
    RotationPolicy p{1000, 0};
    CHECK_FALSE(p.should_rotate(24, 5000, 0));
    CHECK(p.should_rotate(524, 500, 1));
    CHECK_FALSE(p.should_rotate(500, 500, 1));
    CHECK_FALSE(p.expired(0, ~0ull));
    CHECK(RotationPolicy{0, 2}.expired(kT0, kT0 + 2 * kSecond));
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
    sink.tick(kT0 + kSecond);
    sink.sync();
    CHECK(fx.counters().written.get() == 0);
    CHECK(fx.dropped(SinkDropReason::not_open) == 2);
    CHECK(fx.counters().buffered.get() == 0);
    const auto health = sink.health();
    CHECK_FALSE(health);
    CHECK(health.error().find("plainfile") != std::string::npos);
    sink.drain();
}

TEST_CASE("pcap: a stalled writer costs counted queue_full drops, never a wait, and loses nothing silently") {
    Fixture fx;
    auto writer = std::make_shared<PcapWriter>();  // not started: a disk that does not move
    auto o = fx.options();
    o.pcap.buffer_bytes = 65536 + 16;
    o.block_count = 4;
    o.writer = writer;
    PcapRotator sink(o);
    REQUIRE(sink.block_count() == 4);
    // 2000 records of 242 bytes: 270 fit a block, so four blocks take 1080.
    constexpr uint64_t kSent = 2000;
    for (uint64_t i = 0; i < kSent; i += 50) {
        std::vector<Packet> batch;
        for (uint64_t j = i; j < i + 50; ++j) batch.push_back(fx.packet(kT0 + j));
        sink.write(batch);
        CHECK(fx.accounted() == i + 50);
    }
    const uint64_t queue_full = fx.dropped(SinkDropReason::queue_full);
    CHECK(queue_full > 0);
    CHECK(fx.counters().written.get() == 0);
    CHECK(fx.counters().buffered.get() == kSent - queue_full);
    // The disk moves again: everything accepted reaches the file.
    writer->start();
    sink.drain();
    CHECK(fx.counters().written.get() == kSent - queue_full);
    CHECK(fx.counters().buffered.get() == 0);
    CHECK(fx.dropped_all() == queue_full);
    auto records = records_of(fx.dir());
    REQUIRE(records.size() == kSent - queue_full);
    // What was kept is the stream's beginning, in order: drops came after the pool ran out.
    for (size_t i = 0; i < records.size(); ++i) CHECK(records[i].ts_ns == kT0 + i);
}

TEST_CASE("pcap: an ended session is let go of only once the writer has written its records and finished its file") {
    Fixture fx;
    auto writer = std::make_shared<PcapWriter>();  // not started: the session's block waits
    auto o = fx.options();
    o.pcap.rotate_seconds = 0;
    o.writer = writer;
    PcapRotator sink(o);
    std::vector<Packet> batch = {fx.packet(kT0), fx.packet(kT0 + 1), fx.packet(kT0 + 2, 1)};
    sink.write(batch);
    const uint64_t ticket = sink.expire(fx.sessions[0]);
    CHECK(ticket != 0);
    CHECK_FALSE(sink.released(ticket));  // its block is still on its way: the slot must not be reused
    CHECK(fx.counters().buffered.get() == 2);
    writer->start();
    sink.sync();  // a whole writer pass: the block, then the end mark
    REQUIRE(sink.released(ticket));
    CHECK(fx.counters().written.get() == 2);
    CHECK(fx.counters().buffered.get() == 0);
    // Finished while the sink runs on: renamed, `current` gone, nothing left open.
    CHECK(records_of(fx.dir()).size() == 2);
    CHECK(files_in(fx.dir(), ".part").empty());
    CHECK_FALSE(fs::exists(fs::symlink_status(fx.dir() / "current")));
    // The slot serves another session with the same id: new name, new files, counters from zero.
    Session& reused = fx.sessions[0];
    for (auto& c : reused.sinks) c.written.set(0);
    reused.set_name(std::make_shared<const std::string>("s7-again"));
    std::vector<Packet> later = {fx.packet(kT0 + 5)};
    sink.write(later);
    sink.drain();
    CHECK(records_of(fx.tmp.path / "s7-again").size() == 1);
    CHECK(records_of(fx.dir()).size() == 2);  // the ended session's file untouched
    CHECK(fx.counters().written.get() == 1);
    CHECK(records_of(fx.dir(1)).size() == 1);  // the other session never noticed
}

TEST_CASE("pcap: blocks come back from the writer, so a pool far smaller than the stream carries it all") {
    Fixture fx;
    auto o = fx.options();
    o.pcap.buffer_bytes = 65536 + 16;
    o.block_count = 4;
    o.pcap.flush_interval_ms = 0;  // the writer writes what it takes in at once
    PcapRotator sink(o);
    constexpr uint64_t kSent = 20000;  // ~18 pools' worth
    for (uint64_t i = 0; i < kSent; i += 50) {
        std::vector<Packet> batch;
        for (uint64_t j = i; j < i + 50; ++j) batch.push_back(fx.packet(kT0 + j));
        sink.write(batch);
        // Let the writer keep up, as a healthy disk does: after a sync every
        // block handed over is back, and 500 records take under two.
        if (i % 500 == 450) sink.sync();
    }
    sink.drain();
    CHECK(fx.dropped_all() == 0);
    CHECK(fx.counters().written.get() == kSent);
    auto records = records_of(fx.dir());
    REQUIRE(records.size() == kSent);
    CHECK(records.back().ts_ns == kT0 + kSent - 1);
}

TEST_CASE("pcap: close() hands everything over and drain() waits until it is written") {
    Fixture fx;
    PcapRotator sink(fx.options());
    for (uint32_t s = 0; s < 3; ++s) {
        std::vector<Packet> batch(10 + s, fx.packet(kT0, s));
        sink.write(batch);
        sink.tick(kT0 + kSecond);  // opens the files, so `current` exists
    }
    sink.sync();
    for (uint32_t s = 0; s < 3; ++s) CHECK(fs::is_symlink(fx.dir(s) / "current"));
    std::vector<Packet> more = {fx.packet(kT0 + 1), fx.packet(kT0 + 1, 1), fx.packet(kT0 + 1, 2)};
    sink.write(more);
    sink.close();
    sink.drain();
    for (uint32_t s = 0; s < 3; ++s) {
        CHECK(records_of(fx.dir(s)).size() == 11 + s);
        CHECK(fx.counters(s).written.get() == 11 + s);
        CHECK(fx.counters(s).buffered.get() == 0);
        CHECK(files_in(fx.dir(s), ".part").empty());
        CHECK_FALSE(fs::exists(fs::symlink_status(fx.dir(s) / "current")));
    }
    // Nothing is accepted after close: counted, not lost.
    sink.write(more);
    CHECK(fx.dropped(SinkDropReason::not_open) == 1);
}

TEST_CASE("pcap: a sink replaced by a reload finishes after it, and the session's files keep record order") {
    Fixture fx;
    const auto options = fx.shared_writer_options();  // one writer for both
    auto first = std::make_unique<PcapRotator>(options);
    std::vector<Packet> batch;
    for (uint64_t i = 0; i < 100; ++i) batch.push_back(fx.packet(kT0 + i));
    first->write(batch);
    first->tick(kT0 + kSecond);
    first->sync();
    CHECK(fs::is_symlink(fx.dir() / "current"));
    batch.clear();
    for (uint64_t i = 100; i < 200; ++i) batch.push_back(fx.packet(kT0 + i));
    first->write(batch);  // waits in a block when the reload comes
    // A reload: the new sink is built first, then the worker closes the old
    // one without waiting, destroys it, and goes on with the new one.
    auto second = std::make_unique<PcapRotator>(options);
    first->close();
    first.reset();
    batch.clear();
    for (uint64_t i = 200; i < 300; ++i) batch.push_back(fx.packet(kT0 + kSecond + i));
    second->write(batch);
    second->tick(kT0 + 3 * kSecond);
    second->sync();
    // The old sink took `current` down only while it named its own file.
    REQUIRE(fs::is_symlink(fx.dir() / "current"));
    CHECK(fs::exists(fx.dir() / fs::read_symlink(fx.dir() / "current")));
    second->drain();
    auto records = records_of(fx.dir());
    REQUIRE(records.size() == 300);
    for (uint64_t i = 0; i < 300; ++i) CHECK(records[i].ts_ns == kT0 + i + (i >= 200 ? kSecond : 0));
    CHECK(fx.counters().written.get() == 300);
    CHECK(fx.counters().buffered.get() == 0);
}

TEST_CASE("pcap: after a reload, a file started in the second of one uploaded and removed gets a name of its own") {
    Fixture fx;
    const auto options = fx.shared_writer_options();
    auto first = std::make_unique<PcapRotator>(options);
    std::vector<Packet> batch = {fx.packet(kT0)};
    first->write(batch);
    first->rotate();
    first->sync();
    const auto before = files_in(fx.dir(), ".pcap");
    REQUIRE(before.size() == 1);
    // The uploader stored it and removed it (delete_after_upload): the disk no longer shows the name.
    fs::remove(before[0]);
    // A reload (SIGHUP: a new sink on the same writer), and a record in the same second.
    auto second = std::make_unique<PcapRotator>(options);
    first->close();
    first.reset();
    batch = {fx.packet(kT0 + 1000)};
    second->write(batch);
    second->drain();
    const auto after = files_in(fx.dir(), ".pcap");
    REQUIRE(after.size() == 1);
    // The same name would be the same S3 key: the earlier object would be replaced.
    CHECK(after[0].filename() != before[0].filename());
    CHECK(read_pcap(after[0]).records.size() == 1);
}

// ENOSPC for real: a 256 KiB tmpfs, mounted in a mount namespace of this thread
// only; the writer thread started afterwards shares it.
struct TmpfsMount {
    fs::path path;
    bool mounted = false;
    TmpfsMount(fs::path p, const char* options) : path(std::move(p)) {
        fs::create_directory(path);
        mounted = unshare(CLONE_NEWNS) == 0 && mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) == 0 &&
                  mount("tmpfs", path.c_str(), "tmpfs", 0, options) == 0;
    }
    ~TmpfsMount() {
        if (mounted) umount2(path.c_str(), MNT_DETACH);
    }
};

TEST_CASE("pcap: a full disk (ENOSPC) leaves whole files and counts every record that did not fit") {
    if (geteuid() != 0) {
        MESSAGE("skipped: mounting a tmpfs needs root");
        return;
    }
    Fixture fx;
    TmpfsMount disk(fx.tmp.path / "disk", "size=256k");
    REQUIRE(disk.mounted);
    auto writer = std::make_shared<PcapWriter>();
    writer->start();  // after the mount: the thread sees the tmpfs
    auto o = fx.options();
    o.pcap.dir = disk.path.string();
    o.pcap.buffer_bytes = 65536 + 16;
    o.pcap.flush_interval_ms = 0;  // each sync() below writes what came before it
    o.writer = writer;
    const fs::path dir = disk.path / "s7";
    Buf big = udp4_frame({10, 0, 0, 1}, {10, 0, 0, 2}, 1000, 2000, 1000);
    PcapRotator sink(o);
    constexpr uint64_t kSent = 600;  // ~600 KB into 256 KiB
    for (uint64_t i = 0; i < kSent; i += 10) {
        std::vector<Packet> batch;
        for (uint64_t j = i; j < i + 10; ++j) batch.push_back(Packet{&fx.session, kT0 + j, view(big), 1000, {}});
        sink.write(batch);
        sink.sync();
    }
    const uint64_t written = fx.counters().written.get();
    const uint64_t full = fx.dropped(SinkDropReason::disk_full);
    CHECK(written > 0);
    CHECK(full > 0);
    CHECK(fx.accounted() == kSent);
    const auto health = sink.health();
    CHECK_FALSE(health);
    CHECK(health.error().find("disk") != std::string::npos);
    sink.drain();
    CHECK(fx.counters().buffered.get() == 0);
    CHECK(fx.counters().written.get() == written);
    CHECK(fx.accounted() == kSent);
    // The file cut short by ENOSPC was cut back to its last whole record and
    // finished: it holds exactly what was counted as written, in order.
    auto records = records_of(dir);
    CHECK(records.size() == written);
    for (size_t i = 0; i < records.size(); ++i) CHECK(records[i].ts_ns == kT0 + i);
    CHECK(files_in(dir, ".part").empty());
}

namespace {

// What the uploader is told, as it is told it (on the writer thread).
struct RecordingListener final : FinishedCaptureListener {
    std::mutex mutex;
    std::vector<FinishedCapture> seen;
    void capture_finished(const FinishedCapture& c) override {
        std::lock_guard lock(mutex);
        seen.push_back(c);
    }
};

}  // namespace

TEST_CASE("pcap: each finished file is told to the listener with its session, VNI, records and time span") {
    Fixture fx;
    auto listener = std::make_shared<RecordingListener>();
    auto o = fx.options();
    o.pcap.rotate_size_bytes = 4096;  // about 15 records of this frame a file: one block spans files
    o.listener = listener;
    PcapRotator sink(o);
    std::vector<Packet> batch;
    for (uint64_t i = 0; i < 40; ++i) batch.push_back(fx.packet(kT0 + i * 1000, i % 2));
    sink.write(batch);
    sink.close();
    sink.drain();
    uint64_t records = 0;
    for (const auto& c : listener->seen) {
        INFO(c.file_name);
        const fs::path path = fs::path(c.directory) / c.file_name;
        REQUIRE(fs::exists(path));
        // The flow index lies beside it, under the name it is told by.
        CHECK(c.index_name == c.file_name + ".flows.json.gz");
        CHECK(fs::exists(fs::path(c.directory) / c.index_name));
        CHECK(c.bytes == fs::file_size(path));
        const ReadBack r = read_pcap(path);
        REQUIRE(r.records.size() == c.packets);
        CHECK(c.first_ns == r.records.front().ts_ns);
        CHECK(c.last_ns == r.records.back().ts_ns);
        const uint32_t s = c.session == fx.names[0] ? 0 : 1;
        CHECK(c.session == fx.names[s]);
        CHECK(c.vni == fx.sessions[s].vni);
        CHECK(fs::path(c.directory) == fx.dir(s));
        records += c.packets;
    }
    CHECK(listener->seen.size() == files_in(fx.dir(0), ".pcap").size() + files_in(fx.dir(1), ".pcap").size());
    CHECK(listener->seen.size() > 2);
    CHECK(records == 40);
}

namespace {

// An uploader that has shipped nothing yet, or only the files it is told.
struct HoldingListener final : FinishedCaptureListener {
    std::mutex mutex;
    std::set<std::string> shipped;  // file names
    void capture_finished(const FinishedCapture&) override {}
    bool holds(const std::string&, const std::string& name) const override {
        std::lock_guard lock(const_cast<std::mutex&>(mutex));
        return !shipped.count(name);
    }
};

}  // namespace

TEST_CASE("retention: files not yet uploaded are kept, and the uploaded ones go instead") {
    Fixture fx;
    auto listener = std::make_shared<HoldingListener>();
    auto o = fx.options();
    o.pcap.retain_files = 1;
    o.listener = listener;
    PcapRotator sink(o);
    for (uint64_t i = 0; i < 3; ++i) {
        std::vector<Packet> batch = {fx.packet(kT0 + i * kSecond)};
        sink.write(batch);
        sink.rotate();
        sink.sync();
    }
    auto files = files_in(fx.dir(), ".pcap");
    REQUIRE(files.size() == 3);  // none uploaded: retention keeps them all
    {
        std::lock_guard lock(listener->mutex);
        listener->shipped.insert(files[1].filename().string());  // the middle one went up
    }
    std::vector<Packet> batch = {fx.packet(kT0 + 3 * kSecond)};
    sink.write(batch);
    sink.rotate();
    sink.sync();
    const auto after = files_in(fx.dir(), ".pcap");
    REQUIRE(after.size() == 3);  // the uploaded one went; the oldest, not uploaded, stays
    CHECK(after[0] == files[0]);
    CHECK(after[1] == files[2]);
    sink.drain();
}

TEST_CASE("retention: retain_total_bytes holds across sessions, oldest first") {
    Fixture fx;
    auto o = fx.options();
    PcapRotator sink(o);
    std::vector<fs::path> made;
    uint64_t one_file = 0;
    for (uint32_t i = 0; i < 3; ++i) {  // s7, s8, s7: one record each, finished in turn
        std::vector<Packet> batch = {fx.packet(kT0 + i * kSecond, i % 2)};
        sink.write(batch);
        sink.rotate();
        sink.sync();
        usleep(20'000);  // modification times apart even on a coarse clock
    }
    auto a = files_in(fx.dir(0), ".pcap"), b = files_in(fx.dir(1), ".pcap");
    REQUIRE(a.size() == 2);
    REQUIRE(b.size() == 1);
    one_file = fs::file_size(a[0]);
    sink.drain();

    auto p = fx.options();
    p.pcap.retain_total_bytes = 3 * one_file;  // four files of one size: the oldest of all goes
    PcapRotator next(p);
    std::vector<Packet> batch = {fx.packet(kT0 + 10 * kSecond, 1)};
    next.write(batch);
    next.rotate();
    next.sync();
    const auto a2 = files_in(fx.dir(0), ".pcap"), b2 = files_in(fx.dir(1), ".pcap");
    CHECK(a2 == std::vector<fs::path>{a[1]});  // s7's first file was the oldest of all
    CHECK(b2.size() == 2);
    next.drain();
}

namespace {

// Sets a file's modification (and access) time to `seconds_ago` before now, as an old file would have it.
void make_old(const fs::path& path, int64_t seconds_ago) {
    const timespec then{time(nullptr) - seconds_ago, 0};
    const timespec times[2] = {then, then};
    REQUIRE(utimensat(AT_FDCWD, path.c_str(), times, AT_SYMLINK_NOFOLLOW) == 0);
}

}  // namespace

TEST_CASE("retention: by age removes finished files last written before the limit, in every session directory") {
    Fixture fx;
    const auto o = fx.shared_writer_options();
    PcapRotator sink(o);
    for (uint32_t i = 0; i < 3; ++i) {  // s7, s8, s7: one file each
        std::vector<Packet> batch = {fx.packet(kT0 + i * kSecond, i % 2)};
        sink.write(batch);
        sink.rotate();
        sink.sync();
    }
    std::vector<Packet> open = {fx.packet(kT0 + 5 * kSecond)};  // s7's file being written
    sink.write(open);
    sink.tick(kT0 + 6 * kSecond);  // past the flush interval: the record goes to the writer
    sink.sync();
    sink.sync();
    const auto a = files_in(fx.dir(0), ".pcap"), b = files_in(fx.dir(1), ".pcap");
    const auto part = files_in(fx.dir(0), ".part");
    REQUIRE(a.size() == 2);
    REQUIRE(b.size() == 1);
    REQUIRE(part.size() == 1);
    // A session no sink holds (ended, or an earlier run's), with an index beside its file.
    const fs::path gone = fx.tmp.path / "gone";
    fs::create_directory(gone);
    const fs::path gone_file = gone / "gone-20231114T221320Z-000001.pcap";
    fs::copy_file(b[0], gone_file);
    std::ofstream(gone_file.string() + ".flows.json.gz") << "index";
    const fs::path a0_index = a[0].string() + ".flows.json.gz";
    REQUIRE(fs::exists(a0_index));
    make_old(a[0], 2 * 3600);          // older than the hour: goes, with its index
    make_old(a[1], 3600 - 60);         // a minute short of it: stays
    make_old(b[0], 3600 + 60);         // a minute past it: goes
    make_old(gone_file, 30 * 86400);   // goes, though no sink holds its session
    make_old(part[0], 2 * 3600);       // being written: never
    auto r = o;
    r.pcap.retain_seconds = 3600;
    PcapRotator reloaded(r);  // a reload's sink: the writer looks at once, with its settings
    reloaded.sync();
    CHECK(files_in(fx.dir(0), ".pcap") == std::vector<fs::path>{a[1]});
    CHECK_FALSE(fs::exists(a0_index));
    CHECK(fs::exists(a[1].string() + ".flows.json.gz"));
    CHECK(files_in(fx.dir(1), ".pcap").empty());
    CHECK(files_in(gone, ".pcap").empty());
    CHECK_FALSE(fs::exists(gone_file.string() + ".flows.json.gz"));
    CHECK(files_in(fx.dir(0), ".part") == part);
    sink.drain();
    reloaded.drain();
}

TEST_CASE("retention: by age keeps a file not yet uploaded, and removes it once marked uploaded") {
    Fixture fx;
    auto listener = std::make_shared<HoldingListener>();
    auto o = fx.shared_writer_options();
    o.listener = listener;
    PcapRotator sink(o);
    std::vector<Packet> batch = {fx.packet(kT0)};
    sink.write(batch);
    sink.rotate();
    sink.sync();
    const auto files = files_in(fx.dir(), ".pcap");
    REQUIRE(files.size() == 1);
    make_old(files[0], 2 * 3600);
    auto r = o;
    r.pcap.retain_seconds = 3600;
    {
        PcapRotator kept(r);  // not uploaded (no mark), whatever the queue holds: kept
        kept.sync();
        CHECK(files_in(fx.dir(), ".pcap") == files);
        kept.drain();
    }
    REQUIRE(setxattr(files[0].c_str(), "user.mirrortap.uploaded", "s3", 2, 0) == 0);
    make_old(files[0], 2 * 3600);
    PcapRotator removed(r);
    removed.sync();
    CHECK(files_in(fx.dir(), ".pcap").empty());
    removed.drain();
    sink.drain();
}

namespace {

// Many sessions at once, each with a name of its own: "m0", "m1", ...
struct ManySessions {
    TempDir tmp;
    std::vector<std::unique_ptr<Session>> sessions;
    Buf frame = udp4_frame({10, 0, 0, 1}, {10, 0, 0, 2}, 1000, 2000, 200);
    explicit ManySessions(uint32_t count) {
        for (uint32_t i = 0; i < count; ++i) {
            sessions.push_back(std::make_unique<Session>());
            sessions[i]->id = i;
            sessions[i]->vni = 1000 + i;
            sessions[i]->set_name(std::make_shared<const std::string>("m" + std::to_string(i)));
        }
    }
    PcapRotatorOptions options() {
        PcapRotatorOptions o;
        o.pcap.dir = tmp.path.string();
        o.pcap.rotate_seconds = 0;
        o.max_sessions = uint32_t(sessions.size());
        return o;
    }
    // Flushes every 500 ms, and a quiet session's records wait up to 3 s.
    PcapRotatorOptions quiet_options() {
        PcapRotatorOptions o = options();
        o.pcap.flush_interval_ms = 500;
        o.pcap.quiet_flush_ms = 3000;
        return o;
    }
    Packet packet(uint32_t s, uint64_t ts_ns) { return Packet{sessions[s].get(), ts_ns, view(frame), uint32_t(frame.size()), {}}; }
    fs::path dir(uint32_t s) { return tmp.path / ("m" + std::to_string(s)); }
    SinkCounters& counters(uint32_t s) { return sessions[s]->sinks[0]; }
    uint64_t dropped(uint32_t s, SinkDropReason r) { return counters(s).dropped[size_t(r)].get(); }
    // The worker's steps for one batch: write it, tick at `now_ns`, and wait for a writer pass.
    static void write_tick_sync(PcapRotator& sink, std::vector<Packet> batch, uint64_t now_ns) {
        sink.write(batch);
        sink.tick(now_ns);
        sink.sync();
    }
};

// Descriptors of this process open on files under `dir`, as /proc says.
size_t descriptors_under(const fs::path& dir) {
    size_t n = 0;
    const std::string prefix = dir.string() + "/";
    for (auto& e : fs::directory_iterator("/proc/self/fd")) {
        std::error_code ec;
        const fs::path target = fs::read_symlink(e.path(), ec);
        if (!ec && target.string().rfind(prefix, 0) == 0) ++n;
    }
    return n;
}

}  // namespace

TEST_CASE("pcap: 2000 sessions share a pool of 4 blocks and lose nothing while the writer keeps up") {
    ManySessions ms(2000);
    auto o = ms.options();
    o.pcap.buffer_bytes = 65536 + 16;
    o.block_count = 4;  // far fewer blocks than sessions: blocks are shared, not held per session
    PcapRotator sink(o);
    constexpr uint32_t kRounds = 5;
    uint64_t t = kT0;
    for (uint32_t round = 0; round < kRounds; ++round) {
        for (uint32_t s = 0; s < 2000; s += 100) {
            std::vector<Packet> batch;
            for (uint32_t k = s; k < s + 100; ++k) batch.push_back(ms.packet(k, ++t));
            sink.write(batch);
            sink.sync();  // a disk that keeps up: the writer takes each batch's blocks as they come
        }
        // A flush interval passes: the writer writes what it holds and gives the blocks back.
        sink.tick(t + kSecond);
        sink.sync();
    }
    sink.drain();
    for (uint32_t s = 0; s < 2000; ++s) {
        INFO("session m" << s);
        CHECK(ms.dropped(s, SinkDropReason::queue_full) == 0);
        CHECK(ms.counters(s).written.get() == kRounds);
        const auto records = records_of(ms.dir(s));
        REQUIRE(records.size() == kRounds);
        for (uint32_t r = 1; r < kRounds; ++r) CHECK(records[r].ts_ns > records[r - 1].ts_ns);
    }
}

TEST_CASE("pcap: the writer holds what it takes in until the flush interval, then writes each session at once") {
    ManySessions ms(50);
    auto o = ms.options();
    o.pcap.flush_interval_ms = 500;
    PcapRotator sink(o);
    uint64_t t = kT0;
    for (uint32_t round = 0; round < 4; ++round) {
        std::vector<Packet> batch;
        for (uint32_t s = 0; s < 50; ++s) batch.push_back(ms.packet(s, ++t));
        sink.write(batch);
        sink.tick(kT0 + 300'000'000);  // past half the interval: the block goes to the writer ...
    }
    sink.sync();
    // ... which holds it: its oldest record is not yet an interval old.
    CHECK(ms.counters(0).buffered.get() == 4);
    CHECK(files_in(ms.dir(0), ".part").empty());
    sink.tick(kT0 + 600'000'000);
    sink.sync();
    for (uint32_t s = 0; s < 50; ++s) {
        CHECK(ms.counters(s).written.get() == 4);
        CHECK(ms.counters(s).buffered.get() == 0);
    }
    // Four rounds of records went out in one write per session: the file is
    // header + 4 records, written together (one .part, complete).
    const auto part = files_in(ms.dir(7), ".part").at(0);
    CHECK(fs::file_size(part) == sizeof(PcapFileHeader) + 4 * (sizeof(PcapRecordHeader) + ms.frame.size()));
    sink.drain();
}

TEST_CASE("pcap: a writer that is behind drops the loud session's records, and the quiet sessions keep theirs") {
    ManySessions ms(51);  // session 0 is loud, 1..50 quiet
    auto writer = std::make_shared<PcapWriter>();  // not started: a disk that does not move
    auto o = ms.options();
    o.pcap.buffer_bytes = 65536 + 16;
    o.block_count = 16;
    o.writer = writer;
    PcapRotator sink(o);
    uint64_t t = kT0;
    uint64_t loud_sent = 0;
    // 16 blocks of ~270 records; the loud session sends ten pools' worth, each
    // quiet one a record after every 5000 of the loud one's: 400 in all, under
    // the eighth of the pool that the loud session cannot take once the
    // writer is behind.
    for (uint32_t step = 0; step < 8; ++step) {
        std::vector<Packet> batch;
        for (uint32_t k = 0; k < 5000; ++k) batch.push_back(ms.packet(0, ++t));
        loud_sent += batch.size();
        for (uint32_t s = 1; s <= 50; ++s) batch.push_back(ms.packet(s, ++t));
        sink.write(batch);
    }
    const uint64_t loud_dropped = ms.dropped(0, SinkDropReason::queue_full);
    CHECK(loud_dropped > 0);
    for (uint32_t s = 1; s <= 50; ++s) {
        INFO("quiet session m" << s);
        CHECK(ms.dropped(s, SinkDropReason::queue_full) == 0);
    }
    writer->start();  // the disk moves again
    sink.drain();
    CHECK(ms.counters(0).written.get() + loud_dropped == loud_sent);
    CHECK(records_of(ms.dir(0)).size() == loud_sent - loud_dropped);
    for (uint32_t s = 1; s <= 50; ++s) {
        CHECK(ms.counters(s).written.get() == 8);
        CHECK(records_of(ms.dir(s)).size() == 8);
    }
}

TEST_CASE("pcap: an idle file gives up its descriptor and its next record opens the same file again") {
    ManySessions ms(2);
    auto o = ms.options();
    o.pcap.idle_close_seconds = 3;
    o.pcap.quiet_flush_ms = 0;  // session 1's single records go out at once: its file is written, not idle
    PcapRotator sink(o);
    ManySessions::write_tick_sync(sink, {ms.packet(0, kT0), ms.packet(1, kT0)}, kT0 + kSecond);
    CHECK(descriptors_under(ms.tmp.path) == 2);
    // Session 1 goes on; session 0 idles past idle_close_seconds.
    for (uint64_t s = 2; s <= 4; ++s) {
        ManySessions::write_tick_sync(sink, {ms.packet(1, kT0 + s * kSecond)}, kT0 + s * kSecond + kSecond / 2);
    }
    CHECK(descriptors_under(ms.tmp.path) == 1);
    const auto parts = files_in(ms.dir(0), ".part");
    REQUIRE(parts.size() == 1);  // still the file being written
    CHECK(fs::read_symlink(ms.dir(0) / "current") == parts[0].filename());
    ManySessions::write_tick_sync(sink, {ms.packet(0, kT0 + 5 * kSecond)}, kT0 + 6 * kSecond);
    CHECK(files_in(ms.dir(0), ".part") == parts);  // the same file, grown
    CHECK(descriptors_under(ms.tmp.path) == 2);
    sink.drain();
    const auto records = records_of(ms.dir(0));
    REQUIRE(records.size() == 2);
    CHECK(records[1].ts_ns == kT0 + 5 * kSecond);
    CHECK(files_in(ms.dir(0), ".pcap").size() == 1);
}

TEST_CASE("pcap: a quiet session's records wait up to quiet_flush_ms, a busy one's go at every flush, none lost") {
    ManySessions ms(2);  // session 0 busy, 1 quiet
    PcapRotator sink(ms.quiet_options());
    constexpr uint64_t kMs = 1'000'000;
    const size_t record_bytes = sizeof(PcapRecordHeader) + ms.frame.size();
    const uint32_t busy_per_round = uint32_t(4096 / record_bytes) + 1;  // a page's worth a flush: not quiet
    const auto on_disk = [&](uint32_t s) {
        const auto parts = files_in(ms.dir(s), ".part");
        return parts.empty() ? size_t(0) : read_pcap(parts.at(0)).records.size();
    };
    // Their first records make their files at the first flush, quiet or not.
    ManySessions::write_tick_sync(sink, {ms.packet(0, kT0), ms.packet(1, kT0)}, kT0 + 600 * kMs);
    CHECK(on_disk(0) == 1);
    CHECK(on_disk(1) == 1);
    uint64_t busy_sent = 1;
    for (uint64_t round = 1; round <= 3; ++round) {
        const uint64_t t = kT0 + round * 1000 * kMs;
        std::vector<Packet> batch;
        for (uint32_t k = 0; k < busy_per_round; ++k) batch.push_back(ms.packet(0, t + k));
        batch.push_back(ms.packet(1, t + busy_per_round));
        busy_sent += busy_per_round;
        ManySessions::write_tick_sync(sink, batch, t + 600 * kMs);
        INFO("round " << round);
        CHECK(on_disk(0) == busy_sent);  // flushed every interval
        CHECK(ms.counters(0).written.get() == busy_sent);
        CHECK(on_disk(1) == 1);  // waits, counted as buffered, not written
        CHECK(ms.counters(1).written.get() == 1);
        CHECK(ms.counters(1).buffered.get() == round);
    }
    // The first record carried came at kT0 + 1 s and was flushed 600 ms later (a tick late, as
    // ticks can be): by 1 s + quiet_flush_ms + 100 ms it is in the file, with the rest.
    ManySessions::write_tick_sync(sink, {}, kT0 + 3900 * kMs);
    CHECK(on_disk(1) == 1);
    ManySessions::write_tick_sync(sink, {}, kT0 + 4100 * kMs);
    CHECK(on_disk(1) == 4);
    CHECK(ms.counters(1).written.get() == 4);
    CHECK(ms.counters(1).buffered.get() == 0);
    // Carried again, then SIGHUP: the carry goes into the file it finishes.
    ManySessions::write_tick_sync(sink, {ms.packet(1, kT0 + 5000 * kMs)}, kT0 + 5600 * kMs);
    CHECK(on_disk(1) == 4);
    sink.rotate();
    sink.sync();
    CHECK(files_in(ms.dir(1), ".part").empty());
    CHECK(records_of(ms.dir(1)).size() == 5);
    // Carried in a new file, then the collector stops: drained, not lost.
    ManySessions::write_tick_sync(sink, {ms.packet(1, kT0 + 6000 * kMs)}, kT0 + 6600 * kMs);
    ManySessions::write_tick_sync(sink, {ms.packet(1, kT0 + 7000 * kMs)}, kT0 + 7600 * kMs);
    CHECK(ms.counters(1).buffered.get() == 1);  // the new file's first record went out, the next one waits
    sink.drain();
    const auto quiet = records_of(ms.dir(1));
    REQUIRE(quiet.size() == 7);
    for (size_t r = 1; r < quiet.size(); ++r) CHECK(quiet[r].ts_ns > quiet[r - 1].ts_ns);
    CHECK(ms.counters(1).written.get() == 7);
    CHECK(ms.counters(1).buffered.get() == 0);
    CHECK(records_of(ms.dir(0)).size() == busy_sent);
}

TEST_CASE("pcap: a wall clock stepped back does not hold a quiet session's records for the length of the step") {
    ManySessions ms(1);
    PcapRotator sink(ms.quiet_options());
    constexpr uint64_t kMs = 1'000'000;
    const uint64_t t = kT0 + 3600 * kSecond;
    ManySessions::write_tick_sync(sink, {ms.packet(0, t)}, t + 600 * kMs);  // makes the file
    ManySessions::write_tick_sync(sink, {ms.packet(0, t + kSecond)}, t + 1600 * kMs);  // carried
    CHECK(ms.counters(0).buffered.get() == 1);
    // An hour back (NTP, an operator): the carry was due in 3 s, not in an hour and 3 s.
    ManySessions::write_tick_sync(sink, {}, kT0 + 1700 * kMs);
    CHECK(ms.counters(0).buffered.get() == 0);
    CHECK(ms.counters(0).written.get() == 2);
    sink.drain();
}

TEST_CASE("pcap: max_open_files bounds the descriptors of many active sessions, and every record lands") {
    ManySessions ms(100);
    auto o = ms.options();
    o.pcap.max_open_files = 16;
    o.pcap.flush_interval_ms = 0;
    PcapRotator sink(o);
    uint64_t t = kT0;
    for (uint32_t round = 0; round < 5; ++round) {
        std::vector<Packet> batch;
        for (uint32_t s = 0; s < 100; ++s) batch.push_back(ms.packet(s, ++t));
        sink.write(batch);
        sink.tick(t);
        sink.sync();
        CHECK(descriptors_under(ms.tmp.path) <= 16);
    }
    sink.drain();
    for (uint32_t s = 0; s < 100; ++s) {
        CHECK(ms.counters(s).written.get() == 5);
        CHECK(files_in(ms.dir(s), ".pcap").size() == 1);  // reopened, never a new file
        CHECK(records_of(ms.dir(s)).size() == 5);
    }
}

TEST_CASE("pcap: a closed file replaced while it idled is left alone, and the next records start a new file") {
    ManySessions ms(1);
    auto o = ms.options();
    o.pcap.idle_close_seconds = 1;
    PcapRotator sink(o);
    ManySessions::write_tick_sync(sink, {ms.packet(0, kT0)}, kT0 + kSecond);
    sink.tick(kT0 + 3 * kSecond);  // idle: the descriptor is closed
    sink.sync();
    REQUIRE(descriptors_under(ms.tmp.path) == 0);
    const auto part = files_in(ms.dir(0), ".part").at(0);
    // Someone who can write the directory puts another file in its place.
    const fs::path planted = ms.dir(0) / "planted";
    std::ofstream(planted) << "not a capture";
    fs::rename(planted, part);
    std::vector<Packet> later = {ms.packet(0, kT0 + 4 * kSecond)};
    sink.write(later);
    sink.drain();
    std::ifstream in(part);
    std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    CHECK(text == "not a capture");  // never written to, truncated or renamed
    const auto files = files_in(ms.dir(0), ".pcap");
    REQUIRE(files.size() == 1);
    const ReadBack r = read_pcap(files[0]);
    REQUIRE(r.records.size() == 1);
    CHECK(r.records[0].ts_ns == kT0 + 4 * kSecond);
}

TEST_CASE("pcap: session directories left empty are removed, others, links and live sessions' are not") {
    ManySessions ms(3);
    // Sweeps at every pass here (the collector's writer: once a minute).
    auto writer = std::make_shared<PcapWriter>(std::chrono::milliseconds(0));
    writer->start();
    auto o = ms.options();
    o.writer = writer;
    // Two workers' sinks on one writer: session 2 lives in the second.
    PcapRotator sink(o);
    auto o2 = o;
    o2.sink_index = 1;
    PcapRotator other(o2);
    std::vector<Packet> batch = {ms.packet(0, kT0), ms.packet(1, kT0)};
    sink.write(batch);
    sink.tick(kT0 + kSecond);
    std::vector<Packet> batch2 = {Packet{ms.sessions[2].get(), kT0, view(ms.frame), uint32_t(ms.frame.size()), {}}};
    other.write(batch2);
    other.tick(kT0 + kSecond);
    sink.sync();
    // Session 0 ends with its file kept; an uploader then removes it. Session 2's
    // file goes the same way while the session lives on in the other sink.
    const uint64_t ticket = sink.expire(*ms.sessions[0]);
    sink.sync();
    REQUIRE(sink.released(ticket));
    REQUIRE(fs::is_directory(ms.dir(0)));  // its finished file is still there
    for (auto& f : fs::directory_iterator(ms.dir(0))) fs::remove(f.path());
    other.rotate();
    sink.sync();
    for (auto& f : fs::directory_iterator(ms.dir(2))) fs::remove(f.path());
    // Left over from earlier runs: an empty directory, one with a file, a link to an empty one.
    fs::create_directory(ms.tmp.path / "vni-9");
    fs::create_directory(ms.tmp.path / "vni-10");
    std::ofstream(ms.tmp.path / "vni-10" / "keep.pcap") << "x";
    TempDir elsewhere;
    fs::create_directory_symlink(elsewhere.path, ms.tmp.path / "vni-11");
    sink.sync();
    CHECK_FALSE(fs::exists(ms.dir(0)));
    CHECK_FALSE(fs::exists(ms.tmp.path / "vni-9"));
    CHECK(fs::exists(ms.tmp.path / "vni-10" / "keep.pcap"));
    CHECK(fs::is_symlink(ms.tmp.path / "vni-11"));
    CHECK(fs::is_directory(elsewhere.path));
    CHECK(fs::is_directory(ms.dir(1)));  // live, with its file
    CHECK(fs::is_directory(ms.dir(2)));  // live in the other sink, empty
    other.drain();
    sink.drain();
}

TEST_CASE("pcap: an ended session that wrote nothing leaves no directory behind") {
    ManySessions ms(1);
    auto writer = std::make_shared<PcapWriter>(std::chrono::milliseconds(0));  // sweeps at every pass
    writer->start();
    auto o = ms.options();
    o.writer = writer;
    o.pcap.dir = (ms.tmp.path / "full").string();
    fs::create_directory(o.pcap.dir);
    PcapRotator sink(o);
    // The directory is made when the session's first file is; a session whose
    // file has no record left (all dropped at the disk) removes it at its end.
    fs::create_directory(fs::path(o.pcap.dir) / "m0");
    const uint64_t ticket = sink.expire(*ms.sessions[0]);
    sink.sync();
    CHECK(sink.released(ticket));
    CHECK_FALSE(fs::exists(fs::path(o.pcap.dir) / "m0"));
}

namespace {

size_t threads_named(const std::string& name) {
    size_t n = 0;
    for (auto& t : fs::directory_iterator("/proc/self/task")) {
        std::ifstream comm(t.path() / "comm");
        std::string c;
        std::getline(comm, c);
        n += c == name;
    }
    return n;
}

}  // namespace

TEST_CASE("pcap writer: its owner stops it after the last sink closed, every file finished and no thread left") {
    const size_t before = threads_named("mt-pcap-writer");
    ManySessions ms(3);
    auto writer = std::make_shared<PcapWriter>();
    writer->start();
    CHECK(threads_named("mt-pcap-writer") == before + 1);
    auto o = ms.options();
    o.writer = writer;
    {
        PcapRotator sink(o);
        std::vector<Packet> batch = {ms.packet(0, kT0), ms.packet(1, kT0), ms.packet(2, kT0)};
        sink.write(batch);
        sink.close();  // hands over; the writer finishes the files when it stops at the latest
    }
    writer->stop();
    CHECK(threads_named("mt-pcap-writer") == before);
    for (uint32_t s = 0; s < 3; ++s) {
        CHECK(ms.counters(s).written.get() == 1);
        CHECK(files_in(ms.dir(s), ".part").empty());
        CHECK(records_of(ms.dir(s)).size() == 1);
    }
    writer->stop();  // again: nothing happens, no thread comes back
    CHECK(threads_named("mt-pcap-writer") == before);
}
