// The flow index: its lines from records in memory, and the files the pcap
// writer puts beside each pcap (real files, read back with zlib and libpcap).
#include <doctest/doctest.h>

#include <sys/stat.h>
#include <zlib.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "sinks/flow_index.hpp"
#include "sinks/pcap_format.hpp"
#include "sinks/pcap_rotator.hpp"
#include "tests/support/frames.hpp"
#include "tests/support/temp_dir.hpp"

using namespace mirrortap;
using namespace mirrortap::test;
namespace fs = std::filesystem;

namespace {

constexpr uint64_t kIndexT0 = 1'764'569'580'000'000'000ull;  // 2025-12-01T06:13:00Z

std::vector<std::string> lines_of(const std::string& text) {
    std::vector<std::string> out;
    std::istringstream in(text);
    for (std::string line; std::getline(in, line);) out.push_back(line);
    return out;
}

std::string gunzip(const fs::path& p) {
    gzFile gz = gzopen(p.c_str(), "rb");
    REQUIRE(gz != nullptr);
    std::string out;
    char buf[4096];
    int n;
    while ((n = gzread(gz, buf, sizeof buf)) > 0) out.append(buf, size_t(n));
    CHECK(n == 0);
    gzclose(gz);
    return out;
}

bool has(const std::string& line, const std::string& part) { return line.find(part) != std::string::npos; }

Buf tcp4(uint8_t src_last, uint16_t sport, uint16_t dport) {
    Buf b = ethernet(0x0800, {0x8100, 100});
    ipv4(b, 6, {10, 0, 3, src_last}, {10, 0, 9, 1}, 40);
    ports(b, sport, dport);
    pad_to(b, 58);
    return b;
}

const IndexedFile kFile{"web", 501, "i-0abc", "web-20251201T061300Z-000001.pcap"};

}  // namespace

TEST_CASE("flow index: one line per flow and direction, with counts, times and offsets") {
    FlowIndex index(100);
    const Buf a = tcp4(7, 40000, 5432);
    const Buf b = tcp4(8, 40001, 5432);
    Buf arp = ethernet(0x0806);
    pad_to(arp, 42);
    uint64_t offset = sizeof(PcapFileHeader);
    auto add = [&](const Buf& f, uint64_t ts) {
        index.add(offset, ts, uint32_t(f.size()), view(f));
        offset += sizeof(PcapRecordHeader) + f.size();
    };
    add(a, kIndexT0 + 5);
    add(b, kIndexT0 + 6);
    add(a, kIndexT0 + 7);
    add(arp, kIndexT0 + 8);
    CHECK(index.flows() == 3);
    CHECK(index.packets() == 4);
    CHECK(index.complete());
    const auto lines = lines_of(index.json_lines(kFile, offset));
    REQUIRE(lines.size() == 3);
    // In file order, keys in the documented order, the file's facts on every line.
    CHECK(lines[0] ==
          "{\"session\":\"web\",\"vni\":501,\"collector\":\"i-0abc\",\"file\":\"web-20251201T061300Z-000001.pcap\","
          "\"file_first_ns\":1764569580000000005,\"file_last_ns\":1764569580000000008,\"file_packets\":4,"
          "\"file_bytes\":" + std::to_string(offset) + ",\"index_complete\":true,"
          "\"first_ns\":1764569580000000005,\"last_ns\":1764569580000000007,\"packets\":2,\"bytes\":116,"
          "\"first_offset\":24,\"end_offset\":246,"
          "\"ether_type\":2048,\"vlans\":[100],\"ip_version\":4,\"protocol\":6,\"src\":\"10.0.3.7\","
          "\"dst\":\"10.0.9.1\",\"src_port\":40000,\"dst_port\":5432,\"fragments\":false,\"ip6_ext\":false}");
    CHECK(has(lines[1], "\"first_offset\":98,\"end_offset\":172,"));
    CHECK(has(lines[1], "\"src\":\"10.0.3.8\""));
    CHECK(has(lines[2], "\"ether_type\":2054,\"vlans\":[],\"ip_version\":null,\"protocol\":null,"
                        "\"src\":\"02:00:00:00:00:aa\",\"dst\":\"02:00:00:00:00:bb\",\"src_port\":null,"
                        "\"dst_port\":null,"));
}

