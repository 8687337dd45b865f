// mirrortap-sessions: keeps mirror sessions true to selectors (see
// sessions/settings.hpp's description and docs/sessions.md).
#include <signal.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <iostream>
#include <memory>
#include <mutex>
#include <random>
#include <thread>

#include "cloud/cloudwatch.hpp"
#include "cloud/credentials.hpp"
#include "cloud/ec2.hpp"
#include "cloud/environment.hpp"
#include "cloud/imds.hpp"
#include "cloud/s3_address.hpp"
#include "cloud/query_api.hpp"
#include "cloud/ssm.hpp"
#include "sessions/cli.hpp"
#include "sessions/coverage.hpp"
#include "sessions/reconcile.hpp"
#include "support/command_line.hpp"
#include "support/http_server.hpp"
#include "support/parse.hpp"
#include "support/text.hpp"

using namespace mirrortap;
using namespace mirrortap::sessions;

namespace {

std::atomic<bool> g_stop{false};
void on_signal(int) { g_stop.store(true); }

void say(const std::string& line) { std::fprintf(stderr, "mirrortap-sessions: %s\n", line.c_str()); }

// A service's endpoint, as the SDKs find it: the config's, else
// AWS_ENDPOINT_URL_<SERVICE>, else AWS_ENDPOINT_URL, else the region's.
bool locate(std::string_view service, const std::string& configured, const cloud::EnvLookup& env,
            const std::string& region,
            Result<std::string> (*regional)(std::string_view), std::string& endpoint) {
    endpoint = configured;
    if (endpoint.empty()) {
        const auto from_env = cloud::endpoint_from_environment(env, service);
        if (!from_env) {
            say(from_env.error());
            return false;
        }
        endpoint = *from_env;
    }
    if (endpoint.empty()) {
        const auto url = regional(region);
        if (!url) {
            say(url.error());
            return false;
        }
        endpoint = *url;
    }
    return true;
}

// Every endpoint this run would reach over plain http:// on another host, one
// line each: the config's, and the environment's it would use.
std::vector<std::string> endpoints_in_clear(const SessionsConfig& config, const cloud::EnvLookup& env) {
    std::vector<std::string> found;
    const auto check = [&](std::string_view name, const std::optional<std::string>& url, bool imds = false) {
        if (url && cloud::plain_http_to_another_host(*url, imds)) found.push_back(std::string(name) + " " + *url);
    };
    const bool ssm = !config.selectors_parameter.empty();
    check("endpoint", config.endpoint.empty() ? std::nullopt : std::optional(config.endpoint));
    check("ssm_endpoint", config.ssm_endpoint.empty() ? std::nullopt : std::optional(config.ssm_endpoint));
    if (config.endpoint.empty()) check("AWS_ENDPOINT_URL_EC2", env("AWS_ENDPOINT_URL_EC2"));
    if (ssm && config.ssm_endpoint.empty()) check("AWS_ENDPOINT_URL_SSM", env("AWS_ENDPOINT_URL_SSM"));
    // The general one only where no specific one comes first (locate's order).
    const bool ec2_general = config.endpoint.empty() && !env("AWS_ENDPOINT_URL_EC2");
    const bool ssm_general = ssm && config.ssm_endpoint.empty() && !env("AWS_ENDPOINT_URL_SSM");
    if (ec2_general || ssm_general) check("AWS_ENDPOINT_URL", env("AWS_ENDPOINT_URL"));
    check("AWS_ENDPOINT_URL_STS", env("AWS_ENDPOINT_URL_STS"));
    check("AWS_EC2_METADATA_SERVICE_ENDPOINT", env("AWS_EC2_METADATA_SERVICE_ENDPOINT"), true);
    return found;
}

// Refused (false, said) unless allow_insecure_endpoints, then said as a warning.
bool endpoints_acceptable(const SessionsConfig& config, const cloud::EnvLookup& env) {
    const auto in_clear = endpoints_in_clear(config, env);
    if (in_clear.empty()) return true;
    std::string list;
    for (const auto& e : in_clear) list += (list.empty() ? "" : ", ") + printable(e);
    if (!config.allow_insecure_endpoints) {
        say("refusing plain http:// to another host (" + list + "): signed requests would cross the network in "
            "clear; use https://, a loopback address, or allow_insecure_endpoints: true");
        return false;
    }
    say("warning: allow_insecure_endpoints: plain http:// to another host (" + list +
        "): signed requests cross the network in clear");
    return true;
}

std::optional<std::string> region_of(const SessionsConfig& config, const cloud::EnvLookup& env) {
    if (!config.region.empty()) return config.region;
    auto region = cloud::default_region(env);
    if (region) return region.value();
    say("no region: give --region or AWS_REGION (" + region.error().describe() + ")");
    return std::nullopt;
}

// The configuration of one run: the selectors read from the SSM parameter
// when one is configured. nullopt, with the errors in `report`, when they
// cannot be had.
std::optional<SessionsConfig> config_for_run(const SessionsConfig& config, cloud::SsmClient* ssm, RunReport& report) {
    if (config.selectors_parameter.empty()) return config;
    auto value = ssm->get_parameter(config.selectors_parameter);
    if (!value) {
        report.errors.push_back("reading the selectors failed: " + value.error().describe());
        return std::nullopt;
    }
    SelectorsLoad load = load_selectors_text(value.value());
    for (const ConfigError& e : load.errors)
        report.errors.push_back(format_error("ssm:" + config.selectors_parameter, e));
    if (!load.errors.empty()) return std::nullopt;
    SessionsConfig run = config;
    run.selectors = std::move(load.selectors);
    return run;
}

double unix_now() {
    return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

// The last run's coverage, as /metrics serves it; the server's thread reads it.
class CoverageBoard {
public:
    void set(std::string text) {
        std::lock_guard lock(mutex_);
        text_ = std::move(text);
    }
    std::string get() const {
        std::lock_guard lock(mutex_);
        return text_;
    }

private:
    mutable std::mutex mutex_;
    std::string text_;
};

// Publishes a run's coverage: to /metrics, the textfile and CloudWatch, as
// configured. The last success is remembered across runs (this process's,
// or the textfile's from an earlier one).
void publish_coverage(const SessionsConfig& config, const RunReport& report, std::optional<double>& last_success,
                      CoverageBoard& board, cloud::CloudWatchClient* cloudwatch) {
    CoverageRun run;
    run.now_seconds = unix_now();
    run.success = report.outcome == RunOutcome::done;
    if (report.outcome != RunOutcome::failed) run.selectors = coverage_of(config.selectors, report.plan);
    if (run.success) last_success = run.now_seconds;
    else if (!last_success && !config.metrics_textfile.empty())
        last_success = last_success_in(read_textfile(config.metrics_textfile));
    run.last_success_seconds = last_success;
    const std::string text = coverage_text(run);
    board.set(text);
    if (cloudwatch)
        if (const auto data = coverage_figures(run, config.cloudwatch_fleet); !data.empty())
            if (auto put = cloudwatch->put_metric_data(config.cloudwatch_namespace, data, std::chrono::system_clock::now());
                !put)
                say("sending the coverage to CloudWatch failed: " + put.error().describe());
    if (config.metrics_textfile.empty()) return;
    if (const auto written = write_textfile(config.metrics_textfile, text); !written)
        say("writing the coverage failed: " + written.error());
}

// The AWS clients of a run: EC2, and SSM when the selectors live there.
struct Clients {
    Clients(cloud::Ec2Options options, std::shared_ptr<cloud::CredentialProvider> credentials)
        : ec2(std::move(options), std::move(credentials)) {}
    cloud::Ec2Client ec2;
    std::unique_ptr<cloud::SsmClient> ssm;
    std::unique_ptr<cloud::CloudWatchClient> cloudwatch;
};

// Region, endpoints and credentials as the SDKs find them; nullptr after
// saying why.
std::unique_ptr<Clients> make_clients(const SessionsConfig& config, const cloud::EnvLookup& env) {
    const auto region = region_of(config, env);
    if (!region) return nullptr;
    cloud::Ec2Options options;
    options.region = *region;
    options.retry.max_attempts = static_cast<int>(config.max_attempts);
    options.cancel = &g_stop;
    if (!locate("EC2", config.endpoint, env, options.region, cloud::ec2_endpoint, options.endpoint)) return nullptr;
    cloud::SsmOptions ssm_options;
    ssm_options.region = options.region;
    ssm_options.retry = options.retry;
    ssm_options.cancel = &g_stop;
    if (!config.selectors_parameter.empty() &&
        !locate("SSM", config.ssm_endpoint, env, options.region, cloud::ssm_endpoint, ssm_options.endpoint))
        return nullptr;
    cloud::CloudWatchOptions cloudwatch_options{.region = options.region, .retry = options.retry, .cancel = &g_stop};
    if (!config.cloudwatch_namespace.empty() &&
        !locate("CLOUDWATCH", config.cloudwatch_endpoint, env, options.region, cloud::cloudwatch_endpoint,
                cloudwatch_options.endpoint))
        return nullptr;
    auto source = cloud::choose_credential_source(env);
    if (!source) {
        say("no AWS credentials: " + source.error());
        return nullptr;
    }
    auto credentials = std::make_shared<cloud::CredentialProvider>(std::move(*source));
    auto clients = std::make_unique<Clients>(options, credentials);
    if (!config.selectors_parameter.empty()) clients->ssm = std::make_unique<cloud::SsmClient>(ssm_options, credentials);
    if (!config.cloudwatch_namespace.empty())
        clients->cloudwatch = std::make_unique<cloud::CloudWatchClient>(cloudwatch_options, credentials);
    return clients;
}

// /metrics with the last run's coverage; nullptr after saying why.
std::unique_ptr<HttpServer> serve_coverage(const Endpoint& listen, CoverageBoard& board) {
    auto server = std::make_unique<HttpServer>([&board](const HttpRequest& r) {
        HttpResponse answer;
        if (r.path != "/metrics") {
            answer.status = 404;
            answer.body = "not found: /metrics only\n";
            return answer;
        }
        answer.content_type = "text/plain; version=0.0.4; charset=utf-8";
        answer.body = board.get();
        return answer;
    });
    if (const auto started = server->start(listen); !started) {
        say("metrics on " + listen.text + ": " + started.error());
        return nullptr;
    }
    say("serving coverage at http://" + listen.text + "/metrics");
    return server;
}

// Sleeps `seconds` and up to a tenth more (so collectors that started
// together drift apart), or until a signal. False when stopped.
bool pause(uint32_t seconds) {
    std::mt19937_64 random{std::random_device{}()};
    const auto total = std::chrono::milliseconds(seconds * 1000ull + random() % (seconds * 100ull + 1));
    const auto until = std::chrono::steady_clock::now() + total;
    while (!g_stop.load()) {
        if (std::chrono::steady_clock::now() >= until) return true;
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    return false;
}

}  // namespace

int main(int argc, char** argv) {
    const SessionsCommandLine cl = parse_sessions_command_line(argc, argv);
    // --help and --version answer whatever else the command line got wrong.
    if (cl.help) {
        std::cout << sessions_usage();
        return 0;
    }
    if (cl.version) {
        std::cout << version_line("mirrortap-sessions");
        return 0;
    }
    if (!cl.errors.empty()) return report_usage_errors("mirrortap-sessions", cl.errors);
    std::vector<std::string> errors;
    const SessionsConfig config = resolve_config(cl, errors);
    if (!errors.empty()) {
        for (const auto& e : errors) std::fprintf(stderr, "%s\n", e.c_str());
        say("nothing was changed");
        return 2;
    }
    const cloud::EnvLookup env = cloud::process_environment();
    if (!endpoints_acceptable(config, env)) return 2;
    if (cl.check_config) {
        std::cout << describe_config(config);
        return 0;
    }

    std::unique_ptr<Clients> clients = make_clients(config, env);
    if (!clients) return 2;
    struct sigaction sa {};
    sa.sa_handler = on_signal;
    sigaction(SIGTERM, &sa, nullptr);
    sigaction(SIGINT, &sa, nullptr);
    CoverageBoard board;
    std::unique_ptr<HttpServer> server;
    if (config.metrics_listen && !(server = serve_coverage(*config.metrics_listen, board))) return 2;
    std::optional<double> last_success;

    const bool dry_run = cl.dry_run;
    int status = 0;
    // Runs until a signal with every:, else once.
    for (uint64_t run = 0; run < UINT64_MAX && !g_stop.load(); ++run) {
        RunReport report;
        const std::optional<SessionsConfig> run_config = config_for_run(config, clients->ssm.get(), report);
        if (run_config) report = reconcile(*run_config, clients->ec2, dry_run);
        const SessionsConfig& used = run_config ? *run_config : config;
        if (report.outcome == RunOutcome::failed) {
            for (const auto& e : report.errors) say(e);
            say("nothing was changed");
            status = 1;
        } else {
            if (dry_run) std::cout << "dry run: nothing is changed\n";
            std::cout << render_plan(used.selectors, report.plan, !dry_run) << std::flush;
            status = report.outcome == RunOutcome::done ? 0 : 1;
        }
        if (!dry_run) publish_coverage(used, report, last_success, board, clients->cloudwatch.get());
        if (config.every_seconds == 0 || !pause(config.every_seconds)) break;
    }
    return status;
}
