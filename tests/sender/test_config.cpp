#include <doctest/doctest.h>

#include <sys/stat.h>

#include <cstdio>
#include <filesystem>
#include <string>

#include "sender/aws_import.hpp"
#include "sender/config.hpp"
#include "sender/settings.hpp"
#include "tests/sender/packets.hpp"
#include "tests/support/config_errors.hpp"

using namespace mirrortap;
using namespace mirrortap::sender;
using namespace mirrortap::test;

#ifndef MIRRORTAP_SOURCE_DIR
#error "MIRRORTAP_SOURCE_DIR must be defined"
#endif

namespace {

const std::string kSource = MIRRORTAP_SOURCE_DIR;

// The YAML from issue 6, verbatim.
const char* kIssueYaml = R"(interface: eth0
target: 10.8.0.2:4789          # host name (an NLB's DNS name) or address, resolved and re-resolved
sessions:
  - session_number: 1          # 1..32766, lower wins
    virtual_network_id: 501    # the VNI
    packet_length: 128         # optional truncation; absent = whole frame
    filter:
      egress:
        - {rule_number: 10, rule_action: accept, protocol: 6,
           destination_port_range: {from_port: 443, to_port: 443}}
      ingress:
        - {rule_number: 10, rule_action: reject, protocol: 17}
        - {rule_number: 20, rule_action: accept,
           source_cidr_block: 0.0.0.0/0, destination_cidr_block: 10.0.0.0/8}
)";

// The first error's text, with its place.
std::string first_error(std::string_view yaml) {
    ConfigLoad l = load_config_text(yaml);
    REQUIRE_FALSE(l.ok());
    return format_error("cfg", l.errors.front());
}

}  // namespace

TEST_CASE("config: the issue's YAML loads exactly as written") {
    ConfigLoad l = load_config_text(kIssueYaml);
    INFO(all_errors(l.errors));
    REQUIRE(l.ok());
    const SenderConfig& c = l.config;
    CHECK(c.interfaces == std::vector<std::string>{"eth0"});
    CHECK(c.target.host == "10.8.0.2");
    CHECK(c.target.port == 4789);
    CHECK(c.target_at == SourceMark{2, 9});
    CHECK(c.interfaces_at == std::vector<SourceMark>{{1, 12}});
    REQUIRE(c.sessions.size() == 1);
    const Session& s = c.sessions[0].session;
    CHECK(s.session_number == 1);
    CHECK(s.vni == 501);
    CHECK(s.packet_length == 128u);
    REQUIRE(s.filter.rules(Direction::egress).size() == 1);
    const FilterRule& e = s.filter.rules(Direction::egress)[0];
    CHECK(e.protocol == kProtoTcp);
    CHECK(e.destination_ports == PortRange{443, 443});
    CHECK_FALSE(e.source_cidr);
    REQUIRE(s.filter.rules(Direction::ingress).size() == 2);
    CHECK(s.filter.rules(Direction::ingress)[0].action == RuleAction::reject);
    CHECK(s.filter.rules(Direction::ingress)[1].destination_cidr->to_string() == "10.0.0.0/8");

    // And it means what AWS means.
    SessionEngine engine(resolve_sessions(c, {}, l.errors));
    CHECK(engine.classify(Direction::egress, parsed(ip4_frame(6, {10, 1, 1, 1}, {1, 1, 1, 1}, 40000, 443))).mirrored());
    CHECK_FALSE(engine.classify(Direction::egress, parsed(ip4_frame(6, {10, 1, 1, 1}, {1, 1, 1, 1}, 40000, 80))).mirrored());
    CHECK_FALSE(engine.classify(Direction::ingress, parsed(ip4_frame(17, {1, 1, 1, 1}, {10, 1, 1, 1}, 53, 40000))).mirrored());
    CHECK(engine.classify(Direction::ingress, parsed(ip4_frame(6, {1, 1, 1, 1}, {10, 1, 1, 1}, 443, 40000))).mirrored());
    CHECK_FALSE(engine.classify(Direction::ingress, parsed(ip4_frame(6, {1, 1, 1, 1}, {11, 1, 1, 1}, 443, 40000))).mirrored());
}