TEST_CASE("flow index: the two directions of a connection are two lines") {
    FlowIndex index(100);
    const Buf there = udp4_frame({10, 0, 0, 1}, {10, 0, 0, 2}, 1000, 53);
    const Buf back = udp4_frame({10, 0, 0, 2}, {10, 0, 0, 1}, 53, 1000);
    index.add(24, kIndexT0, 60, view(there));
    index.add(100, kIndexT0 + 1, 60, view(back));
    CHECK(index.flows() == 2);
}

TEST_CASE("flow index: IPv6 with extension headers, fragments and ICMPv6") {
    FlowIndex index(100);
    Buf frag = ethernet(0x86DD);
    ipv6(frag, 44, 1, 2, 1400);
    put(frag, {17, 0, 0, 1, 0, 0, 0, 9});  // fragment header: offset 0, more fragments
    ports(frag, 500, 4500);
    Buf later = ethernet(0x86DD);
    ipv6(later, 44, 1, 2, 100);
    put(later, {17, 0, 0x05, 0x78, 0, 0, 0, 9});  // offset 175
    pad_to(later, later.size() + 20);
    Buf icmp = ethernet(0x86DD);
    ipv6(icmp, 58, 1, 2, 8);
    put(icmp, {128, 0, 0, 0, 0, 1, 0, 1});
    index.add(24, kIndexT0, 1468, view(frag));
    index.add(200, kIndexT0 + 1, uint32_t(later.size()), view(later));
    index.add(400, kIndexT0 + 2, uint32_t(icmp.size()), view(icmp));
    const auto lines = lines_of(index.json_lines(kFile, 500));
    REQUIRE(lines.size() == 3);
    CHECK(has(lines[0], "\"bytes\":1468,"));
    CHECK(has(lines[0], "\"ip_version\":6,\"protocol\":17,\"src\":\"2000::1\",\"dst\":\"2000::2\","
                        "\"src_port\":500,\"dst_port\":4500,\"fragments\":true,\"ip6_ext\":true}"));
    // A later fragment has no ports: a flow of its own, ports null.
    CHECK(has(lines[1], "\"protocol\":17,\"src\":\"2000::1\",\"dst\":\"2000::2\",\"src_port\":null,"
                        "\"dst_port\":null,\"fragments\":true,\"ip6_ext\":true}"));
    CHECK(has(lines[2], "\"protocol\":58,\"src\":\"2000::1\",\"dst\":\"2000::2\",\"src_port\":null,"
                        "\"dst_port\":null,\"fragments\":false,\"ip6_ext\":false}"));
}

TEST_CASE("flow index: a truncated frame counts, and what it did not reach is null") {
    FlowIndex index(100);
    Buf runt = ethernet(0x0800);
    runt.resize(9);
    Buf cut = ethernet(0x0800);
    ipv4(cut, 6, {10, 0, 0, 1}, {10, 0, 0, 2}, 1500);  // cut before the TCP header
    index.add(24, kIndexT0, 9, view(runt));
    index.add(49, kIndexT0 + 1, 1514, view(cut));
    const auto lines = lines_of(index.json_lines(kFile, 200));
    REQUIRE(lines.size() == 2);
    CHECK(has(lines[0], "\"packets\":1,\"bytes\":9,\"first_offset\":24,\"end_offset\":49,\"ether_type\":null,"
                        "\"vlans\":[],\"ip_version\":null,\"protocol\":null,\"src\":null,\"dst\":null,"
                        "\"src_port\":null,\"dst_port\":null,"));
    CHECK(has(lines[1], "\"bytes\":1514,"));
    CHECK(has(lines[1], "\"ip_version\":4,\"protocol\":6,\"src\":\"10.0.0.1\",\"dst\":\"10.0.0.2\","
                        "\"src_port\":null,\"dst_port\":null,"));
}

