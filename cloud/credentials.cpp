#include "cloud/credentials.hpp"

#include "cloud/aws_error.hpp"
#include "cloud/imds.hpp"
#include "cloud/s3_address.hpp"
#include "cloud/xml.hpp"
#include "support/file.hpp"
#include "support/json.hpp"
#include "support/parse.hpp"
#include "support/text.hpp"

namespace mirrortap::cloud {

namespace {

constexpr size_t kMaxTokenFileBytes = 64 * 1024;

AwsError credential_error(std::string code, std::string message, bool retryable = false) {
    return AwsError{0, std::move(code), std::move(message), "", retryable};
}

class StaticSource final : public CredentialSource {
public:
    StaticSource(Credentials credentials, std::string description)
        : credentials_(std::move(credentials)), description_(std::move(description)) {}
    Result<Credentials> fetch() override { return credentials_; }
    std::string describe() const override { return description_; }

private:
    Credentials credentials_;
    std::string description_;
};

class WebIdentitySource final : public CredentialSource {
public:
    explicit WebIdentitySource(WebIdentitySettings settings) : settings_(std::move(settings)) {}

    Result<Credentials> fetch() override {
        const auto token = read_regular_file(settings_.token_file, kMaxTokenFileBytes, "web identity token file");
        if (!token) return fail(credential_error("InvalidIdentityToken", settings_.token_file + ": " + token.error()));
        const std::string_view trimmed = trim_line(*token);
        if (trimmed.empty())
            return fail(
                credential_error("InvalidIdentityToken", settings_.token_file + ": web identity token file is empty"));
        HttpRequest request;
        request.method = "POST";
        request.url = settings_.sts_url + "/";
        request.headers = {{"Content-Type", "application/x-www-form-urlencoded; charset=utf-8"}};
        request.body = canonical_query({{"Action", "AssumeRoleWithWebIdentity"},
                                        {"RoleArn", settings_.role_arn},
                                        {"RoleSessionName", settings_.session_name},
                                        {"Version", "2011-06-15"},
                                        {"WebIdentityToken", std::string(trimmed)}});
        request.limits = settings_.limits;
        auto answer = http_.perform(request);
        if (!answer) return fail(answer.error());
        if (answer->status != 200)
            return fail(error_from_response(answer->status, answer->body, answer->header("x-amzn-requestid")));
        return parse_sts_credentials(answer->body);
    }

    std::string describe() const override { return "web identity " + settings_.role_arn; }

private:
    static std::string_view trim_line(std::string_view text) {
        while (!text.empty() && std::isspace(static_cast<unsigned char>(text.front()))) text.remove_prefix(1);
        while (!text.empty() && std::isspace(static_cast<unsigned char>(text.back()))) text.remove_suffix(1);
        return text;
    }

    WebIdentitySettings settings_;
    HttpClient http_;
};

class InstanceRoleSource final : public CredentialSource {
public:
    explicit InstanceRoleSource(std::shared_ptr<ImdsClient> imds) : imds_(std::move(imds)) {}

    Result<Credentials> fetch() override {
        auto roles = imds_->get("meta-data/iam/security-credentials/");
        if (!roles) {
            AwsError e = roles.error();
            if (e.http_status == 404) e.message = "this instance has no IAM role (instance profile)";
            return fail(e);
        }
        // One role per instance profile; the listing holds its name on the first line.
        const std::string role = roles->substr(0, roles->find('\n'));
        if (role.empty()) return fail(credential_error("NoInstanceRole", "instance metadata lists no IAM role"));
        auto document = imds_->get("meta-data/iam/security-credentials/" + role);
        if (!document) return fail(document.error());
        return parse_imds_credentials(document.value());
    }

