// PutMetricData's form as CloudWatch's Query API documents it; the signed
// requests themselves are checked against a stand-in (test_cloud.py).
#include <doctest/doctest.h>

#include <limits>

#include "cloud/cloudwatch.hpp"

using namespace mirrortap::cloud;

namespace {

std::string param(const std::vector<QueryParam>& form, const std::string& name) {
    for (const auto& p : form)
        if (p.name == name) return p.value;
    return "<absent>";
}

}  // namespace

TEST_CASE("cloudwatch: a figure's name, time, value, unit and dimensions, numbered from 1") {
    const std::vector<MetricDatum> data{
        {"PacketsDropped", "Count", 12, {{"Fleet", "mirrortap"}, {"Reason", "pcap:queue_full"}}},
        {"DiskFreeBytes", "Bytes", 1.5e12, {{"Fleet", "mirrortap"}}},
        {"Ratio", "", 0.25, {}},
    };
    const auto forms = put_metric_data_forms("Mirrortap", data, "2026-12-07T08:49:39Z");
    REQUIRE(forms.size() == 1);
    const auto& f = forms[0];
    CHECK(param(f, "Action") == "PutMetricData");
    CHECK(param(f, "Version") == "2010-08-01");
    CHECK(param(f, "Namespace") == "Mirrortap");
    CHECK(param(f, "MetricData.member.1.MetricName") == "PacketsDropped");
    CHECK(param(f, "MetricData.member.1.Timestamp") == "2026-12-07T08:49:39Z");
    CHECK(param(f, "MetricData.member.1.Value") == "12");
    CHECK(param(f, "MetricData.member.1.Unit") == "Count");
    CHECK(param(f, "MetricData.member.1.Dimensions.member.1.Name") == "Fleet");
    CHECK(param(f, "MetricData.member.1.Dimensions.member.2.Value") == "pcap:queue_full");
    CHECK(param(f, "MetricData.member.2.Value") == "1500000000000");
    CHECK(param(f, "MetricData.member.2.Dimensions.member.2.Name") == "<absent>");
    CHECK(param(f, "MetricData.member.3.Value") == "0.25");
    CHECK(param(f, "MetricData.member.3.Unit") == "<absent>");  // CloudWatch's default, None
    CHECK(param(f, "MetricData.member.4.MetricName") == "<absent>");
}

TEST_CASE("cloudwatch: more figures than a request takes go in several, each numbered from 1") {
    std::vector<MetricDatum> data(2500, MetricDatum{"F", "Count", 1, {}});
    const auto forms = put_metric_data_forms("N", data, "2026-01-01T00:00:00Z");
    REQUIRE(forms.size() == 3);
    CHECK(param(forms[1], "MetricData.member.1000.MetricName") == "F");
    CHECK(param(forms[1], "MetricData.member.1001.MetricName") == "<absent>");
    CHECK(param(forms[2], "MetricData.member.500.MetricName") == "F");
    CHECK(param(forms[2], "MetricData.member.501.MetricName") == "<absent>");
    CHECK(put_metric_data_forms("N", data, "t", 0).size() == 2500);  // at least one a request
    CHECK(put_metric_data_forms("N", {}, "t").empty());
}

TEST_CASE("cloudwatch: values CloudWatch refuses are sent as 0, times as UTC seconds") {
    const auto forms = put_metric_data_forms("N", {{"F", "None", std::numeric_limits<double>::quiet_NaN(), {}}}, "t");
    CHECK(param(forms[0], "MetricData.member.1.Value") == "0");
    CHECK(iso8601_seconds(std::chrono::system_clock::from_time_t(1765097379)) == "2025-12-07T08:49:39Z");
    CHECK(cloudwatch_endpoint("eu-north-1").value_or("") == "https://monitoring.eu-north-1.amazonaws.com");
    CHECK(cloudwatch_endpoint("cn-north-1").value_or("") == "https://monitoring.cn-north-1.amazonaws.com.cn");
    CHECK_FALSE(cloudwatch_endpoint("EU/1"));
}
