#include <doctest/doctest.h>

#include "cloud/s3_address.hpp"
#include "support/parse.hpp"
#include "why_not.hpp"

using namespace mirrortap::cloud;
using mirrortap::test::why_not;

TEST_CASE("s3_address: UriEncode keeps only unreserved bytes, in uppercase hex") {
    CHECK(uri_encode("AZaz09-._~", false) == "AZaz09-._~");
    CHECK(uri_encode("a b+c=d", false) == "a%20b%2Bc%3Dd");
    CHECK(uri_encode("dir/file name", true) == "dir/file%20name");
    CHECK(uri_encode("dir/file", false) == "dir%2Ffile");
    CHECK(uri_encode("café ☃", true) == "caf%C3%A9%20%E2%98%83");
    CHECK(uri_encode("%2F*!'()", false) == "%252F%2A%21%27%28%29");
}

TEST_CASE("s3_address: the canonical query is encoded, sorted by name then value, and writes empty values as name=") {
    CHECK(canonical_query({}) == "");
    CHECK(canonical_query({{"uploads", ""}}) == "uploads=");
    CHECK(canonical_query({{"uploadId", "abc"}, {"partNumber", "10"}}) == "partNumber=10&uploadId=abc");
    CHECK(canonical_query({{"prefix", "a b/"}, {"list-type", "2"}, {"continuation-token", "1+x/y="},
                           {"max-keys", "2"}}) ==
          "continuation-token=1%2Bx%2Fy%3D&list-type=2&max-keys=2&prefix=a%20b%2F");
    // Upper case sorts before lower case (byte order), as SigV4 says.
    CHECK(canonical_query({{"b", "1"}, {"B", "2"}, {"a", "2"}, {"a", "1"}}) == "B=2&a=1&a=2&b=1");
}

TEST_CASE("s3_address: virtual-hosted URLs on AWS, path-style on an endpoint or for dotted buckets") {
    const S3Location aws{"captures", "eu-west-3", ""};
    CHECK(s3_url(aws, "a b/c+d.pcap") == "https://captures.s3.eu-west-3.amazonaws.com/a%20b/c%2Bd.pcap");
    CHECK(s3_url(aws, "") == "https://captures.s3.eu-west-3.amazonaws.com/");
    CHECK(s3_url(aws, "", {{"list-type", "2"}}) == "https://captures.s3.eu-west-3.amazonaws.com/?list-type=2");
    CHECK(s3_url(aws, "k", {{"uploads", ""}}) == "https://captures.s3.eu-west-3.amazonaws.com/k?uploads=");
    // Leading slashes and dot segments stay in the key.
    CHECK(s3_url(aws, "/a/./b/../c") == "https://captures.s3.eu-west-3.amazonaws.com//a/./b/../c");

    const S3Location dotted{"captures.example.com", "us-east-1", ""};
    CHECK(s3_url(dotted, "k") == "https://s3.us-east-1.amazonaws.com/captures.example.com/k");

    const S3Location store{"captures", "us-east-1", "http://127.0.0.1:9000/"};
    CHECK(s3_url(store, "x y") == "http://127.0.0.1:9000/captures/x%20y");
    CHECK(s3_url(store, "", {{"prefix", "p/"}}) == "http://127.0.0.1:9000/captures?prefix=p%2F");
}

TEST_CASE("s3_address: bucket names as S3 allows them") {
    CHECK(valid_bucket_name("abc"));
    CHECK(valid_bucket_name("my-captures.2024"));
    CHECK_FALSE(valid_bucket_name("ab"));
    CHECK_FALSE(valid_bucket_name(std::string(64, 'a')));
    CHECK_FALSE(valid_bucket_name("Captures"));
    CHECK_FALSE(valid_bucket_name("-captures"));
    CHECK_FALSE(valid_bucket_name("captures-"));
    CHECK_FALSE(valid_bucket_name("a..b"));
    CHECK_FALSE(valid_bucket_name("a_b"));
    CHECK_FALSE(valid_bucket_name("192.168.5.4"));
}

