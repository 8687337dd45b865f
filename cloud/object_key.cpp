#include "cloud/object_key.hpp"

#include <cstdio>

#include "cloud/aws_time.hpp"
#include "cloud/s3_address.hpp"
#include "support/text.hpp"

namespace mirrortap::cloud {

namespace {

// Whether `value` can stand as one path segment of a key.
mirrortap::Result<> check_segment(std::string_view what, std::string_view value, bool may_hold_equals) {
    if (value.empty()) return fail(std::string(what) + " is empty");
    if (value == "." || value == "..") return fail(std::string(what) + " may not be " + quote(value));
    if (value.find('/') != std::string_view::npos) return fail(std::string(what) + " " + quote(value) + " holds a '/'");
    if (!may_hold_equals && value.find('=') != std::string_view::npos)
        return fail(std::string(what) + " " + quote(value) + " holds a '=' (it would read as a partition)");
    if (has_control_character(value))
        return fail(std::string(what) + " " + quote(value) + " holds a control character");
    return {};
}

}  // namespace

mirrortap::Result<std::string> capture_object_key(const CaptureObject& object) {
    std::string_view prefix = object.prefix;
    while (prefix.starts_with('/')) prefix.remove_prefix(1);
    while (prefix.ends_with('/')) prefix.remove_suffix(1);
    if (has_control_character(prefix)) return fail("prefix " + quote(prefix) + " holds a control character");
    for (auto segment : {check_segment("session", object.session, false),
                         check_segment("collector id", object.collector_id, false),
                         check_segment("file name", object.file_name, true)})
        if (!segment) return fail(std::move(segment).error());
    if (object.tree != kPcapTree && object.tree != kFlowsTree)
        return fail("tree " + quote(object.tree) + " is neither pcap nor flows");
    using namespace std::chrono;
    const auto day = floor<days>(object.start);
    const year_month_day date{day};
    const auto hour = duration_cast<hours>(object.start - day).count();
    char partition[48];
    std::snprintf(partition, sizeof partition, "date=%04d-%02u-%02u/hour=%02d", static_cast<int>(date.year()),
                  static_cast<unsigned>(date.month()), static_cast<unsigned>(date.day()), static_cast<int>(hour));
    std::string key;
    if (!prefix.empty()) key.append(prefix).append("/");
    key.append(object.tree).append("/session=").append(object.session).append("/").append(partition);
    key.append("/collector=").append(object.collector_id).append("/").append(object.file_name);
    if (auto valid = check_object_key(key); !valid) return fail(std::move(valid).error());
    return key;
}

std::optional<std::chrono::sys_seconds> capture_file_start(std::string_view file_name) {
    // <session>-YYYYmmddTHHMMSSZ-NNNNNN.pcap; the session may hold '-' itself,
    // so the time is found from the end.
    constexpr std::string_view kSuffix = ".pcap";
    constexpr size_t kStamp = 16, kSeq = 6;  // 20240501T123456Z, 000001
    if (!file_name.ends_with(kSuffix)) return std::nullopt;
    file_name.remove_suffix(kSuffix.size());
    if (file_name.size() < kStamp + kSeq + 3) return std::nullopt;
    const std::string_view seq = file_name.substr(file_name.size() - kSeq);
    const std::string_view stamp = file_name.substr(file_name.size() - kSeq - 1 - kStamp, kStamp);
    if (file_name[file_name.size() - kSeq - 1] != '-' || file_name[file_name.size() - kSeq - 2 - kStamp] != '-')
        return std::nullopt;
    for (const char c : seq)
        if (c < '0' || c > '9') return std::nullopt;
    // The same instant in the form parse_aws_time reads.
    const std::string iso = std::string(stamp.substr(0, 4)) + "-" + std::string(stamp.substr(4, 2)) + "-" +
                            std::string(stamp.substr(6, 2)) + "T" + std::string(stamp.substr(9, 2)) + ":" +
                            std::string(stamp.substr(11, 2)) + ":" + std::string(stamp.substr(13, 2)) + "Z";
    if (stamp[8] != 'T' || stamp[15] != 'Z') return std::nullopt;
    const auto time = parse_aws_time(iso);
    if (!time) return std::nullopt;
    return std::chrono::floor<std::chrono::seconds>(*time);
}

}  // namespace mirrortap::cloud
