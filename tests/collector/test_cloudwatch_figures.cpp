// What the collector sends to CloudWatch, from the families /metrics shows:
// counters as their rise since the last send, drops in all and by reason,
// gauges as they are, one dimension (Fleet) besides the reason.
#include <doctest/doctest.h>

#include "collector/cloudwatch_publisher.hpp"
#include "collector/metrics.hpp"

using namespace mirrortap;
using prometheus::ClientMetric;
using prometheus::MetricFamily;

namespace {

MetricFamily fam(const metrics::Def& d, std::vector<std::pair<std::vector<ClientMetric::Label>, double>> series) {
    MetricFamily f{d.name, d.help, d.type, {}};
    for (auto& [labels, v] : series) {
        ClientMetric m;
        m.label = labels;
        if (d.type == prometheus::MetricType::Counter) m.counter.value = v;
        else m.gauge.value = v;
        f.metric.push_back(m);
    }
    return f;
}

std::vector<MetricFamily> page(double received, double pcap_full_web, double pcap_full_ended, double socket_full,
                               double too_short) {
    return {
        fam(metrics::received_packets, {{{}, received}}),
        fam(metrics::socket_drops, {{{{"reason", "queue_full"}}, socket_full}, {{{"reason", "outer_fragment"}}, 0}}),
        fam(metrics::sink_dropped, {{{{"session", "web"}, {"sink", "pcap"}, {"reason", "queue_full"}}, pcap_full_web},
                                    {{{"session", "db"}, {"sink", "pcap"}, {"reason", "queue_full"}}, 1}}),
        fam(metrics::expired_sink_dropped, {{{{"sink", "pcap"}, {"reason", "queue_full"}}, pcap_full_ended}}),
        fam(metrics::decap_errors, {{{{"reason", "too_short"}}, too_short}, {{{"reason", "no_vni_flag"}}, 0}}),
        fam(metrics::pcap_disk_free, {{{}, 5e9}}),
        fam(metrics::healthy, {{{}, 1}}),
    };
}

// name + dimensions -> value
std::map<std::string, double> by_key(const std::vector<cloud::MetricDatum>& data) {
    std::map<std::string, double> out;
    for (const auto& d : data) {
        std::string key = d.name;
        for (const auto& dim : d.dimensions) key += " " + dim.name + "=" + dim.value;
        CHECK_MESSAGE(out.emplace(key, d.value).second, "sent twice: " << key);
    }
    return out;
}

}  // namespace

TEST_CASE("cloudwatch figures: the first send carries the totals since start, by reason where there are any") {
    SentTotals sent;
    const auto got = by_key(cloudwatch_figures(page(1000, 7, 2, 3, 4), "prod", sent));
    CHECK(got == std::map<std::string, double>{
                     {"PacketsReceived Fleet=prod", 1000},
                     {"PacketsDropped Fleet=prod", 13},  // 3 socket + 7 + 1 live + 2 ended sessions
                     {"PacketsDropped Fleet=prod Reason=socket:queue_full", 3},
                     {"PacketsDropped Fleet=prod Reason=pcap:queue_full", 10},
                     {"PacketsRefused Fleet=prod", 4},
                     {"PacketsRefused Fleet=prod Reason=decap:too_short", 4},
                     {"DiskFreeBytes Fleet=prod", 5e9},
                     {"Healthy Fleet=prod", 1},
                 });
}

TEST_CASE("cloudwatch figures: later sends carry the rise, a reason that did not rise is left out, the total is not") {
    SentTotals sent;
    cloudwatch_figures(page(1000, 7, 2, 3, 4), "prod", sent);
    const auto got = by_key(cloudwatch_figures(page(1500, 7, 5, 3, 4), "prod", sent));
    CHECK(got.at("PacketsReceived Fleet=prod") == 500);
    CHECK(got.at("PacketsDropped Fleet=prod") == 3);
    CHECK(got.at("PacketsDropped Fleet=prod Reason=pcap:queue_full") == 3);
    CHECK_FALSE(got.contains("PacketsDropped Fleet=prod Reason=socket:queue_full"));
    CHECK(got.at("PacketsRefused Fleet=prod") == 0);
    CHECK_FALSE(got.contains("PacketsRefused Fleet=prod Reason=decap:too_short"));
    const auto quiet = by_key(cloudwatch_figures(page(1500, 7, 5, 3, 4), "prod", sent));
    CHECK(quiet.at("PacketsReceived Fleet=prod") == 0);
    CHECK(quiet.at("PacketsDropped Fleet=prod") == 0);
}

TEST_CASE("cloudwatch figures: upload backlog only with uploads, units CloudWatch knows") {
    SentTotals sent;
    auto families = page(1, 0, 0, 0, 0);
    families.push_back(fam(metrics::upload_backlog_files, {{{}, 3}}));
    families.push_back(fam(metrics::upload_backlog_bytes, {{{}, 3e9}}));
    const auto data = cloudwatch_figures(families, "f", sent);
    const auto got = by_key(data);
    CHECK(got.at("UploadBacklogFiles Fleet=f") == 3);
    CHECK(got.at("UploadBacklogBytes Fleet=f") == 3e9);
    CHECK_FALSE(by_key(cloudwatch_figures(page(1, 0, 0, 0, 0), "f", sent)).contains("UploadBacklogFiles Fleet=f"));
    for (const auto& d : data) {
        CHECK(d.dimensions.size() <= 2);
        CHECK((d.unit == "Count" || d.unit == "Bytes" || d.unit == "None"));
    }
}