TEST_CASE("config: sender/example.yaml loads and documents every key") {
    ConfigLoad l = load_config_file(kSource + "/sender/example.yaml");
    INFO(all_errors(l.errors));
    REQUIRE(l.ok());
    CHECK(l.config.sessions.size() == 2);
    CHECK(l.config.mtu == 1500);
    CHECK(l.config.capture_buffer_bytes == 64ull << 20);
    REQUIRE(l.config.metrics_listen);
    CHECK(l.config.metrics_listen->text == "127.0.0.1:9101");
    CHECK(l.config.sessions[1].session.filter.rules(Direction::egress)[1].protocol == kProtoUdp);
    // Every top-level, session and rule key the loader accepts appears in the example.
    std::string text;
    {
        FILE* f = std::fopen((kSource + "/sender/example.yaml").c_str(), "r");
        REQUIRE(f);
        char buf[4096];
        size_t n;
        while ((n = std::fread(buf, 1, sizeof buf, f)) > 0) text.append(buf, n);
        std::fclose(f);
    }
    for (const auto& setting : sender_settings()) {
        INFO(setting.key);
        CHECK(text.find(std::string(setting.key) + ":") != std::string::npos);
    }
    for (const char* key : {"packets_per_second", "bits_per_second", "session_number", "virtual_network_id", "packet_length", "description", "filter",
                            "traffic_mirror_filter_id", "egress", "ingress", "rule_number", "rule_action",
                            "protocol", "source_cidr_block", "destination_cidr_block", "source_port_range",
                            "destination_port_range", "from_port", "to_port"}) {
        INFO(key);
        CHECK(text.find(std::string(key) + ":") != std::string::npos);
    }
}

TEST_CASE("config: unknown keys are refused with line and column") {
    CHECK(first_error("interface: eth0\ntarjet: 1.2.3.4\n") ==
          "cfg:2:1: unknown key 'tarjet' in the top level (did you mean target?)");
    std::string e = first_error(
        "sessions:\n  - session_number: 1\n    virtual_network_id: 5\n    filter:\n      egress:\n"
        "        - {rule_number: 1, rule_action: accept, proto: 6}\n");
    CHECK(e == "cfg:6:49: unknown key 'proto' in a rule");
    e = first_error("sessions:\n  - {session_number: 1, virtual_network_id: 5, filter: {}, vni: 5}\n");
    CHECK(e == "cfg:2:60: unknown key 'vni' in a session");
    e = first_error("sessions:\n  - {session_number: 1, virtual_network_id: 5, filter: {egres: []}}\n");
    CHECK(e == "cfg:2:57: unknown key 'egres' in filter (did you mean egress?)");
}

TEST_CASE("config: duplicate rule numbers are an error naming the line") {
    std::string e = first_error(R"(sessions:
  - session_number: 1
    virtual_network_id: 5
    filter:
      ingress:
        - {rule_number: 10, rule_action: accept}
        - {rule_number: 10, rule_action: reject, protocol: 6}
)");
    CHECK(e == "cfg:7:11: duplicate rule_number 10 in ingress rules (first at line 6)");
    // The same number in the other direction is fine, as in AWS.
    ConfigLoad ok = load_config_text(R"(sessions:
  - session_number: 1
    virtual_network_id: 5
    filter:
      ingress: [{rule_number: 10, rule_action: accept}]
      egress: [{rule_number: 10, rule_action: accept}]
)");
    CHECK(ok.ok());
}

TEST_CASE("config: a port range with protocol ICMP is an error naming the line") {
    std::string e = first_error(R"(sessions:
  - session_number: 1
    virtual_network_id: 5
    filter:
      egress:
        - rule_number: 10
          rule_action: accept
          protocol: 1
          destination_port_range: {from_port: 0, to_port: 8}
)");
    CHECK(e == "cfg:8:21: a port range needs protocol 6 (tcp) or 17 (udp); this rule has protocol 1");
    e = first_error(R"(sessions:
  - session_number: 1
    virtual_network_id: 5
    filter:
      egress:
        - {rule_number: 10, rule_action: accept, source_port_range: {from_port: 1, to_port: 2}}
)");
    CHECK(e == "cfg:6:11: a port range needs protocol 6 (tcp) or 17 (udp); this rule has all protocols");
}

