// The IDS feed and forward sinks: flow hashing, VLAN push, the stream's
// ring and framing, VXLAN re-encapsulation. Real fds (FIFOs, socket pairs,
// UDP on loopback) stand in for TAPs and readers; TAP devices themselves are
// covered by tests/integration/test_ids_feed.py inside a network namespace.
#include <doctest/doctest.h>

#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <filesystem>
#include <map>
#include <set>
#include <thread>

#include "decap/frame.hpp"
#include "decap/vxlan.hpp"
#include "sinks/forward_sink.hpp"
#include "sinks/sink_registry.hpp"
#include "sinks/stream_sink.hpp"
#include "sinks/tap_sink.hpp"
#include "tests/support/frames.hpp"
#include "tests/support/pcap_read.hpp"
#include "tests/support/temp_dir.hpp"

using namespace mirrortap;
using namespace mirrortap::test;
namespace fs = std::filesystem;

namespace {

// A session as a worker would hold it. Sinks here count in the first slot of their kind.
struct TestSession {
    Session s;
    TestSession(uint32_t id, uint32_t vni) {
        s.id = id;
        s.vni = vni;
        s.set_name(std::make_shared<const std::string>("vni-" + std::to_string(vni)));
    }
    SinkCounters& sink(std::string_view kind) { return s.sinks[sink_kind(kind)]; }
};

uint64_t dropped(const SinkCounters& c, SinkDropReason r) { return c.dropped[size_t(r)].get(); }
uint64_t all_dropped(const SinkCounters& c) {
    uint64_t n = 0;
    for (const auto& d : c.dropped) n += d.get();
    return n;
}

Buf tcp4(uint8_t a, uint8_t b, uint16_t sport, uint16_t dport, size_t bytes = 80) {
    Buf f = ethernet(0x0800);
    ipv4(f, 6, {10, 0, 0, a}, {10, 0, 0, b}, uint16_t(bytes - 14));
    ports(f, sport, dport);
    pad_to(f, bytes);
    return f;
}

Buf arp(uint8_t src_mac, uint8_t dst_mac) {
    Buf f;
    put(f, {0x02, 0, 0, 0, 0, dst_mac});
    put(f, {0x02, 0, 0, 0, 0, src_mac});
    put16(f, 0x0806);
    pad_to(f, 60);
    return f;
}

Packet packet(Session& s, const Buf& frame, uint64_t ts = 1'700'000'000'123'456'789ull) {
    return Packet{&s, ts, view(frame), uint32_t(frame.size()), parse_inner_frame(view(frame)).flow};
}

template <typename F>
bool eventually(F&& done, int ms = 5000) {
    for (int waited = 0; waited < ms; waited += 5) {  // bounded
        if (done()) return true;
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    return done();
}

// The stream as a reader on the pipe would take it: through libpcap, as tshark does.
void check_stream_header(const PcapRead& p) {
    INFO(p.error);
    REQUIRE(p.opened);
    CHECK(p.major == 2);
    CHECK(p.minor == 4);
    CHECK_FALSE(p.swapped);
    CHECK(p.linktype == DLT_EN10MB);
}

}  // namespace

// ---- TAP ------------------------------------------------------------------

TEST_CASE("tap: both directions of a flow go to the same output, and flows use every output") {
    for (uint32_t outputs : {2u, 3u, 4u}) {
        std::set<uint32_t> used;
        for (uint16_t i = 0; i < 256; ++i) {
            const Buf ab = tcp4(1, 2, uint16_t(10000 + i), 443);
            const Buf ba = tcp4(2, 1, 443, uint16_t(10000 + i));
            const FlowKey fab = parse_inner_frame(view(ab)).flow;
            const FlowKey fba = parse_inner_frame(view(ba)).flow;
            const uint32_t out = flow_output(fab, 501, outputs);
            CHECK(out == flow_output(fba, 501, outputs));
            CHECK(out < outputs);
            used.insert(out);
        }
        CHECK(used.size() == outputs);
    }
    CHECK(flow_output(parse_inner_frame(view(tcp4(1, 2, 1, 2))).flow, 7, 1) == 0);
}

TEST_CASE("tap: the session is part of the hash, so one 5-tuple in many sessions spreads out") {
    const FlowKey f = parse_inner_frame(view(tcp4(1, 2, 40000, 80))).flow;
    std::set<uint32_t> used;
    for (uint32_t vni = 1; vni <= 64; ++vni) used.insert(flow_output(f, vni, 4));
    CHECK(used.size() == 4);
}

TEST_CASE("tap: non-IP frames of one MAC pair share an output in both directions") {
    for (uint8_t m = 1; m < 50; ++m) {
        const Buf there = arp(m, uint8_t(m + 100));
        const Buf back = arp(uint8_t(m + 100), m);
        CHECK(flow_output(parse_inner_frame(view(there)).flow, 9, 4) ==
              flow_output(parse_inner_frame(view(back)).flow, 9, 4));
    }
}

TEST_CASE("tap: the session's 802.1Q tag is pushed after the MACs, outside any tag already there") {
    const Buf plain = tcp4(1, 2, 1000, 80, 64);
    Buf out(plain.size() + kVlanTagBytes);
    REQUIRE(push_vlan_tag(view(plain), 501, out.data()) == plain.size() + 4);
    Buf want(plain.begin(), plain.begin() + 12);
    put16(want, 0x8100);
    put16(want, 501);
    want.insert(want.end(), plain.begin() + 12, plain.end());
    CHECK(out == want);
    // The pushed frame parses with the session's VLAN outermost and the same flow.
    const InnerFrame parsed = parse_inner_frame(view(out));
    CHECK(parsed.vlan_count == 1);
    CHECK(parsed.vlan_ids[0] == 501);
    CHECK(parsed.flow == parse_inner_frame(view(plain)).flow);

    Buf tagged = ethernet(0x0800, {0x8100, 100});
    ipv4(tagged, 17, {10, 0, 0, 1}, {10, 0, 0, 2}, 28);
    ports(tagged, 1, 2);
    pad_to(tagged, 60);
    Buf out2(tagged.size() + kVlanTagBytes);
    push_vlan_tag(view(tagged), 4094, out2.data());
    const InnerFrame two = parse_inner_frame(view(out2));
    REQUIRE(two.vlan_count == 2);
    CHECK(two.vlan_ids[0] == 4094);
    CHECK(two.vlan_ids[1] == 100);
}

TEST_CASE("tap: VLAN IDs are the VNI folded into 1..4094 unless the session names one") {
    CHECK(vlan_for_vni(1) == 1);
    CHECK(vlan_for_vni(501) == 501);
    CHECK(vlan_for_vni(4094) == 4094);
    CHECK(vlan_for_vni(4095) == 1);
    CHECK(vlan_for_vni(0) == 4094);
    CHECK(vlan_for_vni(8188) == 4094);
    CHECK(vlan_for_vni(0xFFFFFF) == 0xFFFFFF % 4094);
    ConfigLoad l = load_config_text("sessions:\n  - {vni: 501, name: web, vlan: 42}\n  - {vni: 4095, name: b}\n"
                                    "tap_session_vlan: true\n");
    REQUIRE(l.ok());
    CHECK(l.config.session_vlan(501) == 42);
    CHECK(l.config.session_vlan(4095) == 1);
    CHECK(l.config.session_vlan(77) == 77);
}

TEST_CASE("config: IDS feed keys, per-session sinks, and the mistakes refused") {
    ConfigLoad l = load_config_text(
        "tap: [mt0, mt1]\ntap_session_vlan: true\nstream: unix:/run/mt.sock\nstream_required: true\n"
        "forward: 127.0.0.1:4790\nsessions:\n  - {vni: 501, name: web, sinks: [pcap, tap]}\n"
        "  - {vni: 502, name: db, sinks: stream}\n");
    for (const auto& e : l.errors) FAIL(format_error("text", e));
    const Config& c = l.config;
    CHECK(c.tap == std::vector<std::string>{"mt0", "mt1"});
    CHECK(c.tap_session_vlan);
    CHECK(c.stream == "unix:/run/mt.sock");
    CHECK(c.stream_required);
    REQUIRE(c.forward);
    CHECK(c.forward->text == "127.0.0.1:4790");
    CHECK(c.sink_mask_for(501) == 0b0011);
    CHECK(c.sink_mask_for(502) == 0b0100);
    CHECK(c.sink_mask_for(503) == kAllSinks);

    auto one_error = [](const char* yaml) {
        ConfigLoad bad = load_config_text(yaml);
        REQUIRE(bad.errors.size() == 1);
        return bad.errors.front().message;
    };
    CHECK(one_error("tap: [mt0, mt0]\n").find("named twice") != std::string::npos);
    CHECK(one_error("tap: [a-very-long-interface-name]\n").find("1 to 15") != std::string::npos);
    CHECK(one_error("stream_required: true\n").find("needs a stream") != std::string::npos);
    CHECK(one_error("sessions: [{vni: 1, name: a, sinks: [pcap, disk]}]\n").find("unknown sink 'disk'") !=
          std::string::npos);
    CHECK(one_error("sessions: [{vni: 1, name: a, vlan: 0}]\n").find("reserved") != std::string::npos);
    CHECK(one_error("tap_session_vlan: true\nsessions: [{vni: 1, name: a}, {vni: 4095, name: b}]\n")
              .find("share VLAN 1") != std::string::npos);
    CHECK(one_error("listen: 0.0.0.0:4789\nforward: 127.0.0.1:4789\n").find("loop") != std::string::npos);
    CHECK(load_config_text("listen: 0.0.0.0:4789\nforward: 10.1.2.3:4789\n").ok());
}

namespace {

// Two socket pairs stand in for two TAPs: what the sink writes to one end
// is read, frame by frame, from the other.
struct FakeTaps {
    std::shared_ptr<TapDevices> devices = std::make_shared<TapDevices>();
    int peer[2] = {-1, -1};
    explicit FakeTaps(int sndbuf = 0) {
        for (int i = 0; i < 2; ++i) {
            int sv[2];
            REQUIRE(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) == 0);
            fcntl(sv[0], F_SETFL, O_NONBLOCK);
            fcntl(sv[1], F_SETFL, O_NONBLOCK);
            if (sndbuf) setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof sndbuf);
            devices->adopt(sv[0], "fake" + std::to_string(i));
            peer[i] = sv[1];
        }
    }
    ~FakeTaps() {
        for (int fd : peer) ::close(fd);
    }
    std::vector<Buf> frames(int i) {
        std::vector<Buf> out;
        std::byte buf[70000];
        for (;;) {
            const ssize_t n = recv(peer[i], buf, sizeof buf, MSG_DONTWAIT);
            if (n <= 0) break;
            out.emplace_back(buf, buf + n);
        }
        return out;
    }
};

}  // namespace

