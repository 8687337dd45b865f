// mirrortap-sender: software traffic mirroring with AWS's filter and session
// model, for hosts VPC Traffic Mirroring cannot cover.
#include <net/if.h>
#include <pcap/pcap.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <csignal>
#include <filesystem>
#include <iostream>
#include <optional>
#include <string>
#include <vector>

#include "sender/aws_import.hpp"
#include "sender/capture.hpp"
#include "sender/cli.hpp"
#include "sender/config.hpp"
#include "sender/eni.hpp"
#include "sender/explain.hpp"
#include "sender/exporter.hpp"
#include "sender/sender.hpp"
#include "sender/settings.hpp"
#include "support/command_line.hpp"
#include "support/text.hpp"

using namespace mirrortap;
using namespace mirrortap::sender;

namespace {

using Options = SenderCommandLine;

struct Loaded {
    RunConfig run;
    std::vector<std::string> errors;  // formatted, with file:line:column
    std::vector<std::string> notes;
    FilterLibrary imported;
    AwsLibrary aws;
};

// The imported sessions whose source network interface is this host's
// (aws_interface), as sessions of the config; the others are noted.
void add_imported_sessions(Loaded& out) {
    SenderConfig& c = out.run.config;
    std::vector<std::string> others;
    for (const auto& entry : out.aws.sessions) {
        // Named, not a structured binding: clang before 16 cannot capture one in a lambda.
        const auto& id = entry.first;
        const auto& s = entry.second;
        auto iface = std::find_if(c.aws_interfaces.begin(), c.aws_interfaces.end(),
                                  [&](const AwsInterfaceName& m) { return m.id == s.network_interface_id; });
        if (iface == c.aws_interfaces.end()) {
            others.push_back(printable(id) + " (" + printable(s.network_interface_id) + ")");
            continue;
        }
        if (iface->interface.empty()) continue;  // an ENI IMDSv2 could not place: its error is out already
        auto target = std::find_if(c.aws_targets.begin(), c.aws_targets.end(),
                                   [&](const AwsTargetAddress& m) { return m.id == s.target_id; });
        if (target == c.aws_targets.end()) {
            auto known = out.aws.targets.find(s.target_id);
            out.errors.push_back("mirrortap-sender: imported session " + printable(id) + " sends to " +
                                 printable(s.target_id) +
                                 (known == out.aws.targets.end()
                                      ? std::string()
                                      : " (" + printable(known->second.type) + " " + printable(known->second.where) + ")") +
                                 ": say where it is reached with --aws-target " + printable(s.target_id) +
                                 "=HOST[:PORT] (aws_target: in the file)");
            continue;
        }
        SessionConfig sc;
        sc.session.session_number = s.session_number;
        sc.session.vni = s.vni;
        sc.session.packet_length = s.packet_length;
        sc.session.description = s.description.empty() ? s.id : s.description;
        sc.filter_id = s.filter_id;
        sc.interfaces = {iface->interface};
        sc.target = target->endpoint;
        c.sessions.push_back(std::move(sc));
    }
    if (!others.empty()) {
        std::string list;
        for (const auto& o : others) list += (list.empty() ? "" : ", ") + o;
        out.notes.push_back(std::to_string(others.size()) + " imported session(s) of network interfaces that are not "
                            "this host's (no --aws-interface ENI=IFACE for them) left out: " + list);
    }
}

// Config file, then flags, then AWS filters, then sessions. `for_run` adds
// the checks that running needs (interface, target, sessions).
Loaded load(const Options& o, bool for_run) {
    Loaded out;
    SenderConfig& c = out.run.config;
    const std::string origin = o.config_path.empty() ? "command line" : printable(o.config_path);
    std::vector<ConfigError> errors;
    if (!o.config_path.empty()) {
        ConfigLoad l = load_config_file(o.config_path);
        for (const auto& e : l.errors) out.errors.push_back(format_error(origin, e));
        if (!l.ok()) return out;
        c = std::move(l.config);
    }
    for (const std::string& e : apply_setting_flags(o, c)) out.errors.push_back("mirrortap-sender: " + e);

    std::vector<std::string> files;
    const std::filesystem::path base =
        o.config_path.empty() ? std::filesystem::path(".") : std::filesystem::path(o.config_path).parent_path();
    for (const auto& f : c.aws_filter_files) files.push_back(std::filesystem::path(f).is_absolute() ? f : (base / f).string());
    for (const auto& f : o.aws_filter_files) files.push_back(f);
    for (const auto& f : files) {
        AwsImport imp = import_aws_filters_file(f);
        for (const auto& e : imp.errors) out.errors.push_back(format_error(printable(f), e));
        for (const auto& n : imp.notes) out.notes.push_back(printable(f) + ": " + n);
        if (imp.ok()) out.aws.add(std::move(imp), printable(f), out.errors);
    }
    out.aws.finish(out.errors);
    out.imported = out.aws.filters;
    if (auto resolved = resolve_eni_interfaces(c.aws_interfaces); !resolved)
        out.errors.push_back("mirrortap-sender: " + resolved.error());
    add_imported_sessions(out);

    if (o.vni) {
        SessionConfig sc;
        sc.session.session_number = o.session_number;
        sc.session.vni = *o.vni;
        sc.session.packet_length = o.packet_length;
        if (o.accept_all) {
            FilterRule all;
            all.rule_number = 1;
            sc.session.filter = Filter({all}, {all});
        } else if (out.imported.size() == 1) {
            sc.filter_id = out.imported.begin()->first;
        } else {
            out.errors.push_back("mirrortap-sender: --vni: needs exactly one imported filter (--import-aws-filter) or "
                                 "--accept-all; " + std::to_string(out.imported.size()) + " imported");
        }
        for (const auto& other : c.sessions)
            if (other.session.session_number == o.session_number)
                out.errors.push_back("mirrortap-sender: --vni: session number " + std::to_string(o.session_number) +
                                     " is already in the config; choose another with --session-number");
        c.sessions.push_back(std::move(sc));
    }

    out.run.sessions = resolve_sessions(c, out.imported, errors);
    if (for_run) {
        validate_for_run(c, errors);
        for (size_t i = 0; i < c.interfaces.size(); ++i) {
            if (if_nametoindex(c.interfaces[i].c_str()) == 0)
                errors.push_back(error_at_mark(i < c.interfaces_at.size() ? c.interfaces_at[i] : SourceMark{},
                                               "interface: no such interface " + quote(c.interfaces[i])));
        }
        for (const SessionConfig& sc : c.sessions)
            for (const std::string& name : sc.interfaces)
                if (if_nametoindex(name.c_str()) == 0)
                    errors.push_back(error_at_mark(sc.interfaces_at, "interface: no such interface " + quote(name)));
        if (!c.target.host.empty())
            if (auto addr = resolve_target(c.target.host); !addr)
                errors.push_back(error_at_mark(c.target_at, "target: " + addr.error()));
        for (const SessionConfig& sc : c.sessions)
            if (sc.target)
                if (auto addr = resolve_target(sc.target->host); !addr)
                    errors.push_back(error_at_mark(sc.target_at, "target: " + addr.error()));
    }
    for (const auto& e : errors) out.errors.push_back(format_error(e.line ? origin : "mirrortap-sender", e));
    return out;
}

void print_errors(const Loaded& l) {
    for (const auto& n : l.notes) std::cerr << "mirrortap-sender: note: " << n << "\n";
    for (const auto& e : l.errors) std::cerr << e << "\n";
}

int check_config(const Options& o) {
    // Only JSON to look at (--import-aws-filter FILE --check-config): what
    // it holds, as YAML, with nothing to run.
    const bool import_only = o.config_path.empty() && o.setting_uses.empty() && !o.vni && !o.aws_filter_files.empty();
    Loaded l = load(o, o.explain_path.empty() && !import_only);
    print_errors(l);
    if (!l.errors.empty()) return 1;
    for (const auto& [id, filter] : l.imported) {
        std::cout << "# imported " << id << ", as YAML:\n"
                  << "filter:\n"
                  << filter_to_yaml(filter, 2);
    }
    for (const auto& [id, t] : l.aws.targets)
        std::cout << "# imported target " << printable(id) << ": " << printable(t.type) << " " << printable(t.where)
                  << (t.description.empty() ? "" : " \"" + printable(t.description) + "\"") << "\n";
    for (const auto& [id, s] : l.aws.sessions)
        std::cout << "# imported session " << printable(id) << ": session_number " << s.session_number
                  << ", virtual_network_id " << s.vni
                  << (s.packet_length ? ", packet_length " + std::to_string(*s.packet_length) : "") << ", from "
                  << printable(s.network_interface_id) << " to " << printable(s.target_id) << ", filter "
                  << printable(s.filter_id) << "\n";
    if (import_only) {
        std::cout << l.aws.filters.size() << " filter(s), " << l.aws.sessions.size() << " session(s), "
                  << l.aws.targets.size() << " target(s) imported; import OK\n";
        return 0;
    }
    const SenderConfig& c = l.run.config;
    const std::vector<std::string> interfaces = capture_interfaces(c);
    const std::vector<Endpoint> targets = session_targets(c);
    std::string names;
    for (const auto& i : interfaces) names += (names.empty() ? "" : ",") + i;
    std::cout << "interface " << names << ", target " << printable(c.target.host) << ":" << c.target.port << ", mtu "
              << c.mtu << "\n";
    SessionEngine engine(l.run.sessions);
    for (const Session& s : engine.sessions()) {
        std::string on;
        for (size_t i = 0; i < interfaces.size() && i < kMaxInterfaces; ++i)
            if (s.interfaces & (uint64_t(1) << i)) on += (on.empty() ? "" : ",") + interfaces[i];
        std::cout << "session " << s.session_number << " vni " << s.vni << " (" << s.name() << ")"
                  << (s.packet_length ? ", packet_length " + std::to_string(*s.packet_length) : "")
                  << (s.filter.id.empty() ? "" : ", filter " + s.filter.id) << ": "
                  << s.filter.rules(Direction::egress).size() << " egress rule(s), "
                  << s.filter.rules(Direction::ingress).size() << " ingress rule(s)"
                  << (on.empty() ? "" : "; on " + on)
                  << (s.target < targets.size()
                          ? ", to " + printable(targets[s.target].host) + ":" + std::to_string(targets[s.target].port)
                          : "")
                  << "\n";
    }
    std::cout << "config OK\n";
    return 0;
}

int explain(const Options& o) {
    Loaded l = load(o, false);
    print_errors(l);
    if (!l.errors.empty()) return 1;
    ExplainOptions eo;
    eo.local_mac = o.local_mac;
    if (!eo.local_mac && l.run.config.interfaces.size() == 1) {
        std::array<uint8_t, 6> mac{};
        if (interface_mac(l.run.config.interfaces[0], mac)) eo.local_mac = mac;
    }
    if (!eo.local_mac)
        std::cout << "# no --local-mac and no local interface to take it from: each frame is shown both ways\n";
    eo.max_inner_bytes = max_inner_frame_bytes(l.run.config.mtu, false);
    // A pcap file is of one interface: the first named, whose sessions decide.
    const std::vector<std::string> interfaces = capture_interfaces(l.run.config);
    std::vector<Session> sessions = l.run.sessions;
    if (interfaces.size() > 1) {
        std::erase_if(sessions, [](const Session& s) { return s.interfaces != 0 && !(s.interfaces & 1); });
        std::cout << "# the sessions of " << interfaces[0] << " (the first interface)\n";
    }
    SessionEngine engine(std::move(sessions));
    engine.set_vpc_resolvers(vpc_resolvers(l.run.config.vpc_cidrs));
    const auto totals = explain_pcap(o.explain_path, engine, eo, std::cout);
    if (!totals) {
        std::cerr << "mirrortap-sender: " << totals.error() << "\n";
        return 1;
    }
    std::cout << totals->packets << " packets, " << totals->mirrored << " mirrored\n";
    return 0;
}

// /metrics on `listen`, or none (null) when it is absent; or an error.
Result<std::unique_ptr<Exporter>> open_exporter(const std::optional<Endpoint>& listen, const SenderStats& stats) {
    if (!listen) return std::unique_ptr<Exporter>();
    auto exporter = std::make_unique<Exporter>(stats);
    if (auto started = exporter->start(*listen); !started) return fail(std::move(started).error());
    return exporter;
}

// SIGHUP: the file, the AWS filter files and the flags read again, then
// applied all or nothing. What can fail is tried on new objects first: the
// config loads and checks (interfaces exist, the target resolves), a changed
// metrics address binds, and the sender stages its captures, filters and
// socket; only when all of it worked is anything swapped.
Result<> reload(const Options& o, Sender& sender, SenderStats& stats, SenderConfig& running,
                std::unique_ptr<Exporter>& exporter) {
    Loaded next = load(o, true);
    print_errors(next);
    if (!next.errors.empty()) return fail("the config has errors");
    SenderConfig& c = next.run.config;
    for (const std::string& note : keep_restart_only(sender_settings(), c, running))
        std::cerr << "mirrortap-sender: note: " << note << "\n";
    std::unique_ptr<Exporter> next_exporter;
    const bool metrics_move = c.metrics_listen != running.metrics_listen;
    if (metrics_move) {
        auto opened = open_exporter(c.metrics_listen, stats);
        if (!opened) return fail(std::move(opened).error());
        next_exporter = std::move(*opened);
    }
    SenderConfig applied = c;
    if (auto reloaded = sender.reload(std::move(next.run)); !reloaded) return reloaded;  // next_exporter closes again
    if (metrics_move) exporter = std::move(next_exporter);  // the old one stops listening
    running = std::move(applied);
    return {};
}

int run(const Options& o) {
    Loaded l = load(o, true);
    print_errors(l);
    if (!l.errors.empty()) return 1;

    boost::asio::io_context io;
    SenderStats stats;
    auto opened = open_exporter(l.run.config.metrics_listen, stats);
    if (!opened) {
        std::cerr << "mirrortap-sender: " << opened.error() << "\n";
        return 1;
    }
    std::unique_ptr<Exporter> exporter = std::move(*opened);
    SenderConfig running = l.run.config;
    Sender sender(io, stats);
    if (auto started = sender.start(std::move(l.run)); !started) {
        std::cerr << "mirrortap-sender: " << started.error() << "\n";
        return 1;
    }

    boost::asio::signal_set signals(io, SIGTERM, SIGINT, SIGHUP);
    std::function<void(const boost::system::error_code&, int)> on_signal =
        [&](const boost::system::error_code& ec, int signo) {
            if (ec) return;
            if (signo == SIGHUP) {
                if (auto reloaded = reload(o, sender, stats, running, exporter)) {
                    stats.reloads_ok.add();
                } else {
                    stats.reloads_failed.add();
                    std::cerr << "mirrortap-sender: reload refused, nothing changed: " << reloaded.error() << "\n";
                }
                signals.async_wait(on_signal);
                return;
            }
            sender.stop();
            io.stop();
        };
    signals.async_wait(on_signal);
    io.run();

    // tcpdump's closing lines.
    uint64_t captured = 0, kernel_drops = 0, mirrored = 0;
    {
        std::lock_guard lock(stats.lock);
        for (const auto& i : stats.interfaces) {
            captured += i->captured_packets.get();
            kernel_drops += i->pcap_dropped.get();
        }
        for (const auto& s : stats.sessions) mirrored += s->mirrored_packets.get();
    }
    uint64_t dropped = 0;
    for (const auto& d : stats.dropped) dropped += d.get();
    std::cerr << captured << " packets captured\n"
              << mirrored << " packets mirrored\n"
              << dropped << " packets dropped by the sender (rate limit, socket)\n"
              << kernel_drops << " packets dropped by kernel\n"
              << stats.target_unreachable.get() << " ICMP unreachable from the target\n";
    return 0;
}

}  // namespace

int main(int argc, char** argv) {
    const Options o = parse_sender_command_line(argc, argv);
    // --help and --version answer whatever else the command line got wrong.
    if (o.help) {
        std::cout << sender_usage();
        return 0;
    }
    if (o.version) {
        std::cout << version_line("mirrortap-sender") << pcap_lib_version() << "\n";
        return 0;
    }
    if (!o.errors.empty()) return report_usage_errors("mirrortap-sender", o.errors);
    if (o.check_config) return check_config(o);
    if (!o.explain_path.empty()) return explain(o);
    return run(o);
}
