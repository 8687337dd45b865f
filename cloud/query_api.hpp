// What the Query APIs (Auto Scaling, EC2) share: a request is a form POST
// to ENDPOINT/, signed with SigV4 for the service, the session token (when
// there is one) sent and signed as X-Amz-Security-Token; retries wait out a
// backoff that a cancel flag can cut short.
#pragma once
#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "cloud/credentials.hpp"
#include "cloud/environment.hpp"
#include "cloud/http.hpp"
#include "cloud/result.hpp"
#include "cloud/retry.hpp"

namespace mirrortap::cloud {

// https://SERVICE.REGION.amazonaws.com (.com.cn in the China regions), or
// why not when `region` is no region name.
mirrortap::Result<std::string> regional_endpoint(std::string_view service, std::string_view region);

// Where the SDKs send SERVICE's requests (EC2, SSM, CLOUDWATCH, AUTO_SCALING)
// when the environment says so: AWS_ENDPOINT_URL_<SERVICE>, else
// AWS_ENDPOINT_URL. "" when neither is set; a failure naming the variable
// when the one set is no endpoint URL.
mirrortap::Result<std::string> endpoint_from_environment(const EnvLookup& env, std::string_view service);

// `credentials` must outlive the request (it is signed with them).
HttpRequest query_api_request(const std::string& endpoint, const std::string& region, std::string_view service,
                              std::string body, const Credentials& credentials, const HttpLimits& limits);

// Waits `delay` in short steps; false, sooner, once *cancel is true.
bool wait_unless_cancelled(std::chrono::milliseconds delay, const std::atomic<bool>* cancel);

// What a client of one of these APIs holds for sending: the pieces every
// request of every service needs.
struct QueryApiChannel {
    HttpClient& http;
    CredentialProvider& credentials;
    const RetryPolicy& retry;
    const std::atomic<bool>* cancel = nullptr;
    uint64_t* retries = nullptr;  // counts requests sent again; may be null
};

// How one call goes: its request, for the credentials of the attempt; the
// error of an answer that is not 200 (each protocol words errors its own
// way; default: XML as error_from_response reads it); and, optionally, what
// a failed attempt means: true = the call's work is done after all (an
// earlier attempt whose answer was lost did it).
struct QueryApiCall {
    std::function<HttpRequest(const Credentials&)> request;
    std::function<AwsError(const HttpResponse&)> error_of;
    std::function<bool(const AwsError& error, bool an_answer_was_lost)> done_despite;
};

// Sends the call until it is answered 200, fails for good, runs out of
// attempts or is cancelled, waiting out capped, fully jittered backoff
// between attempts and refreshing expired credentials. The 200 answer, or
// nullopt when done_despite said the work was done, or the last error (with
// "gave up after N attempts", or Cancelled). The caller sets its context.
Result<std::optional<HttpResponse>> perform_with_retries(const QueryApiChannel& channel, const QueryApiCall& call);

}  // namespace mirrortap::cloud