TEST_CASE("config: bad values are each reported with their place") {
    ConfigLoad l = load_config_text(R"(interface: eth0
target: "10.0.0.1:99999"
mtu: 100
max_rate: {packets_per_second: lots}
sessions:
  - session_number: 40000
    virtual_network_id: 16777216
    packet_length: 4
    filter:
      egress:
        - {rule_number: 0, rule_action: allow, protocol: 300, source_cidr_block: 10.0.0.0/33,
           destination_port_range: {from_port: 9, to_port: 1}}
  - virtual_network_id: 7
)");
    std::string all = all_errors(l.errors);
    INFO(all);
    CHECK(all.find("cfg:2:9: target: bad port in '10.0.0.1:99999': must be at most 65535, got '99999'") !=
          std::string::npos);
    CHECK(all.find("cfg:3:6: mtu: must be at least 576, got '100'") != std::string::npos);
    CHECK(all.find("cfg:4:32: packets_per_second: expected a whole number, got 'lots'") != std::string::npos);
    CHECK(all.find("cfg:6:21: session_number: must be at most 32766, got '40000'") != std::string::npos);
    CHECK(all.find("cfg:7:25: virtual_network_id: expected a VNI (0..16777215), got '16777216'") != std::string::npos);
    CHECK(all.find("cfg:8:20: packet_length: must be at least 14, got '4'") != std::string::npos);
    CHECK(all.find("cfg:11:25: rule_number: must be at least 1, got '0'") != std::string::npos);
    CHECK(all.find("cfg:11:41: rule_action: expected accept or reject, got 'allow'") != std::string::npos);
    CHECK(all.find("cfg:11:58: protocol: expected an IANA protocol number") != std::string::npos);
    CHECK(all.find("cfg:11:82: source_cidr_block: bad prefix length in '10.0.0.0/33': must be at most 32") !=
          std::string::npos);
    CHECK(all.find("cfg:12:36: destination_port_range: from_port 9 is above to_port 1") != std::string::npos);
    CHECK(all.find("cfg:13:5: a session needs a session_number") != std::string::npos);
    CHECK(all.find("cfg:13:5: a session needs a filter or a traffic_mirror_filter_id") != std::string::npos);
    // A value that is present but wrong is reported once, not also as missing.
    CHECK(all.find("cfg:6:5: a session needs a session_number") == std::string::npos);
    CHECK(all.find("needs a rule_number") == std::string::npos);
}

TEST_CASE("config: YAML syntax errors carry line and column") {
    std::string e = first_error("interface: eth0\nsessions: [\n");
    CHECK(e.rfind("cfg:3:1: ", 0) == 0);
}

TEST_CASE("config: duplicate session numbers are refused") {
    std::string e = first_error(R"(sessions:
  - {session_number: 3, virtual_network_id: 1, filter: {}}
  - {session_number: 3, virtual_network_id: 2, filter: {}}
)");
    CHECK(e == "cfg:3:5: duplicate session_number 3 (first at line 2)");
}

TEST_CASE("config: protocol names, 'all' and a list of interfaces") {
    ConfigLoad l = load_config_text(R"(interface: [veth0, veth1]
target: "[2001:db8::5]:8472"
sessions:
  - session_number: 1
    virtual_network_id: 1
    filter:
      egress:
        - {rule_number: 1, rule_action: accept, protocol: all}
        - {rule_number: 2, rule_action: accept, protocol: UDP}
        - {rule_number: 3, rule_action: accept, protocol: icmpv6}
)");
    INFO(all_errors(l.errors));
    REQUIRE(l.ok());
    CHECK(l.config.interfaces.size() == 2);
    CHECK(l.config.target.host == "2001:db8::5");
    CHECK(l.config.target.port == 8472);
    CHECK(l.config.interfaces_at == std::vector<SourceMark>{{1, 13}, {1, 20}});
    const auto& rules = l.config.sessions[0].session.filter.rules(Direction::egress);
    CHECK_FALSE(rules[0].protocol);
    CHECK(rules[1].protocol == kProtoUdp);
    CHECK(rules[2].protocol == kProtoIcmpv6);
}

TEST_CASE("config: targets are support's endpoints with names and port 4789 by default") {
    auto target = [&](std::string_view t) { return parse_endpoint(t, kTargetRules); };
    CHECK(target("collector.example.com")->host == "collector.example.com");
    CHECK(target("collector.example.com")->port == 4789);
    CHECK(target("nlb-1.elb.amazonaws.com:4790")->port == 4790);
    CHECK(target("::1")->host == "::1");
    CHECK(target("[2001:db8::5]:8472")->port == 8472);
    for (auto bad : {"", ":4789", "[::1", "host:0", "host:65536", "a b", "[name]:1"}) {
        INFO(bad);
        CHECK_FALSE(target(bad));
    }
    // The loader says the same, at the value.
    CHECK(first_error("target: 'host:0'\n") == "cfg:1:9: target: bad port in 'host:0': must be at least 1, got '0'");
}

