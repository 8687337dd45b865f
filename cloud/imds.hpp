// The EC2 instance metadata service, version 2 only: a session token from
// PUT /latest/api/token (X-aws-ec2-metadata-token-ttl-seconds), sent with
// every GET as X-aws-ec2-metadata-token. IMDSv1 is never used. Settings as
// the SDKs read them: AWS_EC2_METADATA_SERVICE_ENDPOINT (default
// http://169.254.169.254), AWS_EC2_METADATA_DISABLED=true turns it off.
#pragma once
#include <chrono>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

#include "cloud/aws_time.hpp"
#include "cloud/environment.hpp"
#include "cloud/http.hpp"
#include "cloud/result.hpp"

namespace mirrortap::cloud {

struct ImdsSettings {
    std::string endpoint = "http://169.254.169.254";
    HttpLimits limits = short_exchange_limits(std::chrono::seconds(1), std::chrono::seconds(2), 64 * 1024);
    std::chrono::seconds token_ttl{21600};
};

// The settings, nullopt when AWS_EC2_METADATA_DISABLED is "true" (any case).
// A malformed endpoint is a failure.
mirrortap::Result<std::optional<ImdsSettings>> imds_settings_from_environment(const EnvLookup& env);

// The region to use when none is configured: AWS_REGION, AWS_DEFAULT_REGION,
// else the instance's own (meta-data/placement/region) unless IMDS is disabled.
Result<std::string> default_region(const EnvLookup& env);

// Thread-safe: one request at a time, the token shared.
class ImdsClient {
public:
    explicit ImdsClient(ImdsSettings settings);

    // The text at /latest/PATH ("meta-data/instance-id"). A token refused
    // (401) is renewed once.
    Result<std::string> get(std::string_view path);

    Result<std::string> instance_id() { return get("meta-data/instance-id"); }
    Result<std::string> region() { return get("meta-data/placement/region"); }
    // InService, Terminated, Warmed:Pending... (Auto Scaling lifecycle hooks); NotFound outside a group.
    Result<std::string> target_lifecycle_state() { return get("meta-data/autoscaling/target-lifecycle-state"); }

    const ImdsSettings& settings() const { return settings_; }

private:
    Result<std::string> fetch_token();
    Result<HttpResponse> get_with_token(std::string_view path);

    ImdsSettings settings_;
    std::mutex mutex_;
    HttpClient http_;
    std::string token_;
    std::chrono::steady_clock::time_point token_renew_at_{};
};

}  // namespace mirrortap::cloud
