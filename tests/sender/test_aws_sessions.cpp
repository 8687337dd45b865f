// Sessions as AWS has them: each names its source interface(s) and its
// target; AWS's quotas and refusals hold (issue 15, item 5).
#include <doctest/doctest.h>

#include <string>

#include "sender/aws_import.hpp"
#include "sender/config.hpp"
#include "sender/session_engine.hpp"
#include "tests/sender/packets.hpp"
#include "tests/support/config_errors.hpp"

using namespace mirrortap;
using namespace mirrortap::sender;
using namespace mirrortap::test;

namespace {

// The config's load errors, then resolve_sessions' (what --check-config says).
std::string problems(const std::string& yaml, std::vector<Session>* sessions = nullptr) {
    ConfigLoad l = load_config_text(yaml);
    if (!l.ok()) return all_errors(l.errors);
    std::vector<ConfigError> errors;
    std::vector<Session> s = resolve_sessions(l.config, {}, errors);
    if (sessions) *sessions = s;
    return all_errors(errors);
}

std::string session_yaml(int number, const std::string& extra = "") {
    return "  - {session_number: " + std::to_string(number) + ", virtual_network_id: " + std::to_string(number) +
           extra + ", filter: {egress: [{rule_number: 1, rule_action: accept}]}}\n";
}

}  // namespace

TEST_CASE("aws sessions: at most 3 sessions per source interface, with AWS's quota named") {
    std::string three = "interface: eth0\nsessions:\n" + session_yaml(1) + session_yaml(2) + session_yaml(3);
    CHECK(problems(three) == "");
    const std::string four = three + session_yaml(4);
    CHECK(problems(four) == "cfg:6:5: interface 'eth0' is the source of 4 sessions (1, 2, 3, 4); AWS allows at most 3 "
                            "sessions per source network interface (Traffic Mirroring quotas, not adjustable)\n");
    // Four sessions over two interfaces: three on each at most.
    const std::string spread = "interface: eth0\nsessions:\n" + session_yaml(1) + session_yaml(2) +
                               session_yaml(3, ", interface: eth1") + session_yaml(4, ", interface: [eth1]");
    CHECK(problems(spread) == "");
    const std::string crowded = "interface: eth0\nsessions:\n" + session_yaml(1) + session_yaml(2) + session_yaml(3) +
                                session_yaml(4, ", interface: [eth1, eth0]");
    CHECK(problems(crowded).find("interface 'eth0' is the source of 4 sessions") != std::string::npos);
}

TEST_CASE("aws sessions: session numbers are unique per source interface, as in AWS") {
    // The same number on two interfaces is two sessions, as on two ENIs.
    std::vector<Session> sessions;
    CHECK(problems("sessions:\n" + session_yaml(1, ", interface: eth0") + session_yaml(1, ", interface: eth1"),
                   &sessions) == "");
    REQUIRE(sessions.size() == 2);
    CHECK(sessions[0].interfaces == 1);
    CHECK(sessions[1].interfaces == 2);
    CHECK(problems("sessions:\n" + session_yaml(1, ", interface: [eth0, eth1]") + session_yaml(1, ", interface: eth1")) ==
          "cfg:3:5: duplicate session_number 1 on interface 'eth1' (first at line 2)\n");
}

TEST_CASE("aws sessions: each session's interfaces and target, the top level's by default") {
    std::vector<Session> sessions;
    const std::string yaml = "interface: eth0\ntarget: 10.0.0.9\nsessions:\n" + session_yaml(1) +
                             session_yaml(2, ", interface: eth1, target: '[2001:db8::7]:8472'") +
                             session_yaml(3, ", target: 10.0.0.9:4789");
    REQUIRE(problems(yaml, &sessions) == "");
    ConfigLoad l = load_config_text(yaml);
    CHECK(capture_interfaces(l.config) == std::vector<std::string>{"eth0", "eth1"});
    const std::vector<Endpoint> targets = session_targets(l.config);
    REQUIRE(targets.size() == 2);  // 10.0.0.9:4789 given twice is one target
    CHECK(targets[0].host == "10.0.0.9");
    CHECK(targets[1].host == "2001:db8::7");
    CHECK(targets[1].port == 8472);
    CHECK(sessions[0].interfaces == 1);
    CHECK(sessions[0].target == 0);
    CHECK(sessions[1].interfaces == 2);
    CHECK(sessions[1].target == 1);
    CHECK(sessions[2].target == 0);

    // Running needs an interface and a target for each session, from it or the top level.
    ConfigLoad bare = load_config_text("sessions:\n" + session_yaml(1, ", interface: eth1") + session_yaml(2));
    REQUIRE(bare.ok());
    std::vector<ConfigError> errors;
    validate_for_run(bare.config, errors);
    const std::string all = all_errors(errors);
    CHECK(all.find("cfg:2:5: session 1 has no target") != std::string::npos);
    CHECK(all.find("cfg:3:5: session 2 has no source interface") != std::string::npos);
    CHECK(all.find("session 1 has no source interface") == std::string::npos);

    CHECK(problems("sessions:\n" + session_yaml(1, ", interface: [eth0, eth0]")) ==
          "cfg:2:66: interface: 'eth0' is given twice\n");
    CHECK(problems("sessions:\n" + session_yaml(1, ", target: 'a b'")).find("target:") != std::string::npos);
}

