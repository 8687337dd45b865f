#include "collector/cloudwatch_publisher.hpp"

#include <algorithm>

#include "cloud/credentials.hpp"
#include "cloud/imds.hpp"
#include "cloud/query_api.hpp"
#include "collector/metrics.hpp"
#include "support/own_thread.hpp"

namespace mirrortap {

namespace {

using prometheus::ClientMetric;
using prometheus::MetricFamily;

std::string label(const ClientMetric& m, const std::string& name) {
    for (const auto& l : m.label)
        if (l.name == name) return l.value;
    return "";
}

double value_of(const MetricFamily& f, const ClientMetric& m) {
    return f.type == prometheus::MetricType::Counter ? m.counter.value : m.gauge.value;
}

const MetricFamily* family(const std::vector<MetricFamily>& families, const metrics::Def& def) {
    for (const MetricFamily& f : families)
        if (f.name == def.name) return &f;
    return nullptr;
}

// Totals by reason of every series of the families, the reason named `prefix` + the label(s).
void add_by_reason(std::map<std::string, double>& totals, const std::vector<MetricFamily>& families,
                   const metrics::Def& def, const std::string& where) {
    const MetricFamily* f = family(families, def);
    if (!f) return;
    for (const ClientMetric& m : f->metric) {
        const std::string sink = label(m, "sink");
        totals[(sink.empty() ? where : sink) + ":" + label(m, "reason")] += value_of(*f, m);
    }
}

}  // namespace

std::map<std::string, double> packets_dropped_by_reason(const std::vector<MetricFamily>& families) {
    std::map<std::string, double> dropped;
    add_by_reason(dropped, families, metrics::socket_drops, "socket");
    // Live sessions and ended ones: together, every packet a sink ever dropped.
    add_by_reason(dropped, families, metrics::sink_dropped, "sink");
    add_by_reason(dropped, families, metrics::expired_sink_dropped, "sink");
    return dropped;
}

std::vector<cloud::MetricDatum> cloudwatch_figures(const std::vector<MetricFamily>& families, const std::string& fleet,
                                                   SentTotals& sent) {
    const std::vector<cloud::MetricDimension> by_fleet{{"Fleet", fleet}};
    std::vector<cloud::MetricDatum> out;
    // A counter's rise since the last send; counters only grow while the process lives.
    const auto rise = [&](const std::string& key, double total) {
        const double before = sent.contains(key) ? sent[key] : 0;
        sent[key] = total;
        return std::max(0.0, total - before);
    };
    const auto gauge = [&](const metrics::Def& def, const char* name, const char* unit) {
        if (const MetricFamily* f = family(families, def); f && !f->metric.empty())
            out.push_back({name, unit, value_of(*f, f->metric.front()), by_fleet});
    };
    // In all, always (an alarm then sees 0, not missing data), and by reason when any.
    const auto counted = [&](const char* name, const std::map<std::string, double>& by_reason) {
        double all = 0;
        std::vector<cloud::MetricDatum> reasons;
        for (const auto& [reason, total] : by_reason) {
            const double n = rise(std::string(name) + "|" + reason, total);
            all += n;
            if (n > 0) reasons.push_back({name, "Count", n, {by_fleet[0], {"Reason", reason}}});
        }
        out.push_back({name, "Count", all, by_fleet});
        out.insert(out.end(), reasons.begin(), reasons.end());
    };

    double received = 0;
    if (const MetricFamily* f = family(families, metrics::received_packets))
        for (const ClientMetric& m : f->metric) received += value_of(*f, m);
    out.push_back({"PacketsReceived", "Count", rise("PacketsReceived", received), by_fleet});

    std::map<std::string, double> refused;
    add_by_reason(refused, families, metrics::decap_errors, "decap");
    counted("PacketsDropped", packets_dropped_by_reason(families));
    counted("PacketsRefused", refused);

    gauge(metrics::pcap_disk_free, "DiskFreeBytes", "Bytes");
    gauge(metrics::upload_backlog_files, "UploadBacklogFiles", "Count");
    gauge(metrics::upload_backlog_bytes, "UploadBacklogBytes", "Bytes");
    gauge(metrics::healthy, "Healthy", "None");
    return out;
}

CloudWatchPublisher::CloudWatchPublisher(CloudWatchPublish publish) : publish_(std::move(publish)) {
    if (!publish_.log) publish_.log = [](const std::string&) {};
}

CloudWatchPublisher::~CloudWatchPublisher() { stop(); }

Result<> CloudWatchPublisher::start() {
    CloudWatchConfig& config = publish_.config;
    if (!config.enabled() || thread_.joinable()) return {};
    // The SDKs' endpoint variables, when the config names none.
    if (config.endpoint.empty()) {
        const auto from_env = cloud::endpoint_from_environment(publish_.env, "CLOUDWATCH");
        if (!from_env) return fail("cloudwatch: " + from_env.error());
        config.endpoint = *from_env;
    }
    auto source = cloud::choose_credential_source(publish_.env);
    if (!source) return fail("cloudwatch: " + source.error());
    source_ = std::move(*source);
    thread_ = std::thread([this] { run(); });
    return {};
}

void CloudWatchPublisher::stop() {
    {
        std::lock_guard lock(mutex_);
        stopping_ = true;
    }
    wake_.notify_all();
    if (thread_.joinable()) thread_.join();
}

void CloudWatchPublisher::run() {
    block_signals_and_name("mt-cloudwatch");
    const CloudWatchConfig& config = publish_.config;
    auto credentials = std::make_shared<cloud::CredentialProvider>(std::move(source_));
    std::unique_ptr<cloud::CloudWatchClient> client;
    SentTotals sent;
    std::string last_said;
    const auto say_once = [&](const std::string& line) {
        if (line != last_said) publish_.log(line);
        last_said = line;
    };
    const auto interval = std::chrono::seconds(config.interval_seconds);
    for (auto next = std::chrono::steady_clock::now() + interval;; next += interval) {
        {
            std::unique_lock lock(mutex_);
            if (wake_.wait_until(lock, next, [&] { return stopping_.load(); })) return;
        }
        // Found on first use, as the region may need IMDS, which may not answer at boot yet.
        if (!client) {
            std::string region = config.region;
            if (region.empty()) {
                auto found = cloud::default_region(publish_.env);
                if (!found) {
                    say_once("cloudwatch: no region: " + found.error().describe());
                    continue;
                }
                region = found.value();
            }
            const Result<std::string> endpoint =
                config.endpoint.empty() ? cloud::cloudwatch_endpoint(region) : config.endpoint;
            if (!endpoint) {
                say_once("cloudwatch: " + endpoint.error());
                continue;
            }
            client = std::make_unique<cloud::CloudWatchClient>(
                cloud::CloudWatchOptions{.endpoint = *endpoint, .region = region, .cancel = &stopping_}, credentials);
        }
        // Counts of a failed send are not lost: `sent` moves only with a success.
        SentTotals attempt = sent;
        const auto data = cloudwatch_figures(publish_.collect(), config.fleet, attempt);
        const auto put = client->put_metric_data(config.metric_namespace, data, std::chrono::system_clock::now());
        if (put) {
            sent = std::move(attempt);
            say_once("cloudwatch: publishing to " + config.metric_namespace + " (Fleet " + config.fleet + ") every " +
                     std::to_string(config.interval_seconds) + " s");
        } else if (!stopping_) {
            say_once("cloudwatch: " + put.error().describe());
        }
        // Behind by more than an interval (a slow send): the next one starts from now.
        next = std::max(next, std::chrono::steady_clock::now() - interval);
    }
}

}  // namespace mirrortap
