// Coverage as a number: how many interfaces each selector names, how many
// have a session to its target, and why the rest do not. Served on
// mirrortap-sessions' own /metrics (--metrics-listen) when it runs as a
// service (--every): that is how the collectors run it, and Prometheus then
// scrapes it like the collector, with no node_exporter on the hosts. Run
// once from a timer of your own, it writes the same text for
// node_exporter's textfile collector (--metrics-textfile), which keeps the
// last run's figures, and when the last good one was, between runs.
// Metric names and help are declared here once.
#pragma once
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.hpp"
#include "cloud/cloudwatch.hpp"
#include "sessions/plan.hpp"

namespace mirrortap::sessions {

inline constexpr std::string_view kMetricSelected = "mirrortap_coverage_interfaces_selected";
inline constexpr std::string_view kMetricMirrored = "mirrortap_coverage_interfaces_mirrored";
inline constexpr std::string_view kMetricNotMirrored = "mirrortap_coverage_interfaces_not_mirrored";
inline constexpr std::string_view kMetricCreated = "mirrortap_coverage_last_run_created";
inline constexpr std::string_view kMetricRemoved = "mirrortap_coverage_last_run_removed";
inline constexpr std::string_view kMetricRunSuccess = "mirrortap_coverage_last_run_success";
inline constexpr std::string_view kMetricRunTime = "mirrortap_coverage_last_run_timestamp_seconds";
inline constexpr std::string_view kMetricSuccessTime = "mirrortap_coverage_last_success_timestamp_seconds";

struct CoverageRun {
    std::vector<Coverage> selectors;  // empty when nothing could be planned
    bool success = false;             // planned and every change made
    double now_seconds = 0;           // Unix time of this run
    std::optional<double> last_success_seconds;  // of this run when a success, else of an earlier one
};

// The Prometheus text exposition of a run. Every reason is written for
// every selector (0 when none), so that an alert sees a reason appear.
std::string coverage_text(const CoverageRun& run);

// The same coverage for CloudWatch: per selector (dimensions Fleet,
// Selector) InterfacesSelected, InterfacesMirrored and InterfacesNotMirrored,
// and InterfacesNotMirrored of all selectors with Fleet alone, which an alarm
// watches. Nothing when nothing could be planned.
std::vector<cloud::MetricDatum> coverage_figures(const CoverageRun& run, const std::string& fleet);

// The last success time written in an earlier file's text, if any.
std::optional<double> last_success_in(std::string_view text);

// Replaces `path` with `text`: a new file beside it, written, synced and
// renamed over it, so node_exporter never reads half a file. Neither the
// directory's last component nor the file is followed if it is a link.
// Or why not.
Result<> write_textfile(const std::string& path, std::string_view text);
// The current file's text, "" when there is none (or it is a link).
std::string read_textfile(const std::string& path);

}  // namespace mirrortap::sessions