TEST_CASE("values: rates, with their units, one of each kind at most") {
    auto r = parse_rate("20000pps");
    REQUIRE(r);
    CHECK(r->packets_per_second == 20000);
    CHECK(r->bits_per_second == 0);
    r = parse_rate("5kpps, 100Mbps");
    REQUIRE(r);
    CHECK(r->packets_per_second == 5000);
    CHECK(r->bits_per_second == 100000000);
    CHECK(parse_rate("1GBPS")->bits_per_second == 1000000000);
    CHECK(parse_rate("2Mpps")->packets_per_second == 2000000);
    for (auto bad : {"100", "fast", "", "pps", "5kpps,", "-5pps", "1.5Mbps", "5pps,6pps"}) {
        INFO(bad);
        const auto refused = parse_rate(bad);
        REQUIRE_FALSE(refused);
        CHECK_FALSE(refused.error().empty());
    }
    r = parse_rate("18446744073709551615gbps");
    REQUIRE_FALSE(r);
    CHECK(r.error() == "rate '18446744073709551615gbps' is too large");
    r = parse_rate("5pps,6pps");
    REQUIRE_FALSE(r);
    CHECK(r.error() == "rate '5pps,6pps' gives packets per second twice");
    // In the file: the same text, or a mapping.
    ConfigLoad l = load_config_text("max_rate: 5kpps\n");
    REQUIRE(l.ok());
    CHECK(l.config.max_rate == RateLimit{5000, 0});
    l = load_config_text("max_rate: {bits_per_second: 1000}\n");
    REQUIRE(l.ok());
    CHECK(l.config.max_rate == RateLimit{0, 1000});
    CHECK(first_error("max_rate: 5\n") ==
          "cfg:1:11: max_rate: expected a rate such as 20000pps, 50kpps, 100Mbps, 1Gbps or one of each with a comma, "
          "got '5'");
    CHECK(first_error("max_rate: {pps: 5}\n") ==
          "cfg:1:12: unknown key 'pps' in max_rate");
}

TEST_CASE("values: protocols, MAC addresses, interface names, labels") {
    auto protocol = parse_protocol("TCP");
    REQUIRE(protocol);
    CHECK(*protocol == kProtoTcp);
    protocol = parse_protocol("all");
    REQUIRE(protocol);
    CHECK_FALSE(*protocol);
    protocol = parse_protocol("132");
    REQUIRE(protocol);
    CHECK(*protocol == 132);
    CHECK_FALSE(parse_protocol("256"));
    CHECK_FALSE(parse_protocol("tcp6"));

    CHECK(first_error("interface: [eth0, 'bad/name']\n") ==
          "cfg:1:19: interface: expected an interface name (1 to 15 bytes, no '/', ':', '%' or spaces), got 'bad/name'");

    CHECK(parse_text("web tier é") == "web tier é");
    const auto control = parse_text("web\nOK");
    REQUIRE_FALSE(control);
    CHECK(control.error() == "'web\\nOK' holds a control character");
}

TEST_CASE("config: durations, sizes and lists where the settings are of that kind") {
    ConfigLoad l = load_config_text(
        "resolve_interval_seconds: 5m\ncapture_buffer_bytes: 8m\nsend_buffer_bytes: 1G\ninterface: 'eth0, eth1'\n");
    for (const auto& e : l.errors) FAIL(format_error("cfg", e));
    CHECK(l.config.resolve_interval_seconds == 300);
    CHECK(l.config.capture_buffer_bytes == 8ull << 20);
    CHECK(l.config.send_buffer_bytes == 1ull << 30);
    CHECK(l.config.interfaces == std::vector<std::string>{"eth0", "eth1"});
    CHECK(l.config.interfaces_at == std::vector<SourceMark>{{4, 12}, {4, 12}});
    CHECK(first_error("resolve_interval_seconds: 500ms\n") ==
          "cfg:1:27: resolve_interval_seconds: must be at least 1s, got '500ms'");
    CHECK(first_error("capture_buffer_bytes: 2T\n") == "cfg:1:23: capture_buffer_bytes: must be at most 1G, got '2T'");
    CHECK(first_error("batch_size: [1]\n") == "cfg:1:13: batch_size: expected a single value");
}

TEST_CASE("config: running needs an interface, a target and a session, each interface once") {
    ConfigLoad l = load_config_text("interface: [eth0, eth1, eth0]\n");
    REQUIRE(l.ok());
    std::vector<ConfigError> errors;
    validate_for_run(l.config, errors);
    std::string all;
    for (const auto& e : errors) all += format_error("cfg", e) + "\n";
    CHECK(all == "cfg:1:25: interface 'eth0' is given twice\n"
                 "cfg: no target: set 'target:' or give --target HOST[:PORT]\n"
                 "cfg: no sessions: nothing would be mirrored\n");
}

