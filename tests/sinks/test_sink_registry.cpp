// The sink registry: the one list of sink kinds agrees with the config's, and
// preparing a configuration is all or nothing.
#include <doctest/doctest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <fstream>
#include <set>

#include "sinks/pcap_writer.hpp"
#include "sinks/sink_registry.hpp"
#include "sinks/stream_sink.hpp"
#include "sinks/tap_sink.hpp"
#include "tests/support/temp_dir.hpp"

using namespace mirrortap;
using namespace mirrortap::test;

namespace {

// A UDP socket on loopback for the forward sink to send to.
struct UdpPort {
    int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    std::string text;
    UdpPort() {
        sockaddr_in a{};
        a.sin_family = AF_INET;
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
        socklen_t len = sizeof a;
        getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
        text = "127.0.0.1:" + std::to_string(ntohs(a.sin_port));
    }
    ~UdpPort() { ::close(fd); }
};

Endpoint endpoint(const std::string& text) {
    auto e = parse_endpoint(text);
    REQUIRE_MESSAGE(e, (e ? std::string() : e.error()));
    return *e;
}

}  // namespace

TEST_CASE("registry: its kinds are kSinkNames, in order, and each kind's sinks count in its own slots") {
    REQUIRE(sink_kinds().size() == kSinkNames.size());
    std::set<uint32_t> slots;
    for (size_t k = 0; k < kSinkNames.size(); ++k) {
        CAPTURE(kSinkNames[k]);
        CHECK(sink_kinds()[k].name == kSinkNames[k]);
        CHECK(sink_kind(kSinkNames[k]) == k);
        const auto parsed = parse_sink_name(kSinkNames[k]);  // what per-session `sinks:` lists parse to
        REQUIRE(parsed);
        CHECK(*parsed == k);
        for (uint64_t generation : {0, 1, 2, 3}) {
            const uint32_t slot = counter_slot(k, generation);
            CHECK(slot < kMaxSinks);
            CHECK(kind_of_slot(slot) == k);
            CHECK(slot == counter_slot(k, generation + kCounterBanks));
            slots.insert(slot);
        }
        CHECK(counter_slot(k, 0) != counter_slot(k, 1));  // a reload's sinks count apart from those they replace
    }
    CHECK(slots.size() == kSinkNames.size() * kCounterBanks);
    CHECK(sink_kind("no-such-sink") == kSinkNames.size());
}

TEST_CASE("registry: every kind a config turns on is built, named and counting where the registry says") {
    TempDir tmp;
    UdpPort port;
    Config c;
    c.pcap.dir = (tmp.path / "captures").string();
    c.stream = (tmp.path / "feed").string();
    c.forward = endpoint(port.text);
    auto prepared = prepare_sinks(c, {});
    REQUIRE_MESSAGE(prepared, prepared.error());
    SharedOutputs outputs = std::move(*prepared);
    CHECK(std::filesystem::exists(tmp.path / "captures"));
    CHECK(std::filesystem::exists(tmp.path / "feed"));
    // TAPs are made by the system (CAP_NET_ADMIN); a socket adopted as one serves here.
    int pair[2];
    REQUIRE(socketpair(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0, pair) == 0);
    auto taps = std::make_shared<TapDevices>();
    taps->adopt(pair[0], "mt-test");
    c.tap = {"mt-test"};
    outputs[sink_kind("tap")] = taps;
    SinkServices services{std::make_shared<PcapWriter>(), nullptr};
    services.pcap_writer->start();
    for (uint64_t generation : {0, 1}) {
        auto made = make_sinks(c, outputs, services, generation, 0);
        REQUIRE_MESSAGE(made, made.error());
        std::vector<std::unique_ptr<Sink>> sinks = std::move(*made);
        REQUIRE(sinks.size() == kSinkNames.size());
        for (size_t k = 0; k < sinks.size(); ++k) {
            CHECK(sinks[k]->name() == kSinkNames[k]);
            CHECK(sinks[k]->slot() == counter_slot(k, generation));
        }
        for (auto& s : sinks) s->close();
    }
    c.pcap.enabled = false;
    c.tap.clear();
    auto made = make_sinks(c, outputs, services, 0, 0);
    REQUIRE_MESSAGE(made, made.error());
    std::vector<std::unique_ptr<Sink>> sinks = std::move(*made);
    REQUIRE(sinks.size() == 2);
    CHECK(sinks[0]->name() == "stream");
    CHECK(sinks[1]->name() == "forward");
    ::close(pair[1]);
}

TEST_CASE("registry: preparing a config is all or nothing, and what runs is left as it was") {
    TempDir tmp;
    Config running_config;
    running_config.pcap.dir = (tmp.path / "captures").string();
    running_config.stream = (tmp.path / "feed").string();
    auto prepared = prepare_sinks(running_config, {});
    REQUIRE_MESSAGE(prepared, prepared.error());
    SharedOutputs running = std::move(*prepared);
    const auto running_writer = running[sink_kind("stream")];
    REQUIRE(running_writer);

    SUBCASE("the same stream is shared, not opened again") {
        auto next = prepare_sinks(running_config, running);
        REQUIRE_MESSAGE(next, next.error());
        CHECK((*next)[sink_kind("stream")] == running_writer);
    }
    SUBCASE("a step that fails after a new stream was opened leaves neither it nor its FIFO") {
        Config next_config = running_config;
        next_config.stream = (tmp.path / "other-feed").string();
        next_config.forward = endpoint("255.255.255.255:4789");  // connect(2) refuses broadcast: EACCES
        const auto next = prepare_sinks(next_config, running);
        REQUIRE_FALSE(next);
        CHECK(next.error() == "cannot forward to 255.255.255.255:4789: Permission denied");
        // Opened aside before the forward step failed, and gone with the failure.
        CHECK_FALSE(std::filesystem::exists(tmp.path / "other-feed"));
    }
    SUBCASE("each step's own failure, with its reason") {
        const std::filesystem::path file = tmp.path / "a-file";
        std::ofstream(file) << "not a directory\n";
        Config bad = running_config;
        std::string want;
        SUBCASE("pcap.group") {
            bad.pcap.group = "no-such-group-mirrortap";
            want = "pcap.group: unknown group 'no-such-group-mirrortap'";
        }
        SUBCASE("pcap.dir") {
            bad.pcap.dir = (file / "captures").string();
            want = "cannot create pcap directory " + bad.pcap.dir + ": " + file.string() + " is not a directory";
        }
        SUBCASE("stream") {
            bad.stream = (tmp.path / "missing" / "feed").string();
            want = "--stream " + bad.stream + ": cannot create FIFO: No such file or directory";
        }
        const auto next = prepare_sinks(bad, running);
        REQUIRE_FALSE(next);
        CHECK(next.error() == want);
    }
    // Whatever was tried, the running outputs are those it had.
    CHECK(running[sink_kind("stream")] == running_writer);
    CHECK(running_writer.use_count() == 2);
    CHECK(std::filesystem::exists(tmp.path / "feed"));
}
