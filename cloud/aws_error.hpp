// Errors as AWS services send them, sorted into "try again" and "give up".
#pragma once
#include <optional>
#include <string>
#include <string_view>

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
// and a body that did not arrive as sent (BadDigest: read and sent again).
bool retryable_error(int http_status, std::string_view code);

// The AwsError for an HTTP answer that was not a success. A body without an
// error document (HEAD has none) gets a code from the status: 404 NotFound,
// 403 AccessDenied, otherwise "HTTP <status>".
AwsError error_from_response(int http_status, std::string_view body, std::string_view request_id_header);

}  // namespace mirrortap::cloud
