#include <doctest/doctest.h>

#include "cloud/autoscaling.hpp"
#include "cloud/aws_error.hpp"
#include "cloud/environment.hpp"
#include "cloud/query_api.hpp"

using namespace mirrortap::cloud;

TEST_CASE("autoscaling: the regional endpoint, .com.cn in China, refused for what is no region") {
    CHECK(autoscaling_endpoint("eu-west-3").value_or("") == "https://autoscaling.eu-west-3.amazonaws.com");
    CHECK(autoscaling_endpoint("cn-north-1").value_or("") == "https://autoscaling.cn-north-1.amazonaws.com.cn");
    for (const char* bad : {"", "EU-WEST-3", "eu-west-3.evil.example", "eu west", "a/b"}) {
        const auto refused = autoscaling_endpoint(bad);
        REQUIRE_FALSE(refused);
        CHECK(refused.error().find("is not a region name") != std::string::npos);
    }
}

TEST_CASE("autoscaling: a Query API error gives its Code and Message, and is final unless the service failed") {
    const std::string body =
        "<ErrorResponse xmlns=\"http://autoscaling.amazonaws.com/doc/2011-01-01/\"><Error><Type>Sender</Type>"
        "<Code>ValidationError</Code><Message>No active Lifecycle Action found with instance ID i-1</Message>"
        "</Error><RequestId>r-1</RequestId></ErrorResponse>";
    const AwsError e = error_from_response(400, body, "");
    CHECK(e.code == "ValidationError");
    CHECK(e.message == "No active Lifecycle Action found with instance ID i-1");
    CHECK(e.request_id == "r-1");
    CHECK_FALSE(e.retryable);
    CHECK(error_from_response(500, "<ErrorResponse><Error><Code>InternalFailure</Code></Error></ErrorResponse>", "")
              .retryable);
    CHECK(error_from_response(400, "<ErrorResponse><Error><Code>Throttling</Code></Error></ErrorResponse>", "")
              .retryable);
}

TEST_CASE("query api: the endpoint from the environment, the service's variable first, a bad one named") {
    CHECK(endpoint_from_environment(fixed_environment({}), "CLOUDWATCH").value_or("?") == "");
    CHECK(endpoint_from_environment(fixed_environment({{"AWS_ENDPOINT_URL", "http://127.0.0.1:8080"}}), "CLOUDWATCH")
              .value_or("") == "http://127.0.0.1:8080");
    CHECK(endpoint_from_environment(fixed_environment({{"AWS_ENDPOINT_URL", "http://127.0.0.1:8080"},
                                                       {"AWS_ENDPOINT_URL_CLOUDWATCH", "http://127.0.0.1:9090"}}),
                                    "CLOUDWATCH")
              .value_or("") == "http://127.0.0.1:9090");
    const auto refused = endpoint_from_environment(
        fixed_environment({{"AWS_ENDPOINT_URL_AUTO_SCALING", "autoscaling.example:443"}}), "AUTO_SCALING");
    REQUIRE_FALSE(refused);
    CHECK(refused.error().starts_with("AWS_ENDPOINT_URL_AUTO_SCALING: "));
}
