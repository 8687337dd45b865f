#include "collector/exporter.hpp"

#include <prometheus/collectable.h>
#include <prometheus/client_metric.h>
#include <prometheus/metric_family.h>
#include <prometheus/text_serializer.h>
#include <sys/statvfs.h>

#include <atomic>
#include <ctime>
#include <limits>
#include <optional>

#include "collector/metrics.hpp"
#include "collector/session_series.hpp"
#include "sinks/flow_index.hpp"
#include "support/version.hpp"
#include "support/clock.hpp"

namespace mirrortap {

namespace {

std::optional<uint64_t> disk_free_bytes(const std::string& dir) {
    struct statvfs s{};
    if (statvfs(dir.c_str(), &s) != 0) return std::nullopt;
    return uint64_t(s.f_bavail) * s.f_frsize;
}

using prometheus::ClientMetric;
using prometheus::MetricFamily;

// Builds one family from its single definition in metrics.hpp.
struct Family {
    MetricFamily f;
    explicit Family(const metrics::Def& d) { f = {d.name, d.help, d.type, {}}; }
    ClientMetric& add(std::vector<ClientMetric::Label> labels = {}) {
        f.metric.emplace_back();
        f.metric.back().label = std::move(labels);
        return f.metric.back();
    }
    void value(double v, std::vector<ClientMetric::Label> labels = {}) {
        ClientMetric& m = add(std::move(labels));
        if (f.type == prometheus::MetricType::Counter) m.counter.value = v;
        else m.gauge.value = v;
    }
};

}  // namespace

// The released sessions of every worker, summed by kind of sink (both counter banks).
struct ExpiredTotals {
    uint64_t sessions = 0, packets = 0, bytes = 0;
    std::array<uint64_t, kSinkKindCount> fed{}, written{};
    std::array<std::array<uint64_t, kSinkDropReasonNames.size()>, kSinkKindCount> dropped{};
    void add(const ExpiredSessions& e) {
        sessions += e.sessions.get();
        packets += e.packets.get();
        bytes += e.bytes.get();
        for (size_t kind = 0; kind < kSinkKindCount; ++kind) {
            fed[kind] += e.fed[kind].get();
            for (uint32_t bank = 0; bank < kCounterBanks; ++bank) {
                const SinkCounters& k = e.sinks[counter_slot(kind, bank)];
                written[kind] += k.written.get();
                for (size_t r = 0; r < kSinkDropReasonNames.size(); ++r) dropped[kind][r] += k.dropped[r].get();
            }
        }
    }
};

Health check_health(const Collector& c, bool draining, bool terminating) {
    return check_health(c.workers(), draining, monotonic_ns(), terminating);
}

class Exporter::Metrics : public prometheus::Collectable {
public:
    Metrics(const Collector& c, const std::atomic<bool>& draining, const Uploader* uploader)
        : c_(c), draining_(draining), uploader_(uploader) {}

