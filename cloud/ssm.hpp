// Systems Manager Parameter Store, as far as reading one parameter needs it:
// GetParameter over the JSON 1.1 protocol (POST / with X-Amz-Target:
// AmazonSSM.GetParameter), signed with SigV4 by libcurl for the service
// "ssm", with the credentials of the chain. Errors come as JSON
// {"__type": "ParameterNotFound", "message": ...}; throttling and 5xx are
// retried with capped, fully jittered backoff (retry.hpp).
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

// https://ssm.REGION.amazonaws.com (.com.cn in China), or why not.
mirrortap::Result<std::string> ssm_endpoint(std::string_view region);

struct SsmOptions {
    std::string endpoint;
    std::string region;
    RetryPolicy retry;
    HttpLimits limits = short_exchange_limits(std::chrono::seconds(5), std::chrono::seconds(20), 256 * 1024);
    const std::atomic<bool>* cancel = nullptr;
};

// {"__type": "com.amazonaws...#ParameterNotFound", "message": ...} as an
// AwsError (the type's last part is the code); nullopt when the body is no such document.
std::optional<AwsError> parse_json_error(int http_status, std::string_view body);
// GetParameter's answer: Parameter.Value, or an error when it has none.
Result<std::string> parse_parameter_value(std::string_view body);

class SsmClient {
public:
    SsmClient(SsmOptions options, std::shared_ptr<CredentialProvider> credentials);

    // The value of the parameter `name` (a String or StringList; SecureString
    // values would come back encrypted, as WithDecryption is not asked for).
    Result<std::string> get_parameter(const std::string& name);

private:
    SsmOptions options_;
    std::shared_ptr<CredentialProvider> credentials_;
    HttpClient http_;
};

}  // namespace mirrortap::cloud