TEST_CASE("config: the YAML reader's rules hold for the sender too") {
    CHECK(first_error("mtu: 1500\nmtu: 9000\n") == "cfg:2:1: key 'mtu' given twice in one mapping (first at line 1)");
    CHECK(first_error("sessions:\n  - {session_number: 1, session_number: 2}\n") ==
          "cfg:2:25: key 'session_number' given twice in one mapping (first at line 2)");
    CHECK(first_error("") == "cfg: config file is empty");
    CHECK(first_error("# nothing\n") == "cfg: config file is empty");
    CHECK(first_error("mtu: 1500\n---\nmtu: 9000\n").find("a second YAML document") != std::string::npos);
}

TEST_CASE("aws import: describe-traffic-mirror-filters JSON becomes the same filters") {
    AwsImport imp = import_aws_filters_file(kSource + "/tests/sender/data/describe-traffic-mirror-filters.json");
    INFO(all_errors(imp.errors));
    REQUIRE(imp.ok());
    REQUIRE(imp.filters.size() == 2);
    const Filter& web = imp.filters.at("tmf-0a1b2c3d4e5f67890");
    CHECK(web.id == "tmf-0a1b2c3d4e5f67890");
    REQUIRE(web.rules(Direction::ingress).size() == 2);
    // Sorted by RuleNumber although the JSON lists 200 first.
    CHECK(web.rules(Direction::ingress)[0].rule_number == 100);
    CHECK(web.rules(Direction::ingress)[0].action == RuleAction::reject);
    CHECK(web.rules(Direction::ingress)[0].destination_ports == PortRange{22, 22});
    CHECK(web.rules(Direction::ingress)[1].description == "everything else into the VPC");
    CHECK_FALSE(web.rules(Direction::ingress)[1].protocol);  // absent = all
    const FilterRule& dns = web.rules(Direction::egress)[0];
    CHECK(dns.protocol == kProtoUdp);
    CHECK(dns.source_ports == PortRange{1024, 65535});
    CHECK(dns.source_cidr->to_string() == "10.0.0.0/16");
    CHECK(web.amazon_dns);  // NetworkServices: ["amazon-dns"]
    CHECK(imp.notes.empty());
    const Filter& icmp = imp.filters.at("tmf-00112233445566778");
    CHECK(icmp.rules(Direction::ingress).empty());
    CHECK(icmp.rules(Direction::egress).size() == 1);

    // Behaviour: SSH in is rejected, other traffic into 10.0/16 accepted, IPv6 out accepted.
    auto in = [&](const Buf& b) { return web.evaluate(Direction::ingress, parsed(b)).accepted(); };
    CHECK_FALSE(in(ip4_frame(6, {1, 2, 3, 4}, {10, 0, 5, 5}, 50000, 22)));
    CHECK(in(ip4_frame(6, {1, 2, 3, 4}, {10, 0, 5, 5}, 50000, 443)));
    CHECK_FALSE(in(ip4_frame(6, {1, 2, 3, 4}, {10, 1, 5, 5}, 50000, 443)));
    CHECK(web.evaluate(Direction::egress, parsed(ip6_frame(6, 1, 2, 1, 2))).accepted());
    CHECK(web.evaluate(Direction::egress, parsed(ip4_frame(17, {10, 0, 0, 9}, {8, 8, 8, 8}, 3333, 53))).accepted());
    CHECK_FALSE(web.evaluate(Direction::egress, parsed(ip4_frame(17, {10, 0, 0, 9}, {8, 8, 8, 8}, 53, 53))).accepted());
}

TEST_CASE("aws import: sessions name imported filters by traffic_mirror_filter_id") {
    AwsImport imp = import_aws_filters_file(kSource + "/tests/sender/data/describe-traffic-mirror-filters.json");
    REQUIRE(imp.ok());
    ConfigLoad l = load_config_text(R"(sessions:
  - {session_number: 1, virtual_network_id: 9, traffic_mirror_filter_id: tmf-00112233445566778}
  - {session_number: 2, virtual_network_id: 10, traffic_mirror_filter_id: tmf-nope}
)");
    REQUIRE(l.ok());
    std::vector<ConfigError> errors;
    auto sessions = resolve_sessions(l.config, imp.filters, errors);
    REQUIRE(sessions.size() == 1);
    CHECK(sessions[0].filter.rules(Direction::egress)[0].protocol == kProtoIcmp);
    REQUIRE(errors.size() == 1);
    CHECK(format_error("cfg", errors[0]).rfind("cfg:3:75: traffic_mirror_filter_id 'tmf-nope' is not among", 0) == 0);
}