TEST_CASE("flow index: past its cap new flows are left out and the index says incomplete") {
    FlowIndex index(2);
    for (uint16_t port = 1; port <= 5; ++port) {
        const Buf f = udp4_frame({10, 0, 0, 1}, {10, 0, 0, 2}, port, 53);
        index.add(24 + port * 76u, kIndexT0 + port, 60, view(f));
    }
    const Buf first_again = udp4_frame({10, 0, 0, 1}, {10, 0, 0, 2}, 1, 53);
    index.add(1000, kIndexT0 + 9, 60, view(first_again));  // a flow already in still counts
    CHECK(index.flows() == 2);
    CHECK_FALSE(index.complete());
    CHECK(index.packets() == 6);
    const auto lines = lines_of(index.json_lines(kFile, 2000));
    REQUIRE(lines.size() == 2);
    CHECK(has(lines[0], "\"file_packets\":6,"));
    CHECK(has(lines[0], "\"index_complete\":false,"));
    CHECK(has(lines[0], "\"packets\":2,"));
    index.clear();
    CHECK(index.complete());
    CHECK(index.flows() == 0);
}

TEST_CASE("flow index: thousands of flows, each found again after the table grew, and again after clear()") {
    FlowIndex index(100000);
    for (int round = 0; round < 2; ++round) {
        constexpr uint16_t kFlows = 5000;
        for (int pass = 0; pass < 3; ++pass) {
            for (uint16_t port = 1; port <= kFlows; ++port) {
                const Buf f = udp4_frame({10, 0, 0, 1}, {10, 0, 0, 2}, port, 53);
                index.add(24 + (uint64_t(pass) * kFlows + port) * 76u, kIndexT0 + port, 60, view(f));
            }
        }
        CHECK(index.flows() == kFlows);
        CHECK(index.complete());
        const auto lines = lines_of(index.json_lines(kFile, 5'000'000));
        REQUIRE(lines.size() == kFlows);
        // In the order of their first record, each seen three times.
        for (uint16_t port = 1; port <= kFlows; ++port) {
            const std::string& line = lines[port - 1];
            CHECK(has(line, "\"src_port\":" + std::to_string(port) + ","));
            CHECK(has(line, "\"packets\":3,"));
            CHECK(has(line, "\"first_offset\":" + std::to_string(24 + port * 76u) + ","));
        }
        index.clear();
        CHECK(index.flows() == 0);
    }
}

// ---- beside the pcap, as the writer thread writes it ----

namespace {

// The process-wide counters, as moved since it was made.
struct TotalsSince {
    uint64_t written = flow_index_totals().written.load();
    uint64_t failed = flow_index_totals().failed.load();
    uint64_t incomplete = flow_index_totals().incomplete.load();
    uint64_t written_now() const { return flow_index_totals().written.load() - written; }
    uint64_t failed_now() const { return flow_index_totals().failed.load() - failed; }
    uint64_t incomplete_now() const { return flow_index_totals().incomplete.load() - incomplete; }
};

struct IndexFixture {
    TempDir tmp;
    Session session;
    Buf a = tcp4(7, 40000, 5432);
    Buf b = udp4_frame({10, 0, 0, 5}, {10, 0, 0, 6}, 1000, 53, 80);
    IndexFixture() {
        session.id = 0;
        session.vni = 501;
        session.set_name(std::make_shared<const std::string>("web"));
    }
    PcapRotatorOptions options() {
        PcapRotatorOptions o;
        o.pcap.dir = tmp.path.string();
        o.max_sessions = 4;
        o.collector_id = "i-0abc";
        return o;
    }
    Packet packet(const Buf& f, uint64_t ts) { return Packet{&session, ts, view(f), uint32_t(f.size()), {}}; }
    fs::path dir() { return tmp.path / "web"; }
    std::vector<std::string> names() {
        std::vector<std::string> out;
        if (fs::exists(dir()))
            for (auto& e : fs::directory_iterator(dir())) out.push_back(e.path().filename().string());
        std::sort(out.begin(), out.end());
        return out;
    }
};

}  // namespace

