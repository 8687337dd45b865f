// The collector's own figures in CloudWatch, for operators who have the AWS
// console and no Prometheus: every cloudwatch.interval_seconds, on its thread
// ("mt-cloudwatch"), the figures the exporter reads for /metrics (so nothing
// keeps a tally of its own) become one PutMetricData (cloud/cloudwatch.hpp):
//
//   PacketsReceived          Count  received in the interval
//   PacketsDropped           Count  lost on the way to the sinks, in all (always
//                                   sent, so an alarm sees 0) and by Reason
//                                   (socket:queue_full, pcap:queue_full, ...)
//                                   when there were any
//   PacketsRefused           Count  not taken (decap errors, sources and VNIs
//                                   not allowed): in all, and by Reason
//   DiskFreeBytes            Bytes  free space under the capture directory
//   UploadBacklogFiles/Bytes        waiting for S3 (with uploads)
//   Healthy                  None   1 while /healthz would answer 200
//
// Every figure has the dimension Fleet (cloudwatch.fleet), and only the
// by-Reason ones one more: CloudWatch adds up the collectors of a fleet, an
// alarm needs no per-instance metric, and the custom metrics billed stay a
// dozen whatever the fleet's size. A failed send is logged (once until the
// next success) and its interval's counts go with the next one.
#pragma once
#include <prometheus/metric_family.h>

#include <atomic>
#include <condition_variable>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "base/result.hpp"
#include "cloud/cloudwatch.hpp"
#include "cloud/environment.hpp"
#include "config/config.hpp"

namespace mirrortap {

// Packets counted as dropped, in all since the start, by "sink:reason" or
// "socket:reason" (pcap:queue_full, socket:queue_full), live and ended sessions
// together: PacketsDropped's reasons here, a manifest's `dropped` (upload/manifest.hpp).
std::map<std::string, double> packets_dropped_by_reason(const std::vector<prometheus::MetricFamily>& families);

// Counter totals already sent, by figure and reason: what the next interval subtracts.
using SentTotals = std::map<std::string, double>;

// The data of one interval from the exporter's families: counters as their
// rise since `sent` (then `sent` holds the new totals), gauges as they are.
std::vector<cloud::MetricDatum> cloudwatch_figures(const std::vector<prometheus::MetricFamily>& families,
                                                   const std::string& fleet, SentTotals& sent);

struct CloudWatchPublish {
    CloudWatchConfig config;
    cloud::EnvLookup env = cloud::process_environment();  // AWS_* settings (credentials, region, endpoint)
    std::function<std::vector<prometheus::MetricFamily>()> collect;
    std::function<void(const std::string&)> log;  // one line, no newline
};

class CloudWatchPublisher {
public:
    explicit CloudWatchPublisher(CloudWatchPublish publish);
    ~CloudWatchPublisher();  // stop()
    CloudWatchPublisher(const CloudWatchPublisher&) = delete;
    CloudWatchPublisher& operator=(const CloudWatchPublisher&) = delete;

    // Starts the thread, or says why not (a malformed AWS_* setting, no
    // credential source): a configured publisher that cannot work is refused
    // at start. Nothing happens while config.enabled() is false.
    Result<> start();
    // Stops a send under way and the thread; sends nothing more.
    void stop();

private:
    void run();

    CloudWatchPublish publish_;
    std::unique_ptr<cloud::CredentialSource> source_;
    std::atomic<bool> stopping_{false};
    std::mutex mutex_;
    std::condition_variable wake_;
    std::thread thread_;
};

}  // namespace mirrortap
