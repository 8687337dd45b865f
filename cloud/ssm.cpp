#include "cloud/ssm.hpp"

#include "cloud/aws_error.hpp"
#include "cloud/query_api.hpp"
#include "support/json.hpp"
#include "support/text.hpp"

namespace mirrortap::cloud {

mirrortap::Result<std::string> ssm_endpoint(std::string_view region) {
    return regional_endpoint("ssm", region);
}

std::optional<AwsError> parse_json_error(int http_status, std::string_view body) {
    const auto doc = json::parse(body);
    if (!doc) return std::nullopt;
    std::string type = json::string_member(*doc, "__type").value_or("");
    if (type.empty()) return std::nullopt;
    if (const size_t hash = type.rfind('#'); hash != std::string::npos) type.erase(0, hash + 1);
    AwsError e;
    e.http_status = http_status;
    e.code = type;
    // AWS's JSON protocols spell it both ways.
    e.message = json::string_member(*doc, "message").value_or(json::string_member(*doc, "Message").value_or(""));
    e.retryable = retryable_error(http_status, e.code);
    return e;
}

Result<std::string> parse_parameter_value(std::string_view body) {
    const auto doc = json::parse(body);
    const json::Value* parameter = doc ? json::member(*doc, "Parameter") : nullptr;
    const auto value = parameter ? json::string_member(*parameter, "Value") : std::nullopt;
    if (!value) return fail(AwsError{0, "MalformedAnswer", "GetParameter answered without Parameter.Value", "", false, ""});
    return *value;
}

SsmClient::SsmClient(SsmOptions options, std::shared_ptr<CredentialProvider> credentials)
    : options_(std::move(options)), credentials_(std::move(credentials)) {
    http_.set_cancel_flag(options_.cancel);
}

Result<std::string> SsmClient::get_parameter(const std::string& name) {
    const std::string body = "{\"Name\":" + json::quoted(name) + "}";
    QueryApiCall call;
    call.request = [&](const Credentials& credentials) {
        HttpRequest request = query_api_request(options_.endpoint, options_.region, "ssm", body, credentials, options_.limits);
        request.headers[0] = {"Content-Type", "application/x-amz-json-1.1"};
        request.headers.emplace_back("X-Amz-Target", "AmazonSSM.GetParameter");
        return request;
    };
    call.error_of = [](const HttpResponse& answer) {
        AwsError e = parse_json_error(answer.status, answer.body)
                         .value_or(error_from_response(answer.status, answer.body, answer.header("x-amzn-requestid")));
        e.request_id = answer.header("x-amzn-requestid");
        return e;
    };
    auto answer = perform_with_retries({http_, *credentials_, options_.retry, options_.cancel, nullptr}, call);
    if (answer) return parse_parameter_value(answer.value()->body);
    answer.error().context = "GetParameter " + quote(name);
    return fail(answer.error());
}

}  // namespace mirrortap::cloud