TEST_CASE("aws import: the flat describe-traffic-mirror-filter-rules output is grouped by filter") {
    AwsImport imp = import_aws_filters_text(R"({"TrafficMirrorFilterRules": [
      {"TrafficMirrorFilterId": "tmf-1", "TrafficDirection": "egress", "RuleNumber": 5, "RuleAction": "accept",
       "Protocol": 6, "SourceCidrBlock": "0.0.0.0/0", "DestinationCidrBlock": "0.0.0.0/0"},
      {"TrafficMirrorFilterId": "tmf-1", "TrafficDirection": "ingress", "RuleNumber": 5, "RuleAction": "reject",
       "SourceCidrBlock": "::/0", "DestinationCidrBlock": "::/0"},
      {"TrafficMirrorFilterId": "tmf-2", "TrafficDirection": "ingress", "RuleNumber": 1, "RuleAction": "accept",
       "Protocol": 0, "SourceCidrBlock": "0.0.0.0/0", "DestinationCidrBlock": "0.0.0.0/0"}]})");
    REQUIRE(imp.ok());
    REQUIRE(imp.filters.size() == 2);
    CHECK(imp.filters.at("tmf-1").rules(Direction::egress).size() == 1);
    CHECK(imp.filters.at("tmf-1").rules(Direction::ingress).size() == 1);
    CHECK_FALSE(imp.filters.at("tmf-2").rules(Direction::ingress)[0].protocol);  // 0 = all
}

TEST_CASE("aws import: bad JSON and bad rules are reported") {
    AwsImport bad = import_aws_filters_text("{\n \"TrafficMirrorFilters\": [\n  {,}\n]}");
    REQUIRE_FALSE(bad.ok());
    CHECK(bad.errors[0].line == 3);
    AwsImport wrong = import_aws_filters_text(R"({"TrafficMirrorFilters": [{"TrafficMirrorFilterId": "tmf-1",
      "IngressFilterRules": [
        {"TrafficDirection": "egress", "RuleNumber": 1, "RuleAction": "accept"},
        {"RuleNumber": 2, "RuleAction": "maybe"},
        {"RuleNumber": 3, "RuleAction": "accept", "Protocol": 1, "DestinationPortRange": {"FromPort": 1, "ToPort": 2}},
        {"RuleNumber": 4, "RuleAction": "accept", "SourceCidrBlock": "10.0.0.0/99"},
        {"RuleNumber": 5, "RuleAction": "accept"},
        {"RuleNumber": 5, "RuleAction": "reject"}]}]})");
    std::string all = all_errors(wrong.errors);
    INFO(all);
    CHECK(wrong.errors.size() == 5);
    CHECK(all.find("TrafficMirrorFilters[0].IngressFilterRules[0].TrafficDirection: 'egress' in the "
                   "IngressFilterRules list") != std::string::npos);
    CHECK(all.find("IngressFilterRules[1].RuleAction: expected accept or reject, got 'maybe'") != std::string::npos);
    CHECK(all.find("cfg:5:9: TrafficMirrorFilters[0].IngressFilterRules[2]: a port range needs protocol 6 (tcp) or 17 "
                   "(udp); this rule has protocol 1") != std::string::npos);
    CHECK(all.find("cfg:6:70: TrafficMirrorFilters[0].IngressFilterRules[3].SourceCidrBlock: bad prefix length in "
                   "'10.0.0.0/99': must be at most 32, got '99'") != std::string::npos);
    CHECK(all.find("IngressFilterRules[5]: duplicate RuleNumber 5") != std::string::npos);
    CHECK_FALSE(import_aws_filters_text(R"({"Something": []})").ok());
}

TEST_CASE("aws import: an imported filter prints as YAML that loads back the same") {
    AwsImport imp = import_aws_filters_file(kSource + "/tests/sender/data/describe-traffic-mirror-filters.json");
    REQUIRE(imp.ok());
    const Filter& web = imp.filters.at("tmf-0a1b2c3d4e5f67890");
    std::string yaml = "sessions:\n  - session_number: 1\n    virtual_network_id: 1\n    filter:\n" +
                       filter_to_yaml(web, 6);
    ConfigLoad l = load_config_text(yaml);
    INFO(yaml);
    INFO(all_errors(l.errors));
    REQUIRE(l.ok());
    const Filter& back = l.config.sessions[0].session.filter;
    for (Direction d : {Direction::ingress, Direction::egress}) {
        REQUIRE(back.rules(d).size() == web.rules(d).size());
        for (size_t i = 0; i < back.rules(d).size(); ++i) {
            const FilterRule& a = back.rules(d)[i];
            const FilterRule& b = web.rules(d)[i];
            CHECK(a.rule_number == b.rule_number);
            CHECK(a.action == b.action);
            CHECK(a.protocol == b.protocol);
            CHECK(a.source_cidr == b.source_cidr);
            CHECK(a.destination_cidr == b.destination_cidr);
            CHECK(a.source_ports == b.source_ports);
            CHECK(a.destination_ports == b.destination_ports);
            CHECK(a.description == b.description);
        }
    }
}