TEST_CASE("tap: each frame is written once, to the TAP of its flow, with its session's tag") {
    FakeTaps taps;
    TestSession web(0, 501), db(1, 502);
    const Buf a = tcp4(1, 2, 1111, 80), b = tcp4(2, 1, 80, 1111), c = tcp4(3, 4, 2222, 22), d = tcp4(1, 2, 1111, 80);
    TapSink sink(TapSinkOptions{taps.devices, true, 65535, uint32_t(sink_kind("tap")),
                                {NamedSession{502, "db", uint16_t(7)}}});
    std::vector<Packet> batch = {packet(web.s, a), packet(web.s, b), packet(web.s, c), packet(db.s, d)};
    sink.write(batch);
    CHECK(web.sink("tap").written.get() == 3);
    CHECK(db.sink("tap").written.get() == 1);
    CHECK(all_dropped(web.sink("tap")) == 0);
    std::vector<Buf> got[2] = {taps.frames(0), taps.frames(1)};
    CHECK(got[0].size() + got[1].size() == 4);
    // Frame a and its reply b sit on the same TAP; each carries VLAN 501, db's carries 7.
    std::map<uint16_t, int> vlans;
    for (int i = 0; i < 2; ++i)
        for (const Buf& f : got[i]) {
            const InnerFrame parsed = parse_inner_frame(view(f));
            REQUIRE(parsed.vlan_count == 1);
            vlans[parsed.vlan_ids[0]]++;
            CHECK(flow_output(parsed.flow, parsed.vlan_ids[0] == 7 ? 502 : 501, 2) == uint32_t(i));
        }
    CHECK(vlans[501] == 3);
    CHECK(vlans[7] == 1);
    CHECK(sink.health());
}

