// What mirrortap-find reads from people and files: times, flow indexes.
#include <doctest/doctest.h>
#include <zlib.h>

#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <fstream>
#include <sstream>

#include "find/flow_index.hpp"
#include "find/pcap_output.hpp"
#include "find/search.hpp"
#include "find/store.hpp"

using namespace mirrortap::find;

namespace {

std::string gzip(const std::string& text) {
    z_stream z{};
    deflateInit2(&z, 6, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY);
    std::string out(deflateBound(&z, uLong(text.size())) + 32, '\0');
    z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(text.data()));
    z.avail_in = uInt(text.size());
    z.next_out = reinterpret_cast<Bytef*>(out.data());
    z.avail_out = uInt(out.size());
    deflate(&z, Z_FINISH);
    out.resize(z.total_out);
    deflateEnd(&z);
    return out;
}

const std::string kLine =
    R"({"session":"web","vni":501,"collector":"i-0abc","file":"web-20261201T061300Z-000001.pcap",)"
    R"("file_first_ns":1796105580000000000,"file_last_ns":1796105590000000000,"file_packets":10,"file_bytes":2000,)"
    R"("index_complete":true,"first_ns":1796105580000000000,"last_ns":1796105581000000000,"packets":2,"bytes":400,)"
    R"("first_offset":24,"end_offset":456,"ether_type":2048,"vlans":[100,7],"ip_version":4,"protocol":6,)"
    R"("src":"10.0.3.7","dst":"10.0.9.1","src_port":40000,"dst_port":5432,"fragments":false,"ip6_ext":false})";

}  // namespace

TEST_CASE("an index line is read with every member the format gives") {
    const auto index = read_flow_index(gzip(kLine + "\n"), 2000);
    REQUIRE_MESSAGE(index, (index ? "" : index.error()));
    REQUIRE(index->flows.size() == 1);
    const IndexedFlow& f = index->flows[0];
    CHECK(index->file.session == "web");
    CHECK(index->file.collector == "i-0abc");
    CHECK(index->file.vni == 501u);
    CHECK(index->file.first_ns == 1796105580000000000ull);
    CHECK(f.first_offset == 24);
    CHECK(f.end_offset == 456);
    CHECK(f.vlans == std::vector<uint16_t>{100, 7});
    CHECK(f.ip_version == 4);
    CHECK(f.protocol == 6);
    CHECK(f.src == "10.0.3.7");
    CHECK(f.dst_port == 5432);
    CHECK_FALSE(f.fragments);
}

TEST_CASE("nulls and non-IP lines are read") {
    std::string line = kLine;
    const auto replace = [&](const std::string& from, const std::string& to) {
        line.replace(line.find(from), from.size(), to);
    };
    replace(R"("ip_version":4)", R"("ip_version":null)");
    replace(R"("protocol":6)", R"("protocol":null)");
    replace(R"("src_port":40000)", R"("src_port":null)");
    replace(R"("src":"10.0.3.7")", R"("src":"02:00:00:00:00:aa")");
    replace(R"("ether_type":2048)", R"("ether_type":null)");
    replace(R"("vni":501)", R"("vni":null)");
    const auto index = parse_flow_index(line);
    REQUIRE_MESSAGE(index, (index ? "" : index.error()));
    CHECK_FALSE(index->file.vni);
    CHECK_FALSE(index->flows[0].ip_version);
    CHECK_FALSE(index->flows[0].src_port);
    CHECK(index->flows[0].src == "02:00:00:00:00:aa");
    CHECK_FALSE(index->flows[0].ether_type);
}

TEST_CASE("corrupt or stale indexes are refused with a reason") {
    auto refused = read_flow_index("not gzip at all", 2000);
    REQUIRE_FALSE(refused);
    CHECK(refused.error().find("gzip") != std::string::npos);
    const std::string gz = gzip(kLine + "\n");
    CHECK_FALSE(read_flow_index(gz.substr(0, gz.size() / 2), 2000));
    CHECK_FALSE(read_flow_index(gzip(kLine + "\n"), 3000));  // describes another size
    refused = read_flow_index(gzip("{\"session\":\"web\"}\n"), 2000);
    REQUIRE_FALSE(refused);
    CHECK(refused.error().find("line 1") != std::string::npos);
    CHECK_FALSE(read_flow_index(gzip(kLine.substr(0, 100) + "\n"), 2000));
    CHECK_FALSE(read_flow_index(gzip(""), 2000));  // no flows for a pcap with records
    CHECK(read_flow_index(gzip(""), 24));           // an empty pcap has none
}

