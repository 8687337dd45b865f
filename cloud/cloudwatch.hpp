// CloudWatch's Query API, as far as publishing a collector's own figures
// needs it: PutMetricData (Action=PutMetricData&Version=2010-08-01, a form
// POST to https://monitoring.REGION.amazonaws.com/ signed with SigV4 for the
// service "monitoring"). AWS takes at most 1000 data a request, each with at
// most 30 dimensions; errors come as <ErrorResponse><Error><Code/>, throttling
// as "Throttling". Requests are retried as the other Query APIs' are
// (query_api.hpp).
//
// One thread uses a CloudWatchClient at a time; the CredentialProvider may be shared.
#pragma once
#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "cloud/credentials.hpp"
#include "cloud/http.hpp"
#include "cloud/result.hpp"
#include "cloud/retry.hpp"
#include "cloud/s3_address.hpp"

namespace mirrortap::cloud {

// https://monitoring.REGION.amazonaws.com (.com.cn in China), or why not.
mirrortap::Result<std::string> cloudwatch_endpoint(std::string_view region);

// A namespace of our own: 1 to 255 of A-Z a-z 0-9 . - _ / # :, not AWS/... (AWS's own).
mirrortap::Result<std::string> parse_cloudwatch_namespace(std::string_view text);
// A dimension value: 1 to 255 characters, no control characters.
mirrortap::Result<std::string> parse_dimension_value(std::string_view text);

// AWS's limit on the data of one PutMetricData.
inline constexpr size_t kMaxDataPerPut = 1000;

struct MetricDimension {
    std::string name;
    std::string value;
    bool operator==(const MetricDimension&) const = default;
};

struct MetricDatum {
    std::string name;
    std::string unit;  // CloudWatch's: Count, Bytes, None, ...
    double value = 0;
    std::vector<MetricDimension> dimensions;
    bool operator==(const MetricDatum&) const = default;
};

// The forms of PutMetricData for `data` under `metric_namespace` at `timestamp`
// (ISO 8601, UTC, seconds), at most `per_request` data each, in order:
// Namespace, MetricData.member.N.{MetricName,Timestamp,Value,Unit,
// Dimensions.member.M.{Name,Value}} (N and M from 1).
std::vector<std::vector<QueryParam>> put_metric_data_forms(std::string_view metric_namespace,
                                                           const std::vector<MetricDatum>& data,
                                                           std::string_view timestamp,
                                                           size_t per_request = kMaxDataPerPut);

// 2026-12-07T08:49:39Z
std::string iso8601_seconds(std::chrono::system_clock::time_point t);

struct CloudWatchOptions {
    std::string endpoint;  // http(s)://host[:port], no path (cloudwatch_endpoint gives AWS's)
    std::string region;    // signs the requests
    RetryPolicy retry;
    HttpLimits limits = short_exchange_limits(std::chrono::seconds(5), std::chrono::seconds(20), 256 * 1024);
    const std::atomic<bool>* cancel = nullptr;
};

class CloudWatchClient {
public:
    CloudWatchClient(CloudWatchOptions options, std::shared_ptr<CredentialProvider> credentials);

    // Every datum, in as few requests as AWS allows, all stamped `at`. Stops
    // at the first request that fails for good (the data before it are in).
    Result<Done> put_metric_data(std::string_view metric_namespace, const std::vector<MetricDatum>& data,
                                 std::chrono::system_clock::time_point at);

    uint64_t requests() const { return requests_; }  // PutMetricData requests answered 200
    uint64_t retries() const { return retries_; }
    const CloudWatchOptions& options() const { return options_; }

private:
    CloudWatchOptions options_;
    std::shared_ptr<CredentialProvider> credentials_;
    HttpClient http_;
    uint64_t requests_ = 0;
    uint64_t retries_ = 0;
};

}  // namespace mirrortap::cloud
