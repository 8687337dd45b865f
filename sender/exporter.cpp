#include "sender/exporter.hpp"

#include <prometheus/client_metric.h>
#include <prometheus/collectable.h>
#include <prometheus/metric_family.h>
#include <prometheus/text_serializer.h>

#include "sender/metrics.hpp"
#include "support/text.hpp"
#include "support/version.hpp"

namespace mirrortap::sender {

namespace {

using prometheus::ClientMetric;
using prometheus::MetricFamily;

struct Family {
    MetricFamily f;
    explicit Family(const metrics::Def& d) { f = {d.name, d.help, d.type, {}}; }
    void value(double v, std::vector<ClientMetric::Label> labels = {}) {
        f.metric.emplace_back();
        ClientMetric& m = f.metric.back();
        m.label = std::move(labels);
        if (f.type == prometheus::MetricType::Counter) m.counter.value = v;
        else m.gauge.value = v;
    }
};

}  // namespace

class Exporter::Metrics : public prometheus::Collectable {
public:
    explicit Metrics(const SenderStats& s) : s_(s) {}

    std::vector<MetricFamily> Collect() const override {
        Family build(metrics::build_info), cap_p(metrics::captured_packets), cap_b(metrics::captured_bytes),
            pdrop(metrics::pcap_dropped), mir_p(metrics::mirrored_packets), mir_b(metrics::mirrored_bytes),
            filt(metrics::filtered_packets), rules(metrics::rule_decisions), trunc(metrics::truncated_packets),
            drop(metrics::dropped_packets), sent_d(metrics::sent_datagrams), sent_b(metrics::sent_bytes),
            calls(metrics::sendmmsg_calls), unreach(metrics::target_unreachable), sess(metrics::sessions), res(metrics::resolutions),
            rel(metrics::reloads), path(metrics::target_path_failures), up(metrics::target_up),
            reseg(metrics::resegmented_packets);
        build.value(1, {{"version", MIRRORTAP_VERSION}});
        {
            std::lock_guard lock(s_.lock);
            for (const auto& i : s_.interfaces) {
                cap_p.value(double(i->captured_packets.get()), {{"interface", i->name}});
                cap_b.value(double(i->captured_bytes.get()), {{"interface", i->name}});
                pdrop.value(double(i->pcap_dropped.get()), {{"interface", i->name}, {"reason", "kernel"}});
                pdrop.value(double(i->pcap_ifdropped.get()), {{"interface", i->name}, {"reason", "interface"}});
            }
            for (const auto& t : s_.targets) {
                for (const auto& [f, name] : kPathFailureNames)
                    path.value(double(t->failures[size_t(f)].get()), {{"target", t->name}, {"reason", std::string(name)}});
                up.value(double(t->up.get()), {{"target", t->name}});
            }
            for (const auto& ss : s_.sessions) {
                const std::string vni = std::to_string(ss->vni);
                mir_p.value(double(ss->mirrored_packets.get()), {{"session", ss->name}, {"vni", vni}});
                mir_b.value(double(ss->mirrored_bytes.get()), {{"session", ss->name}, {"vni", vni}});
                for (const auto& r : ss->rules) {
                    rules.value(double(r->decisions.get()), {{"session", ss->name},
                                                             {"vni", vni},
                                                             {"direction", std::string(kDirectionNames(r->direction))},
                                                             {"rule_number", std::to_string(r->rule_number)},
                                                             {"action", std::string(kRuleActionNames(r->action))}});
                }
            }
        }
        for (const auto& [v, name] : kFilteredVerdictNames)
            filt.value(double(s_.filtered[size_t(v)].get()), {{"verdict", std::string(name)}});
        for (const auto& [r, name] : kDropReasonNames)
            drop.value(double(s_.dropped[size_t(r)].get()), {{"reason", std::string(name)}});
        trunc.value(double(s_.truncated_packet_length.get()), {{"reason", "packet_length"}});
        trunc.value(double(s_.truncated_mtu.get()), {{"reason", "mtu"}});
        sent_d.value(double(s_.sent_datagrams.get()));
        sent_b.value(double(s_.sent_bytes.get()));
        calls.value(double(s_.sendmmsg_calls.get()));
        unreach.value(double(s_.target_unreachable.get()));
        reseg.value(double(s_.resegmented.get()));
        sess.value(double(s_.configured_sessions.get()));
        res.value(double(s_.resolutions_ok.get()), {{"result", "ok"}});
        res.value(double(s_.resolutions_failed.get()), {{"result", "failed"}});
        rel.value(double(s_.reloads_ok.get()), {{"result", "ok"}});
        rel.value(double(s_.reloads_failed.get()), {{"result", "failed"}});
        std::vector<MetricFamily> out;
        for (Family* f : {&build, &cap_p, &cap_b, &pdrop, &mir_p, &mir_b, &filt, &rules, &trunc, &drop, &sent_d,
                          &sent_b, &calls, &unreach, &path, &up, &reseg, &sess, &res, &rel})
            out.push_back(std::move(f->f));
        return out;
    }

private:
    const SenderStats& s_;
};

Exporter::Exporter(const SenderStats& stats) : stats_(stats), metrics_(std::make_shared<Metrics>(stats)) {}

HttpResponse Exporter::healthz() const {
    // Red while a target has been unreachable past the grace period: the
    // mirrors are going nowhere, however well capturing goes.
    std::string down;
    {
        std::lock_guard lock(stats_.lock);
        for (const auto& t : stats_.targets)
            if (t->up.get() == 0) down += "target " + t->name + " unreachable: " + t->problem + "\n";
    }
    if (down.empty()) return {200, "text/plain; charset=utf-8", "ok\n", {}};
    return {503, "text/plain; charset=utf-8", down, {}};
}
Exporter::~Exporter() = default;

Result<> Exporter::start(const Endpoint& listen) {
    server_ = std::make_unique<HttpServer>([this](const HttpRequest& r) -> HttpResponse {
        if (r.path == "/healthz") return healthz();
        if (r.path != "/metrics") return {404, "text/plain; charset=utf-8", "not found: try /metrics or /healthz\n", {}};
        return {200, "text/plain; version=0.0.4; charset=utf-8",
                prometheus::TextSerializer().Serialize(metrics_->Collect()), {}};
    });
    if (auto started = server_->start(listen); !started)
        return fail("metrics on " + quote(listen.text) + ": " + started.error());
    return {};
}

}  // namespace mirrortap::sender
