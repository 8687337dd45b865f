#include "cloud/autoscaling.hpp"

#include <vector>

#include "cloud/aws_error.hpp"
#include "cloud/query_api.hpp"
#include "cloud/s3_address.hpp"
#include "support/text.hpp"

namespace mirrortap::cloud {

namespace {

constexpr std::string_view kAutoScalingApiVersion = "2011-01-01";

// What Auto Scaling answers when the action is no longer waiting: already
// completed (by us, or by its timeout), or never started.
bool no_active_action(const AwsError& e) {
    return e.code == "ValidationError" && e.message.find("No active Lifecycle Action") != std::string::npos;
}

}  // namespace

mirrortap::Result<std::string> autoscaling_endpoint(std::string_view region) {
    return regional_endpoint("autoscaling", region);
}

AutoScalingClient::AutoScalingClient(AutoScalingOptions options, std::shared_ptr<CredentialProvider> credentials)
    : options_(std::move(options)), credentials_(std::move(credentials)) {
    http_.set_cancel_flag(options_.cancel);
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
                                 {"Version", std::string(kAutoScalingApiVersion)},
                                 {"AutoScalingGroupName", action.group_name},
                                 {"LifecycleHookName", action.hook_name},
                                 {"InstanceId", action.instance_id}};
    if (!extra_name.empty()) form.push_back({std::string(extra_name), std::string(extra_value)});
    const std::string body = canonical_query(std::move(form));

    QueryApiCall call;
    call.request = [&](const Credentials& credentials) {
        return query_api_request(options_.endpoint, options_.region, "autoscaling", body, credentials, options_.limits);
    };
    if (lost_answer_means_done)
        call.done_despite = [](const AwsError& e, bool an_answer_was_lost) { return an_answer_was_lost && no_active_action(e); };
    auto answer = perform_with_retries({http_, *credentials_, options_.retry, options_.cancel, &retries_}, call);
    if (answer) return Done{};
    answer.error().context = context;
    return fail(answer.error());
}

}  // namespace mirrortap::cloud
