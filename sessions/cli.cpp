#include "sessions/cli.hpp"

#include "sessions/settings.hpp"
#include "support/parse.hpp"
#include "support/text.hpp"

namespace mirrortap::sessions {

namespace {

const FlagTable<SessionsConfig>& setting_flags() {
    static const FlagTable<SessionsConfig> flags = flag_table(sessions_settings());
    return flags;
}

const std::vector<FlagSpec>& all_flag_specs() {
    static const std::vector<FlagSpec> specs = [] {
        std::vector<FlagSpec> s = setting_flags().specs;
        for (const SettingDoc& a : sessions_action_docs()) s.push_back({std::string(a.flag), !a.value_name.empty()});
        return s;
    }();
    return specs;
}

void apply_action(std::string_view flag, const std::string& value, SessionsCommandLine& cl) {
    auto take = [&](auto parsed, auto& into) {
        if (parsed) into = *parsed;
        else cl.errors.push_back("bad " + std::string(flag) + ": " + parsed.error());
        cl.selector_given = true;
    };
    Selector& s = cl.selector;
    if (flag == "--help") cl.help = true;
    else if (flag == "--version") cl.version = true;
    else if (flag == "--check-config") cl.check_config = true;
    else if (flag == "--once") cl.once = true;
    else if (flag == "--dry-run") cl.dry_run = true;
    else if (flag == "--config") cl.config_path = value;
    else if (flag == "--select") {
        auto f = parse_select(value);
        if (f) s.select.push_back(std::move(*f));
        else cl.errors.push_back("bad --select: " + f.error());
        cl.selector_given = true;
    }
    else if (flag == "--target") take(parse_target_id(value), s.target_id);
    else if (flag == "--filter") take(parse_filter_id(value), s.filter_id);
    else if (flag == "--vni") {
        take(parse_vni(value), s.vni);
    }
    else if (flag == "--session-number") take(parse_session_number(value), s.session_number);
    else if (flag == "--packet-length") take(parse_packet_length(value), s.packet_length);
    else if (flag == "--name") take(parse_selector_name(value), s.name);
}

std::string optional_number(const std::optional<uint32_t>& n, std::string_view none) {
    return n ? std::to_string(*n) : std::string(none);
}

}  // namespace

SessionsCommandLine parse_sessions_command_line(int argc, const char* const* argv) {
    SessionsCommandLine cl;
    cl.selector.name = "command-line";
    const size_t settings = setting_flags().settings.size();
    CommandLine parsed = parse_command_line(argc, argv, all_flag_specs());
    cl.errors = std::move(parsed.errors);
    for (const FlagUse& use : parsed.uses) {
        if (use.spec < settings) cl.setting_uses.push_back(use);
        else apply_action(long_flag_name(sessions_action_docs()[use.spec - settings].flag), use.value, cl);
    }
    SessionsConfig scratch;
    for (std::string& e : apply_flags(setting_flags(), cl.setting_uses, scratch)) cl.errors.push_back(std::move(e));
    return cl;
}

SessionsConfig resolve_config(const SessionsCommandLine& cl, std::vector<std::string>& errors) {
    SessionsConfig config;
    if (!cl.config_path.empty()) {
        ConfigLoad load = load_config_file(cl.config_path);
        for (const ConfigError& e : load.errors) errors.push_back(format_error(cl.config_path, e));
        if (!load.errors.empty()) return config;
        config = std::move(load.config);
    }
    for (std::string& e : apply_flags(setting_flags(), cl.setting_uses, config)) errors.push_back(std::move(e));
    if (cl.selector_given) config.selectors = {cl.selector};
    if (cl.once) config.every_seconds = 0;
    for (std::string& p : check_config(config)) errors.push_back(std::move(p));
    return config;
}

std::string sessions_usage() {
    std::vector<std::string_view> file_only;
    for (const auto& s : sessions_settings())
        if (s.flag.empty()) file_only.push_back(s.key);
    return R"(Usage: mirrortap-sessions [ -c config.yaml ] [ --once | --every duration ] [ --dry-run ]
                          [ --select Name=tag:tier,Values=web ]... --target tmt-ID
                          --filter tmf-ID --vni n [ --session-number n ] [ --packet-length n ]

Keeps VPC Traffic Mirroring sessions true to selectors: every network interface
a selector's filters name gets a session to its target; sessions it made
(tag mirrortap:selector) whose interface no longer matches are removed;
sessions it did not make are never touched. Prints the plan like terraform
plan: + create, = keep, - remove, ! cannot (with the reason).

)" + render_help(sessions_docs(), sessions_setting_groups()) +
           "\n" + wrapped_words("Only in the config file:", file_only) + R"(
Exit status: 0 the run completed, 1 a change failed or nothing could be
planned, 2 usage or configuration errors (nothing was changed).
)";
}

std::string describe_config(const SessionsConfig& config) {
    std::string out;
    for (const Selector& s : config.selectors) {
        out += s.describe() + ": target " + s.target_id + ", filter " + s.filter_id + ", vni " +
               optional_number(s.vni, "?") + ", session number " + std::to_string(s.session_number) +
               ", packet length " + optional_number(s.packet_length, "whole") + "\n";
        for (const auto& f : s.select) out += "  select " + printable(select_text(f)) + "\n";
    }
    if (!config.selectors_parameter.empty())
        out += "selectors: from the SSM parameter " + config.selectors_parameter + ", read at every run\n";
    out += config.every_seconds ? "every " + std::to_string(config.every_seconds) + " s\n" : "once\n";
    return out;
}

}  // namespace mirrortap::sessions
