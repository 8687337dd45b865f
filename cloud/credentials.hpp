// AWS credentials by the SDKs' default chain, as far as an appliance needs it:
//   1. environment: AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY [, AWS_SESSION_TOKEN]
//   2. web identity (EKS IRSA and the like): AWS_WEB_IDENTITY_TOKEN_FILE,
//      AWS_ROLE_ARN [, AWS_ROLE_SESSION_NAME]; an unsigned STS
//      AssumeRoleWithWebIdentity to AWS_ENDPOINT_URL_STS when set (as the
//      SDKs' service-specific endpoint), else https://sts.REGION.amazonaws.com
//      (REGION: AWS_REGION, AWS_DEFAULT_REGION), else https://sts.amazonaws.com
//   3. the EC2 instance role through IMDSv2 (imds.hpp), unless
//      AWS_EC2_METADATA_DISABLED=true
// The first whose settings are present is used, and only it: half a setting
// (a key id without its secret, a token file without a role) is an error
// rather than a silent step to the next source.
#pragma once
#include <chrono>
#include <functional>
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

class ImdsClient;

struct Credentials {
    std::string access_key_id;
    std::string secret_access_key;
    std::string session_token;            // "" for long-term keys
    std::optional<SystemTime> expiration; // none for long-term keys
};

class CredentialSource {
public:
    virtual ~CredentialSource() = default;
    virtual Result<Credentials> fetch() = 0;
    // For the log: "environment", "web identity arn:aws:iam::1:role/x", "instance role".
    virtual std::string describe() const = 0;
};

std::unique_ptr<CredentialSource> static_credentials(Credentials credentials, std::string description);

struct WebIdentitySettings {
    std::string token_file;    // read again at every fetch: the issuer rotates it
    std::string role_arn;
    std::string session_name;  // 2 to 64 of [A-Za-z0-9_+=,.@-]
    std::string sts_url;       // https://sts.eu-west-1.amazonaws.com
    HttpLimits limits;
};
std::unique_ptr<CredentialSource> web_identity_credentials(WebIdentitySettings settings);

std::unique_ptr<CredentialSource> instance_role_credentials(std::shared_ptr<ImdsClient> imds);

// The chain above; why not when nothing is configured or a setting is
// incomplete or malformed.
mirrortap::Result<std::unique_ptr<CredentialSource>> choose_credential_source(const EnvLookup& env);

// What AssumeRoleWithWebIdentity answers, and what IMDS serves at
// iam/security-credentials/ROLE (JSON with Code "Success").
Result<Credentials> parse_sts_credentials(std::string_view xml);
Result<Credentials> parse_imds_credentials(std::string_view json);

struct CredentialRefresh {
    // Fetched again this long before they expire (the SDKs' five minutes).
    std::chrono::seconds margin{300};
    // Fetched at most this often, however soon the current ones expire, and
    // tried again this long after a failed fetch while they are still valid.
    std::chrono::seconds min_interval{5};
    std::function<SystemTime()> now = [] { return std::chrono::system_clock::now(); };
};

// The source behind a cache; get() is thread-safe and refreshes before
// expiry. While a refresh fails, credentials that have not yet expired are
// still handed out; expired ones never are.
class CredentialProvider {
public:
    explicit CredentialProvider(std::unique_ptr<CredentialSource> source, CredentialRefresh refresh = {});

    Result<Credentials> get();
    // After the service said ExpiredToken: the next get() fetches (still no
    // more often than min_interval).
    void refresh_soon();
    std::string describe() const { return source_->describe(); }
    uint64_t fetches() const;

private:
    std::unique_ptr<CredentialSource> source_;
    CredentialRefresh refresh_;
    mutable std::mutex mutex_;
    std::optional<Credentials> cached_;
    SystemTime last_fetch_{};
    bool fetched_once_ = false;
    bool refresh_soon_ = false;
    uint64_t fetches_ = 0;
};

}  // namespace mirrortap::cloud
