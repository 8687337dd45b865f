// EC2 Auto Scaling's Query API, as far as a lifecycle hook needs it:
// CompleteLifecycleAction and RecordLifecycleActionHeartbeat. Each is a form
// POST (Action=...&Version=2011-01-01&...) to https://autoscaling.REGION.amazonaws.com/
// (or a configured endpoint), signed with SigV4 by libcurl for the service
// "autoscaling", with the credentials of the chain (credentials.hpp). Errors
// come back as <ErrorResponse><Error><Code/>..., and each call is retried on
// its own with capped, fully jittered backoff (retry.hpp).
//
// One thread uses an AutoScalingClient at a time; the CredentialProvider may be shared.
#pragma once
#include <atomic>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "cloud/credentials.hpp"
#include "cloud/http.hpp"
#include "cloud/result.hpp"
#include "cloud/retry.hpp"

namespace mirrortap::cloud {

// The regional endpoint: https://autoscaling.REGION.amazonaws.com (.com.cn in
// the China regions), or why not when `region` is no region name.
mirrortap::Result<std::string> autoscaling_endpoint(std::string_view region);

struct AutoScalingOptions {
    std::string endpoint;  // http(s)://host[:port], no path (autoscaling_endpoint gives AWS's)
    std::string region;    // signs the requests
    RetryPolicy retry;
    HttpLimits limits = short_exchange_limits(std::chrono::seconds(5), std::chrono::seconds(20), 256 * 1024);
    // While *cancel is true, requests and backoff waits stop ("Cancelled").
    const std::atomic<bool>* cancel = nullptr;
};

// Which lifecycle action: the hook of a group, for one instance.
struct LifecycleAction {
    std::string group_name;
    std::string hook_name;
    std::string instance_id;
};

class AutoScalingClient {
public:
    AutoScalingClient(AutoScalingOptions options, std::shared_ptr<CredentialProvider> credentials);

    // Ends the wait: the group goes on with the instance's launch or
    // termination (`result` CONTINUE or ABANDON). An attempt answered
    // "No active Lifecycle Action" after an earlier attempt whose answer was
    // lost counts as done: that attempt completed it.
    Result<Done> complete_lifecycle_action(const LifecycleAction& action, std::string_view result = "CONTINUE");
    // Restarts the hook's heartbeat timeout, so a long drain is not cut short.
    Result<Done> record_lifecycle_action_heartbeat(const LifecycleAction& action);

    // Requests sent again, over the client's life.
    uint64_t retries() const { return retries_; }
    const AutoScalingOptions& options() const { return options_; }

private:
    // Sends the form until it succeeds, fails for good or runs out of
    // attempts. `lost_answer_means_done`: see complete_lifecycle_action.
    Result<Done> call(std::string_view action_name, const LifecycleAction& action, std::string_view extra_name,
                      std::string_view extra_value, bool lost_answer_means_done);
    AutoScalingOptions options_;
    std::shared_ptr<CredentialProvider> credentials_;
    HttpClient http_;
    uint64_t retries_ = 0;
};

}  // namespace mirrortap::cloud
