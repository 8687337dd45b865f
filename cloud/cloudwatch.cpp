#include "cloud/cloudwatch.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <ctime>

#include "cloud/query_api.hpp"
#include "support/text.hpp"

namespace mirrortap::cloud {

namespace {

constexpr std::string_view kCloudWatchApiVersion = "2010-08-01";

// Shortest text that reads back as the same double; CloudWatch refuses NaN
// and infinities, and counts above 2^53 lose nothing a dashboard shows.
std::string number_text(double v) {
    if (!std::isfinite(v)) v = 0;
    char buf[32];
    if (v == std::floor(v) && std::fabs(v) < 9.007199254740992e15) std::snprintf(buf, sizeof buf, "%.0f", v);
    else std::snprintf(buf, sizeof buf, "%.17g", v);
    return buf;
}

}  // namespace

mirrortap::Result<std::string> parse_cloudwatch_namespace(std::string_view text) {
    constexpr std::string_view allowed = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789.-_/#:";
    if (text.empty() || text.size() > 255 || text.find_first_not_of(allowed) != std::string_view::npos ||
        text.starts_with("AWS/")) {
        return fail(quote(text) + " is not a namespace of our own (1 to 255 of A-Z a-z 0-9 . - _ / # :, not AWS/...)");
    }
    return std::string(text);
}

mirrortap::Result<std::string> parse_dimension_value(std::string_view text) {
    if (text.empty() || text.size() > 255 || has_control_character(text)) {
        return fail(quote(text) + " is not a dimension value (1 to 255 characters, no control characters)");
    }
    return std::string(text);
}

mirrortap::Result<std::string> cloudwatch_endpoint(std::string_view region) {
    return regional_endpoint("monitoring", region);
}

std::string iso8601_seconds(std::chrono::system_clock::time_point t) {
    const std::time_t seconds = std::chrono::system_clock::to_time_t(t);
    std::tm utc{};
    gmtime_r(&seconds, &utc);
    char buf[32];
    std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &utc);
    return buf;
}

std::vector<std::vector<QueryParam>> put_metric_data_forms(std::string_view metric_namespace,
                                                           const std::vector<MetricDatum>& data,
                                                           std::string_view timestamp, size_t per_request) {
    std::vector<std::vector<QueryParam>> forms;
    per_request = std::max<size_t>(1, std::min(per_request, kMaxDataPerPut));
    for (size_t first = 0; first < data.size(); first += per_request) {
        std::vector<QueryParam> form{{"Action", "PutMetricData"},
                                     {"Version", std::string(kCloudWatchApiVersion)},
                                     {"Namespace", std::string(metric_namespace)}};
        for (size_t i = first; i < std::min(data.size(), first + per_request); ++i) {
            const MetricDatum& d = data[i];
            const std::string member = "MetricData.member." + std::to_string(i - first + 1) + ".";
            form.push_back({member + "MetricName", d.name});
            form.push_back({member + "Timestamp", std::string(timestamp)});
            form.push_back({member + "Value", number_text(d.value)});
            if (!d.unit.empty()) form.push_back({member + "Unit", d.unit});
            for (size_t j = 0; j < d.dimensions.size(); ++j) {
                const std::string dim = member + "Dimensions.member." + std::to_string(j + 1) + ".";
                form.push_back({dim + "Name", d.dimensions[j].name});
                form.push_back({dim + "Value", d.dimensions[j].value});
            }
        }
        forms.push_back(std::move(form));
    }
    return forms;
}

CloudWatchClient::CloudWatchClient(CloudWatchOptions options, std::shared_ptr<CredentialProvider> credentials)
    : options_(std::move(options)), credentials_(std::move(credentials)) {
    http_.set_cancel_flag(options_.cancel);
}

Result<Done> CloudWatchClient::put_metric_data(std::string_view metric_namespace, const std::vector<MetricDatum>& data,
                                               std::chrono::system_clock::time_point at) {
    const auto forms = put_metric_data_forms(metric_namespace, data, iso8601_seconds(at));
    for (size_t n = 0; n < forms.size(); ++n) {
        const std::string body = canonical_query(forms[n]);
        QueryApiCall call;
        call.request = [&](const Credentials& credentials) {
            return query_api_request(options_.endpoint, options_.region, "monitoring", body, credentials, options_.limits);
        };
        auto answer = perform_with_retries({http_, *credentials_, options_.retry, options_.cancel, &retries_}, call);
        if (!answer) {
            answer.error().context = "PutMetricData " + std::to_string(n + 1) + " of " + std::to_string(forms.size()) +
                                     " (" + std::string(metric_namespace) + ")";
            return fail(answer.error());
        }
        ++requests_;
    }
    return Done{};
}

}  // namespace mirrortap::cloud
