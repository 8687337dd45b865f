// Everything the AWS CLI prints for Traffic Mirroring imports (issue 15,
// item 7): the four describe outputs, --query lists, pages, and the same
// filter in two files.
#include <doctest/doctest.h>

#include <string>

#include "sender/aws_import.hpp"
#include "tests/support/config_errors.hpp"

using namespace mirrortap;
using namespace mirrortap::sender;
using mirrortap::test::all_errors;

#ifndef MIRRORTAP_SOURCE_DIR
#error "MIRRORTAP_SOURCE_DIR must be defined"
#endif

namespace {

const std::string kData = std::string(MIRRORTAP_SOURCE_DIR) + "/tests/sender/data/";

std::string joined(const std::vector<std::string>& lines) {
    std::string s;
    for (const auto& l : lines) s += l + "\n";
    return s;
}

const char* kRule10 = R"({"TrafficMirrorFilterId": "tmf-1", "TrafficDirection": "egress", "RuleNumber": 10,
                          "RuleAction": "accept", "Protocol": 6})";
const char* kRule20 = R"({"TrafficMirrorFilterId": "tmf-1", "TrafficDirection": "ingress", "RuleNumber": 20,
                          "RuleAction": "reject"})";

}  // namespace

TEST_CASE("aws cli: describe-traffic-mirror-sessions and -targets, whole outputs") {
    const AwsImport sessions = import_aws_filters_file(kData + "describe-traffic-mirror-sessions.json");
    INFO(all_errors(sessions.errors, "f"));
    REQUIRE(sessions.ok());
    REQUIRE(sessions.sessions.size() == 2);
    const AwsSession& web = sessions.sessions.at("tms-0d1e2f3a4b5c67890");
    CHECK(web.network_interface_id == "eni-0f1a2b3c4d5e67890");
    CHECK(web.target_id == "tmt-0e1f2a3b4c5d67890");
    CHECK(web.filter_id == "tmf-0a1b2c3d4e5f67890");
    CHECK(web.session_number == 1);
    CHECK(web.vni == 13314501);
    CHECK(web.packet_length == 128u);
    CHECK(web.description == "web tier");
    CHECK_FALSE(sessions.sessions.at("tms-01a2b3c4d5e6f7890").packet_length);
    CHECK(sessions.listings == std::set<std::string>{"describe-traffic-mirror-sessions"});

    const AwsImport targets = import_aws_filters_file(kData + "describe-traffic-mirror-targets.json");
    INFO(all_errors(targets.errors, "f"));
    REQUIRE(targets.ok());
    REQUIRE(targets.targets.size() == 2);
    CHECK(targets.targets.at("tmt-0e1f2a3b4c5d67890").type == "network-load-balancer");
    CHECK(targets.targets.at("tmt-0e1f2a3b4c5d67890").where.find("loadbalancer/net/collectors") != std::string::npos);
    CHECK(targets.targets.at("tmt-0b2c3d4e5f6a78901").where == "eni-0c2d3e4f5a6b78901");

    // AWS's own limits hold in what is imported too.
    const AwsImport bad = import_aws_filters_text(R"({"TrafficMirrorSessions": [{"TrafficMirrorSessionId": "tms-1",
        "TrafficMirrorTargetId": "tmt-1", "TrafficMirrorFilterId": "tmf-1", "NetworkInterfaceId": "eni-1",
        "SessionNumber": 40000, "VirtualNetworkId": 1, "PacketLength": 9000}]})");
    const std::string all = all_errors(bad.errors, "f");
    CHECK(all.find("TrafficMirrorSessions[0].SessionNumber: must be at most 32766") != std::string::npos);
    CHECK(all.find("TrafficMirrorSessions[0].PacketLength: AWS's valid values are 1-8500") != std::string::npos);
    CHECK(all_errors(import_aws_filters_text(R"({"TrafficMirrorSessions": [{"SessionNumber": 1}]})").errors, "f")
              .find("no TrafficMirrorSessionId") != std::string::npos);
}

TEST_CASE("aws cli: --query lists and single objects of each kind") {
    // --query 'TrafficMirrorFilters[]'
    AwsImport filters = import_aws_filters_text(R"([{"TrafficMirrorFilterId": "tmf-1", "EgressFilterRules": [)" +
                                                std::string(kRule10) + R"(]}, {"TrafficMirrorFilterId": "tmf-2"}])");
    INFO(all_errors(filters.errors, "f"));
    REQUIRE(filters.ok());
    CHECK(filters.filters.size() == 2);
    CHECK(filters.filters.at("tmf-1").rules(Direction::egress).size() == 1);
    // --query 'TrafficMirrorFilters[].[EgressFilterRules, IngressFilterRules][]': lists of rules.
    AwsImport rules = import_aws_filters_text("[[" + std::string(kRule10) + "], [" + kRule20 + "]]");
    INFO(all_errors(rules.errors, "f"));
    REQUIRE(rules.ok());
    CHECK(rules.filters.at("tmf-1").rules(Direction::egress).size() == 1);
    CHECK(rules.filters.at("tmf-1").rules(Direction::ingress).size() == 1);
    // --query 'TrafficMirrorSessions[0]' and 'TrafficMirrorTargets[]'
    AwsImport one = import_aws_filters_text(R"({"TrafficMirrorSessionId": "tms-1", "TrafficMirrorTargetId": "tmt-1",
        "TrafficMirrorFilterId": "tmf-1", "NetworkInterfaceId": "eni-1", "SessionNumber": 2, "VirtualNetworkId": 7})");
    INFO(all_errors(one.errors, "f"));
    REQUIRE(one.ok());
    CHECK(one.sessions.at("tms-1").session_number == 2);
    AwsImport targets = import_aws_filters_text(R"([{"TrafficMirrorTargetId": "tmt-1", "Type": "network-interface",
        "NetworkInterfaceId": "eni-9"}])");
    REQUIRE(targets.ok());
    CHECK(targets.targets.at("tmt-1").where == "eni-9");
    // --query that keeps only ids cannot be run.
    AwsImport ids = import_aws_filters_text(R"(["tmf-1", "tmf-2"])");
    REQUIRE_FALSE(ids.ok());
    CHECK(ids.errors[0].message.find("--query must keep whole objects") != std::string::npos);
    AwsImport neither = import_aws_filters_text(R"({"Reservations": []})");
    REQUIRE_FALSE(neither.ok());
    CHECK(neither.errors[0].message.find("describe-traffic-mirror-filters, -filter-rules, -sessions or -targets") !=
          std::string::npos);
}

