#include <doctest/doctest.h>

#include "cloud/aws_error.hpp"
#include "cloud/xml.hpp"

using namespace mirrortap::cloud;

TEST_CASE("aws_error: S3's error document gives its Code, Message and RequestId") {
    const auto e = parse_aws_error_body(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
        "<Error><Code>NoSuchKey</Code><Message>The resource you requested does not exist &amp; never did</Message>"
        "<Resource>/mybucket/myfoto.jpg</Resource><RequestId>4442587FB7D0A2F9</RequestId></Error>");
    REQUIRE(e);
    CHECK(e->code == "NoSuchKey");
    CHECK(e->message == "The resource you requested does not exist & never did");
    CHECK(e->request_id == "4442587FB7D0A2F9");
}

TEST_CASE("aws_error: STS's ErrorResponse gives the inner Error and the outer RequestId") {
    const auto e = parse_aws_error_body(
        "<ErrorResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\"><Error><Type>Sender</Type>"
        "<Code>InvalidIdentityToken</Code><Message>No OpenIDConnect provider found</Message></Error>"
        "<RequestId>c6104cbe-af31-11e0-8154-cbc7ccf896c7</RequestId></ErrorResponse>");
    REQUIRE(e);
    CHECK(e->code == "InvalidIdentityToken");
    CHECK(e->message == "No OpenIDConnect provider found");
    CHECK(e->request_id == "c6104cbe-af31-11e0-8154-cbc7ccf896c7");
}

TEST_CASE("aws_error: what is not an error document is not read as one") {
    CHECK_FALSE(parse_aws_error_body(""));
    CHECK_FALSE(parse_aws_error_body("<html><body>502 Bad Gateway</body></html>"));
    CHECK_FALSE(parse_aws_error_body("<Error><Message>no code</Message></Error>"));
    CHECK_FALSE(parse_aws_error_body("<Error><Code>Unclosed</Code>"));
    CHECK_FALSE(parse_aws_error_body("<CompleteMultipartUploadResult><ETag>x</ETag></CompleteMultipartUploadResult>"));
    CHECK_FALSE(parse_aws_error_body(std::string(2 << 20, ' ') + "<Error><Code>Big</Code></Error>"));
}

TEST_CASE("aws_error: 5xx, 429, throttling, timeouts, expired tokens and damaged bodies are retried, the rest is not") {
    for (const char* code : {"SlowDown", "RequestTimeout", "InternalError", "ServiceUnavailable", "ExpiredToken",
                             "BadDigest", "XAmzContentSHA256Mismatch", "Throttling"}) {
        CAPTURE(code);
        CHECK(retryable_error(400, code));
    }
    CHECK(retryable_error(500, "Whatever"));
    CHECK(retryable_error(503, ""));
    CHECK(retryable_error(429, ""));
    for (const char* code : {"AccessDenied", "NoSuchBucket", "SignatureDoesNotMatch", "InvalidAccessKeyId",
                             "EntityTooSmall", "InvalidPart", "NoSuchUpload", "PermanentRedirect"}) {
        CAPTURE(code);
        CHECK_FALSE(retryable_error(403, code));
    }
}

TEST_CASE("aws_error: an answer without a document gets a code from its status") {
    const AwsError not_found = error_from_response(404, "", "REQ1");
    CHECK(not_found.code == "NotFound");
    CHECK(not_found.request_id == "REQ1");
    CHECK_FALSE(not_found.retryable);
    CHECK(error_from_response(403, "", "").code == "AccessDenied");
    const AwsError gateway = error_from_response(502, "<html>bad gateway</html>", "");
    CHECK(gateway.code == "HTTP 502");
    CHECK(gateway.retryable);
    const AwsError slow = error_from_response(503, "<Error><Code>SlowDown</Code><Message>Reduce your rate</Message>"
                                                   "<RequestId>R2</RequestId></Error>", "R-header");
    CHECK(slow.request_id == "R2");
    CHECK(slow.describe() == "503 SlowDown: Reduce your rate (request id R2)");
}

TEST_CASE("aws_error: messages escape control characters a server put in them") {
    AwsError e{400, "Bad\nCode", "line\nbreak", "", false, "PutObject 'k'"};
    CHECK(e.describe() == "PutObject 'k': 400 Bad\\nCode: line\\nbreak");
}

TEST_CASE("xml: text comes back byte for byte with its spaces, and bodies are escaped") {
    const auto doc = parse_xml("<R><Key>  two spaces  </Key><Key>second</Key><E/></R>");
    REQUIRE(doc);
    const XmlTree* r = xml_child(*doc, "R");
    REQUIRE(r);
    CHECK(xml_text(*r, "Key") == "  two spaces  ");
    CHECK(xml_text(*r, "E") == "");
    CHECK(xml_text(*r, "Missing") == "");
    CHECK(xml_escape("\"a\"&<b>") == "\"a\"&amp;&lt;b&gt;");
    const auto malformed = parse_xml("<a><b></a>");
    REQUIRE_FALSE(malformed);
    CHECK(malformed.error().find("malformed XML") != std::string::npos);
}

TEST_CASE("aws_error: failed requests are sorted into the reasons the uploader counts") {
    const auto reason = [](int status, std::string code, std::string message = "") {
        return kRequestFailureNames(classify_failure(AwsError{status, std::move(code), std::move(message)}));
    };
    CHECK(reason(400, "BadDigest") == "checksum_mismatch");
    CHECK(reason(400, "XAmzContentSHA256Mismatch") == "checksum_mismatch");
    CHECK(reason(400, "InvalidRequest", "Value for x-amz-checksum-sha256 header is invalid.") == "checksum_mismatch");
    CHECK(reason(400, "InvalidRequest", "The upload was created using a sha256 checksum. The complete request must "
                                        "include the checksum for each part.") == "checksum_mismatch");
    CHECK(reason(400, "InvalidRequest", "Missing required header for this request: Content-MD5") == "refused");
    CHECK(reason(503, "SlowDown") == "throttled");
    CHECK(reason(400, "Throttling") == "throttled");
    CHECK(reason(429, "HTTP 429") == "throttled");
    CHECK(reason(500, "InternalError") == "server_error");
    CHECK(reason(400, "RequestTimeout") == "server_error");
    CHECK(reason(0, "ConnectionFailed") == "connection");
    CHECK(reason(400, "ExpiredToken") == "expired_token");
    CHECK(reason(403, "AccessDenied") == "refused");
}
