#include <doctest/doctest.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include "support/parse.hpp"
#include "support/text.hpp"

using namespace mirrortap;
using namespace std::chrono_literals;

namespace {

// The value, or a failed check that shows why it was refused.
template <typename T>
T must(Result<T> v) {
    INFO((v ? std::string() : v.error()));
    REQUIRE(v.ok());
    return *std::move(v);
}

// Why `text` was refused (and a failed check when it was not).
template <typename Parse>
std::string refusal(Parse parse, std::string_view text) {
    auto v = parse(text);
    REQUIRE_FALSE(v.ok());
    CHECK_FALSE(v.error().empty());
    return v.error();
}

const auto uint_to_1000 = [](std::string_view t) { return parse_uint(t, 1, 1000); };
const auto size = [](std::string_view t) { return parse_size_bytes(t); };
const auto duration = [](std::string_view t) { return parse_duration(t); };
const auto endpoint = [](std::string_view t) { return parse_endpoint(t); };
const auto target = [](std::string_view t) {
    return parse_endpoint(t, EndpointRules{.allow_names = true, .default_port = 4789, .min_port = 1});
};

uint16_t port_of(const Endpoint& e) {
    return ntohs(e.family() == AF_INET ? reinterpret_cast<const sockaddr_in&>(e.addr).sin_port
                                       : reinterpret_cast<const sockaddr_in6&>(e.addr).sin6_port);
}

std::array<uint8_t, 16> v4_mapped(uint8_t a, uint8_t b, uint8_t c, uint8_t d) {
    return {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xFF, 0xFF, a, b, c, d};
}

}  // namespace

TEST_CASE("parse: whole numbers keep to their bounds and refuse overflow and signs") {
    CHECK(must(parse_uint("0", 5)) == 0);
    CHECK(must(parse_uint("18446744073709551615", UINT64_MAX)) == UINT64_MAX);
    CHECK(refusal(uint_to_1000, "0").find("at least 1") != std::string::npos);
    CHECK(refusal(uint_to_1000, "1001").find("at most 1000") != std::string::npos);
    CHECK(refusal(uint_to_1000, "18446744073709551616").find("at most 1000") != std::string::npos);
    refusal(uint_to_1000, "");
    refusal(uint_to_1000, "-1");
    refusal(uint_to_1000, "+1");
    refusal(uint_to_1000, " 1");
    refusal(uint_to_1000, "1 ");
    refusal(uint_to_1000, "0x10");
    refusal(uint_to_1000, "1e3");
}

TEST_CASE("parse: sizes take K/M/G/T in either case and refuse overflow") {
    CHECK(must(parse_size_bytes("4096")) == 4096);
    CHECK(must(parse_size_bytes("64K")) == 64ull << 10);
    CHECK(must(parse_size_bytes("64k")) == 64ull << 10);
    CHECK(must(parse_size_bytes("100M")) == 100ull << 20);
    CHECK(must(parse_size_bytes("2g")) == 2ull << 30);
    CHECK(must(parse_size_bytes("3T")) == 3ull << 40);
    CHECK(must(parse_size_bytes("16777215T")) == 16777215ull << 40);  // the largest T that fits
    CHECK(refusal(size, "16777216T").find("too large") != std::string::npos);
    CHECK(refusal(size, "99999999999999999999").find("4096, 64K") != std::string::npos);
    for (auto bad : {"", "M", "1.5G", "1KB", "1 K", "K1", "-1K", "1P"}) refusal(size, bad);
    CHECK(refusal([](std::string_view t) { return parse_size_bytes(t, 4096, UINT64_MAX); }, "1K") ==
          "must be at least 4K, got '1K'");
    CHECK(format_size(1ull << 30) == "1G");
    CHECK(format_size(65552) == "65552");
    CHECK(format_size(0) == "0");
    CHECK(format_size(5ull << 40) == "5T");
}

TEST_CASE("parse: durations count seconds unless a unit says otherwise") {
    CHECK(must(parse_duration("30")) == 30s);
    CHECK(must(parse_duration("30s")) == 30s);
    CHECK(must(parse_duration("500ms")) == 500ms);
    CHECK(must(parse_duration("5m")) == 5min);
    CHECK(must(parse_duration("2h")) == 2h);
    CHECK(must(parse_duration("1d")) == 24h);
    CHECK(must(parse_duration("0")) == 0s);
    for (auto bad : {"", "s", "1.5s", "5M", "1w", "-1s", "1 s", "10us"}) refusal(duration, bad);
    CHECK(refusal(duration, "9999999999999999d").find("too long") != std::string::npos);
    CHECK(refusal([](std::string_view t) { return parse_duration(t, 0s, 24h); }, "2d") == "must be at most 1d, got '2d'");
    CHECK(format_duration(300s) == "5m");
    CHECK(format_duration(1500ms) == "1500ms");
}

