// Every mirrortap-sessions setting, declared once (settings.cpp): the YAML
// loader, the command line, --help and the manual page read this table.
#pragma once
#include <string_view>
#include <vector>

#include "sessions/config.hpp"
#include "support/settings.hpp"

namespace mirrortap::sessions {

const SettingsTable<SessionsConfig>& sessions_settings();
const std::vector<std::string_view>& sessions_setting_groups();
// The command line's own flags (--config, --once, --dry-run, the one
// selector of --select ..., --check-config, ...).
const std::vector<SettingDoc>& sessions_action_docs();
std::vector<SettingDoc> sessions_docs();

inline constexpr std::string_view kSessionsSynopsis =
    "[--config FILE] [--once | --every DURATION] [--dry-run] [--select FILTER... --target tmt-ID --filter tmf-ID "
    "--vni N [--session-number N] [--packet-length N]]";
inline constexpr std::string_view kSessionsDescription =
    "mirrortap-sessions keeps VPC Traffic Mirroring sessions true to selectors: every network interface a "
    "selector's DescribeNetworkInterfaces filters name gets a session to the selector's target, with its "
    "filter, VNI, session number and packet length. Sessions it creates carry the tag mirrortap:selector; "
    "those whose interface no longer matches are removed; sessions it did not create are never touched. "
    "Creates carry a ClientToken derived from the interface, target, session number and session settings, so "
    "that reconcilers on several collectors at once make one session per interface.\n\n"
    "Each run prints its plan the way terraform plan does: + create, = keep, - remove, ! cannot (with the "
    "reason: an instance type AWS does not mirror, three sessions already on the interface, the session "
    "quota, a missing permission, throttling). --dry-run prints it and changes nothing. For an interface "
    "AWS cannot mirror it prints the mirrortap-sender command that would cover the host.\n\n"
    "Exit status: 0 the run completed (interfaces that cannot be mirrored included), 1 a change failed or "
    "nothing could be planned, 2 usage or configuration errors (nothing was changed).";

}  // namespace mirrortap::sessions