TEST_CASE("tap: a full device drops as queue_full and never blocks the caller") {
    FakeTaps taps(4096);
    TestSession s(0, 9);
    TapSink sink(TapSinkOptions{taps.devices, false, 65535, uint32_t(sink_kind("tap")), {}});
    const Buf frame = tcp4(1, 2, 5, 6, 1500);
    std::vector<Packet> batch(64, packet(s.s, frame));
    const auto started = std::chrono::steady_clock::now();
    for (int i = 0; i < 50; ++i) sink.write(batch);
    CHECK(std::chrono::steady_clock::now() - started < std::chrono::seconds(2));
    SinkCounters& c = s.sink("tap");
    CHECK(dropped(c, SinkDropReason::queue_full) > 0);
    CHECK(c.written.get() + dropped(c, SinkDropReason::queue_full) == 50 * 64);
    CHECK(c.written.get() == taps.frames(0).size() + taps.frames(1).size());
}

// ---- stream -----------------------------------------------------------------

TEST_CASE("stream ring: records wrap with padding, a full ring refuses, outcomes come back in order") {
    StreamRing ring(4096);
    TestSession s(0, 1);
    std::vector<uint8_t> seen;
    uint64_t writer_pos = 0;
    auto writer_finishes = [&](uint8_t outcome) {  // what the writer thread does
        const uint64_t head = ring.head();
        while (writer_pos < head) {
            StreamEntry* e = ring.entry_at(writer_pos);
            if (e->session) e->outcome = outcome;
            writer_pos = ring.next(writer_pos, e);
        }
        ring.set_done(writer_pos);
    };
    int accepted = 0;
    while (ring.reserve(&s.s, 300)) ++accepted;  // 16 + 300 -> 320 bytes each
    CHECK(accepted == 4096 / 320);
    ring.publish();
    writer_finishes(kStreamWritten);
    ring.reclaim([&](const StreamEntry& e) { seen.push_back(e.outcome); });
    CHECK(seen.size() == size_t(accepted));
    // Past the end of the buffer the next record starts over at the front.
    for (int round = 0; round < 20; ++round) {
        std::byte* p = ring.reserve(&s.s, 1000);
        REQUIRE(p != nullptr);
        std::memset(p, round, 1000);
        ring.publish();
        StreamEntry* e = reinterpret_cast<StreamEntry*>(p) - 1;
        CHECK(e->record_bytes == 1000);
        writer_finishes(round % 2 ? kStreamWritten : stream_outcome(SinkDropReason::no_reader));
        if (round == 0) seen.clear();
        ring.reclaim([&](const StreamEntry& e) { seen.push_back(e.outcome); });
    }
    REQUIRE(seen.size() == 20);
    CHECK(seen[0] == stream_outcome(SinkDropReason::no_reader));
    CHECK(seen[1] == kStreamWritten);
    CHECK(ring.reserve(&s.s, 4096) == nullptr);  // never more than half the ring in one record
}