TEST_CASE("parse: booleans and file modes") {
    for (auto yes : {"true", "yes", "on", "True", "ON"}) CHECK(must(parse_bool(yes)));
    for (auto no : {"false", "no", "off", "FALSE"}) CHECK_FALSE(must(parse_bool(no)));
    for (auto bad : {"", "1", "0", "y", "enabled"}) refusal(parse_bool, bad);
    CHECK(must(parse_file_mode("0640")) == 0640);
    CHECK(must(parse_file_mode("600")) == 0600);
    for (auto bad : {"", "0999", "01000", "-640", "+640", "rw-r-----"}) refusal(parse_file_mode, bad);
}

TEST_CASE("parse: VNIs and VNI ranges, a reversed range is refused, not swapped") {
    CHECK(must(parse_vni("16777215")) == 16777215u);
    refusal(parse_vni, "16777216");
    CHECK(must(parse_vni_range("501")) == VniRange{501, 501});
    CHECK(must(parse_vni_range("100-199")) == VniRange{100, 199});
    CHECK(must(parse_vni_range("0-16777215")) == VniRange{0, 16777215u});
    CHECK(refusal(parse_vni_range, "199-100").find("reversed") != std::string::npos);
    for (auto bad : {"", "-", "5-", "-5", "1-2-3", "0-16777216", "a-b", "1 - 2"}) refusal(parse_vni_range, bad);
    CHECK(VniRange{100, 199}.contains(150));
    CHECK_FALSE(VniRange{100, 199}.contains(200));
}

