#include <doctest/doctest.h>

#include <string>

#include "sender/aws_import.hpp"
#include "sender/config.hpp"
#include "tests/sender/packets.hpp"

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

std::string all_errors(const std::vector<ConfigError>& errors) {
    std::string s;
    for (const auto& e : errors) s += format_error("cfg", e) + "\n";
    return s;
}

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
    CHECK(c.target_host == "10.8.0.2");
    CHECK(c.target_port == 4789);
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
    CHECK(l.config.metrics_listen == "127.0.0.1:9101");
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
    for (const char* key : {"interface", "target", "sessions", "aws_filter_files", "mtu", "max_rate",
                            "packets_per_second", "bits_per_second", "metrics_listen", "batch_size",
                            "capture_buffer_bytes", "send_buffer_bytes", "resolve_interval_seconds", "poll_interval_usec",
                            "session_number", "virtual_network_id", "packet_length", "description", "filter",
                            "traffic_mirror_filter_id", "egress", "ingress", "rule_number", "rule_action",
                            "protocol", "source_cidr_block", "destination_cidr_block", "source_port_range",
                            "destination_port_range", "from_port", "to_port"}) {
        INFO(key);
        CHECK(text.find(std::string(key) + ":") != std::string::npos);
    }
}

TEST_CASE("config: unknown keys are refused with line and column") {
    CHECK(first_error("interface: eth0\ntarjet: 1.2.3.4\n") ==
          "cfg:2:1: unknown key 'tarjet' in the top level (known: interface, target, sessions, aws_filter_files, "
          "mtu, max_rate, metrics_listen, batch_size, capture_buffer_bytes, send_buffer_bytes, "
          "resolve_interval_seconds, poll_interval_usec)");
    std::string e = first_error(
        "sessions:\n  - session_number: 1\n    virtual_network_id: 5\n    filter:\n      egress:\n"
        "        - {rule_number: 1, rule_action: accept, proto: 6}\n");
    CHECK(e.rfind("cfg:6:49: unknown key 'proto' in a rule", 0) == 0);
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
    CHECK(all.find("cfg:2:9: 'target': bad port '99999' (1..65535)") != std::string::npos);
    CHECK(all.find("cfg:3:6: 'mtu' must be a whole number 576..9216, got '100'") != std::string::npos);
    CHECK(all.find("cfg:4:32: 'packets_per_second' must be a whole number") != std::string::npos);
    CHECK(all.find("cfg:6:21: 'session_number' must be a whole number 1..32766") != std::string::npos);
    CHECK(all.find("cfg:7:25: 'virtual_network_id' must be a whole number 0..16777215") != std::string::npos);
    CHECK(all.find("cfg:8:20: 'packet_length' must be a whole number 14..65535") != std::string::npos);
    CHECK(all.find("cfg:11:25: 'rule_number' must be a whole number 1..32766") != std::string::npos);
    CHECK(all.find("cfg:11:41: 'rule_action' must be accept or reject, got 'allow'") != std::string::npos);
    CHECK(all.find("cfg:11:58: protocol must be an IANA number") != std::string::npos);
    CHECK(all.find("cfg:11:82: 'source_cidr_block': '10.0.0.0/33' is not an IPv4 or IPv6 CIDR block") !=
          std::string::npos);
    CHECK(all.find("cfg:12:36: 'destination_port_range': from_port 9 is above to_port 1") != std::string::npos);
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
    CHECK(l.config.target_host == "2001:db8::5");
    CHECK(l.config.target_port == 8472);
    const auto& rules = l.config.sessions[0].session.filter.rules(Direction::egress);
    CHECK_FALSE(rules[0].protocol);
    CHECK(rules[1].protocol == kProtoUdp);
    CHECK(rules[2].protocol == kProtoIcmpv6);
}

TEST_CASE("config: target, size and rate parsers") {
    std::string host, why;
    uint16_t port = 0;
    CHECK(parse_target("collector.example.com", host, port, why));
    CHECK(host == "collector.example.com");
    CHECK(port == 4789);
    CHECK(parse_target("nlb-1.elb.amazonaws.com:4790", host, port, why));
    CHECK(port == 4790);
    CHECK(parse_target("::1", host, port, why));
    CHECK(host == "::1");
    CHECK_FALSE(parse_target(":4789", host, port, why));
    CHECK_FALSE(parse_target("[::1", host, port, why));
    CHECK(parse_size_bytes("64M", why) == 64ull << 20);
    CHECK(parse_size_bytes("4096", why) == 4096u);
    CHECK_FALSE(parse_size_bytes("64Q", why));
    auto r = parse_rate("20000pps", why);
    REQUIRE(r);
    CHECK(r->packets_per_second == 20000);
    CHECK(r->bits_per_second == 0);
    r = parse_rate("5kpps,100Mbps", why);
    REQUIRE(r);
    CHECK(r->packets_per_second == 5000);
    CHECK(r->bits_per_second == 100000000);
    CHECK_FALSE(parse_rate("100", why));
    CHECK_FALSE(parse_rate("fast", why));
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
    CHECK(imp.notes.size() == 1);  // amazon-dns
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
    CHECK(bad.errors[0].at.line == 3);
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
    CHECK(all.find("IngressFilterRules[2]: a port range with a protocol other than 6") != std::string::npos);
    CHECK(all.find("IngressFilterRules[3].SourceCidrBlock: '10.0.0.0/99' is not a CIDR block") != std::string::npos);
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
