// mirrortap-find's command line, declared once: the flag parser, --help and
// the manual page all read this table.
#pragma once
#include <string_view>
#include <vector>

#include "support/command_line.hpp"
#include "support/settings.hpp"

namespace mirrortap::find {

// Positions in find_docs(), and so in find_flags().
enum FindFlag { kFrom, kSession, kSince, kUntil, kWrite, kFollow, kEndpoint, kRegion, kAllowInsecure, kHelp, kVersion };

inline constexpr std::string_view kFindSynopsis =
    "[--from DIR|s3://BUCKET/PREFIX]... [--session NAME]... [--since TIME] [--until TIME] [-w FILE] "
    "[--follow] [BPF EXPRESSION]";
inline constexpr std::string_view kFindDescription =
    "The packets of the collectors' captures that match a libpcap expression (as tcpdump takes it, "
    "applied to the inner frames), from every source and file, merged by timestamp into one pcap "
    "(nanosecond) on standard output or FILE. Flow indexes (<file>.pcap.flows.json.gz) decide which "
    "files and byte ranges are read; without one, the whole pcap is read.\n\n"
    "What was read (files, bytes, from where) goes to standard error, with a progress bar when that "
    "is a terminal. Exit status: 0 done, 1 failed, 2 usage.";

const std::vector<SettingDoc>& find_docs();
const std::vector<std::string_view>& find_groups();
std::vector<FlagSpec> find_flags();

}  // namespace mirrortap::find
