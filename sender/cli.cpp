#include "sender/cli.hpp"

#include "sender/settings.hpp"
#include "support/text.hpp"

namespace mirrortap::sender {

namespace {

const FlagTable<SenderConfig>& setting_flags() {
    static const FlagTable<SenderConfig> flags = flag_table(sender_settings());
    return flags;
}

// The settings' flags, then the actions': FlagUse::spec indexes this list.
const std::vector<FlagSpec>& all_flag_specs() {
    static const std::vector<FlagSpec> specs = [] {
        std::vector<FlagSpec> s = setting_flags().specs;
        for (const SettingDoc& a : sender_action_docs()) s.push_back({std::string(a.flag), !a.value_name.empty()});
        return s;
    }();
    return specs;
}

// One action's use: its value read, or an error naming the flag.
void apply_action(std::string_view flag, const std::string& value, SenderCommandLine& cl) {
    auto take = [&](auto parsed, auto& into) {
        if (parsed) into = static_cast<std::remove_reference_t<decltype(into)>>(*parsed);
        else cl.errors.push_back("bad " + std::string(flag) + ": " + parsed.error());
    };
    if (flag == "--help") cl.help = true;
    else if (flag == "--version") cl.version = true;
    else if (flag == "--check-config") cl.check_config = true;
    else if (flag == "--accept-all") cl.accept_all = true;
    else if (flag == "--config") cl.config_path = value;
    else if (flag == "--import-aws-filter") cl.aws_filter_files.push_back(value);
    else if (flag == "--explain") cl.explain_path = value;
    else if (flag == "--vni") take(parse_vni(value), cl.vni);
    else if (flag == "--session-number") take(parse_uint(value, kMinSessionNumber, kMaxSessionNumber), cl.session_number);
    else if (flag == "--packet-length") take(parse_packet_length(value), cl.packet_length);
    else if (flag == "--local-mac") take(parse_mac(value), cl.local_mac);
}

}  // namespace

SenderCommandLine parse_sender_command_line(int argc, const char* const* argv) {
    SenderCommandLine cl;
    const size_t settings = setting_flags().settings.size();
    CommandLine parsed = parse_command_line(argc, argv, all_flag_specs());
    cl.errors = std::move(parsed.errors);
    for (const FlagUse& use : parsed.uses) {
        if (use.spec < settings) cl.setting_uses.push_back(use);
        else apply_action(long_flag_name(sender_action_docs()[use.spec - settings].flag), use.value, cl);
    }
    // A bad value for a setting's flag is a usage error too, found now rather
    // than after the config file was read.
    SenderConfig scratch;
    for (std::string& e : apply_setting_flags(cl, scratch)) cl.errors.push_back(std::move(e));
    return cl;
}

std::vector<std::string> apply_setting_flags(const SenderCommandLine& cl, SenderConfig& config) {
    return apply_flags(setting_flags(), cl.setting_uses, config);
}

std::string sender_usage() {
    std::vector<std::string_view> file_only, restart_only;
    for (const auto& s : sender_settings()) {
        if (s.flag.empty()) file_only.push_back(s.key);
        if (s.on_reload == OnReload::restart) restart_only.push_back(s.key);
    }
    return R"(Usage: mirrortap-sender [ -c config.yaml ] [ -i interface ]... [ -t host[:port] ]
                        [ --mtu bytes ] [ --max-rate rate ] [ --metrics-listen addr:port ]
                        [ --import-aws-filter file ]... [ --vni n [ --packet-length n ] ]
                        [ --check-config ] [ --explain file.pcap [ --local-mac mac ] ]

Mirrors what this host's interfaces send and receive to a VXLAN target (a
mirrortap collector, or an NLB in front of several), with the filters and
sessions of AWS VPC Traffic Mirroring: rules in rule_number order, first match
decides, no match is not mirrored; sessions in session_number order, a packet
goes to the first that accepts it, once. Flags override the config file.

)" + render_help(sender_docs(), sender_setting_groups()) +
           "\n" + wrapped_words("Only in the config file:", file_only) +
           R"((sender/README.md lists every key with its flag, default and meaning.)

SIGHUP reloads the config file, the AWS filter files and the flags as at
start, all or nothing: a config that fails to load, or anything it needs that
cannot be opened (an interface, the target's address, the metrics port), is
refused and the running one stays as it was.

)" + wrapped_words("Bound at start, kept by a reload until a restart:", restart_only) +
           R"(
The sender never mirrors its own VXLAN: its capture filter leaves out UDP to
the target's address and port. It needs CAP_NET_RAW (capture, and a raw socket
so that the outer UDP source port can follow each inner flow). Offloads may
stay on: TCP super-frames (TSO/GSO/GRO) are cut back into the wire's segments
and partial checksums completed, so the mirror holds what the wire carried.
)";
}

}  // namespace mirrortap::sender
