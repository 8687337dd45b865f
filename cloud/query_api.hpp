// What the Query APIs (Auto Scaling, EC2) share: a request is a form POST
// to ENDPOINT/, signed with SigV4 for the service, the session token (when
// there is one) sent and signed as X-Amz-Security-Token; retries wait out a
// backoff that a cancel flag can cut short.
#pragma once
#include <atomic>
#include <chrono>
#include <optional>
#include <string>
#include <string_view>

#include "cloud/credentials.hpp"
#include "cloud/http.hpp"

namespace mirrortap::cloud {

// https://SERVICE.REGION.amazonaws.com (.com.cn in the China regions), or
// nullopt with `why` when `region` is no region name.
std::optional<std::string> regional_endpoint(std::string_view service, std::string_view region, std::string& why);

// `credentials` must outlive the request (it is signed with them).
HttpRequest query_api_request(const std::string& endpoint, const std::string& region, std::string_view service,
                              std::string body, const Credentials& credentials, const HttpLimits& limits);

// Waits `delay` in short steps; false, sooner, once *cancel is true.
bool wait_unless_cancelled(std::chrono::milliseconds delay, const std::atomic<bool>* cancel);

}  // namespace mirrortap::cloud