TEST_CASE("s3_address: object keys are 1 to 1024 bytes of UTF-8 without control characters") {
    CHECK(why_not(check_object_key("a")) == "");
    CHECK(why_not(check_object_key("café/☃/𝄞")) == "");
    CHECK(why_not(check_object_key(std::string(1024, 'k'))) == "");
    CHECK(why_not(check_object_key("")) != "");
    CHECK(why_not(check_object_key(std::string(1025, 'k'))).find("longer than 1024") != std::string::npos);
    CHECK(why_not(check_object_key("a\nb")).find("control character") != std::string::npos);
    CHECK(why_not(check_object_key("\xC3")).find("UTF-8") != std::string::npos);          // cut short
    CHECK(why_not(check_object_key("\xC0\xAF")).find("UTF-8") != std::string::npos);      // overlong '/'
    CHECK(why_not(check_object_key("\xED\xA0\x80")).find("UTF-8") != std::string::npos);  // a surrogate
    CHECK(why_not(check_object_key("\xFF")).find("UTF-8") != std::string::npos);
}

TEST_CASE("s3_address: endpoint URLs are a scheme, a host and a port, nothing more") {
    CHECK(mirrortap::parse_endpoint_url("http://127.0.0.1:4568") == "http://127.0.0.1:4568");
    CHECK(mirrortap::parse_endpoint_url("https://minio.example:9000/") == "https://minio.example:9000");
    CHECK(mirrortap::parse_endpoint_url("http://[::1]:9000") == "http://[::1]:9000");
    CHECK(mirrortap::parse_endpoint_url("http://store.example") == "http://store.example");
    for (const char* bad : {"127.0.0.1:4568", "ftp://x", "http://", "http://h/path", "http://h:1?q", "http://u@h",
                            "http://h:0", "http://h:99999", "http://bad host"}) {
        CAPTURE(bad);
        const auto url = mirrortap::parse_endpoint_url(bad);
        REQUIRE_FALSE(url);
        CHECK_FALSE(url.error().empty());
    }
}

TEST_CASE("s3_address: a location needs a valid bucket and region") {
    CHECK(why_not(check_location({"captures", "eu-west-1", ""})) == "");
    CHECK(why_not(check_location({"Capt", "eu-west-1", ""})).find("bucket name") != std::string::npos);
    CHECK(why_not(check_location({"captures", "", ""})).find("region") != std::string::npos);
    CHECK(why_not(check_location({"captures", "eu.west", ""})).find("region") != std::string::npos);
    CHECK(why_not(check_location({"captures", "eu-west-1", "nope"})).find("http") != std::string::npos);
    // S3-compatible stores take names AWS would not, as long as the path needs no escaping.
    CHECK(why_not(check_location({"Local_Bucket", "us-east-1", "http://127.0.0.1:9000"})) == "");
    CHECK(why_not(check_location({"a b", "us-east-1", "http://127.0.0.1:9000"})) != "");
}

TEST_CASE("s3 address: plain http:// counts as in clear unless it stays on this host") {
    struct Case {
        const char* url;
        bool imds;
        bool in_clear;
    };
    const Case cases[] = {
        {"http://192.0.2.10:9000", false, true},   {"http://store.example", false, true},
        {"http://[2001:db8::1]:8080", false, true}, {"http://128.0.0.1", false, true},
        {"https://192.0.2.10:9000", false, false}, {"http://127.0.0.1:4568", false, false},
        {"http://127.255.0.9", false, false},      {"http://[::1]:9000", false, false},
        {"http://localhost:9000", false, false},
        // IMDS at its link-local addresses never leaves the host's link; elsewhere it is like any other.
        {"http://169.254.169.254", false, true},   {"http://169.254.169.254", true, false},
        {"http://[fd00:ec2::254]", true, false},   {"http://192.0.2.12", true, true},
    };
    for (const Case& c : cases) {
        CAPTURE(c.url);
        CAPTURE(c.imds);
        CHECK(plain_http_to_another_host(c.url, c.imds) == c.in_clear);
    }
}
