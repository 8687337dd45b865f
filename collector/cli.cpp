#include "collector/cli.hpp"

#include <unistd.h>

#include "config/settings.hpp"
#include "sinks/capture_dir.hpp"
#include "support/command_line.hpp"
#include "support/file.hpp"
#include "support/text.hpp"

namespace mirrortap {

namespace {

// The settings' flags, then the actions': FlagUse::spec indexes the specs.
FlagTable<Config> flags_and_actions() {
    FlagTable<Config> flags = flag_table(collector_settings());
    for (const auto& a : collector_action_docs()) flags.specs.push_back({std::string(a.flag), !a.value_name.empty()});
    return flags;
}

// Who may own what root reads: root, whoever runs us, and the --user.
std::vector<uid_t> trusted_owners(const Config& config) {
    std::vector<uid_t> owners = {0, geteuid()};
    // An unknown --user is refused where privileges are dropped.
    if (!config.user.empty())
        if (const auto user = lookup_user(config.user)) owners.push_back(user->uid);
    return owners;
}

// The config file and every file it names, as OpenSSH's StrictModes would
// have them: a file someone else can change is a way to run root's next
// reload or start as they like (pcap.dir, stream, upload credentials...).
std::vector<std::string> untrusted_files(const std::string& config_path, const Config& config) {
    const std::vector<uid_t> owners = trusted_owners(config);
    std::vector<std::string> errors;
    const auto check = [&](const std::string& path, std::string_view what) {
        if (path.empty()) return;
        if (auto trusted = check_trusted_file(path, owners, what); !trusted) errors.push_back(printable(trusted.error()));
    };
    check(config_path, "config file");
    check(config.metrics_auth.password_file, "metrics_auth.password_file");
    check(config.metrics_auth.bearer_token_file, "metrics_auth.bearer_token_file");
    return errors;
}

}  // namespace

std::string collector_usage() {
    std::vector<std::string_view> file_only, restart_only;
    for (const auto& s : collector_settings()) {
        if (s.flag.empty()) file_only.push_back(s.key);
        if (s.on_reload == OnReload::restart) restart_only.push_back(s.key);
    }
    return R"(Usage: mirrortap-collector [--config FILE] [options]

Receives VXLAN-encapsulated mirror traffic (AWS VPC Traffic Mirroring or
mirrortap-sender), strips the VXLAN header and writes each mirror session's
inner frames to its own rotated pcap files. Flags override the config file.

)" + render_help(collector_docs(), collector_setting_groups()) +
           "\n" + wrapped_words("Only in the config file:", file_only) +
           R"((docs/interfaces.md lists every key with its flag, default and meaning.)

Signals: SIGTERM/SIGINT drain, flush and close every file, then exit 0.
SIGHUP reloads the config file and flags as at start; a config that fails to
load (bad value, unreadable file) is refused and the running one stays. Either
way every open pcap file is finished and a new one started.
)" + wrapped_words("Bound at start, kept by a reload until a restart:", restart_only) + R"(

Files are written as *.pcap.part and renamed to *.pcap when finished.
Tail the file being written:
  tail -c +1 -f captures/web/current | wireshark -k -i -

Example:
  mirrortap-collector --listen 0.0.0.0:4789 --pcap-dir /var/lib/mirrortap/captures \
      --rotate-size 512M --rotate-seconds 300 --retain-bytes 50G
  mirrortap-collector --no-pcap --stream - | tshark -i -
  mirrortap-collector --tap mt0,mt1 --tap-session-vlan     # then: suricata --af-packet
)";
}

CliRequest parse_collector_cli(int argc, char** argv) {
    CliRequest req;
    const FlagTable<Config> flags = flags_and_actions();
    CommandLine cl = parse_command_line(argc, argv, flags.specs);

    // --help and --version answer whatever else is wrong.
    if (cl.help || cl.version) {
        req.action = cl.help ? CliRequest::Action::help : CliRequest::Action::version;
        return req;
    }
    for (const FlagUse& use : cl.uses) {
        if (use.spec < flags.settings.size()) continue;
        const std::string_view action = long_flag_name(flags.specs[use.spec].names);
        if (action == "--check-config") req.action = CliRequest::Action::check_config;
        else if (action == "--config") req.config_path = use.value;
    }
    req.errors = std::move(cl.errors);
    if (!req.errors.empty()) return req;

    // The file first, then the flags over it, in the order given.
    if (!req.config_path.empty()) {
        ConfigLoad load = load_config_file(req.config_path);
        for (const auto& e : load.errors) req.errors.push_back(format_error(printable(req.config_path), e));
        if (!load.ok()) return req;
        req.config = std::move(load.config);
    }
    req.errors = apply_flags(flags, cl.uses, req.config);
    if (req.errors.empty())
        for (const auto& e : validate(req.config)) req.errors.push_back(format_error("config", e));
    if (req.errors.empty()) req.errors = untrusted_files(req.config_path, req.config);
    return req;
}

}  // namespace mirrortap