namespace {

// The description of the one egress rule of filter tmf-1 in `json`'s rule list.
std::string imported_description(const std::string& rule_json) {
    AwsImport imp = import_aws_filters_text(
        R"({"TrafficMirrorFilters": [{"TrafficMirrorFilterId": "tmf-1", "EgressFilterRules": [)" + rule_json + "]}]}");
    INFO(all_errors(imp.errors));
    REQUIRE(imp.ok());
    return imp.filters.at("tmf-1").rules(Direction::egress).at(0).description;
}

}  // namespace

TEST_CASE("aws import: JSON string escapes read as JSON means them") {
    const std::string rule = R"({"RuleNumber": 1, "RuleAction": "accept", "Description": )";
    // \/ is JSON's (and YAML 1.2's) escaped slash.
    CHECK(imported_description(rule + R"("a\/b"})") == "a/b");
    CHECK(imported_description(rule + R"("caf\u00e9 \u00E9"})") == "café é");
    CHECK(imported_description(rule + R"("q\"b\\s"})") == "q\"b\\s");
    // A character past U+FFFF is a UTF-16 surrogate pair in JSON, which
    // yaml-cpp alone refuses ("invalid unicode"): written as \U0001F600 first.
    CHECK(imported_description(rule + R"("up \ud83d\ude00 \uD83D\uDE00!"})") == "up \xF0\x9F\x98\x80 \xF0\x9F\x98\x80!");
    // An escaped backslash before "u" is not an escape.
    CHECK(imported_description(rule + R"("\\ud83d\\ude00"})") == "\\ud83d\\ude00");
    // Raw UTF-8 passes as it is.
    CHECK(imported_description(rule + "\"\xE2\x9C\x93 ok\"}") == "\xE2\x9C\x93 ok");
    // A control character in a description is refused, escaped ones included.
    AwsImport control = import_aws_filters_text(R"({"TrafficMirrorFilterRules": [{"TrafficMirrorFilterId": "tmf-1",
        "TrafficDirection": "egress", "RuleNumber": 1, "RuleAction": "accept", "Description": "a\nb"}]})");
    REQUIRE(control.errors.size() == 1);
    CHECK(format_error("f", control.errors[0]) ==
          "f:2:95: TrafficMirrorFilterRules[0].Description: 'a\\nb' holds a control character");
}

