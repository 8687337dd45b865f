#include <doctest/doctest.h>

#include "cloud/aws_time.hpp"
#include "cloud/object_key.hpp"
#include "why_not.hpp"

using namespace mirrortap::cloud;
using mirrortap::test::why_not;
using namespace std::chrono;

namespace {

sys_seconds at(int y, unsigned mo, unsigned d, int h, int mi, int s) {
    return sys_days(year_month_day{year{y}, month{mo}, day{d}}) + hours(h) + minutes(mi) + seconds(s);
}

std::string key_for(std::string_view prefix, std::string_view session, std::string_view collector,
                    std::string_view file, sys_seconds start) {
    const auto key = capture_object_key({prefix, session, collector, file, start});
    REQUIRE_MESSAGE(key, why_not(key));
    return *key;
}

std::string refusal(std::string_view prefix, std::string_view session, std::string_view collector,
                    std::string_view file) {
    const auto key = capture_object_key({prefix, session, collector, file, at(2024, 5, 1, 0, 0, 0)});
    REQUIRE_FALSE(key);
    CHECK_FALSE(key.error().empty());
    return key.error();
}

}  // namespace

TEST_CASE("object_key: Hive-style partitions by session, UTC date and hour, and collector") {
    CHECK(key_for("captures", "web", "i-0abc123", "web-20240501T130502Z-000007.pcap", at(2024, 5, 1, 13, 5, 2)) ==
          "captures/pcap/session=web/date=2024-05-01/hour=13/collector=i-0abc123/web-20240501T130502Z-000007.pcap");
    CHECK(key_for("", "vni-501", "host-a", "f.pcap", at(1999, 12, 31, 23, 59, 59)) ==
          "pcap/session=vni-501/date=1999-12-31/hour=23/collector=host-a/f.pcap");
    CHECK(key_for("/prod/eu/", "web", "c", "f.pcap", at(2024, 1, 2, 0, 0, 0)) ==
          "prod/eu/pcap/session=web/date=2024-01-02/hour=00/collector=c/f.pcap");
}

TEST_CASE("object_key: a flow index lies in the flows tree, at its pcap's partitions") {
    CaptureObject index{"captures", "web", "i-1", "web-20240501T130502Z-000007.pcap.flows.json.gz",
                        at(2024, 5, 1, 13, 5, 2), kFlowsTree};
    const auto key = capture_object_key(index);
    REQUIRE_MESSAGE(key, why_not(key));
    CHECK(*key == "captures/flows/session=web/date=2024-05-01/hour=13/collector=i-1/"
                  "web-20240501T130502Z-000007.pcap.flows.json.gz");
    index.tree = "other";
    const auto refused = capture_object_key(index);
    REQUIRE_FALSE(refused);
    CHECK(refused.error().find("neither pcap nor flows") != std::string::npos);
}

TEST_CASE("object_key: parts that would break the layout are refused") {
    CHECK(refusal("", "", "c", "f").find("session is empty") != std::string::npos);
    CHECK(refusal("", "a/b", "c", "f").find("'/'") != std::string::npos);
    CHECK(refusal("", "a=b", "c", "f").find("'='") != std::string::npos);
    CHECK(refusal("", "s", "c=d", "f").find("collector id") != std::string::npos);
    CHECK(refusal("", "s", "c", "..").find("file name") != std::string::npos);
    CHECK(refusal("", "s", "c", "a/b").find("file name") != std::string::npos);
    CHECK(refusal("", "s\n", "c", "f").find("control character") != std::string::npos);
    CHECK(refusal("p\t", "s", "c", "f").find("prefix") != std::string::npos);
    CHECK(refusal(std::string(1000, 'p'), "s", "c", "f").find("1024") != std::string::npos);
    // A file name may hold '=' (it is the last segment, never read as a partition).
    CHECK(capture_object_key({"", "s", "c", "a=b.pcap", at(2024, 1, 1, 0, 0, 0)}));
}

TEST_CASE("object_key: a capture file's start time comes from its name") {
    CHECK(capture_file_start("web-20240501T130502Z-000007.pcap") == at(2024, 5, 1, 13, 5, 2));
    // Session names may hold '-' themselves.
    CHECK(capture_file_start("vni-501-20231231T235959Z-123456.pcap") == at(2023, 12, 31, 23, 59, 59));
    for (const char* bad : {"web-20240501T130502Z-000007.pcap.part", "web-20240501T130502Z-00007.pcap",
                            "web-20240501T130502-000007.pcap", "web-20241301T130502Z-000007.pcap",
                            "web-20240501X130502Z-000007.pcap", "20240501T130502Z-000007.pcap", "current",
                            "web_20240501T130502Z_000007.pcap", "web-2024050aT130502Z-000007.pcap"}) {
        CAPTURE(bad);
        CHECK_FALSE(capture_file_start(bad));
    }
}

TEST_CASE("aws_time: ISO 8601 UTC times as AWS writes them") {
    const auto t = parse_aws_time("2024-05-01T13:05:02Z");
    REQUIRE(t);
    CHECK(floor<seconds>(*t) == at(2024, 5, 1, 13, 5, 2));
    const auto fraction = parse_aws_time("2024-05-01T13:05:02.250Z");
    REQUIRE(fraction);
    CHECK(*fraction - *t == milliseconds(250));
    // One RFC 3339 reader for every room: another zone is the same instant.
    CHECK(parse_aws_time("2024-05-01T14:05:02+01:00") == t);
    for (const char* bad : {"", "2024-05-01", "2024-05-01T13:05:02", "2024-02-30T00:00:00Z", "2024-05-01T24:00:00Z",
                            "2024-05-01T13:05:02.Z", "2024-05-01T13:05:02ZZ"}) {
        CAPTURE(bad);
        CHECK_FALSE(parse_aws_time(bad));
    }
}
