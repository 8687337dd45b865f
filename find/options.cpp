#include "find/options.hpp"

namespace mirrortap::find {

namespace {
constexpr std::string_view kWhat = "What to search";
constexpr std::string_view kOutput = "Output";
constexpr std::string_view kStore = "S3";
constexpr std::string_view kOther = "Other";
}  // namespace

const std::vector<SettingDoc>& find_docs() {
    // In FindFlag's order.
    static const std::vector<SettingDoc> docs = {
        {.flag = "--from", .value_name = "DIR|s3://BUCKET/PREFIX", .default_text = "/var/lib/mirrortap/captures",
         .group = kWhat, .help = "a collector's pcap directory, or an S3 prefix its uploads went to\n(repeatable)"},
        {.flag = "--session", .value_name = "NAME", .group = kWhat,
         .help = "only this session (repeatable; default all)"},
        {.flag = "--since", .value_name = "TIME", .group = kWhat,
         .help = "packets at or after TIME: RFC 3339 (2026-12-01T10:02:00Z)\nor relative to now (-15m, -2h, -1d)"},
        {.flag = "--until", .value_name = "TIME", .group = kWhat, .help = "packets at or before TIME"},
        {.flag = "-w,--write", .value_name = "FILE", .group = kOutput,
         .help = "write the pcap to FILE instead of standard output"},
        {.flag = "--follow", .group = kOutput,
         .help = "live: follow the files being written in each DIR across rotations\nuntil Ctrl-C, flushed "
                 "batch by batch\n(mirrortap-find --follow --session web 'port 443' | wireshark -k -i -)"},
        {.flag = "--s3-endpoint", .value_name = "URL", .group = kStore,
         .help = "an S3-compatible store (also AWS_ENDPOINT_URL_S3)"},
        {.flag = "--region", .value_name = "REGION", .default_text = "us-east-1", .group = kStore,
         .help = "the bucket's region (also AWS_REGION)"},
        {.flag = "--allow-insecure-endpoint", .group = kStore,
         .help = "accept a plain http:// store on another host than this one\n(signed requests and captures "
                 "then cross the network in clear; warned about)"},
        {.flag = "-h,--help", .group = kOther, .help = "print this help and exit"},
        {.flag = "--version", .group = kOther, .help = "print the version and exit"},
    };
    return docs;
}

const std::vector<std::string_view>& find_groups() {
    static const std::vector<std::string_view> groups = {kWhat, kOutput, kStore, kOther};
    return groups;
}

std::vector<FlagSpec> find_flags() {
    std::vector<FlagSpec> flags;
    for (const SettingDoc& d : find_docs()) flags.push_back({std::string(d.flag), !d.value_name.empty()});
    return flags;
}

}  // namespace mirrortap::find