    std::vector<MetricFamily> Collect() const override {
        Family build(metrics::build_info), received(metrics::received_packets), received_bytes(metrics::received_bytes),
            decap(metrics::decap_errors), socket_drops(metrics::socket_drops), ring_refused(metrics::ring_refused),
            sessions(metrics::sessions),
            session_packets(metrics::session_packets), session_bytes(metrics::session_bytes),
            session_sources(metrics::session_sources), written(metrics::sink_written), dropped(metrics::sink_dropped),
            buffered(metrics::sink_buffered), rotated(metrics::pcap_files_rotated),
            pcap_bytes(metrics::pcap_bytes_written), disk_free(metrics::pcap_disk_free),
            index_files(metrics::pcap_index_files), index_failures(metrics::pcap_index_failures),
            index_incomplete(metrics::pcap_index_incomplete),
            batch(metrics::batch_duration), alive(metrics::workers_alive), healthy(metrics::healthy),
            expired_sessions(metrics::sessions_expired), expired_packets(metrics::expired_session_packets),
            expired_bytes(metrics::expired_session_bytes), expired_fed(metrics::expired_sink_packets),
            expired_written(metrics::expired_sink_written), expired_dropped(metrics::expired_sink_dropped),
            sessions_folded(metrics::sessions_folded);
        ExpiredTotals expired;
        uint32_t kinds_running = 0;  // bit k: some worker runs a sink of kind k

        build.value(1, {{"version", MIRRORTAP_VERSION}});
        uint64_t rx = 0, rx_bytes = 0, kernel_drops = 0, outer_fragments = 0, sessions_seen = 0, workers_up = 0;
        std::array<uint64_t, kOuterRefusalNames.size()> outer_refused{};
        std::array<uint64_t, kRefusalNames.size()> refused{};
        std::array<uint64_t, kBatchSecondsBuckets.size() + 1> buckets{};
        uint64_t batches = 0, batch_ns = 0, files_rotated = 0, bytes_written = 0;
        const uint64_t now = monotonic_ns();
        const auto config = c_.config();
        // Every table held still at once: no session is released (its counters
        // moved to expired()) or its slot reused while we read and place them,
        // so the sessions, the expired totals and the places add up.
        std::vector<std::unique_lock<std::mutex>> holds;
        std::vector<LiveSession> live;
        std::optional<SessionFigures> other_ended;  // released sessions that were in session="other"
        for (const auto& w : c_.workers()) {
            const WorkerCounters& k = w->counters();
            rx += k.received_packets.get();
            rx_bytes += k.received_bytes.get();
            for (size_t r = 0; r < kRefusalNames.size(); ++r) refused[r] += k.refused[r].get();
            for (size_t b = 0; b < buckets.size(); ++b) buckets[b] += k.batch_buckets[b].get();
            batches += k.batch_count.get();
            batch_ns += k.batch_ns_sum.get();
            const SourceStats source = w->source_stats();
            kernel_drops += source.kernel_drops;
            outer_fragments += source.outer_fragments;
            for (size_t r = 0; r < kOuterRefusalNames.size(); ++r) outer_refused[r] += source.refused[r];
            workers_up += worker_alive(*w, now) ? 1 : 0;
            uint32_t worker_kinds = 0;
            w->each_sink([&](const Sink& sink) {
                worker_kinds |= 1u << kind_of_slot(sink.slot());
                if (sink.name() != "pcap") return;
                const SinkStats s = sink.stats();
                files_rotated += s.files_rotated;
                bytes_written += s.bytes_written;
            });
            kinds_running |= worker_kinds;
            const SessionTable& table = w->sessions();
            holds.push_back(table.hold());
            const uint32_t n = table.size();
            for (uint32_t i = 0; i < n; ++i) {
                if (!table.in_use(i)) continue;
                const Session& s = table.at(i);
                live.push_back({&s, s.name(), s.vni, figures_of(s, worker_kinds), SeriesPlace::undecided});
            }
            expired.add(table.expired());
            // Released from session="other": their figures stay there; only the count of ended sessions takes them.
            const ExpiredSessions& in_other = table.expired_in_other();
            expired.sessions += in_other.sessions.get();
            if (in_other.sessions.get() > 0) {
                if (!other_ended) other_ended.emplace();
                other_ended->add(figures_of(in_other, worker_kinds));
            }
        }
        sessions_seen = live.size();
        const size_t folded = place(live, *config);
        holds.clear();  // what is read of the sessions from here on was copied while they were held
        add_sessions(live, other_ended, kinds_running, session_packets, session_bytes, session_sources, written,
                     dropped, buffered);
        sessions_folded.value(double(folded));
        expired_sessions.value(double(expired.sessions));
        expired_packets.value(double(expired.packets));
        expired_bytes.value(double(expired.bytes));
        for (size_t kind = 0; kind < kSinkKindCount; ++kind) {
            // As for live sessions: the kinds of sink that run now.
            if (!((kinds_running >> kind) & 1)) continue;
            const ClientMetric::Label sink{"sink", std::string(kSinkNames[kind])};
            expired_fed.value(double(expired.fed[kind]), {sink});
            expired_written.value(double(expired.written[kind]), {sink});
            for (size_t r = 0; r < kSinkDropReasonNames.size(); ++r)
                expired_dropped.value(double(expired.dropped[kind][r]),
                                      {sink, {"reason", std::string(kSinkDropReasonNames(SinkDropReason(r)))}});
        }
        received.value(double(rx));
        received_bytes.value(double(rx_bytes));
        // Every reason is always present, so that rate() works from the first error on.
        for (size_t r = 0; r < kRefusalNames.size(); ++r)
            decap.value(double(refused[r]), {{"reason", std::string(kRefusalNames(Refusal(r)))}});
        // Every reason always present, as for decap errors.
        socket_drops.value(double(kernel_drops), {{"reason", "queue_full"}});
        socket_drops.value(double(outer_fragments), {{"reason", "outer_fragment"}});
        for (size_t r = 0; r < kOuterRefusalNames.size(); ++r)
            ring_refused.value(double(outer_refused[r]), {{"reason", std::string(kOuterRefusalNames(OuterRefusal(r)))}});
        sessions.value(double(sessions_seen));
        rotated.value(double(files_rotated));
        pcap_bytes.value(double(bytes_written));
        const FlowIndexTotals& indexes = flow_index_totals();
        index_files.value(double(indexes.written.load(std::memory_order_relaxed)));
        index_failures.value(double(indexes.failed.load(std::memory_order_relaxed)));
        index_incomplete.value(double(indexes.incomplete.load(std::memory_order_relaxed)));
        if (config->pcap.enabled)
            if (auto free = disk_free_bytes(config->pcap.dir)) disk_free.value(double(*free));
        ClientMetric& h = batch.add();
        h.histogram.sample_count = batches;
        h.histogram.sample_sum = double(batch_ns) * 1e-9;
        uint64_t cumulative = 0;
        for (size_t b = 0; b < kBatchSecondsBuckets.size(); ++b) {
            cumulative += buckets[b];
            h.histogram.bucket.push_back({cumulative, kBatchSecondsBuckets[b]});
        }
        h.histogram.bucket.push_back({batches, std::numeric_limits<double>::infinity()});
        alive.value(double(workers_up));
        healthy.value(check_health(c_, draining_.load()).live ? 1 : 0);

        Family upload_files(metrics::upload_files), upload_failures(metrics::upload_request_failures),
            upload_bytes(metrics::upload_bytes),
            upload_backlog_files(metrics::upload_backlog_files), upload_backlog_bytes(metrics::upload_backlog_bytes),
            upload_last_success(metrics::upload_last_success);
        if (uploader_) {
            const UploadStats u = uploader_->stats();
            for (const auto& [outcome, name] : kUploadOutcomeNames)
                upload_files.value(double(u.files[size_t(outcome)]), {{"result", std::string(name)}});
            for (const auto& [why, name] : cloud::kRequestFailureNames)
                upload_failures.value(double(u.request_failures[size_t(why)]), {{"reason", std::string(name)}});
            upload_bytes.value(double(u.bytes));
            upload_backlog_files.value(double(u.backlog_files));
            upload_backlog_bytes.value(double(u.backlog_bytes));
            upload_last_success.value(double(u.last_success_unix_seconds));
        }

        std::vector<MetricFamily> out;
        for (Family* f : {&build, &received, &received_bytes, &decap, &socket_drops, &ring_refused, &sessions, &sessions_folded,
                          &session_packets,
                          &session_bytes, &session_sources, &written, &dropped, &buffered, &expired_sessions,
                          &expired_packets, &expired_bytes, &expired_fed, &expired_written, &expired_dropped,
                          &rotated, &pcap_bytes, &index_files, &index_failures, &index_incomplete, &disk_free,
                          &batch, &alive, &healthy, &upload_files, &upload_failures, &upload_bytes, &upload_backlog_files,
                          &upload_backlog_bytes, &upload_last_success})
            if (!f->f.metric.empty()) out.push_back(std::move(f->f));
        return out;
    }

private:
    // A live session as read under its table's hold.
    struct LiveSession {
        const Session* session;  // only while held
        std::string name;
        uint32_t vni;
        SessionFigures figures;
        SeriesPlace place;
    };

