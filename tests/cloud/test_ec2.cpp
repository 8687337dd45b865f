#include <doctest/doctest.h>

#include "cloud/aws_error.hpp"
#include "cloud/ec2.hpp"
#include "cloud/ssm.hpp"
#include "why_not.hpp"

using namespace mirrortap::cloud;
using mirrortap::test::why_not;

namespace {

std::string value_of(const std::vector<QueryParam>& form, const std::string& name) {
    for (const auto& p : form)
        if (p.name == name) return p.value;
    return "<absent>";
}

XmlTree parsed(const std::string& text) {
    auto doc = parse_xml(text);
    REQUIRE_MESSAGE(doc, why_not(doc));
    return *doc;
}

}  // namespace

TEST_CASE("ec2: the regional endpoint, .com.cn in China, refused for what is no region") {
    CHECK(ec2_endpoint("eu-west-3").value_or("") == "https://ec2.eu-west-3.amazonaws.com");
    CHECK(ec2_endpoint("cn-northwest-1").value_or("") == "https://ec2.cn-northwest-1.amazonaws.com.cn");
    CHECK_FALSE(ec2_endpoint("eu-west-3.evil.example"));
}

TEST_CASE("ec2: filters go as Filter.N.Name and Filter.N.Value.M, counted from 1") {
    const auto form = ec2_form("DescribeNetworkInterfaces", {{"MaxResults", "5"}},
                               {{"tag:tier", {"web", "api"}}, {"vpc-id", {"vpc-1"}}});
    CHECK(value_of(form, "Action") == "DescribeNetworkInterfaces");
    CHECK(value_of(form, "Version") == "2016-11-15");
    CHECK(value_of(form, "Filter.1.Name") == "tag:tier");
    CHECK(value_of(form, "Filter.1.Value.1") == "web");
    CHECK(value_of(form, "Filter.1.Value.2") == "api");
    CHECK(value_of(form, "Filter.2.Name") == "vpc-id");
    CHECK(value_of(form, "Filter.2.Value.1") == "vpc-1");
    CHECK(value_of(form, "Filter.3.Name") == "<absent>");
    CHECK(canonical_query(form).find("Filter.1.Name=tag%3Atier") != std::string::npos);
}

TEST_CASE("ec2: a create carries its ClientToken and tags as TagSpecification.1") {
    NewMirrorSession s;
    s.network_interface_id = "eni-1";
    s.target_id = "tmt-1";
    s.filter_id = "tmf-1";
    s.session_number = 2;
    s.vni = 77;
    s.client_token = "tok";
    s.tags = {{"mirrortap:selector", "web"}};
    auto form = create_session_params(s);
    CHECK(value_of(form, "SessionNumber") == "2");
    CHECK(value_of(form, "VirtualNetworkId") == "77");
    CHECK(value_of(form, "PacketLength") == "<absent>");
    CHECK(value_of(form, "ClientToken") == "tok");
    CHECK(value_of(form, "TagSpecification.1.ResourceType") == "traffic-mirror-session");
    CHECK(value_of(form, "TagSpecification.1.Tag.1.Key") == "mirrortap:selector");
    CHECK(value_of(form, "TagSpecification.1.Tag.1.Value") == "web");
    s.packet_length = 128;
    CHECK(value_of(create_session_params(s), "PacketLength") == "128");
}

