#include "cloud/ssm.hpp"

#include <boost/property_tree/json_parser.hpp>
#include <boost/property_tree/ptree.hpp>

#include <cstdio>
#include <sstream>

#include "cloud/aws_error.hpp"
#include "cloud/query_api.hpp"
#include "support/text.hpp"

namespace mirrortap::cloud {

namespace {

namespace pt = boost::property_tree;

std::optional<pt::ptree> parse_json(std::string_view body) {
    std::istringstream in{std::string(body)};
    pt::ptree doc;
    try {
        pt::read_json(in, doc);
    } catch (const pt::json_parser_error&) {
        return std::nullopt;
    }
    return doc;
}

// A JSON string literal of `text`.
std::string json_string(std::string_view text) {
    std::string out = "\"";
    for (const char c : text) {
        if (c == '"' || c == '\\') {
            out += '\\';
            out += c;
        } else if (static_cast<unsigned char>(c) < 0x20) {
            char buf[8];
            std::snprintf(buf, sizeof buf, "\\u%04x", static_cast<unsigned char>(c));
            out += buf;
        } else {
            out += c;
        }
    }
    return out + "\"";
}

}  // namespace

std::optional<std::string> ssm_endpoint(std::string_view region, std::string& why) {
    return regional_endpoint("ssm", region, why);
}

std::optional<AwsError> parse_json_error(int http_status, std::string_view body) {
    const auto doc = parse_json(body);
    if (!doc) return std::nullopt;
    std::string type = doc->get("__type", "");
    if (type.empty()) return std::nullopt;
    if (const size_t hash = type.rfind('#'); hash != std::string::npos) type.erase(0, hash + 1);
    AwsError e;
    e.http_status = http_status;
    e.code = type;
    e.message = doc->get("message", doc->get("Message", ""));
    e.retryable = retryable_error(http_status, e.code);
    return e;
}

Result<std::string> parse_parameter_value(std::string_view body) {
    const auto doc = parse_json(body);
    const auto value = doc ? doc->get_optional<std::string>("Parameter.Value") : boost::none;
    if (!value) return AwsError{0, "MalformedAnswer", "GetParameter answered without Parameter.Value", "", false, ""};
    return *value;
}

SsmClient::SsmClient(SsmOptions options, std::shared_ptr<CredentialProvider> credentials)
    : options_(std::move(options)), credentials_(std::move(credentials)) {
    http_.set_cancel_flag(options_.cancel);
}

Result<std::string> SsmClient::get_parameter(const std::string& name) {
    const std::string body = "{\"Name\":" + json_string(name) + "}";
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
    return answer.error();
}

}  // namespace mirrortap::cloud
