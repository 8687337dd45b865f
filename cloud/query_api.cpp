#include "cloud/query_api.hpp"

#include <thread>

#include "support/text.hpp"

namespace mirrortap::cloud {

std::optional<std::string> regional_endpoint(std::string_view service, std::string_view region, std::string& why) {
    if (region.empty() || region.size() > 32 ||
        region.find_first_not_of("abcdefghijklmnopqrstuvwxyz0123456789-") != std::string_view::npos) {
        why = "region " + quote(region) + " is not a region name";
        return std::nullopt;
    }
    const std::string domain = region.starts_with("cn-") ? "amazonaws.com.cn" : "amazonaws.com";
    return "https://" + std::string(service) + "." + std::string(region) + "." + domain;
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

}  // namespace mirrortap::cloud