TEST_CASE("ec2: interfaces and sessions are read from their sets, tags and attachment included") {
    const XmlTree doc = parsed(R"(<?xml version="1.0" encoding="UTF-8"?>
<DescribeNetworkInterfacesResponse xmlns="http://ec2.amazonaws.com/doc/2016-11-15/">
 <requestId>r</requestId>
 <networkInterfaceSet>
  <item><networkInterfaceId>eni-1</networkInterfaceId><status>in-use</status><subnetId>subnet-1</subnetId>
   <attachment><instanceId>i-1</instanceId></attachment>
   <tagSet><item><key>tier</key><value>web &amp; api</value></item></tagSet></item>
  <item><networkInterfaceId>eni-2</networkInterfaceId><status>available</status></item>
 </networkInterfaceSet>
 <nextToken>abc</nextToken>
</DescribeNetworkInterfacesResponse>)");
    const XmlTree* response = ec2_response(doc, "DescribeNetworkInterfaces");
    REQUIRE(response);
    const auto enis = parse_network_interfaces(*response);
    REQUIRE(enis.size() == 2);
    CHECK(enis[0].id == "eni-1");
    CHECK(enis[0].instance_id == "i-1");
    CHECK(enis[0].subnet_id == "subnet-1");
    REQUIRE(enis[0].tags.size() == 1);
    CHECK(enis[0].tags[0] == Ec2Tag{"tier", "web & api"});
    CHECK(enis[1].instance_id.empty());
    CHECK(xml_text(*response, "nextToken") == "abc");

    const XmlTree sessions = parsed(R"(<DescribeTrafficMirrorSessionsResponse><trafficMirrorSessionSet>
  <item><trafficMirrorSessionId>tms-1</trafficMirrorSessionId><networkInterfaceId>eni-1</networkInterfaceId>
   <trafficMirrorTargetId>tmt-1</trafficMirrorTargetId><trafficMirrorFilterId>tmf-1</trafficMirrorFilterId>
   <sessionNumber>3</sessionNumber><virtualNetworkId>16777215</virtualNetworkId><packetLength>9999999999</packetLength>
   <tagSet><item><key>mirrortap:selector</key><value>web</value></item></tagSet></item>
 </trafficMirrorSessionSet></DescribeTrafficMirrorSessionsResponse>)");
    const auto list = parse_mirror_sessions(*ec2_response(sessions, "DescribeTrafficMirrorSessions"));
    REQUIRE(list.size() == 1);
    CHECK(list[0].session_number == 3);
    CHECK(list[0].vni == 16777215);
    CHECK(list[0].packet_length == 0);  // out of range reads as none, never as a wrapped number
    CHECK(list[0].tag("mirrortap:selector") == "web");
    CHECK_FALSE(list[0].tag("other"));
}

TEST_CASE("ec2: <Response><Errors><Error> gives Code, Message and RequestID, and throttling is retried") {
    const AwsError e = error_from_response(
        503, "<Response><Errors><Error><Code>RequestLimitExceeded</Code><Message>Request limit exceeded.</Message>"
             "</Error></Errors><RequestID>req-9</RequestID></Response>", "");
    CHECK(e.code == "RequestLimitExceeded");
    CHECK(e.message == "Request limit exceeded.");
    CHECK(e.request_id == "req-9");
    CHECK(e.retryable);
    const AwsError denied = error_from_response(
        403, "<Response><Errors><Error><Code>UnauthorizedOperation</Code></Error></Errors></Response>", "");
    CHECK(denied.code == "UnauthorizedOperation");
    CHECK_FALSE(denied.retryable);
}

TEST_CASE("ssm: GetParameter's value, and JSON errors by their __type") {
    auto value = parse_parameter_value(R"({"Parameter":{"Name":"/a","Type":"String","Value":"selectors:\n  - x","Version":3}})");
    REQUIRE(value);
    CHECK(value.value() == "selectors:\n  - x");
    CHECK(parse_parameter_value(R"({"Parameter":{}})").error().code == "MalformedAnswer");
    const auto e = parse_json_error(400, R"({"__type":"com.amazonaws.ssm#ParameterNotFound","message":"not found"})");
    REQUIRE(e);
    CHECK(e->code == "ParameterNotFound");
    CHECK(e->message == "not found");
    CHECK_FALSE(e->retryable);
    CHECK(parse_json_error(400, R"({"__type":"ThrottlingException"})")->retryable);
    CHECK_FALSE(parse_json_error(400, "<Error/>"));
    CHECK(ssm_endpoint("eu-west-3").value_or("") == "https://ssm.eu-west-3.amazonaws.com");
}
