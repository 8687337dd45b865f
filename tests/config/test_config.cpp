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
    CHECK(c.pcap.buffer_blocks == 256);
    CHECK(c.session_idle_seconds == 600);
    REQUIRE(c.metrics_listen.has_value());
    CHECK(c.metrics_listen->text == "127.0.0.1:9478");
    CHECK(c.allow.sources.empty());  // a packaged collector must not drop traffic before it is edited
    // but accepts only the VNIs it names: nobody fills max_sessions with VNIs of their own.
    CHECK(c.allow.vni_allowed(501));
    CHECK(c.allow.vni_allowed(502));
    CHECK_FALSE(c.allow.vni_allowed(503));
    CHECK(c.pcap.file_mode == 0640);
    CHECK_FALSE(c.allow_root);
}

TEST_CASE("config: CIDR blocks match IPv4 (mapped) and IPv6 sources") {
    auto v4 = parse_cidr("10.1.2.3/8");
    REQUIRE(v4);
    std::array<uint8_t, 16> a{};
    a[10] = a[11] = 0xFF;
    a[12] = 10;
    a[15] = 9;
    CHECK(v4->contains(a));
    a[12] = 11;
    CHECK_FALSE(v4->contains(a));
    auto host = parse_cidr("127.0.0.1");
    REQUIRE(host);
    CHECK(host->prefix_bits == 128);
    auto v6 = parse_cidr("2001:db8::/32");
    REQUIRE(v6);
    std::array<uint8_t, 16> b{0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
    CHECK(v6->contains(b));
    b[3] = 0xb9;
    CHECK_FALSE(v6->contains(b));
    CHECK_FALSE(v6->contains(a));
    CHECK_FALSE(parse_cidr("10.0.0.0/33"));
    CHECK_FALSE(parse_cidr("2001:db8::/129"));
    CHECK_FALSE(parse_cidr("example.com/8"));
}

TEST_CASE("config: VNI lists take single values and ranges, and empty lists allow all") {
    ConfigLoad l = load_config_text("allowed_vnis: \"7, 100-199\"\n");
    REQUIRE(l.ok());
    CHECK(l.config.allow.vni_allowed(7));
    CHECK(l.config.allow.vni_allowed(150));
    CHECK_FALSE(l.config.allow.vni_allowed(200));
    CHECK(Allowlist{}.vni_allowed(123));
    CHECK(Allowlist{}.source_allowed({}));
    CHECK(only_error(load_config_text("allowed_vnis: [5-3]\n")).line == 1);
    CHECK(only_error(load_config_text("allowed_sources:\n  - 10.0.0.0/8\n  - nonsense\n")).line == 3);
}

TEST_CASE("config: metrics credentials come from files that must exist") {
    ConfigError e = only_error(load_config_text("metrics_auth:\n  bearer_token_file: /nonexistent/token\n"));
    CHECK(e.line == 2);
    CHECK(e.message.find("/nonexistent/token") != std::string::npos);
    CHECK(*parse_file_mode("0600") == 0600);
    CHECK_FALSE(parse_file_mode("0999"));
}

TEST_CASE("config: an empty file is refused, defaults come from giving no file") {
    CHECK(only_error(load_config_text("")).message == "config file is empty");
    CHECK(only_error(load_config_text("# nothing but a comment\n")).message == "config file is empty");
    const Config defaults;
    CHECK(defaults.pcap.dir == "./captures");
    CHECK(defaults.listen.family() == AF_INET);
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

TEST_CASE("config: a named session cannot take another VNI's automatic name") {
    // vni-2 for VNI 1 would write into VNI 2's directory under VNI 2's label.
    const std::string other = only_error(load_config_text("sessions:\n  - {vni: 1, name: vni-2}\n")).message;
    CHECK(other.find("unnamed VNI 2") != std::string::npos);
    CHECK_FALSE(load_config_text("sessions:\n  - {vni: 1, name: vni-2-10.0.0.1}\n").ok());
    CHECK(load_config_text("sessions:\n  - {vni: 2, name: vni-2}\n").ok());
    CHECK(load_config_text("sessions:\n  - {vni: 1, name: vni-web}\n").ok());
    CHECK(automatic_name_vni("vni-16777215") == 16777215u);
    CHECK_FALSE(automatic_name_vni("vni-"));
    CHECK_FALSE(automatic_name_vni("web"));
}

TEST_CASE("config: sizes take K/M/G suffixes") {
    CHECK(*parse_size_bytes("4096") == 4096);
    CHECK(*parse_size_bytes("64K") == 65536);
    CHECK(*parse_size_bytes("100M") == 100ull << 20);
    CHECK(*parse_size_bytes("2g") == 2ull << 30);
    CHECK_FALSE(parse_size_bytes(""));
    CHECK_FALSE(parse_size_bytes("M"));
    CHECK_FALSE(parse_size_bytes("1.5G"));
    CHECK_FALSE(parse_size_bytes("99999999999999999999G"));
}

TEST_CASE("config: endpoints take IPv4 and bracketed IPv6") {
    auto v4 = parse_endpoint("127.0.0.1:4789");
    REQUIRE(v4);
    CHECK(v4->family() == AF_INET);
    CHECK(ntohs(reinterpret_cast<const sockaddr_in&>(v4->addr).sin_port) == 4789);
    auto v6 = parse_endpoint("[::1]:4790");
    REQUIRE(v6);
    CHECK(v6->family() == AF_INET6);
    CHECK(ntohs(reinterpret_cast<const sockaddr_in6&>(v6->addr).sin6_port) == 4790);
    CHECK_FALSE(parse_endpoint("::1:4789"));
    CHECK_FALSE(parse_endpoint("127.0.0.1"));
    CHECK_FALSE(parse_endpoint("127.0.0.1:65536"));
    CHECK_FALSE(parse_endpoint("localhost:80"));
}

TEST_CASE("config: a key given twice is refused, at top level, in pcap and in a session") {
    ConfigError e = only_error(load_config_text("listen: 127.0.0.1:1\nlisten: 127.0.0.1:2\n"));
    CHECK(e.line == 2);
    CHECK(e.message == "key 'listen' given twice in one mapping (first at line 1)");
    e = only_error(load_config_text("pcap:\n  dir: /a\n  dir: /b\n"));
    CHECK(e.line == 3);
    CHECK(e.column == 3);
    e = only_error(load_config_text("sessions:\n  - vni: 1\n    name: a\n    name: b\n"));
    CHECK(e.line == 4);
    CHECK(e.message.find("'name'") != std::string::npos);
    // The same top-level section twice, each half valid on its own.
    CHECK(only_error(load_config_text("pcap:\n  dir: /a\nworkers: 1\npcap:\n  rotate_size: 1G\n")).line == 4);
}

TEST_CASE("config: a session entry's unknown key is found where it is, with a guess") {
    const ConfigLoad typo = load_config_text("allowed_vnis: [5, 7]\nsessions:\n  - {vni: 5, nmae: gamma}\n");
    REQUIRE(typo.errors.size() == 2);  // and so the name is missing
    ConfigError e = typo.errors[0];
    CHECK(e.line == 3);
    CHECK(e.column == 14);
    CHECK(e.message == "unknown key 'nmae' in sessions entry (did you mean name?)");
    CHECK(typo.errors[1].message == "sessions entry: 'name' is required");
    CHECK(only_error(load_config_text("sessions:\n  - {vni: 1, name: a, sinks: [pcap, tcp]}\n")).message ==
          "sinks: unknown sink 'tcp' (pcap, tap, stream or forward)");
    CHECK(only_error(load_config_text("sessions:\n  - {vni: 1, name: a, vlan: 0}\n")).message ==
          "vlan: 0 is reserved; use 1 to 4094");
    CHECK(only_error(load_config_text("sessions: {vni: 1}\n")).message.find("sessions: expected a list") == 0);
    ConfigLoad l = load_config_text("sessions:\n  - {vni: 1, name: a, sinks: \"pcap, forward\"}\n");
    REQUIRE(l.ok());
    CHECK(l.config.sink_mask_for(1) == 0b1001u);
}

TEST_CASE("config: a value echoed in an error cannot forge a log line") {
    ConfigLoad l = load_config_text("sessions:\n  - {vni: 1, name: \"web\\nmirrortap-collector: OK\"}\n");
    const ConfigError e = only_error(l);
    CHECK(e.message.find('\n') == std::string::npos);
    CHECK(e.message.find("'web\\nmirrortap-collector: OK'") != std::string::npos);
    for (auto yaml : {"user: \"a\\rb\"\n", "\"x\\ny\": 1\n", "stream: \"\\e[31m\"\n", "listen: \"1.2.3.4:\\n\"\n"}) {
        CAPTURE(yaml);
        const ConfigLoad bad = load_config_text(yaml);
        REQUIRE_FALSE(bad.ok());
        for (const auto& err : bad.errors) {
            CHECK(err.message.find('\n') == std::string::npos);
            CHECK(err.message.find('\r') == std::string::npos);
            CHECK(err.message.find('\x1b') == std::string::npos);
        }
    }
}

TEST_CASE("config: bounds live with each setting and report their line") {
    CHECK(only_error(load_config_text("snaplen: 13\n")).message == "snaplen: must be at least 14, got '13'");
    CHECK(only_error(load_config_text("max_sessions: 0\n")).message == "max_sessions: must be at least 1, got '0'");
    CHECK(only_error(load_config_text("pcap:\n  rotate_size: 1K\n")).line == 2);
    CHECK(only_error(load_config_text("pcap:\n  buffer_size: 64K\n")).message.find("at least 65552") !=
          std::string::npos);
    CHECK(only_error(load_config_text("workers: 257\n")).message == "workers: must be at most 256, got '257'");
    ConfigLoad l = load_config_text("pcap:\n  rotate_seconds: 5m\n  rotate_size: 2T\n");
    REQUIRE(l.ok());
    CHECK(l.config.pcap.rotate_seconds == 300);
    CHECK(l.config.pcap.rotate_size_bytes == 2ull << 40);
}

TEST_CASE("config: pcap.quiet_flush_ms takes 0 to 60000 milliseconds and refuses anything else") {
    CHECK(Config{}.pcap.quiet_flush_ms == 5000);
    ConfigLoad off = load_config_text("pcap:\n  quiet_flush_ms: 0\n");
    REQUIRE(off.ok());
    CHECK(off.config.pcap.quiet_flush_ms == 0);
    ConfigLoad most = load_config_text("pcap:\n  quiet_flush_ms: 60000\n");
    REQUIRE(most.ok());
    CHECK(most.config.pcap.quiet_flush_ms == 60000);
    const ConfigError over = only_error(load_config_text("pcap:\n  quiet_flush_ms: 60001\n"));
    CHECK(over.message == "pcap.quiet_flush_ms: must be at most 60000, got '60001'");
    CHECK(over.line == 2);
    for (const char* bad : {"-1", "5s", "1.5", "lots", "\"\""}) {
        CAPTURE(bad);
        const ConfigError e = only_error(load_config_text(std::string("pcap:\n  quiet_flush_ms: ") + bad + "\n"));
        CHECK(e.message.rfind("pcap.quiet_flush_ms: ", 0) == 0);
        CHECK(e.line == 2);
    }
}

TEST_CASE("config: at most fifty errors, then one line says so") {
    std::string yaml = "sessions:\n";
    for (int i = 0; i < 500; ++i) yaml += "  - {vni: 99999999, name: \"bad name\"}\n";
    const ConfigLoad l = load_config_text(yaml);
    REQUIRE(l.errors.size() == 51);
    CHECK(l.errors.back().message == "too many errors, stopping");
}

TEST_CASE("config: files that are not regular, or are empty or too big, are refused") {
    CHECK(only_error(load_config_file("/dev/zero")).message ==
          "cannot read config file: it is a character device, not a regular file");
    CHECK(only_error(load_config_file("/")).message == "cannot read config file: it is a directory, not a regular file");
    // Secrets too: a directory is not a password.
    ConfigError e = only_error(load_config_text("metrics_auth:\n  username: u\n  password_file: /\n"));
    CHECK(e.line == 3);
    CHECK(e.message == "metrics_auth.password_file: '/': cannot read secret file: it is a directory, not a regular file");
    CHECK(only_error(load_config_text("metrics_auth:\n  username: u\n")).message ==
          "metrics_auth: username and password_file go together");
}

TEST_CASE("config: capture_interface takes an interface name, and VXLAN only") {
    const ConfigLoad ok = load_config_text("capture_interface: eth0\n");
    REQUIRE(ok.ok());
    CHECK(ok.config.capture_interface == "eth0");
    CHECK(Config().capture_interface.empty());  // the socket source is the default
    CHECK(only_error(load_config_text("capture_interface: eth/0\n")).message.find("capture_interface") !=
          std::string::npos);
    const ConfigLoad geneve = load_config_text("capture_interface: eth0\nlisten_geneve: 0.0.0.0:6081\n");
    CHECK(only_error(geneve).message.find("GENEVE (listen_geneve) needs the socket source") != std::string::npos);
}

TEST_CASE("config: lifecycle is off by default, takes its keys, and refuses half a hook or a bad value") {
    CHECK_FALSE(Config().lifecycle.enabled());
    ConfigLoad l = load_config_text(
        "lifecycle:\n  hook_name: mirrortap-drain\n  group_name: mirrortap collectors\n"
        "  endpoint: http://127.0.0.1:8080/\n  region: eu-west-3\n  poll_seconds: 2\n  heartbeat_seconds: 1m\n"
        "  drain_seconds: 10m\n");
    for (const auto& e : l.errors) FAIL(format_error("lifecycle", e));
    const LifecycleConfig& c = l.config.lifecycle;
    CHECK(c.enabled());
    CHECK(c.hook_name == "mirrortap-drain");
    CHECK(c.group_name == "mirrortap collectors");
    CHECK(c.endpoint == "http://127.0.0.1:8080");
    CHECK(c.region == "eu-west-3");
    CHECK(c.poll_seconds == 2);
    CHECK(c.heartbeat_seconds == 60);
    CHECK(c.drain_seconds == 600);

    CHECK(only_error(load_config_text("lifecycle:\n  hook_name: h\n")).message.find("go together") !=
          std::string::npos);
    CHECK(only_error(load_config_text("lifecycle:\n  group_name: g\n  region: eu-west-1\n")).message.find(
              "go together") != std::string::npos);
    // Each bad value alone, in an otherwise good section: one error, at its line.
    for (const char* bad : {"  endpoint: autoscaling.example\n", "  endpoint: http://h/path\n", "  region: EU\n",
                            "  poll_seconds: 0\n", "  heartbeat_seconds: 3h\n", "  group_name: \"a:b\"\n"}) {
        const ConfigError e = only_error(load_config_text(std::string("lifecycle:\n  hook_name: h\n") + bad));
        CHECK_MESSAGE(e.line == 3, bad);
    }
}

TEST_CASE("config: upload takes an s3:// URL, a store's endpoint, a region, a storage class and a collector id") {
    ConfigLoad l = load_config_text(
        "upload:\n  url: s3://capture-bucket/fleet/eu-west-1/\n  endpoint: http://127.0.0.1:9000\n"
        "  region: eu-west-1\n  delete_after_upload: false\n  storage_class: STANDARD_IA\n  drain_seconds: 5m\n"
        "collector_id: i-0123456789abcdef0\n");
    for (const auto& e : l.errors) FAIL(format_error("upload", e));
    const UploadConfig& u = l.config.upload;
    CHECK(u.enabled());
    CHECK(u.url.bucket == "capture-bucket");
    CHECK(u.url.prefix == "fleet/eu-west-1");
    CHECK(u.endpoint == "http://127.0.0.1:9000");
    CHECK(u.region == "eu-west-1");
    CHECK_FALSE(u.delete_after_upload);
    CHECK(u.storage_class == "STANDARD_IA");
    CHECK(u.drain_seconds == 300);
    CHECK(l.config.collector_id == "i-0123456789abcdef0");
    CHECK_FALSE(Config().upload.enabled());
    CHECK(Config().upload.delete_after_upload);
}

TEST_CASE("config: bad upload values are refused, each with what is wrong") {
    const std::vector<std::pair<std::string, std::string>> cases = {
        {"upload:\n  url: https://bucket/x\n", "is not an s3://BUCKET/PREFIX URL"},
        {"upload:\n  url: s3://Bad_Bucket/x\n", "is not a valid S3 bucket name"},
        {"upload:\n  url: s3://ok-bucket/a//b\n", "empty path segment"},
        {"upload:\n  url: s3://ok-bucket/x\n  endpoint: ftp://store\n", "upload.endpoint"},
        {"upload:\n  url: s3://ok-bucket/x\n  region: EU West\n", "is not an AWS region name"},
        {"upload:\n  url: s3://ok-bucket/x\n  storage_class: COLD\n", "is not an S3 storage class"},
        {"upload:\n  url: s3://ok-bucket/x\n  drain_seconds: forever\n", "upload.drain_seconds"},
        {"collector_id: a/b\n", "cannot name a collector in object keys"},
    };
    for (const auto& c : cases) {  // no structured binding: clang cannot capture one in INFO
        INFO(c.first);
        const ConfigError e = only_error(load_config_text(c.first));
        CHECK(e.message.find(c.second) != std::string::npos);
    }
}

TEST_CASE("config: uploads without pcap files are refused, upload settings without a URL are not") {
    Config c;  // the file may hold them and the URL come as a flag (--upload)
    c.upload.region = "eu-west-1";
    c.upload.storage_class = "STANDARD_IA";
    CHECK(validate(c).empty());
    Config d;
    d.upload.url.bucket = "ok-bucket";
    d.pcap.enabled = false;
    REQUIRE(validate(d).size() == 1);
    CHECK(validate(d)[0].message.find("pcap files are off") != std::string::npos);
}