namespace {

struct FifoReader {
    std::string path;
    Buf bytes;
    std::thread thread;
    size_t stop_after = 0;  // 0 = read to EOF
    explicit FifoReader(std::string p, size_t after = 0) : path(std::move(p)), stop_after(after) {
        thread = std::thread([this] {
            const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);  // waits for the writer
            if (fd < 0) return;
            std::byte buf[65536];
            for (;;) {
                const size_t want = stop_after ? std::min(sizeof buf, stop_after - bytes.size()) : sizeof buf;
                if (want == 0) break;
                const ssize_t n = ::read(fd, buf, want);
                if (n <= 0) break;
                bytes.insert(bytes.end(), buf, buf + n);
            }
            ::close(fd);
        });
    }
    void join() {
        if (thread.joinable()) thread.join();
    }
    ~FifoReader() { join(); }
};

StreamWriterOptions fifo_options(const fs::path& dir) {
    StreamWriterOptions o;
    o.target = *parse_stream_target((dir / "feed").string());
    o.snaplen = 65535;
    o.reopen_interval_ns = 10'000'000;
    o.drain_timeout_ns = 200'000'000;
    return o;
}

}  // namespace

TEST_CASE("stream: a FIFO reader gets a header, then every record in order, and EOF at the end") {
    TempDir tmp;
    auto writer = std::make_shared<StreamWriter>(fifo_options(tmp.path));
    REQUIRE(writer->open());
    writer->start();
    struct stat st{};
    REQUIRE(stat((tmp.path / "feed").c_str(), &st) == 0);
    CHECK(S_ISFIFO(st.st_mode));
    TestSession a(0, 501), b(1, 502);
    std::vector<Buf> frames;
    for (int i = 0; i < 500; ++i) frames.push_back(tcp4(1, 2, uint16_t(i), 80, 60 + size_t(i % 200)));
    {
        FifoReader reader((tmp.path / "feed").string());
        REQUIRE(eventually([&] { return writer->has_reader(); }));
        auto sink = std::make_unique<StreamSink>(StreamSinkOptions{writer, 65535, uint32_t(sink_kind("stream")), false});
        for (size_t at = 0; at < frames.size(); at += 50) {
            std::vector<Packet> batch;
            for (size_t i = at; i < at + 50; ++i)
                batch.push_back(packet(i % 2 ? b.s : a.s, frames[i], 1'000'000'000ull * 5 + i));
            sink->write(batch);
        }
        sink->close();  // waits until the writer has delivered what was queued
        CHECK(a.sink("stream").written.get() == 250);
        CHECK(b.sink("stream").written.get() == 250);
        CHECK(a.sink("stream").buffered.get() == 0);
        CHECK(sink->stats().bytes_written > 0);
        sink.reset();
        writer.reset();  // the last holder: the writer closes, the reader sees EOF
        reader.join();
        const PcapRead p = read_pcap(reader.bytes);
        check_stream_header(p);
        CHECK(p.whole);
        REQUIRE(p.records.size() == frames.size());
        for (size_t i = 0; i < frames.size(); ++i) {
            CHECK(p.records[i].data == frames[i]);
            CHECK(p.records[i].caplen == frames[i].size());
            CHECK(p.records[i].len == frames[i].size());
            // Nanoseconds 0..499: a microsecond stream could not carry them.
            CHECK(p.records[i].ts_ns == 5'000'000'000ull + i);
        }
    }
}

TEST_CASE("stream: a reader that leaves is counted as no_reader, and the next one gets a fresh header") {
    TempDir tmp;
    auto writer = std::make_shared<StreamWriter>(fifo_options(tmp.path));
    REQUIRE(writer->open());
    writer->start();
    TestSession s(0, 7);
    auto owned = std::make_unique<StreamSink>(StreamSinkOptions{writer, 65535, uint32_t(sink_kind("stream")), true});
    StreamSink& sink = *owned;
    const auto health = sink.health();
    CHECK_FALSE(health);  // required, and nobody reads yet
    CHECK(health.error().find("nobody reads") != std::string::npos);
    const Buf frame = tcp4(1, 2, 3, 4, 100);
    std::vector<Packet> batch(10, packet(s.s, frame));
    sink.write(batch);  // nobody reading: counted at once, nothing queued
    CHECK(dropped(s.sink("stream"), SinkDropReason::no_reader) == 10);

    const size_t first_bytes = kPcapFileHeaderBytes + 3 * (kPcapRecordHeaderBytes + frame.size());
    auto first = std::make_unique<FifoReader>((tmp.path / "feed").string(), first_bytes);
    REQUIRE(eventually([&] { return writer->has_reader(); }));
    CHECK(sink.health());
    sink.write(std::span(batch).first(3));
    first->join();  // read three records, then went away
    first.reset();
    // The writer notices on its next write, or from POLLERR while idle.
    for (int i = 0; i < 200 && writer->has_reader(); ++i) {
        sink.write(std::span(batch).first(1));
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    REQUIRE_FALSE(writer->has_reader());
    REQUIRE(eventually([&] {
        sink.tick(0);
        return s.sink("stream").buffered.get() == 0;
    }));
    CHECK_FALSE(sink.health());

    FifoReader second((tmp.path / "feed").string());
    REQUIRE(eventually([&] { return writer->has_reader(); }));
    sink.write(batch);
    sink.close();
    const SinkCounters& c = s.sink("stream");
    CHECK(c.written.get() >= 3 + 10);
    CHECK(dropped(c, SinkDropReason::no_reader) >= 10);
    CHECK(c.buffered.get() == 0);
    CHECK(s.s.packets.get() == 0);  // the sink never touches session totals
    owned.reset();
    writer.reset();
    second.join();
    const PcapRead p = read_pcap(second.bytes);
    check_stream_header(p);
    CHECK(p.whole);
    REQUIRE(p.records.size() == 10);
    for (const PcapRecord& r : p.records) {
        CHECK(r.ts_ns == 1'700'000'000'123'456'789ull);
        CHECK(r.data == frame);
    }
}

namespace {

// A writer on a FIFO whose reader has it open and reads nothing until told:
// the pipe fills first, then the writer's buffer, then the rings.
struct QuietReader {
    std::shared_ptr<StreamWriter> writer;
    int fd = -1;
    QuietReader(const fs::path& dir, size_t ring_bytes) {
        StreamWriterOptions o = fifo_options(dir);
        o.ring_bytes = ring_bytes;
        writer = std::make_shared<StreamWriter>(o);
        REQUIRE(writer->open());
    writer->start();
        fd = ::open((dir / "feed").c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC);
        REQUIRE(fd >= 0);
        REQUIRE(eventually([&] { return writer->has_reader(); }));
    }
    ~QuietReader() { ::close(fd); }
};

}  // namespace

TEST_CASE("stream: an ended session is let go of once every record queued for it is delivered and counted") {
    TempDir tmp;
    auto writer = std::make_shared<StreamWriter>(fifo_options(tmp.path));
    REQUIRE(writer->open());
    writer->start();
    TestSession a(0, 501);
    FifoReader reader((tmp.path / "feed").string());
    REQUIRE(eventually([&] { return writer->has_reader(); }));
    StreamSink sink(StreamSinkOptions{writer, 65535, uint32_t(sink_kind("stream")), false});
    const Buf frame = tcp4(1, 2, 3, 4, 200);
    std::vector<Packet> batch(50, packet(a.s, frame));
    sink.write(batch);
    const uint64_t ticket = sink.expire(a.s);
    CHECK(ticket != 0);
    // Released means final: nothing of the ring counts into the session afterwards.
    REQUIRE(eventually([&] { return sink.released(ticket); }));
    CHECK(a.sink("stream").written.get() == 50);
    CHECK(a.sink("stream").buffered.get() == 0);
    sink.close();
    CHECK(a.sink("stream").written.get() == 50);
    writer.reset();
}

TEST_CASE("stream: a reader that stops reading costs queue_full drops, and closing still ends in bounded time") {
    TempDir tmp;
    QuietReader stalled(tmp.path, 64 * 1024);  // never reads
    auto& writer = stalled.writer;
    TestSession s(0, 7);
    StreamSink sink(StreamSinkOptions{writer, 65535, uint32_t(sink_kind("stream")), false});
    const Buf frame = tcp4(1, 2, 3, 4, 1500);
    std::vector<Packet> batch(64, packet(s.s, frame));
    // Neither writing nor closing waits for the reader (a hang would be the
    // test's timeout): what does not fit is counted, not queued forever.
    for (int i = 0; i < 100; ++i) sink.write(batch);  // 9.6 MB at a reader that takes nothing
    sink.close();
    const SinkCounters& c = s.sink("stream");
    CHECK(dropped(c, SinkDropReason::queue_full) > 0);
    CHECK(c.written.get() + all_dropped(c) == 6400);
    CHECK(c.buffered.get() == 0);
}

TEST_CASE("stream: a required stream is unhealthy while its reader takes nothing, and healthy once it reads") {
    TempDir tmp;
    QuietReader reader(tmp.path, 64 * 1024);
    TestSession s(0, 8);
    StreamSinkOptions o{reader.writer, 65535, uint32_t(sink_kind("stream")), true};
    o.stall_grace_ns = 50'000'000;
    StreamSink sink(o);
    CHECK(sink.health());  // connected, nothing waiting
    const Buf frame = tcp4(1, 2, 3, 4, 1500);
    std::vector<Packet> batch(64, packet(s.s, frame));
    // Until the pipe and the ring are full and the writer waits on the reader.
    std::string why;
    CHECK(eventually([&] {
        sink.write(batch);
        auto health = sink.health();
        if (!health) why = health.error();
        return !health;
    }));
    CHECK(why.find("has taken nothing") != std::string::npos);
    CHECK(dropped(s.sink("stream"), SinkDropReason::queue_full) > 0);
    // The reader reads again: the backlog drains and health comes back.
    CHECK(eventually([&] {
        std::byte buf[65536];
        while (::read(reader.fd, buf, sizeof buf) > 0) {
        }
        sink.tick(0);
        return bool(sink.health());
    }));
    sink.close();
    const SinkCounters& c = s.sink("stream");
    CHECK(c.buffered.get() == 0);
}

TEST_CASE("stream: across a reload a worker's records keep their order: its new ring waits for its old one") {
    TempDir tmp;
    // Not read yet: the rest of the old sink's records are still in its ring
    // when the new sink (the same worker after a reload) queues its own.
    QuietReader reader(tmp.path, 8u << 20);
    auto& writer = reader.writer;
    TestSession s(0, 9);
    const size_t kind = sink_kind("stream");
    constexpr uint32_t kWorker = 3;
    auto before = std::make_unique<StreamSink>(
        StreamSinkOptions{writer, 65535, counter_slot(kind, 0), false, 5'000'000'000, kWorker});
    auto after = std::make_unique<StreamSink>(
        StreamSinkOptions{writer, 65535, counter_slot(kind, 1), false, 5'000'000'000, kWorker});
    constexpr uint32_t kOld = 50000, kNew = 3000;  // 4 MB of records before, more than pipe + buffer
    std::vector<Buf> frames;
    for (uint32_t i = 0; i < kOld + kNew; ++i) frames.push_back(numbered_frame(i));
    const auto feed = [&](StreamSink& sink, uint32_t from, uint32_t to) {
        for (uint32_t at = from; at < to; at += 64) {
            std::vector<Packet> batch;
            for (uint32_t i = at; i < std::min(at + 64, to); ++i) batch.push_back(packet(s.s, frames[i]));
            sink.write(batch);
        }
    };
    feed(*before, 0, kOld);
    feed(*after, kOld, kOld + kNew);
    Buf bytes;
    const size_t expected = kPcapFileHeaderBytes + (kOld + kNew) * (kPcapRecordHeaderBytes + 64);
    CHECK(eventually([&] {
        std::byte buf[65536];
        for (ssize_t n; (n = ::read(reader.fd, buf, sizeof buf)) > 0;) bytes.insert(bytes.end(), buf, buf + n);
        return bytes.size() >= expected;
    }, 20000));
    before->close();
    after->close();
    CHECK(s.s.sinks[counter_slot(kind, 0)].written.get() == kOld);
    CHECK(s.s.sinks[counter_slot(kind, 1)].written.get() == kNew);
    const PcapRead p = read_pcap(bytes);
    check_stream_header(p);
    REQUIRE(p.records.size() == kOld + kNew);
    size_t out_of_order = 0;
    for (uint32_t i = 0; i < kOld + kNew; ++i) out_of_order += seq_of(view(p.records[i].data)) != i;
    CHECK(out_of_order == 0);
}

TEST_CASE("stream: targets are -, unix:PATH, or a FIFO path") {
    CHECK(parse_stream_target("-")->kind == StreamTarget::Kind::stdout_pipe);
    auto u = parse_stream_target("unix:/run/x.sock");
    REQUIRE(u);
    CHECK(u->kind == StreamTarget::Kind::unix_listen);
    CHECK(u->path == "/run/x.sock");
    CHECK(parse_stream_target("/tmp/feed")->kind == StreamTarget::Kind::fifo);
    CHECK_FALSE(parse_stream_target("unix:"));
    CHECK_FALSE(parse_stream_target(""));
    TempDir tmp;
    const std::string regular = (tmp.path / "file").string();
    ::close(::open(regular.c_str(), O_WRONLY | O_CREAT, 0600));
    StreamWriterOptions o;
    o.target = *parse_stream_target(regular);
    StreamWriter w(o);
    const auto opened = w.open();
    REQUIRE_FALSE(opened);
    CHECK(opened.error().find("not a FIFO") != std::string::npos);
}

TEST_CASE("stream: over a unix socket, each reader that connects gets its own header") {
    TempDir tmp;
    StreamWriterOptions o;
    o.target = *parse_stream_target("unix:" + (tmp.path / "s").string());
    auto writer = std::make_shared<StreamWriter>(o);
    REQUIRE(writer->open());
    writer->start();
    TestSession s(0, 7);
    StreamSink sink(StreamSinkOptions{writer, 65535, uint32_t(sink_kind("stream")), false});
    const Buf frame = tcp4(1, 2, 3, 4, 90);
    for (int round = 0; round < 2; ++round) {
        const int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        sockaddr_un addr{};
        addr.sun_family = AF_UNIX;
        std::strcpy(addr.sun_path, (tmp.path / "s").c_str());
        REQUIRE(connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
        REQUIRE(eventually([&] { return writer->has_reader(); }));
        std::vector<Packet> batch(5, packet(s.s, frame));
        sink.write(batch);
        const size_t want = kPcapFileHeaderBytes + 5 * (kPcapRecordHeaderBytes + frame.size());
        Buf got;
        REQUIRE(eventually([&] {
            std::byte buf[4096];
            const ssize_t n = recv(fd, buf, sizeof buf, MSG_DONTWAIT);
            if (n > 0) got.insert(got.end(), buf, buf + n);
            return got.size() >= want;
        }));
        const PcapRead p = read_pcap(got);
        check_stream_header(p);
        CHECK(p.whole);
        REQUIRE(p.records.size() == 5);
        for (const PcapRecord& r : p.records) CHECK(r.data == frame);
        ::close(fd);
        REQUIRE(eventually([&] { return !writer->has_reader(); }));
    }
    sink.close();
    CHECK(s.sink("stream").written.get() == 10);
}

// ---- forward ----------------------------------------------------------------

TEST_CASE("forward: each frame leaves as one VXLAN datagram with its session's VNI") {
    const int rx = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(bind(rx, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
    const int rcvbuf = 8 << 20;  // 100 datagrams of up to 9 KB, queued at once
    if (setsockopt(rx, SOL_SOCKET, SO_RCVBUFFORCE, &rcvbuf, sizeof rcvbuf) != 0)
        setsockopt(rx, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
    socklen_t len = sizeof addr;
    getsockname(rx, reinterpret_cast<sockaddr*>(&addr), &len);
    auto to = parse_endpoint("127.0.0.1:" + std::to_string(ntohs(addr.sin_port)));
    REQUIRE(to);
    TestSession web(0, 501), big(1, 0xFFFFFF);
    ForwardSink sink(ForwardSinkOptions{*to, uint32_t(sink_kind("forward"))});
    const Buf a = tcp4(1, 2, 10, 20, 64), b = tcp4(2, 1, 20, 10, 9000);
    std::vector<Packet> batch;
    for (int i = 0; i < 100; ++i) batch.push_back(packet(i % 3 ? web.s : big.s, i % 2 ? a : b));
    sink.write(batch);
    for (int i = 0; i < 100; ++i) {
        pollfd p{rx, POLLIN, 0};
        REQUIRE(poll(&p, 1, 2000) == 1);
        std::byte buf[9216];
        const ssize_t n = recv(rx, buf, sizeof buf, 0);
        const DecapResult d = decap_vxlan(Bytes(buf, size_t(n)));
        REQUIRE(d.ok());
        CHECK(d->header.vni == (i % 3 ? 501u : 0xFFFFFFu));
        const Buf& want = i % 2 ? a : b;
        CHECK(Buf(d->frame.begin(), d->frame.end()) == want);
    }
    CHECK(web.sink("forward").written.get() + big.sink("forward").written.get() == 100);
    CHECK(sink.health());
    CHECK(sink.stats().bytes_written == 50 * (8 + 64) + 50 * (8 + 9000));
    sink.close();
    sink.write(batch);
    CHECK(dropped(web.sink("forward"), SinkDropReason::not_open) == 66);
    ::close(rx);
}

TEST_CASE("forward: a destination that refuses (ICMP port unreachable) does not stop later batches") {
    const int probe = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(bind(probe, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
    socklen_t len = sizeof addr;
    getsockname(probe, reinterpret_cast<sockaddr*>(&addr), &len);
    ::close(probe);  // nobody listens there now
    auto to = parse_endpoint("127.0.0.1:" + std::to_string(ntohs(addr.sin_port)));
    TestSession s(0, 5);
    ForwardSink sink(ForwardSinkOptions{*to, uint32_t(sink_kind("forward"))});
    const Buf frame = tcp4(1, 2, 3, 4, 100);
    std::vector<Packet> batch(32, packet(s.s, frame));
    for (int i = 0; i < 10; ++i) sink.write(batch);
    CHECK(s.sink("forward").written.get() == 320);
    CHECK(all_dropped(s.sink("forward")) == 0);
    CHECK(sink.health());
}
