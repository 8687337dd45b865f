// /metrics, /healthz and /readyz over the small HTTP server of support/ (one
// thread, bounded connections), so that idle or slow clients never keep a
// load balancer's health check waiting. Health is answered on the server's
// thread; the metrics page is made on a thread of its own (`mt-metrics`) and
// shared by every scrape arriving together (support/shared_page.hpp). Counts
// are read from the workers at scrape time and serialized with prometheus-cpp;
// the hot path keeps no registry.
#pragma once
#include <prometheus/metric_family.h>

#include <memory>
#include <string>
#include <vector>

#include "collector/collector.hpp"
#include "collector/health.hpp"
#include "support/http_server.hpp"
#include "support/shared_page.hpp"
#include "upload/uploader.hpp"

namespace mirrortap {

// Scrapes arriving within this of the last page's start share the next page:
// under a flood of scrapes the page is made at most four times a second, and
// each scrape still sees figures read after it arrived.
inline constexpr std::chrono::milliseconds kMetricsPageInterval{250};

// check_health for the collector's workers, now.
Health check_health(const Collector& collector, bool draining, bool terminating = false);

class Exporter {
public:
    // `uploader`: whose figures /metrics shows (mirrortap_upload_*); nullptr when uploads are off. Outlives us.
    explicit Exporter(const Collector& collector, const Uploader* uploader = nullptr);
    ~Exporter();
    // Binds the listen address from the config; fails with a one-line error.
    // Starts no thread: start() does, once root is dropped.
    Result<> open();
    // Serves what open() bound: the server's thread and the page's.
    void start();
    // The figures /metrics shows, read now (also what cloudwatch_publisher.hpp sends).
    std::vector<prometheus::MetricFamily> collect() const;
    // From SIGTERM on, /readyz answers 503 so that the load balancer stops sending.
    void set_draining() { draining_ = true; }
    // From the Auto Scaling group's Terminated on (collector/lifecycle.hpp), /readyz answers 503 with why.
    void set_terminating() { terminating_ = true; }

private:
    class Metrics;
    // On the server's thread: health at once, /metrics from the page's thread.
    void answer(const HttpRequest& request, HttpReply reply) const;

    const Collector& collector_;
    std::shared_ptr<Metrics> metrics_;
    std::atomic<bool> draining_{false};
    std::atomic<bool> terminating_{false};
    std::vector<std::string> accepted_auth_;
    std::unique_ptr<SharedPage> page_;    // joined after the server stops, before what it reads goes
    std::unique_ptr<HttpServer> server_;  // last: stopped before what it reads
};

}  // namespace mirrortap