TEST_CASE("parse: one CIDR type for both families, IPv4 held mapped") {
    const Cidr v4 = must(parse_cidr("10.1.2.3/8"));
    CHECK(v4.is_v4());
    CHECK(v4.to_string() == "10.0.0.0/8");
    CHECK(v4.contains(v4_mapped(10, 200, 0, 1)));
    CHECK_FALSE(v4.contains(v4_mapped(11, 0, 0, 1)));
    const Cidr host = must(parse_cidr("127.0.0.1"));
    CHECK(host.prefix_bits == 128);
    CHECK(host.to_string() == "127.0.0.1/32");
    const Cidr v6 = must(parse_cidr("2001:db8::/32"));
    CHECK_FALSE(v6.is_v4());
    CHECK(v6.to_string() == "2001:db8::/32");
    std::array<uint8_t, 16> inside{0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
    CHECK(v6.contains(inside));
    inside[3] = 0xb9;
    CHECK_FALSE(v6.contains(inside));
    CHECK_FALSE(v6.contains(v4_mapped(10, 0, 0, 1)));
    CHECK(must(parse_cidr("0.0.0.0/0")).contains(v4_mapped(1, 2, 3, 4)));
    CHECK(must(parse_cidr("10.0.0.0/8")) == v4);
    // Prefix lengths past the family's width, and everything that is not an address.
    CHECK(refusal(parse_cidr, "10.0.0.0/33").find("prefix") != std::string::npos);
    CHECK(refusal(parse_cidr, "2001:db8::/129").find("prefix") != std::string::npos);
    for (auto bad : {"", "10.0.0.0/", "10.0.0.0/-1", "10.0.0.0/8/8", "example.com/8", "10.0.0/8", "[::1]/128"})
        refusal(parse_cidr, bad);
}

TEST_CASE("parse: endpoints are ADDR:PORT and [v6]:PORT, names only where allowed") {
    const Endpoint v4 = must(parse_endpoint("127.0.0.1:4789"));
    CHECK(v4.family() == AF_INET);
    CHECK(port_of(v4) == 4789);
    CHECK(v4.host == "127.0.0.1");
    CHECK(v4.text == "127.0.0.1:4789");
    const Endpoint v6 = must(parse_endpoint("[::1]:4790"));
    CHECK(v6.family() == AF_INET6);
    CHECK(port_of(v6) == 4790);
    CHECK(v6.host == "::1");
    CHECK(must(parse_endpoint("127.0.0.1:0")).port == 0);  // any free port
    CHECK(refusal(endpoint, "::1:4789").find("[ADDRESS]:PORT") != std::string::npos);
    CHECK(refusal(endpoint, "127.0.0.1").find("ADDRESS:PORT") != std::string::npos);
    CHECK(refusal(endpoint, "127.0.0.1:65536").find("bad port") != std::string::npos);
    CHECK(refusal(endpoint, "localhost:80").find("not an IPv4 or IPv6 address") != std::string::npos);
    CHECK(refusal(endpoint, "300.1.1.1:4789").find("not an IPv4 or IPv6 address") != std::string::npos);
    for (auto bad : {"", ":80", "[::1]", "[::1]80", "[::1:80", "1.2.3.4:", "1.2.3.4:-1", "[1.2.3.4]:80x"})
        refusal(endpoint, bad);
    // Equal when they name the same place, however written.
    CHECK(must(parse_endpoint("[::1]:80")) == must(parse_endpoint("[0::1]:80")));
    CHECK_FALSE(must(parse_endpoint("[::1]:80")) == must(parse_endpoint("[::1]:81")));
}

TEST_CASE("parse: a socket address prints as parse_endpoint reads it") {
    for (auto text : {"127.0.0.1:4789", "[::1]:4790", "[2001:db8::5]:0", "10.0.0.1:65535"}) {
        const Endpoint e = must(parse_endpoint(text));
        CHECK(endpoint_text(e.addr) == text);
        CHECK(must(parse_endpoint(endpoint_text(e.addr))) == e);
    }
    CHECK(address_text(must(parse_endpoint("[2001:db8:0::5]:1")).addr) == "2001:db8::5");
    CHECK(address_text(must(parse_endpoint("10.1.2.3:1")).addr) == "10.1.2.3");
    CHECK(address_text(sockaddr_storage{}) == "");
}

TEST_CASE("parse: targets may be host names, a port may default, port 0 may be refused") {
    const Endpoint name = must(target("collector.example:4790"));
    CHECK(name.is_name());
    CHECK(name.host == "collector.example");
    CHECK(name.port == 4790);
    CHECK(must(target("collector")).port == 4789);
    CHECK(must(target("::1")).family() == AF_INET6);  // a bare IPv6 address, default port
    CHECK(must(target("[2001:db8::5]")).port == 4789);
    CHECK(must(target("10.0.0.5")).port == 4789);
    CHECK(must(target("my_host-1.internal")).is_name());
    CHECK(refusal(target, "collector:0").find("at least 1") != std::string::npos);
    for (auto bad : {"", "300.1.1.1", "-bad.example", "bad..example", "[name]:80", "a b", "x:y", "host/x:80"})
        refusal(target, bad);
    CHECK(valid_host_name(std::string(63, 'a') + ".example"));
    CHECK_FALSE(valid_host_name(std::string(64, 'a') + ".example"));
    CHECK_FALSE(valid_host_name("1.2.3"));
}

TEST_CASE("parse: a refusal echoes the text with control characters escaped") {
    const std::string why = refusal(size, "1G\nmirrortap-collector: OK");
    CHECK(why.find('\n') == std::string::npos);
    CHECK(why.find("'1G\\nmirrortap-collector: OK'") != std::string::npos);
    CHECK(printable("a\tb\r\x01\x7f\\ é") == "a\\tb\\r\\x01\\x7f\\\\ é");
    CHECK(quote("x\ny") == "'x\\ny'");
    CHECK(has_control_character("a\x1b[31m"));
    CHECK_FALSE(has_control_character("plain text/é"));
}

TEST_CASE("parse: lists split at commas and keep empty items for the parser to refuse") {
    CHECK(split_list("a, b ,c") == std::vector<std::string_view>{"a", "b", "c"});
    CHECK(split_list("a,,b") == std::vector<std::string_view>{"a", "", "b"});
    CHECK(split_list("") == std::vector<std::string_view>{""});
    CHECK(trim(" \tx y\t ") == "x y");
}

TEST_CASE("text: a list of names wraps before the width, the first line after its lead") {
    CHECK(wrapped_words("Only in the file:", {"a", "b"}) == "Only in the file: a, b.\n");
    CHECK(wrapped_words("Keys:", {"alpha", "beta", "gamma"}, 16) == "Keys: alpha,\nbeta, gamma.\n");
    CHECK(wrapped_words("", {"one"}) == "one.\n");
}

// One time parser serves find's --since/--until and AWS's answers
// (credential expiry). The union of what the two former copies took: find's
// 't', 'z', ' ' and offsets, AWS's fractions of any length; both refused a
// missing zone, an impossible date and 24:00.
// What manifests and --verify reports write, and read back exactly.
TEST_CASE("parse: rfc3339_ns writes UTC with nine fraction digits, and parse_rfc3339 reads it back") {
    CHECK(rfc3339_ns(0) == "1970-01-01T00:00:00.000000000Z");
    CHECK(rfc3339_ns(1796105580000000007ull) == "2026-12-01T06:13:00.000000007Z");
    for (uint64_t ns : {0ull, 1ull, 999'999'999ull, 1796105580123456789ull, 1483228799999999999ull})
        CHECK(must(parse_rfc3339(rfc3339_ns(ns))) == ns);
}

TEST_CASE("parse: RFC 3339 times with a zone, and times relative to now") {
    CHECK(must(parse_rfc3339("2026-12-01T06:13:00Z")) == 1796105580000000000ull);
    CHECK(must(parse_rfc3339("2026-12-01T07:13:00.25+01:00")) == 1796105580250000000ull);
    CHECK(must(parse_rfc3339("2026-12-01t06:13:00z")) == 1796105580000000000ull);
    CHECK(must(parse_rfc3339("2026-12-01 05:13:00-01:00")) == 1796105580000000000ull);
    CHECK(must(parse_rfc3339("2024-05-01T13:05:02.123456789Z")) % 1'000'000'000 == 123456789);
    CHECK(must(parse_rfc3339("2016-12-31T23:59:60Z")) == 1483228800000000000ull);  // a leap second
    CHECK(must(parse_rfc3339("1970-01-01T00:00:00Z")) == 0);
    // Grafana's ${__from:date:iso}, which the dashboard's links to the --serve page carry.
    CHECK(must(parse_rfc3339("2026-12-01T06:13:00.000Z")) == 1796105580000000000ull);
    CHECK(must(parse_rfc3339("2026-12-01T06:13:00.120Z")) == 1796105580120000000ull);
    CHECK(refusal(parse_rfc3339, "2026-12-01T06:13:00").find("zone") != std::string::npos);
    for (const char* bad : {"", "2024-05-01", "2024-02-30T00:00:00Z", "2024-05-01T24:00:00Z", "2024-05-01T13:60:00Z",
                            "2024-05-01T13:05:02.Z", "2024-05-01T13:05:02ZZ", "2024-05-01T13:05:02+1:00",
                            "2024-05-01T13:05:02+24:00", "2024-5-01T13:05:02Z", "yesterday",
                            "1969-12-31T23:59:59Z", "1970-01-01T00:30:00+01:00"}) {
        CAPTURE(bad);
        refusal(parse_rfc3339, bad);
    }

    const uint64_t now = 1796105580000000000ull;
    const auto at = [&](std::string_view text) { return must(must(parse_time_arg(text)).at(now)); };
    CHECK(at("-15m") == now - 900'000'000'000ull);
    CHECK(at("-2h") == now - 7200'000'000'000ull);
    CHECK(at("-1d") == now - 86400'000'000'000ull);
    CHECK(at("-30s") == now - 30'000'000'000ull);
    CHECK(at("-30") == now - 30'000'000'000ull);  // seconds, as every duration
    CHECK(at("-500ms") == now - 500'000'000ull);
    CHECK(at("2026-12-01T06:13:00Z") == 1796105580000000000ull);
    CHECK(must(parse_time_arg("-15m")) == TimeArg{900'000'000'000ull, true});
    for (const char* bad : {"-15x", "-", "--5m", "-1.5h", "-36526d", "2026-12-01T06:13:00"}) {
        CAPTURE(bad);
        refusal(parse_time_arg, bad);
    }
    // Resolved against a clock that is too early for it: refused, not wrapped round.
    const TimeArg back = must(parse_time_arg("-2d"));
    const auto early = back.at(86400'000'000'000ull);
    REQUIRE_FALSE(early);
    CHECK(early.error().find("before 1970") != std::string::npos);
}

// The sender's strict MAC reader, which find's index reader (sscanf "%2x")
// used to differ from: sscanf also took a sign or leading space in a group.
TEST_CASE("parse: MAC addresses are six groups of one or two hex digits") {
    const MacAddress mac = must(parse_mac("02:00:00:00:00:aa"));
    CHECK(mac[5] == 0xAA);
    CHECK(mac_text(mac) == "02:00:00:00:00:aa");
    CHECK(must(parse_mac("2:0:0:0:0:A")) == MacAddress{2, 0, 0, 0, 0, 0xa});
    for (const char* bad : {"02:00:00:00:00", "02:00:00:00:00:aa:bb", "02:00:00:00:00:1ff", "02:00:00:00:00:",
                            "0x:00:00:00:00:00", "02-00-00-00-00-aa", "", "02:00:00:00:00:aa ", " 2:00:00:00:00:aa",
                            "+2:00:00:00:00:aa", "02:00:00:00:00:-1"}) {
        CAPTURE(bad);
        refusal(parse_mac, bad);
    }
}

// One rule for every interface name: the collector's TAP and capture
// interface and the sender's capture interfaces. The collector used to refuse
// what Linux allows ("veth@1"); '%' is refused for both (see parse.hpp).
TEST_CASE("parse: interface names are what the kernel takes, without '%'") {
    for (const char* good : {"eth0", "veth@1", "br-lan.100", "xxxxxxxxxxxxxxx", "ens5"}) {
        CAPTURE(good);
        CHECK(must(parse_interface_name(good)) == good);
    }
    for (const char* bad : {"", ".", "..", "a/b", "a:1", "a b", "tab\there", "nl\n", "sixteen-bytes-xx", "mt%d"}) {
        CAPTURE(bad);
        refusal(parse_interface_name, bad);
    }
}