    std::string describe() const override { return "instance role (IMDSv2 at " + imds_->settings().endpoint + ")"; }

private:
    std::shared_ptr<ImdsClient> imds_;
};

bool valid_session_name(std::string_view name) {
    if (name.size() < 2 || name.size() > 64) return false;
    for (const char c : name)
        if (!std::isalnum(static_cast<unsigned char>(c)) && std::string_view("_+=,.@-").find(c) == std::string_view::npos)
            return false;
    return true;
}

mirrortap::Result<std::string> sts_url(const EnvLookup& env) {
    if (const auto endpoint = env("AWS_ENDPOINT_URL_STS")) {
        auto url = parse_endpoint_url(*endpoint);
        if (!url) return fail("AWS_ENDPOINT_URL_STS: " + url.error());
        return std::move(*url);
    }
    auto region = env("AWS_REGION");
    if (!region) region = env("AWS_DEFAULT_REGION");
    if (!region) return std::string("https://sts.amazonaws.com");
    if (uri_encode(*region, false) != *region || region->find('.') != std::string::npos)
        return fail("region " + quote(*region) + " is not a region name");
    return "https://sts." + *region + ".amazonaws.com";
}

}  // namespace

std::unique_ptr<CredentialSource> static_credentials(Credentials credentials, std::string description) {
    return std::make_unique<StaticSource>(std::move(credentials), std::move(description));
}

std::unique_ptr<CredentialSource> web_identity_credentials(WebIdentitySettings settings) {
    return std::make_unique<WebIdentitySource>(std::move(settings));
}

std::unique_ptr<CredentialSource> instance_role_credentials(std::shared_ptr<ImdsClient> imds) {
    return std::make_unique<InstanceRoleSource>(std::move(imds));
}

namespace {

// Variables that only mean something together: one without the other is a
// mistake to name, not a source to skip.
mirrortap::Result<> both_set(const std::optional<std::string>& a, const char* a_name,
                             const std::optional<std::string>& b, const char* b_name) {
    if (a && b) return {};
    return fail(a ? std::string(a_name) + " is set but " + b_name + " is not"
                  : std::string(b_name) + " is set but " + a_name + " is not");
}

}  // namespace

mirrortap::Result<std::unique_ptr<CredentialSource>> choose_credential_source(const EnvLookup& env) {
    const auto key_id = env("AWS_ACCESS_KEY_ID");
    const auto secret = env("AWS_SECRET_ACCESS_KEY");
    if (key_id || secret) {
        if (auto both = both_set(key_id, "AWS_ACCESS_KEY_ID", secret, "AWS_SECRET_ACCESS_KEY"); !both)
            return fail(std::move(both).error());
        Credentials c{*key_id, *secret, env("AWS_SESSION_TOKEN").value_or(""), std::nullopt};
        return static_credentials(std::move(c), "environment (AWS_ACCESS_KEY_ID)");
    }

    const auto token_file = env("AWS_WEB_IDENTITY_TOKEN_FILE");
    const auto role_arn = env("AWS_ROLE_ARN");
    if (token_file || role_arn) {
        if (auto both = both_set(token_file, "AWS_WEB_IDENTITY_TOKEN_FILE", role_arn, "AWS_ROLE_ARN"); !both)
            return fail(std::move(both).error());
        WebIdentitySettings settings;
        settings.token_file = *token_file;
        settings.role_arn = *role_arn;
        settings.session_name = env("AWS_ROLE_SESSION_NAME").value_or(
            "mirrortap-" + std::to_string(std::chrono::duration_cast<std::chrono::seconds>(
                                              std::chrono::system_clock::now().time_since_epoch())
                                              .count()));
        if (!valid_session_name(settings.session_name)) {
            return fail("AWS_ROLE_SESSION_NAME " + quote(settings.session_name) +
                        " must be 2 to 64 of letters, digits and _+=,.@-");
        }
        auto url = sts_url(env);
        if (!url) return fail(std::move(url).error());
        settings.sts_url = *url;
        // A refresh holds the provider's lock: STS gets seconds, not the S3 default minute.
        settings.limits.connect_timeout = std::chrono::seconds(5);
        settings.limits.total_timeout = std::chrono::seconds(15);
        settings.limits.max_response_bytes = 64 * 1024;
        return web_identity_credentials(std::move(settings));
    }

    auto imds = imds_settings_from_environment(env);
    if (!imds) return fail(std::move(imds).error());
    if (!*imds)
        return fail("no AWS credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or "
                    "AWS_WEB_IDENTITY_TOKEN_FILE and AWS_ROLE_ARN (AWS_EC2_METADATA_DISABLED rules out the instance role)");
    return instance_role_credentials(std::make_shared<ImdsClient>(**imds));
}

Result<Credentials> parse_sts_credentials(std::string_view xml) {
    const auto doc = parse_xml(xml, 1 << 20);
    const std::string why = doc ? std::string() : doc.error();
    const XmlTree* response = doc ? xml_child(*doc, "AssumeRoleWithWebIdentityResponse") : nullptr;
    const XmlTree* result = response ? xml_child(*response, "AssumeRoleWithWebIdentityResult") : nullptr;
    const XmlTree* node = result ? xml_child(*result, "Credentials") : nullptr;
    if (!node)
        return fail(credential_error("MalformedAnswer",
                                     "STS answer holds no AssumeRoleWithWebIdentityResult/Credentials" +
                                         (why.empty() ? std::string() : ": " + why)));
    Credentials c{xml_text(*node, "AccessKeyId"), xml_text(*node, "SecretAccessKey"), xml_text(*node, "SessionToken"),
                  parse_aws_time(xml_text(*node, "Expiration"))};
    if (c.access_key_id.empty() || c.secret_access_key.empty() || c.session_token.empty() || !c.expiration)
        return fail(
            credential_error("MalformedAnswer", "STS credentials lack a key id, secret, session token or expiration"));
    return c;
}

Result<Credentials> parse_imds_credentials(std::string_view text) {
    const auto doc = json::parse(text);
    if (!doc)
        return fail(
            credential_error("MalformedAnswer", "instance role credentials are not JSON: " + json::describe(doc.error())));
    const auto field = [&](std::string_view key) { return json::string_member(*doc, key).value_or(""); };
    const std::string code = field("Code");
    if (code != "Success")
        return fail(credential_error("InstanceRoleUnavailable",
                                     "instance metadata answered role credentials with Code " + quote(code), true));
    Credentials c{field("AccessKeyId"), field("SecretAccessKey"), field("Token"), parse_aws_time(field("Expiration"))};
    if (c.access_key_id.empty() || c.secret_access_key.empty() || c.session_token.empty() || !c.expiration)
        return fail(credential_error("MalformedAnswer",
                                     "instance role credentials lack AccessKeyId, SecretAccessKey, Token or Expiration"));
    return c;
}

CredentialProvider::CredentialProvider(std::unique_ptr<CredentialSource> source, CredentialRefresh refresh)
    : source_(std::move(source)), refresh_(std::move(refresh)) {}

Result<Credentials> CredentialProvider::get() {
    std::lock_guard lock(mutex_);
    const SystemTime now = refresh_.now();
    const bool valid = cached_ && (!cached_->expiration || now < *cached_->expiration);
    const bool due = !cached_ || refresh_soon_ ||
                     (cached_->expiration && now >= *cached_->expiration - refresh_.margin);
    const bool may_fetch = !fetched_once_ || now >= last_fetch_ + refresh_.min_interval || !valid;
    if (valid && (!due || !may_fetch)) return *cached_;

    ++fetches_;
    fetched_once_ = true;
    last_fetch_ = now;
    auto fetched = source_->fetch();
    if (fetched) {
        cached_ = fetched.value();
        refresh_soon_ = false;
        return fetched;
    }
    if (valid) return *cached_;  // the old ones still work; tried again after min_interval
    AwsError e = fetched.error();
    e.message = "credentials from " + source_->describe() + ": " + e.message;
    return fail(e);
}

void CredentialProvider::refresh_soon() {
    std::lock_guard lock(mutex_);
    refresh_soon_ = true;
}

uint64_t CredentialProvider::fetches() const {
    std::lock_guard lock(mutex_);
    return fetches_;
}

}  // namespace mirrortap::cloud
