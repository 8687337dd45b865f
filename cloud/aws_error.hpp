// Errors as AWS services send them, sorted into "try again" and "give up".
#pragma once
#include <optional>
#include <string>
#include <string_view>

#include "base/enum_names.hpp"
#include "cloud/result.hpp"

namespace mirrortap::cloud {

struct AwsErrorBody {
    std::string code;
    std::string message;
    std::string request_id;
};

// S3's <Error><Code/><Message/><RequestId/></Error>, or the query services'
// (STS) <ErrorResponse><Error><Code/><Message/></Error><RequestId/></ErrorResponse>, or
// EC2's <Response><Errors><Error><Code/><Message/></Error></Errors><RequestID/></Response>.
// nullopt when the body is no such document.
std::optional<AwsErrorBody> parse_aws_error_body(std::string_view xml);

// Whether the same request may succeed later: 5xx, 429, throttling,
// RequestTimeout, expired credentials (refreshed before the next attempt),
// and a body that did not arrive as sent (BadDigest: sent again).
bool retryable_error(int http_status, std::string_view code);

// The AwsError for an HTTP answer that was not a success. A body without an
// error document (HEAD has none) gets a code from the status: 404 NotFound,
// 403 AccessDenied, otherwise "HTTP <status>".
AwsError error_from_response(int http_status, std::string_view body, std::string_view request_id_header);

// Why a request to S3 failed, as the label `reason` of
// mirrortap_upload_request_failures_total.
enum class RequestFailure : uint8_t {
    checksum_mismatch,  // the body did not hash to what was sent with it (BadDigest, ...)
    throttled,          // SlowDown, 429, 503, throttling codes
    server_error,       // another 5xx, InternalError, RequestTimeout
    connection,         // no answer: refused, cut, timed out
    expired_token,      // the credentials expired (refreshed before the next attempt)
    refused,            // any other answer (AccessDenied, NoSuchBucket, ...)
};
inline constexpr auto kRequestFailureNames = enum_names<RequestFailure>({
    {RequestFailure::checksum_mismatch, "checksum_mismatch"},
    {RequestFailure::throttled, "throttled"},
    {RequestFailure::server_error, "server_error"},
    {RequestFailure::connection, "connection"},
    {RequestFailure::expired_token, "expired_token"},
    {RequestFailure::refused, "refused"},
});

// A body refused for its digests: BadDigest (Content-MD5 or
// x-amz-checksum-sha256), XAmzContentSHA256Mismatch, InvalidDigest, and
// InvalidRequest about a checksum (a missing or malformed one).
bool checksum_error(const AwsError& error);
RequestFailure classify_failure(const AwsError& error);

}  // namespace mirrortap::cloud