TEST_CASE("flow index file: written beside the pcap when it is finished, offsets into that pcap") {
    IndexFixture fx;
    const TotalsSince totals;
    PcapRotator sink(fx.options());
    std::vector<Packet> batch = {fx.packet(fx.a, kIndexT0), fx.packet(fx.b, kIndexT0 + 1), fx.packet(fx.a, kIndexT0 + 2)};
    sink.write(batch);
    sink.drain();
    const auto names = fx.names();
    REQUIRE(names.size() == 2);
    CHECK(names[0] == "web-20251201T061300Z-000001.pcap");
    CHECK(names[1] == "web-20251201T061300Z-000001.pcap.flows.json.gz");
    struct stat st{};
    REQUIRE(stat((fx.dir() / names[1]).c_str(), &st) == 0);
    CHECK((st.st_mode & 0777) == 0640);
    const auto lines = lines_of(gunzip(fx.dir() / names[1]));
    REQUIRE(lines.size() == 2);
    const uint64_t size = fs::file_size(fx.dir() / names[0]);
    CHECK(has(lines[0], "\"collector\":\"i-0abc\",\"file\":\"web-20251201T061300Z-000001.pcap\","));
    CHECK(has(lines[0], "\"file_packets\":3,\"file_bytes\":" + std::to_string(size) + ","));
    CHECK(has(lines[0], "\"packets\":2,\"bytes\":116,\"first_offset\":24,\"end_offset\":" +
                            std::to_string(size) + ","));
    CHECK(has(lines[1], "\"first_offset\":98,\"end_offset\":194,"));
    CHECK(totals.written_now() == 1);
    CHECK(totals.failed_now() == 0);
}

TEST_CASE("flow index file: pcap.flow_index false writes none") {
    IndexFixture fx;
    auto o = fx.options();
    o.pcap.flow_index = false;
    const TotalsSince totals;
    PcapRotator sink(o);
    std::vector<Packet> batch = {fx.packet(fx.a, kIndexT0)};
    sink.write(batch);
    sink.drain();
    CHECK(fx.names() == std::vector<std::string>{"web-20251201T061300Z-000001.pcap"});
    CHECK(totals.written_now() == 0);
}

TEST_CASE("flow index file: one that cannot be written is counted and the pcap is kept") {
    IndexFixture fx;
    // A directory where the index's .part goes: neither removed nor opened.
    fs::create_directories(fx.dir() / "web-20251201T061300Z-000001.pcap.flows.json.gz.part");
    const TotalsSince totals;
    PcapRotator sink(fx.options());
    std::vector<Packet> batch = {fx.packet(fx.a, kIndexT0)};
    sink.write(batch);
    sink.drain();
    CHECK(fs::is_regular_file(fx.dir() / "web-20251201T061300Z-000001.pcap"));
    CHECK_FALSE(fs::exists(fx.dir() / "web-20251201T061300Z-000001.pcap.flows.json.gz"));
    CHECK(totals.failed_now() == 1);
    CHECK(totals.written_now() == 0);
    CHECK(fx.session.sinks[0].written.get() == 1);
}

TEST_CASE("flow index file: the cap is counted and the index says incomplete") {
    IndexFixture fx;
    auto o = fx.options();
    o.pcap.index_max_flows = 1;
    const TotalsSince totals;
    PcapRotator sink(o);
    std::vector<Packet> batch = {fx.packet(fx.a, kIndexT0), fx.packet(fx.b, kIndexT0 + 1)};
    sink.write(batch);
    sink.drain();
    const auto lines = lines_of(gunzip(fx.dir() / "web-20251201T061300Z-000001.pcap.flows.json.gz"));
    REQUIRE(lines.size() == 1);
    CHECK(has(lines[0], "\"file_packets\":2,"));
    CHECK(has(lines[0], "\"index_complete\":false,"));
    CHECK(totals.incomplete_now() == 1);
}

TEST_CASE("flow index file: each rotated file has its own, and retention deletes it with its pcap") {
    IndexFixture fx;
    auto o = fx.options();
    o.pcap.rotate_size_bytes = 4096;
    o.pcap.retain_files = 2;
    const TotalsSince totals;
    PcapRotator sink(o);
    for (uint64_t i = 0; i < 200; ++i) {
        std::vector<Packet> batch = {fx.packet(i % 2 ? fx.a : fx.b, kIndexT0 + i)};
        sink.write(batch);
    }
    sink.drain();
    const auto names = fx.names();
    REQUIRE(names.size() == 4);
    for (size_t i = 0; i < 4; i += 2) {
        CHECK(names[i + 1] == names[i] + ".flows.json.gz");
        const auto lines = lines_of(gunzip(fx.dir() / names[i + 1]));
        CHECK(lines.size() == 2);
        CHECK(has(lines[0], "\"file\":\"" + names[i] + "\""));
        CHECK(has(lines[0], "\"file_bytes\":" + std::to_string(fs::file_size(fx.dir() / names[i])) + ","));
    }
    CHECK(totals.written_now() == sink.stats().files_rotated);
}