    // Decides where each live session shows (under every table's hold, as
    // release reads the place): returns how many are in session="other".
    static size_t place(std::vector<LiveSession>& live, const Config& config) {
        std::vector<SeriesCandidate> candidates;
        candidates.reserve(live.size());
        for (const LiveSession& l : live)
            candidates.push_back({l.figures.packets, config.name_for(l.vni) != nullptr,
                                  SeriesPlace(l.session->series_place.load(std::memory_order_relaxed))});
        const size_t folded = place_sessions(candidates, config.metrics.max_session_series);
        for (size_t i = 0; i < live.size(); ++i) {
            live[i].place = candidates[i].place;
            live[i].session->series_place.store(uint8_t(candidates[i].place), std::memory_order_relaxed);
        }
        return folded;
    }

    static void add_series(const SessionFigures& f, const ClientMetric::Label& session, const ClientMetric::Label& vni,
                           Family& packets, Family& bytes, Family& sources, Family& written, Family& dropped,
                           Family& buffered) {
        packets.value(double(f.packets), {session, vni});
        bytes.value(double(f.bytes), {session, vni});
        sources.value(double(f.sources), {session, vni});
        for (size_t kind = 0; kind < kSinkKindCount; ++kind) {
            if (!((f.feeds >> kind) & 1)) continue;
            const SinkFigures& k = f.sinks[kind];
            const ClientMetric::Label sink{"sink", std::string(kSinkNames[kind])};
            written.value(double(k.written), {sink, session, vni});
            buffered.value(double(k.buffered), {sink, session, vni});
            for (size_t r = 0; r < kSinkDropReasonNames.size(); ++r)
                dropped.value(double(k.dropped[r]),
                              {sink, session, vni, {"reason", std::string(kSinkDropReasonNames(SinkDropReason(r)))}});
        }
    }

