#include <doctest/doctest.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include "config/config.hpp"

using namespace mirrortap;

#ifndef MIRRORTAP_SOURCE_DIR
#error "MIRRORTAP_SOURCE_DIR must point at the source tree"
#endif

namespace {
ConfigError only_error(const ConfigLoad& l) {
    REQUIRE(l.errors.size() == 1);
    return l.errors.front();
}
}  // namespace

TEST_CASE("config: the example file loads and every key takes effect") {
    ConfigLoad l = load_config_file(MIRRORTAP_SOURCE_DIR "/config/example.yaml");
    for (const auto& e : l.errors) FAIL(format_error("example.yaml", e));
    REQUIRE(l.ok());
    const Config& c = l.config;
    CHECK(c.listen.text == "0.0.0.0:4789");
    CHECK(c.rcvbuf_bytes == 64ull << 20);
    CHECK(c.snaplen == 65535);
    CHECK(c.session_key == SessionKeyMode::vni);
    CHECK(c.max_sessions == 1024);
    REQUIRE(c.sessions.size() == 2);
    CHECK(*c.name_for(501) == "web");
    CHECK(*c.name_for(502) == "db");
    CHECK(c.name_for(503) == nullptr);
    CHECK(c.pcap.rotate_size_bytes == 1ull << 30);
    CHECK(c.pcap.buffer_bytes == 256 * 1024);
    REQUIRE(c.metrics_listen.has_value());
    CHECK(c.metrics_listen->text == "127.0.0.1:9478");
}

TEST_CASE("config: an empty file means all defaults") {
    ConfigLoad l = load_config_text("");
    CHECK(l.ok());
    CHECK(l.config.pcap.dir == "./captures");
    CHECK(l.config.listen.family() == AF_INET);
}

TEST_CASE("config: an unknown key is an error at its line and column") {
    ConfigLoad l = load_config_text("listen: 127.0.0.1:4789\npcap:\n  dir: /x\n  rotate_sise: 1G\n");
    ConfigError e = only_error(l);
    CHECK(e.line == 4);
    CHECK(e.column == 3);
    CHECK(e.message.find("rotate_sise") != std::string::npos);
    CHECK(format_error("f.yaml", e).rfind("f.yaml:4:3: ", 0) == 0);
}

TEST_CASE("config: malformed YAML is reported with its place") {
    ConfigLoad l = load_config_text("listen: [127.0.0.1\nworkers: 2\n");
    REQUIRE_FALSE(l.ok());
    CHECK(l.errors.front().line >= 1);
    CHECK(l.errors.front().column >= 1);
}

TEST_CASE("config: every bad value is reported, not just the first") {
    ConfigLoad l = load_config_text("listen: nowhere\nrcvbuf: 12Q\nsession_key: vpc\nsnaplen: -1\n");
    REQUIRE(l.errors.size() == 4);
    CHECK(l.errors[0].line == 1);
    CHECK(l.errors[1].line == 2);
    CHECK(l.errors[2].line == 3);
    CHECK(l.errors[3].line == 4);
}

TEST_CASE("config: a session needs a VNI in range and a safe name") {
    CHECK(only_error(load_config_text("sessions:\n  - {vni: 16777216, name: x}\n")).line == 2);
    CHECK(only_error(load_config_text("sessions:\n  - {vni: 1, name: ../etc}\n")).message.find("name") !=
          std::string::npos);
    CHECK(only_error(load_config_text("sessions:\n  - {name: x}\n")).message.find("vni") != std::string::npos);
    CHECK_FALSE(load_config_text("sessions:\n  - {vni: 1, name: a}\n  - {vni: 1, name: b}\n").ok());
}

TEST_CASE("config: sizes take K/M/G suffixes") {
    std::string why;
    CHECK(*parse_size_bytes("4096", why) == 4096);
    CHECK(*parse_size_bytes("64K", why) == 65536);
    CHECK(*parse_size_bytes("100M", why) == 100ull << 20);
    CHECK(*parse_size_bytes("2g", why) == 2ull << 30);
    CHECK_FALSE(parse_size_bytes("", why));
    CHECK_FALSE(parse_size_bytes("M", why));
    CHECK_FALSE(parse_size_bytes("1.5G", why));
    CHECK_FALSE(parse_size_bytes("99999999999999999999G", why));
}

TEST_CASE("config: endpoints take IPv4 and bracketed IPv6") {
    std::string why;
    auto v4 = parse_endpoint("127.0.0.1:4789", why);
    REQUIRE(v4);
    CHECK(v4->family() == AF_INET);
    CHECK(ntohs(reinterpret_cast<const sockaddr_in&>(v4->addr).sin_port) == 4789);
    auto v6 = parse_endpoint("[::1]:4790", why);
    REQUIRE(v6);
    CHECK(v6->family() == AF_INET6);
    CHECK(ntohs(reinterpret_cast<const sockaddr_in6&>(v6->addr).sin6_port) == 4790);
    CHECK_FALSE(parse_endpoint("::1:4789", why));
    CHECK_FALSE(parse_endpoint("127.0.0.1", why));
    CHECK_FALSE(parse_endpoint("127.0.0.1:65536", why));
    CHECK_FALSE(parse_endpoint("localhost:80", why));
}
