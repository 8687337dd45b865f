#include "cloud/aws_error.hpp"

#include <array>

#include "cloud/xml.hpp"
#include "support/text.hpp"

namespace mirrortap::cloud {

std::string AwsError::describe() const {
    std::string line;
    if (!context.empty()) line = context + ": ";
    if (http_status != 0) line += std::to_string(http_status) + " ";
    line += code.empty() ? "error" : printable(code);
    if (!message.empty()) line += ": " + printable(message);
    if (!request_id.empty()) line += " (request id " + printable(request_id) + ")";
    return line;
}

std::optional<AwsErrorBody> parse_aws_error_body(std::string_view xml) {
    const auto doc = parse_xml(xml, 1 << 20);
    if (!doc) return std::nullopt;
    const XmlTree* error = xml_child(*doc, "Error");
    const XmlTree* response = xml_child(*doc, "ErrorResponse");
    if (!error && response) error = xml_child(*response, "Error");
    // EC2's: <Response><Errors><Error>...</Error></Errors><RequestID/></Response>.
    const XmlTree* ec2 = xml_child(*doc, "Response");
    if (!error && ec2)
        if (const XmlTree* errors = xml_child(*ec2, "Errors")) error = xml_child(*errors, "Error");
    if (!error) return std::nullopt;
    AwsErrorBody body{xml_text(*error, "Code"), xml_text(*error, "Message"), xml_text(*error, "RequestId")};
    if (body.request_id.empty() && response) body.request_id = xml_text(*response, "RequestId");
    if (body.request_id.empty() && ec2) body.request_id = xml_text(*ec2, "RequestID");
    if (body.code.empty()) return std::nullopt;
    return body;
}

bool retryable_error(int http_status, std::string_view code) {
    static constexpr std::array<std::string_view, 12> kRetryableCodes{
        "SlowDown",          "RequestTimeout",         "InternalError",         "ServiceUnavailable",
        "Throttling",        "ThrottlingException",    "RequestLimitExceeded",  "TooManyRequestsException",
        "ExpiredToken",      "BadDigest",              "XAmzContentSHA256Mismatch", "IDPCommunicationError",
    };
    for (const auto c : kRetryableCodes)
        if (code == c) return true;
    return http_status >= 500 || http_status == 429;
}

AwsError error_from_response(int http_status, std::string_view body, std::string_view request_id_header) {
    AwsError error;
    error.http_status = http_status;
    if (const auto parsed = parse_aws_error_body(body)) {
        error.code = parsed->code;
        error.message = parsed->message;
        error.request_id = parsed->request_id;
    } else if (http_status == 404) {
        error.code = "NotFound";
    } else if (http_status == 403) {
        error.code = "AccessDenied";
    } else {
        error.code = "HTTP " + std::to_string(http_status);
    }
    if (error.request_id.empty()) error.request_id = std::string(request_id_header);
    error.retryable = retryable_error(http_status, error.code);
    return error;
}

bool checksum_error(const AwsError& error) {
    if (error.code == "BadDigest" || error.code == "XAmzContentSHA256Mismatch" || error.code == "InvalidDigest")
        return true;
    if (error.code != "InvalidRequest") return false;
    std::string lower = error.message;
    for (char& c : lower) c = static_cast<char>(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
    return lower.find("checksum") != std::string::npos;
}

RequestFailure classify_failure(const AwsError& error) {
    static constexpr std::array<std::string_view, 6> kThrottlingCodes{
        "SlowDown", "Throttling", "ThrottlingException", "RequestLimitExceeded", "TooManyRequestsException",
        "ServiceUnavailable"};
    if (checksum_error(error)) return RequestFailure::checksum_mismatch;
    if (error.http_status == 0) return RequestFailure::connection;
    if (error.code == "ExpiredToken") return RequestFailure::expired_token;
    if (error.http_status == 429 || error.http_status == 503) return RequestFailure::throttled;
    for (const auto c : kThrottlingCodes)
        if (error.code == c) return RequestFailure::throttled;
    if (error.http_status >= 500 || error.code == "InternalError" || error.code == "RequestTimeout")
        return RequestFailure::server_error;
    return RequestFailure::refused;
}

}  // namespace mirrortap::cloud
