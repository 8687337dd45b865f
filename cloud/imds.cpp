#include "cloud/imds.hpp"

#include <algorithm>

#include "cloud/aws_error.hpp"
#include "cloud/s3_address.hpp"
#include "support/parse.hpp"

namespace mirrortap::cloud {

mirrortap::Result<std::optional<ImdsSettings>> imds_settings_from_environment(const EnvLookup& env) {
    if (auto disabled = env("AWS_EC2_METADATA_DISABLED")) {
        std::transform(disabled->begin(), disabled->end(), disabled->begin(), [](unsigned char c) { return std::tolower(c); });
        if (*disabled == "true") return std::optional<ImdsSettings>();
    }
    ImdsSettings settings;
    if (const auto endpoint = env("AWS_EC2_METADATA_SERVICE_ENDPOINT")) {
        const auto url = parse_endpoint_url(*endpoint);
        if (!url) return fail("AWS_EC2_METADATA_SERVICE_ENDPOINT: " + url.error());
        settings.endpoint = *url;
    }
    return std::optional<ImdsSettings>(std::move(settings));
}

Result<std::string> default_region(const EnvLookup& env) {
    for (const char* name : {"AWS_REGION", "AWS_DEFAULT_REGION"})
        if (auto region = env(name)) return std::move(*region);
    const auto settings = imds_settings_from_environment(env);
    if (!settings || !*settings)
        return fail(AwsError{0, "NoRegion",
                             settings ? "no region: set AWS_REGION (AWS_EC2_METADATA_DISABLED rules out the instance's)"
                                      : settings.error(),
                             "", false, ""});
    ImdsClient imds(**settings);
    auto region = imds.region();
    if (!region) region.error().context = "the instance's region";
    return region;
}

ImdsClient::ImdsClient(ImdsSettings settings) : settings_(std::move(settings)) {}

Result<std::string> ImdsClient::fetch_token() {
    const auto now = std::chrono::steady_clock::now();
    if (!token_.empty() && now < token_renew_at_) return token_;
    HttpRequest request;
    request.method = "PUT";
    request.url = settings_.endpoint + "/latest/api/token";
    request.headers = {{"X-aws-ec2-metadata-token-ttl-seconds", std::to_string(settings_.token_ttl.count())}};
    request.limits = settings_.limits;
    request.use_proxy = false;
    auto answer = http_.perform(request);
    if (!answer) return fail(answer.error());
    if (answer->status != 200) {
        AwsError e = error_from_response(answer->status, answer->body, "");
        e.message = "IMDSv2 token request to " + request.url + " answered " + std::to_string(answer->status);
        return fail(e);
    }
    token_ = answer->body;
    // Renewed well before the service forgets it.
    token_renew_at_ = now + settings_.token_ttl * 3 / 4;
    return token_;
}

Result<HttpResponse> ImdsClient::get_with_token(std::string_view path) {
    auto token = fetch_token();
    if (!token) return fail(token.error());
    HttpRequest request;
    request.url = settings_.endpoint + "/latest/" + uri_encode(path, true);
    request.headers = {{"X-aws-ec2-metadata-token", token.value()}};
    request.limits = settings_.limits;
    request.use_proxy = false;
    return http_.perform(request);
}

Result<std::string> ImdsClient::get(std::string_view path) {
    std::lock_guard lock(mutex_);
    auto answer = get_with_token(path);
    if (answer && answer->status == 401) {
        token_.clear();  // expired or refused: one new token, one more try
        answer = get_with_token(path);
    }
    if (!answer) return fail(answer.error());
    if (answer->status != 200) {
        AwsError e = error_from_response(answer->status, "", "");
        e.message = "instance metadata " + std::string(path) + " answered " + std::to_string(answer->status);
        return fail(e);
    }
    return std::move(answer->body);
}

}  // namespace mirrortap::cloud
