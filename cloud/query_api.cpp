#include "cloud/query_api.hpp"

#include <algorithm>
#include <thread>

#include "cloud/aws_error.hpp"
#include "support/parse.hpp"

#include "support/text.hpp"

namespace mirrortap::cloud {

mirrortap::Result<std::string> regional_endpoint(std::string_view service, std::string_view region) {
    if (region.empty() || region.size() > 32 ||
        region.find_first_not_of("abcdefghijklmnopqrstuvwxyz0123456789-") != std::string_view::npos) {
        return fail("region " + quote(region) + " is not a region name");
    }
    const std::string domain = region.starts_with("cn-") ? "amazonaws.com.cn" : "amazonaws.com";
    return "https://" + std::string(service) + "." + std::string(region) + "." + domain;
}

mirrortap::Result<std::string> endpoint_from_environment(const EnvLookup& env, std::string_view service) {
    for (const std::string& name : {"AWS_ENDPOINT_URL_" + std::string(service), std::string("AWS_ENDPOINT_URL")}) {
        const auto value = env(name);
        if (!value) continue;
        auto url = parse_endpoint_url(*value);
        if (!url) return fail(name + ": " + url.error());
        return std::move(*url);
    }
    return std::string();
}

HttpRequest query_api_request(const std::string& endpoint, const std::string& region, std::string_view service,
                              std::string body, const Credentials& credentials, const HttpLimits& limits) {
    HttpRequest request;
    request.method = "POST";
    request.url = endpoint + "/";
    // Given, not left to curl: only the headers we give are signed.
    request.headers = {{"Content-Type", "application/x-www-form-urlencoded; charset=utf-8"}};
    if (!credentials.session_token.empty()) request.headers.emplace_back("X-Amz-Security-Token", credentials.session_token);
    request.body = std::move(body);
    request.signing_credentials = &credentials;
    request.signing_region = region;
    request.signing_service = std::string(service);
    request.limits = limits;
    return request;
}

bool wait_unless_cancelled(std::chrono::milliseconds delay, const std::atomic<bool>* cancel) {
    const auto until = std::chrono::steady_clock::now() + delay;
    while (!(cancel && cancel->load(std::memory_order_relaxed))) {
        const auto now = std::chrono::steady_clock::now();
        if (now >= until) return true;
        std::this_thread::sleep_for(std::min<std::chrono::steady_clock::duration>(until - now, std::chrono::milliseconds(50)));
    }
    return false;
}

Result<std::optional<HttpResponse>> perform_with_retries(const QueryApiChannel& channel, const QueryApiCall& call) {
    const auto cancelled = [&] { return channel.cancel && channel.cancel->load(std::memory_order_relaxed); };
    const int attempts = std::max(1, channel.retry.max_attempts);
    AwsError last;
    bool an_answer_was_lost = false;
    for (int attempt = 1; attempt <= attempts; ++attempt) {
        if (attempt > 1) {
            if (!wait_unless_cancelled(backoff_delay(channel.retry, attempt - 1), channel.cancel)) break;
            if (channel.retries) ++*channel.retries;
        }
        if (cancelled()) break;
        auto credentials = channel.credentials.get();
        if (!credentials) {
            last = credentials.error();
        } else {
            auto answer = channel.http.perform(call.request(credentials.value()));
            if (answer && answer->status == 200) return std::optional<HttpResponse>(std::move(answer.value()));
            if (!answer) last = answer.error();
            else if (call.error_of) last = call.error_of(answer.value());
            else last = error_from_response(answer->status, answer->body, answer->header("x-amzn-requestid"));
            if (call.done_despite && call.done_despite(last, an_answer_was_lost)) return std::optional<HttpResponse>();
            // No answer to a request that arrived may still have done its work.
            an_answer_was_lost = an_answer_was_lost || (!answer && last.code != "ConnectionFailed");
            if (last.code == "ExpiredToken" || last.code == "ExpiredTokenException") channel.credentials.refresh_soon();
        }
        if (!last.retryable) break;
        if (attempt == attempts && attempts > 1)
            last.message += " (gave up after " + std::to_string(attempts) + " attempts)";
    }
    if (cancelled()) last = AwsError{0, "Cancelled", "stopped before it was done", "", false, ""};
    return fail(last);
}

}  // namespace mirrortap::cloud