TEST_CASE("aws cli: pages with NextToken are merged, or refused without their last page") {
    auto page = [](const char* id, const char* token) {
        std::string json = R"({"TrafficMirrorTargets": [{"TrafficMirrorTargetId": ")" + std::string(id) +
                           R"(", "Type": "network-interface", "NetworkInterfaceId": "eni-1"}])";
        if (token) json += R"(, "NextToken": ")" + std::string(token) + "\"";
        return import_aws_filters_text(json + "}");
    };
    {
        AwsLibrary lib;
        std::vector<std::string> errors;
        lib.add(page("tmt-1", "eyJOZXh0VG9rZW4iOiBudWxsfQ=="), "page1.json", errors);
        lib.add(page("tmt-2", nullptr), "page2.json", errors);
        lib.finish(errors);
        CHECK(joined(errors) == "");
        CHECK(lib.targets.size() == 2);
    }
    {
        AwsLibrary lib;
        std::vector<std::string> errors;
        lib.add(page("tmt-1", "eyJOZXh0VG9rZW4iOiBudWxsfQ=="), "page1.json", errors);
        lib.finish(errors);
        REQUIRE(errors.size() == 1);
        CHECK(errors[0] == "page1.json: a page of aws ec2 describe-traffic-mirror-targets that continues (NextToken) "
                           "and no last page (one without NextToken): the listing is incomplete; give every page (aws "
                           "... --starting-token TOKEN), or let the CLI fetch them all (leave out --max-items)");
    }
}

TEST_CASE("aws cli: the same filter in two files is merged rule by rule, or refused when they conflict") {
    const std::string egress_only = R"({"TrafficMirrorFilters": [{"TrafficMirrorFilterId": "tmf-1",
        "NetworkServices": ["amazon-dns"], "EgressFilterRules": [)" + std::string(kRule10) + "]}]}";
    const std::string ingress_rules = R"({"TrafficMirrorFilterRules": [)" + std::string(kRule20) + "]}";
    {
        AwsLibrary lib;
        std::vector<std::string> errors;
        lib.add(import_aws_filters_text(egress_only), "a.json", errors);
        lib.add(import_aws_filters_text(ingress_rules), "b.json", errors);
        lib.add(import_aws_filters_text(egress_only), "a-again.json", errors);  // the same export twice: nothing new
        CHECK(joined(errors) == "");
        const Filter& f = lib.filters.at("tmf-1");
        CHECK(f.rules(Direction::egress).size() == 1);
        CHECK(f.rules(Direction::ingress).size() == 1);
        CHECK(f.amazon_dns);  // b.json's rules say nothing of NetworkServices
        CHECK(f.id == "tmf-1");
    }
    {
        AwsLibrary lib;
        std::vector<std::string> errors;
        lib.add(import_aws_filters_text(egress_only), "a.json", errors);
        std::string changed = egress_only;
        changed.replace(changed.find("\"Protocol\": 6"), 13, "\"Protocol\": 17");
        lib.add(import_aws_filters_text(changed), "c.json", errors);
        REQUIRE(errors.size() == 1);
        CHECK(errors[0] == "c.json: filter tmf-1: egress rule 10 (accept, protocol 17) differs from rule 10 (accept, "
                           "protocol 6) in a.json: refused (the same filter in two files is merged rule by rule; a rule "
                           "number must mean the same rule in both)");
        CHECK(lib.filters.at("tmf-1").rules(Direction::egress)[0].protocol == 6);  // never silently replaced
        std::string no_dns = egress_only;
        no_dns.replace(no_dns.find("[\"amazon-dns\"]"), 14, "[]");
        lib.add(import_aws_filters_text(no_dns), "d.json", errors);
        REQUIRE(errors.size() == 2);
        CHECK(errors[1] == "d.json: filter tmf-1: NetworkServices [] differs from [amazon-dns] in a.json: refused");
    }
    {
        // Two sessions by one id must be the same session.
        AwsLibrary lib;
        std::vector<std::string> errors;
        const std::string s = R"({"TrafficMirrorSessions": [{"TrafficMirrorSessionId": "tms-1", "TrafficMirrorTargetId":
            "tmt-1", "TrafficMirrorFilterId": "tmf-1", "NetworkInterfaceId": "eni-1", "SessionNumber": 1,
            "VirtualNetworkId": )";
        lib.add(import_aws_filters_text(s + "7}]}"), "s1.json", errors);
        lib.add(import_aws_filters_text(s + "7}]}"), "s2.json", errors);
        CHECK(errors.empty());
        lib.add(import_aws_filters_text(s + "8}]}"), "s3.json", errors);
        REQUIRE(errors.size() == 1);
        CHECK(errors[0] == "s3.json: session tms-1 differs from the one in s1.json: refused");
    }
}