TEST_CASE("aws sessions: the engine tries only the sessions of the interface a frame came from") {
    Session on0, on1;
    on0.session_number = 1;
    on0.vni = 10;
    on0.interfaces = 1;
    on1.session_number = 2;
    on1.vni = 20;
    on1.interfaces = 2;
    FilterRule all;
    all.rule_number = 1;
    on0.filter = on1.filter = Filter({all}, {all});
    const SessionEngine engine({on0, on1});
    const Buf tcp = ip4_frame(6, {10, 0, 0, 1}, {10, 0, 0, 2}, 40000, 443);
    CHECK(engine.classify(Direction::egress, parsed(tcp), 1).session_index == 0);
    const Classification c = engine.classify(Direction::egress, parsed(tcp), 2);
    REQUIRE(c.mirrored());
    CHECK(engine.sessions()[size_t(c.session_index)].vni == 20);
    CHECK_FALSE(engine.classify(Direction::egress, parsed(tcp), 4).mirrored());
}

TEST_CASE("aws sessions: packet_length is AWS's 1-8500 (from 14 here)") {
    CHECK(problems("sessions:\n" + session_yaml(1, ", packet_length: 8500")) == "");
    CHECK(problems("sessions:\n" + session_yaml(1, ", packet_length: 8501")) ==
          "cfg:2:63: packet_length: AWS's valid values are 1-8500 (greater is an error response), got '8501'\n");
    CHECK(problems("sessions:\n" + session_yaml(1, ", packet_length: 65535")).find("1-8500") != std::string::npos);
    CHECK(problems("sessions:\n" + session_yaml(1, ", packet_length: 13")) ==
          "cfg:2:63: packet_length: must be at least 14, got '13'\n");
}

TEST_CASE("aws sessions: at most 10 rules per direction, in YAML and in AWS's JSON") {
    auto rules = [](int n) {
        std::string r;
        for (int i = 1; i <= n; ++i) r += std::string(i > 1 ? ", " : "") + "{rule_number: " + std::to_string(i) + ", rule_action: accept}";
        return "[" + r + "]";
    };
    auto yaml = [&](int n) {
        return "sessions:\n  - session_number: 1\n    virtual_network_id: 1\n    filter:\n      ingress: " + rules(n) +
               "\n";
    };
    CHECK(problems(yaml(10)) == "");
    CHECK(problems(yaml(11)) == "cfg:5:16: ingress: 11 ingress rules; AWS allows at most 10 filter rules per filter in "
                                "each direction (Traffic Mirroring quotas, not adjustable)\n");
    std::string json = R"({"TrafficMirrorFilters": [{"TrafficMirrorFilterId": "tmf-1", "EgressFilterRules": [)";
    for (int i = 1; i <= 11; ++i)
        json += std::string(i > 1 ? "," : "") + R"({"RuleNumber": )" + std::to_string(i) + R"(, "RuleAction": "accept"})";
    json += "]}]}";
    const AwsImport imp = import_aws_filters_text(json);
    CHECK(all_errors(imp.errors).find("tmf-1: 11 egress rules; AWS allows at most 10") != std::string::npos);
}

TEST_CASE("aws sessions: a rule may not mix IPv4 and IPv6 blocks, in YAML and in AWS's JSON") {
    const std::string mixed =
        "sessions:\n  - session_number: 1\n    virtual_network_id: 1\n    filter:\n      egress:\n"
        "        - {rule_number: 1, rule_action: accept, source_cidr_block: 10.0.0.0/8, destination_cidr_block: '::/0'}\n";
    CHECK(problems(mixed) == "cfg:6:11: source_cidr_block 10.0.0.0/8 and destination_cidr_block ::/0 are of different IP "
                             "address families; AWS refuses a rule that mixes IPv4 and IPv6 (write one rule for each)\n");
    const std::string one_family =
        "sessions:\n  - session_number: 1\n    virtual_network_id: 1\n    filter:\n      egress:\n"
        "        - {rule_number: 1, rule_action: accept, source_cidr_block: '2001:db8::/32', destination_cidr_block: '::/0'}\n";
    CHECK(problems(one_family) == "");
    const AwsImport imp = import_aws_filters_text(R"({"TrafficMirrorFilters": [{"TrafficMirrorFilterId": "tmf-1",
        "EgressFilterRules": [{"RuleNumber": 1, "RuleAction": "accept", "SourceCidrBlock": "0.0.0.0/0",
                               "DestinationCidrBlock": "::/0"}]}]})");
    CHECK(all_errors(imp.errors).find("EgressFilterRules[0]: source_cidr_block 0.0.0.0/0 and destination_cidr_block "
                                      "::/0 are of different IP address families") != std::string::npos);
}

TEST_CASE("aws sessions: session and rule numbers are AWS's 1..32766") {
    CHECK(problems("sessions:\n" + session_yaml(32766)) == "");
    CHECK(problems("sessions:\n" + session_yaml(32767)).find("session_number: must be at most 32766") != std::string::npos);
    CHECK(problems("sessions:\n" + session_yaml(0)).find("session_number: must be at least 1") != std::string::npos);
    CHECK(problems("sessions:\n  - {session_number: 1, virtual_network_id: 1, filter: {egress: [{rule_number: 32767, "
                   "rule_action: accept}]}}\n")
              .find("rule_number: must be at most 32766") != std::string::npos);
}