TEST_CASE("aws import: JSON layouts and mistakes") {
    // Compact, tab-indented and CRLF JSON all read.
    CHECK(import_aws_filters_text(R"({"TrafficMirrorFilters":[{"TrafficMirrorFilterId":"tmf-1"}]})").ok());
    CHECK(import_aws_filters_text("{\n\t\"TrafficMirrorFilters\": [\n\t\t{\"TrafficMirrorFilterId\": \"tmf-1\"}\n\t]\n}").ok());
    CHECK(import_aws_filters_text("{\r\n \"TrafficMirrorFilters\": []\r\n}\r\n").ok());
    // Syntax errors carry their place.
    AwsImport unclosed = import_aws_filters_text("{\"TrafficMirrorFilters\": [\n  {\"TrafficMirrorFilterId\": \"x\"}\n");
    REQUIRE_FALSE(unclosed.ok());
    CHECK(unclosed.errors[0].line >= 2);
    // A lone surrogate is not a character.
    AwsImport lone = import_aws_filters_text(
        "{\"TrafficMirrorFilters\": [\n {\"TrafficMirrorFilterId\": \"tmf-\\ud83d\"}]}");
    REQUIRE_FALSE(lone.ok());
    CHECK(lone.errors[0].line == 2);
    // A key given twice is refused, as in a config.
    AwsImport twice = import_aws_filters_text(
        "{\"TrafficMirrorFilters\": [{\"TrafficMirrorFilterId\": \"a\",\n \"TrafficMirrorFilterId\": \"b\"}]}");
    REQUIRE(twice.errors.size() == 1);
    CHECK(format_error("f", twice.errors[0]) ==
          "f:2:2: key 'TrafficMirrorFilterId' given twice in one mapping (first at line 1)");
    // Deep nesting is refused before parsing, with a message that says why.
    AwsImport deep = import_aws_filters_text(std::string(100000, '[') + std::string(100000, ']'));
    REQUIRE(deep.errors.size() == 1);
    CHECK(deep.errors[0].message.find("nested deeper than 64 levels") != std::string::npos);
    // Brackets inside strings do not count as nesting.
    CHECK(imported_description(R"({"RuleNumber": 1, "RuleAction": "accept", "Description": ")" + std::string(100, '[') +
                               "\"}") == std::string(100, '['));
    // Not an object of filters.
    for (const char* wrong : {"[1, 2]", "\"filters\"", "{\"TrafficMirrorFilters\": \"x\"}", "", "  \n",
                              "{\"TrafficMirrorFilters\": [5]}", "{\"TrafficMirrorFilterRules\": [[]]}"}) {
        INFO(wrong);
        AwsImport imp = import_aws_filters_text(wrong);
        CHECK_FALSE(imp.ok());
        CHECK(imp.filters.empty());
    }
    // Text YAML would take but JSON does not (bare words, comments, trailing
    // commas, single quotes) is refused at its place, not read as something else.
    for (const char* not_json : {"{\"TrafficMirrorFilters\": [\n {\"TrafficMirrorFilterId\": tmf-1}]}",
                                 "{\"TrafficMirrorFilters\": [\n # none\n]}",
                                 "{\"TrafficMirrorFilters\": [\n {\"TrafficMirrorFilterId\": \"tmf-1\"},]}",
                                 "{\"TrafficMirrorFilters\": [\n {'TrafficMirrorFilterId': 'tmf-1'}]}"}) {
        INFO(not_json);
        AwsImport imp = import_aws_filters_text(not_json);
        REQUIRE(imp.errors.size() == 1);
        CHECK(imp.errors[0].line == 2);
        CHECK(imp.filters.empty());
    }
    // Places count characters, a tab and a two-byte character one column each.
    AwsImport placed = import_aws_filters_text(
        "{\"TrafficMirrorFilterRules\": [{\"TrafficMirrorFilterId\": \"tmf-\xC3\xA9\",\n\t\"TrafficDirection\": \"egress\", "
        "\"RuleNumber\": 0, \"RuleAction\": \"accept\"}]}");
    REQUIRE(placed.errors.size() == 1);
    CHECK(format_error("f", placed.errors[0]).rfind("f:2:46: TrafficMirrorFilterRules[0].RuleNumber: ", 0) == 0);
    // A v4-mapped IPv6 block is refused here as in the YAML.
    AwsImport mapped = import_aws_filters_text(R"({"TrafficMirrorFilterRules": [{"TrafficMirrorFilterId": "tmf-1",
        "TrafficDirection": "egress", "RuleNumber": 1, "RuleAction": "accept", "SourceCidrBlock": "::ffff:0:0/96"}]})");
    REQUIRE(mapped.errors.size() == 1);
    CHECK(mapped.errors[0].message.find("IPv4-mapped IPv6 block") != std::string::npos);
}

TEST_CASE("files: a config or filter file that is not a regular file is refused by name") {
    char dir_template[] = "/tmp/mt-sender-files.XXXXXX";
    const std::string dir = mkdtemp(dir_template);
    auto write = [&](const std::string& name, const std::string& text) {
        FILE* f = std::fopen((dir + "/" + name).c_str(), "w");
        REQUIRE(f);
        std::fwrite(text.data(), 1, text.size(), f);
        std::fclose(f);
        return dir + "/" + name;
    };
    auto config_error = [](const std::string& path) {
        ConfigLoad l = load_config_file(path);
        REQUIRE(l.errors.size() == 1);
        return l.errors[0].message;
    };
    CHECK(config_error(dir) == "cannot read config file: it is a directory, not a regular file");
    CHECK(config_error(write("empty.yaml", "")) == "config file is empty");
    CHECK(config_error(write("big.yaml", std::string((1 << 20) + 1, '#'))) ==
          "config file is larger than 1 MiB, the most we read");
    CHECK(config_error(dir + "/missing.yaml") == "cannot read config file: No such file or directory");
    const std::string fifo = dir + "/fifo";
    REQUIRE(mkfifo(fifo.c_str(), 0600) == 0);
    CHECK(config_error(fifo) == "cannot read config file: it is a FIFO, not a regular file");  // and no hang
    AwsImport imp = import_aws_filters_file(fifo);
    REQUIRE(imp.errors.size() == 1);
    CHECK(imp.errors[0].message == "cannot read AWS filter file: it is a FIFO, not a regular file");
    imp = import_aws_filters_file(write("empty.json", ""));
    REQUIRE(imp.errors.size() == 1);
    CHECK(imp.errors[0].message == "empty: not what aws ec2 describe-traffic-mirror-filters prints");
    std::filesystem::remove_all(dir);
}
