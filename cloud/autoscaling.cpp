#include "cloud/autoscaling.hpp"

#include <vector>

#include "cloud/aws_error.hpp"
#include "cloud/query_api.hpp"
#include "cloud/s3_address.hpp"
#include "support/text.hpp"

namespace mirrortap::cloud {

namespace {

constexpr std::string_view kApiVersion = "2011-01-01";

AwsError local_error(std::string code, std::string message) {
    return AwsError{0, std::move(code), std::move(message), "", false, ""};
}

// What Auto Scaling answers when the action is no longer waiting: already
// completed (by us, or by its timeout), or never started.
bool no_active_action(const AwsError& e) {
    return e.code == "ValidationError" && e.message.find("No active Lifecycle Action") != std::string::npos;
}

}  // namespace

std::optional<std::string> autoscaling_endpoint(std::string_view region, std::string& why) {
    return regional_endpoint("autoscaling", region, why);
}

AutoScalingClient::AutoScalingClient(AutoScalingOptions options, std::shared_ptr<CredentialProvider> credentials)
    : options_(std::move(options)), credentials_(std::move(credentials)) {
    http_.set_cancel_flag(options_.cancel);
}

bool AutoScalingClient::cancelled() const {
    return options_.cancel && options_.cancel->load(std::memory_order_relaxed);
}

bool AutoScalingClient::wait(std::chrono::milliseconds delay) const {
    return wait_unless_cancelled(delay, options_.cancel);
}

Result<Done> AutoScalingClient::complete_lifecycle_action(const LifecycleAction& action, std::string_view result) {
    return call("CompleteLifecycleAction", action, "LifecycleActionResult", result, true);
}

Result<Done> AutoScalingClient::record_lifecycle_action_heartbeat(const LifecycleAction& action) {
    return call("RecordLifecycleActionHeartbeat", action, "", "", false);
}

Result<Done> AutoScalingClient::call(std::string_view action_name, const LifecycleAction& action,
                                     std::string_view extra_name, std::string_view extra_value,
                                     bool lost_answer_means_done) {
    const std::string context = std::string(action_name) + " for " + quote(action.instance_id) + " (group " +
                                quote(action.group_name) + ", hook " + quote(action.hook_name) + ")";
    std::vector<QueryParam> form{{"Action", std::string(action_name)},
                                 {"Version", std::string(kApiVersion)},
                                 {"AutoScalingGroupName", action.group_name},
                                 {"LifecycleHookName", action.hook_name},
                                 {"InstanceId", action.instance_id}};
    if (!extra_name.empty()) form.push_back({std::string(extra_name), std::string(extra_value)});
    const std::string body = canonical_query(std::move(form));

    const int attempts = std::max(1, options_.retry.max_attempts);
    AwsError last;
    bool an_answer_was_lost = false;
    for (int attempt = 1; attempt <= attempts; ++attempt) {
        if (attempt > 1) {
            if (!wait(backoff_delay(options_.retry, attempt - 1))) break;
            ++retries_;
        }
        if (cancelled()) break;
        auto credentials = credentials_->get();
        if (!credentials) {
            last = credentials.error();
        } else {
            auto answer = http_.perform(query_api_request(options_.endpoint, options_.region, "autoscaling", body,
                                                          credentials.value(), options_.limits));
            if (answer && answer->status == 200) return Done{};
            last = answer ? error_from_response(answer->status, answer->body, answer->header("x-amzn-requestid"))
                          : answer.error();
            if (lost_answer_means_done && an_answer_was_lost && no_active_action(last)) return Done{};
            // No answer to a request that arrived may still have done its work.
            an_answer_was_lost = an_answer_was_lost || (!answer && last.code != "ConnectionFailed");
            if (last.code == "ExpiredToken") credentials_->refresh_soon();
        }
        if (!last.retryable) break;
        if (attempt == attempts && attempts > 1)
            last.message += " (gave up after " + std::to_string(attempts) + " attempts)";
    }
    if (cancelled()) last = local_error("Cancelled", "stopped before it was done");
    last.context = context;
    return last;
}

}  // namespace mirrortap::cloud