    // A series for each session with a place of its own, and one for the sum
    // of the others (live, and released since they were put there).
    static void add_sessions(const std::vector<LiveSession>& live, const std::optional<SessionFigures>& other_ended,
                             uint32_t kinds_running, Family& packets, Family& bytes, Family& sources, Family& written,
                             Family& dropped, Family& buffered) {
        std::optional<SessionFigures> other = other_ended;
        for (const LiveSession& l : live) {
            if (l.place == SeriesPlace::other) {
                if (!other) other.emplace();
                other->add(l.figures);
                continue;
            }
            add_series(l.figures, {"session", l.name}, {"vni", std::to_string(l.vni)}, packets,
                       bytes, sources, written, dropped, buffered);
        }
        if (!other) return;
        other->feeds &= kinds_running;
        add_series(*other, {"session", std::string(kOtherSessions)}, {"vni", ""}, packets, bytes, sources, written,
                   dropped, buffered);
    }

    const Collector& c_;
    const std::atomic<bool>& draining_;
    const Uploader* uploader_;
};

namespace {

std::string base64(std::string_view in) {
    static constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    std::string out;
    for (size_t i = 0; i < in.size(); i += 3) {
        uint32_t v = uint32_t(uint8_t(in[i])) << 16;
        if (i + 1 < in.size()) v |= uint32_t(uint8_t(in[i + 1])) << 8;
        if (i + 2 < in.size()) v |= uint32_t(uint8_t(in[i + 2]));
        out += kAlphabet[(v >> 18) & 63];
        out += kAlphabet[(v >> 12) & 63];
        out += i + 1 < in.size() ? kAlphabet[(v >> 6) & 63] : '=';
        out += i + 2 < in.size() ? kAlphabet[v & 63] : '=';
    }
    return out;
}

}  // namespace

// Authorization header values that open /metrics; empty when it is open to all.
std::vector<std::string> accepted_authorizations(const MetricsAuth& auth) {
    std::vector<std::string> accepted;
    if (!auth.username.empty()) accepted.push_back("Basic " + base64(auth.username + ":" + auth.password));
    if (!auth.bearer_token.empty()) accepted.push_back("Bearer " + auth.bearer_token);
    return accepted;
}

void Exporter::answer(const HttpRequest& request, HttpReply reply) const {
    if (request.path == "/healthz" || request.path == "/readyz") {
        // Open to all: load balancers' checks carry no credentials. Answered
        // here on the server's thread, never behind a page being made.
        const Health h = check_health(collector_, draining_.load(), terminating_.load());
        const bool ok = request.path == "/healthz" ? h.live : h.ready;
        return reply.send({ok ? 200 : 503, "text/plain; charset=utf-8", ok ? "ok\n" : h.why + "\n", {}, {}});
    }
    if (request.path != "/metrics")
        return reply.send({404, "text/plain; charset=utf-8", "not found: try /metrics, /healthz or /readyz\n", {}, {}});
    bool allowed = accepted_auth_.empty();
    for (const auto& ok : accepted_auth_) allowed |= same_secret(request.authorization, ok);
    if (!allowed)
        return reply.send({401, "text/plain; charset=utf-8", "credentials required\n",
                           {{"WWW-Authenticate", "Basic realm=\"mirrortap\""}}, {}});
    page_->get([reply](SharedPage::Page page) {
        if (!page) return reply.send({500, "text/plain; charset=utf-8", "internal error: the page could not be made\n", {}, {}});
        reply.send({200, "text/plain; version=0.0.4; charset=utf-8", {}, {}, std::move(page)});
    });
}

Exporter::Exporter(const Collector& collector, const Uploader* uploader)
    : collector_(collector),
      metrics_(std::make_shared<Metrics>(collector, draining_, uploader)),
      accepted_auth_(accepted_authorizations(collector.config()->metrics_auth)) {}

Exporter::~Exporter() = default;

std::vector<MetricFamily> Exporter::collect() const { return metrics_->Collect(); }

Result<> Exporter::open() {
    const auto listen = collector_.config()->metrics_listen;
    if (!listen) return {};
    server_ = std::make_unique<HttpServer>(
        HttpServer::DeferringHandler([this](const HttpRequest& r, HttpReply reply) { answer(r, std::move(reply)); }));
    if (auto bound = server_->bind(*listen); !bound)
        return fail("cannot serve metrics on " + listen->text + ": " + bound.error());
    return {};
}

void Exporter::start() {
    if (!server_) return;
    // Before the server's thread: its first /metrics asks the page.
    page_ = std::make_unique<SharedPage>(
        [metrics = metrics_] { return prometheus::TextSerializer().Serialize(metrics->Collect()); },
        kMetricsPageInterval, "mt-metrics");
    server_->run();
}

}  // namespace mirrortap
