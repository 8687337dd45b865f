#include <doctest/doctest.h>

#include <atomic>
#include <thread>
#include <vector>

#include "cloud/credentials.hpp"

using namespace mirrortap::cloud;
using namespace std::chrono;

namespace {

// Hands out a new key id at each fetch, expiring `lifetime` after the fake
// clock's now; or fails while `failing` is set.
struct CountingSource final : CredentialSource {
    std::atomic<int> fetched{0};
    std::atomic<bool> failing{false};
    seconds lifetime{3600};
    std::function<SystemTime()> now;

    mirrortap::cloud::Result<Credentials> fetch() override {
        if (failing) return mirrortap::fail(AwsError{503, "ServiceUnavailable", "down", "", true, ""});
        const int n = ++fetched;
        return Credentials{"KEY" + std::to_string(n), "secret", "token", now() + lifetime};
    }
    std::string describe() const override { return "counting"; }
};

struct Fixture {
    SystemTime clock = SystemTime(seconds(1'700'000'000));
    CountingSource* source = nullptr;
    std::unique_ptr<CredentialProvider> provider;

    explicit Fixture(seconds lifetime) {
        auto s = std::make_unique<CountingSource>();
        s->lifetime = lifetime;
        s->now = [this] { return clock; };
        source = s.get();
        CredentialRefresh refresh;
        refresh.now = [this] { return clock; };
        provider = std::make_unique<CredentialProvider>(std::move(s), refresh);
    }
    std::string key() {
        auto c = provider->get();
        return c ? c->access_key_id : "error: " + c.error().describe();
    }
};

std::string source_name(std::map<std::string, std::string> env) {
    auto source = choose_credential_source(fixed_environment(std::move(env)));
    return source ? (*source)->describe() : "refused: " + source.error();
}

}  // namespace

TEST_CASE("credentials: STS's AssumeRoleWithWebIdentity answer") {
    const auto c = parse_sts_credentials(
        "<AssumeRoleWithWebIdentityResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\">"
        "<AssumeRoleWithWebIdentityResult><Credentials><SessionToken>AQoDYXdzEE0a8ANXXXXXXXXNO1ewxE5TijQyp+IEXAMPLE"
        "</SessionToken><SecretAccessKey>wJalrXUtnFEMI/K7MDENG/bPxRfiCYzEXAMPLEKEY</SecretAccessKey>"
        "<Expiration>2014-10-24T23:00:23Z</Expiration><AccessKeyId>ASgeIAIOSFODNN7EXAMPLE</AccessKeyId>"
        "</Credentials></AssumeRoleWithWebIdentityResult></AssumeRoleWithWebIdentityResponse>");
    REQUIRE(c);
    CHECK(c->access_key_id == "ASgeIAIOSFODNN7EXAMPLE");
    CHECK(c->secret_access_key == "wJalrXUtnFEMI/K7MDENG/bPxRfiCYzEXAMPLEKEY");
    CHECK(c->session_token == "AQoDYXdzEE0a8ANXXXXXXXXNO1ewxE5TijQyp+IEXAMPLE");
    CHECK(c->expiration == parse_aws_time("2014-10-24T23:00:23Z"));
    CHECK_FALSE(parse_sts_credentials("<AssumeRoleWithWebIdentityResponse/>"));
    CHECK_FALSE(parse_sts_credentials("not xml"));
    // Credentials without an expiration are not taken: they could never be refreshed in time.
    CHECK_FALSE(parse_sts_credentials(
        "<AssumeRoleWithWebIdentityResponse><AssumeRoleWithWebIdentityResult><Credentials><SessionToken>t"
        "</SessionToken><SecretAccessKey>s</SecretAccessKey><AccessKeyId>a</AccessKeyId></Credentials>"
        "</AssumeRoleWithWebIdentityResult></AssumeRoleWithWebIdentityResponse>"));
}

TEST_CASE("credentials: the instance role document IMDS serves") {
    const auto c = parse_imds_credentials(
        R"({"Code" : "Success", "LastUpdated" : "2024-05-01T10:00:00Z", "Type" : "AWS-HMAC",
            "AccessKeyId" : "ASIAEXAMPLE", "SecretAccessKey" : "se\/cret", "Token" : "tok",
            "Expiration" : "2024-05-01T16:00:00Z"})");
    REQUIRE(c);
    CHECK(c->access_key_id == "ASIAEXAMPLE");
    CHECK(c->secret_access_key == "se/cret");
    CHECK(c->expiration == parse_aws_time("2024-05-01T16:00:00Z"));
    const auto failed = parse_imds_credentials(R"({"Code": "AssumeRoleUnauthorizedAccess"})");
    REQUIRE_FALSE(failed);
    CHECK(failed.error().retryable);
    CHECK(failed.error().message.find("AssumeRoleUnauthorizedAccess") != std::string::npos);
    const auto not_json = parse_imds_credentials("{\n\"Code\": ");
    REQUIRE_FALSE(not_json);
    CHECK(not_json.error().code == "MalformedAnswer");
    CHECK(not_json.error().message.rfind("instance role credentials are not JSON: 2:9: ", 0) == 0);
    // Escapes, a surrogate pair included, read as JSON means them.
    const auto escaped = parse_imds_credentials(
        R"({"Code":"Success","AccessKeyId":"A\u0053IA","SecretAccessKey":"s\ud83d\ude00","Token":"t",)"
        R"("Expiration":"2024-05-01T16:00:00Z"})");
    REQUIRE(escaped);
    CHECK(escaped->access_key_id == "ASIA");
    CHECK(escaped->secret_access_key == "s\xF0\x9F\x98\x80");
    // A Code that is not a string is no Success.
    CHECK_FALSE(parse_imds_credentials(R"({"Code": 1, "AccessKeyId": "a", "SecretAccessKey": "s", "Token": "t",
        "Expiration": "2024-05-01T16:00:00Z"})"));
    CHECK_FALSE(parse_imds_credentials(R"({"Code": "Success", "AccessKeyId": "a"})"));
}

TEST_CASE("credentials: the chain takes the first source whose settings are there") {
    const std::map<std::string, std::string> keys{{"AWS_ACCESS_KEY_ID", "AKIA"}, {"AWS_SECRET_ACCESS_KEY", "s"}};
    const std::map<std::string, std::string> web{{"AWS_WEB_IDENTITY_TOKEN_FILE", "/t"}, {"AWS_ROLE_ARN", "arn:r"}};
    auto both = keys;
    both.insert(web.begin(), web.end());
    CHECK(source_name(both) == "environment (AWS_ACCESS_KEY_ID)");
    CHECK(source_name(web) == "web identity arn:r");
    CHECK(source_name({}) == "instance role (IMDSv2 at http://169.254.169.254)");
    CHECK(source_name({{"AWS_EC2_METADATA_SERVICE_ENDPOINT", "http://[fd00:ec2::254]"}}) ==
          "instance role (IMDSv2 at http://[fd00:ec2::254])");
    // Empty values count as unset, as in the SDKs.
    CHECK(source_name({{"AWS_ACCESS_KEY_ID", ""}, {"AWS_SECRET_ACCESS_KEY", ""}}).starts_with("instance role"));
}

TEST_CASE("credentials: half a setting, a bad endpoint or nothing at all is refused with the reason") {
    CHECK(source_name({{"AWS_SECRET_ACCESS_KEY", "s"}}) ==
          "refused: AWS_SECRET_ACCESS_KEY is set but AWS_ACCESS_KEY_ID is not");
    CHECK(source_name({{"AWS_ROLE_ARN", "arn:r"}}) ==
          "refused: AWS_ROLE_ARN is set but AWS_WEB_IDENTITY_TOKEN_FILE is not");
    CHECK(source_name({{"AWS_WEB_IDENTITY_TOKEN_FILE", "/t"}, {"AWS_ROLE_ARN", "arn:r"},
                       {"AWS_ROLE_SESSION_NAME", "has space"}})
              .find("AWS_ROLE_SESSION_NAME") != std::string::npos);
    CHECK(source_name({{"AWS_WEB_IDENTITY_TOKEN_FILE", "/t"}, {"AWS_ROLE_ARN", "arn:r"},
                       {"AWS_ENDPOINT_URL_STS", "sts.local"}})
              .find("AWS_ENDPOINT_URL_STS") != std::string::npos);
    CHECK(source_name({{"AWS_EC2_METADATA_SERVICE_ENDPOINT", "169.254.169.254"}})
              .find("AWS_EC2_METADATA_SERVICE_ENDPOINT") != std::string::npos);
    CHECK(source_name({{"AWS_EC2_METADATA_DISABLED", "True"}}).find("no AWS credentials") != std::string::npos);
}

TEST_CASE("credentials: cached until five minutes before they expire, then fetched again") {
    Fixture f(hours(1));
    CHECK(f.key() == "KEY1");
    f.clock += minutes(54);
    CHECK(f.key() == "KEY1");
    f.clock += seconds(61);  // 4 min 59 s left
    CHECK(f.key() == "KEY2");
    CHECK(f.key() == "KEY2");
    CHECK(f.provider->fetches() == 2);
}

TEST_CASE("credentials: a failed refresh keeps valid credentials in use and tries again later") {
    Fixture f(minutes(10));
    CHECK(f.key() == "KEY1");
    f.clock += minutes(6);  // refresh due
    f.source->failing = true;
    CHECK(f.key() == "KEY1");
    CHECK(f.key() == "KEY1");  // not asked again at once
    CHECK(f.provider->fetches() == 2);
    f.clock += seconds(5);
    CHECK(f.key() == "KEY1");
    CHECK(f.provider->fetches() == 3);
    // Expired: never handed out, whatever the source says.
    f.clock += minutes(5);
    CHECK(f.key().starts_with("error: "));
    CHECK(f.key().find("credentials from counting") != std::string::npos);
    f.source->failing = false;
    CHECK(f.key() == "KEY2");
}

TEST_CASE("credentials: short-lived credentials are fetched at most every min_interval") {
    Fixture f(minutes(2));  // inside the 5-minute margin from the start
    CHECK(f.key() == "KEY1");
    CHECK(f.key() == "KEY1");
    f.clock += seconds(4);
    CHECK(f.key() == "KEY1");
    f.clock += seconds(1);
    CHECK(f.key() == "KEY2");
}

TEST_CASE("credentials: refresh_soon fetches at the next get") {
    Fixture f(hours(1));
    CHECK(f.key() == "KEY1");
    f.clock += seconds(10);
    f.provider->refresh_soon();
    CHECK(f.key() == "KEY2");
    CHECK(f.key() == "KEY2");
}

TEST_CASE("credentials: threads share one provider and see whole credentials") {
    auto source = std::make_unique<CountingSource>();
    // Always due and still valid: every get fetches, under the provider's lock.
    source->lifetime = seconds(1);
    source->now = [] { return system_clock::now(); };
    CountingSource* counting = source.get();
    CredentialRefresh refresh;
    refresh.min_interval = seconds(0);
    refresh.margin = seconds(1);
    CredentialProvider provider(std::move(source), refresh);
    std::atomic<int> bad{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < 4; ++t) {
        threads.emplace_back([&] {
            for (int i = 0; i < 500; ++i) {
                auto c = provider.get();
                if (!c || c->access_key_id.rfind("KEY", 0) != 0 || c->secret_access_key != "secret") ++bad;
            }
        });
    }
    for (auto& t : threads) t.join();
    CHECK(bad == 0);
    CHECK(provider.fetches() == static_cast<uint64_t>(counting->fetched.load()));
}