TEST_CASE("index lines: versions, escapes, big numbers and malformed lines") {
    // Version 1 is the format without the member; saying so is the same.
    CHECK(parse_flow_index("{\"version\":1," + kLine.substr(1) + "\n"));
    // A newer format is refused, not guessed at.
    auto refused = parse_flow_index(kLine + "\n{\"version\":2," + kLine.substr(1) + "\n");
    REQUIRE_FALSE(refused);
    CHECK(refused.error() == "line 2: format version 2, this mirrortap-find reads version 1 (a newer collector wrote it)");
    // Names with escapes and characters past U+FFFF read as they were written.
    std::string line = kLine;
    line.replace(line.find(R"("session":"web")"), 15, R"("session":"w\"e\\b \u00e9\ud83d\ude00")");
    const auto escaped = parse_flow_index(line);
    REQUIRE_MESSAGE(escaped, (escaped ? "" : escaped.error()));
    CHECK(escaped->file.session == "w\"e\\b \xC3\xA9\xF0\x9F\x98\x80");
    // Numbers: up to 2^64 - 1 kept whole; past it, fractions and signs refused, naming the member.
    line = kLine;
    line.replace(line.find(R"("packets":2,)"), 12, R"("packets":18446744073709551615,)");
    REQUIRE(parse_flow_index(line));
    CHECK(parse_flow_index(line)->flows[0].packets == 18446744073709551615ull);
    for (const char* bad : {"18446744073709551616", "12.0", "1e1", "-12", "\"12\""}) {
        line = kLine;
        line.replace(line.find(R"("packets":2,)"), 12, std::string(R"("packets":)") + bad + ",");
        INFO(bad);
        refused = parse_flow_index("\n" + line);
        REQUIRE_FALSE(refused);
        CHECK(refused.error() == "line 2: bad packets");
    }
    // A line that is not JSON says where; blank lines are skipped, as before.
    refused = parse_flow_index(kLine + "\n\n  \n" + kLine.substr(0, 20) + "\n");
    REQUIRE_FALSE(refused);
    CHECK(refused.error().rfind("line 4: ", 0) == 0);
    CHECK(refused.error().find("column") != std::string::npos);
}

TEST_CASE("byte ranges merge where they touch or lie close") {
    const auto m = merge_ranges({{500, 600}, {24, 100}, {100, 200}, {250, 300}, {580, 700}}, 10);
    REQUIRE(m.size() == 3);
    CHECK(m[0].first == 24);
    CHECK(m[0].end == 200);
    CHECK(m[1].first == 250);
    CHECK(m[2].end == 700);
    CHECK(merge_ranges({{24, 100}, {150, 200}}, 50).size() == 1);
}

TEST_CASE("an index inflating past the cap is refused while inflating") {
    const std::string bomb = gzip(std::string(kMaxIndexTextBytes + (1 << 20), ' '));
    CHECK(bomb.size() < kMaxIndexBytes);
    const auto refused = read_flow_index(bomb, 2000);
    REQUIRE_FALSE(refused);
    CHECK(refused.error() == "more than " + std::to_string(kMaxIndexTextBytes) + " bytes uncompressed");
}

TEST_CASE("-F takes pcap or pcapng, nothing else") {
    CHECK(parse_output_format("pcap") == OutputFormat::pcap);
    CHECK(parse_output_format("pcapng") == OutputFormat::pcapng);
    const auto refused = parse_output_format("ng");
    REQUIRE_FALSE(refused);
    CHECK(refused.error() == "expected pcap or pcapng, got 'ng'");
}

namespace {

struct Block {
    uint32_t type;
    std::string body;
};

// The blocks of a little-endian pcapng, each checked for its two equal lengths.
std::vector<Block> pcapng_blocks(const std::string& bytes) {
    std::vector<Block> out;
    size_t pos = 0;
    while (pos + 12 <= bytes.size()) {
        uint32_t type, total, trailer;
        std::memcpy(&type, bytes.data() + pos, 4);
        std::memcpy(&total, bytes.data() + pos + 4, 4);
        REQUIRE(total % 4 == 0);
        REQUIRE(pos + total <= bytes.size());
        std::memcpy(&trailer, bytes.data() + pos + total - 4, 4);
        REQUIRE(trailer == total);
        out.push_back({type, bytes.substr(pos + 8, total - 12)});
        pos += total;
    }
    CHECK(pos == bytes.size());
    return out;
}

}  // namespace

TEST_CASE("pcapng: one interface per session and collector, described before its first packet") {
    char path[] = "/tmp/mirrortap-find-pcapng-XXXXXX";
    const int fd = mkstemp(path);
    REQUIRE(fd >= 0);
    ::close(fd);
    const Origin web_a{"web", "c1", 501}, db_a{"db", "c1", std::nullopt}, web_b{"web", "c2", 501};
    const uint8_t frame[60] = {1, 2, 3};
    {
        PcapOutput out;
        REQUIRE(out.open(path, OutputFormat::pcapng));
        for (const Origin* o : {&web_a, &db_a, &web_a, &web_b})
            REQUIRE(out.write({1796105580123456789ull, 60, 1514, frame, o}));
        REQUIRE(out.close());
    }
    std::ifstream in(path, std::ios::binary);
    std::stringstream bytes;
    bytes << in.rdbuf();
    ::unlink(path);
    const auto blocks = pcapng_blocks(bytes.str());
    // SHB, then an IDB before each interface's first EPB: web@c1, db@c1, (web@c1 again), web@c2.
    std::vector<uint32_t> types;
    for (const auto& b : blocks) types.push_back(b.type);
    CHECK(types == std::vector<uint32_t>{0x0A0D0D0A, 1, 6, 1, 6, 6, 1, 6});
    CHECK(blocks[1].body.find("web@c1") != std::string::npos);
    CHECK(blocks[1].body.find("VNI 501") != std::string::npos);
    CHECK(blocks[3].body.find("db@c1") != std::string::npos);
    CHECK(blocks[3].body.find("VNI unknown") != std::string::npos);
    CHECK(blocks[6].body.find("web@c2") != std::string::npos);
    // An EPB: interface id, timestamp high and low in nanoseconds (if_tsresol 9), lengths, the frame.
    uint32_t epb[5];
    std::memcpy(epb, blocks[7].body.data(), sizeof epb);
    CHECK(epb[0] == 2);
    CHECK((uint64_t(epb[1]) << 32 | epb[2]) == 1796105580123456789ull);
    CHECK(epb[3] == 60);
    CHECK(epb[4] == 1514);
    std::memcpy(epb, blocks[5].body.data(), 4);
    CHECK(epb[0] == 0);  // web@c1 keeps its interface
}
