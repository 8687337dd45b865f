// mirrortap-sender: software traffic mirroring with AWS's filter and session
// model, for hosts VPC Traffic Mirroring cannot cover.
#include <getopt.h>
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

#include "support/version.hpp"
#include "sender/aws_import.hpp"
#include "sender/capture.hpp"
#include "sender/config.hpp"
#include "sender/explain.hpp"
#include "sender/exporter.hpp"
#include "sender/sender.hpp"

using namespace mirrortap::sender;

namespace {

const char* kUsage = R"(Usage: mirrortap-sender [ -c config.yaml ] [ -i interface ]... [ -t host[:port] ]
                        [ --mtu bytes ] [ --max-rate rate ] [ --metrics-listen addr:port ]
                        [ --import-aws-filter file ]... [ --vni n [ --packet-length n ] ]
                        [ --check-config ] [ --explain file.pcap [ --local-mac mac ] ]

Mirrors what this host's interfaces send and receive to a VXLAN target (a
mirrortap collector, or an NLB in front of several), with the filters and
sessions of AWS VPC Traffic Mirroring: rules in rule_number order, first match
decides, no match is not mirrored; sessions in session_number order, a packet
goes to the first that accepts it, once.

  -c, --config FILE          YAML config; every key is documented in example.yaml.
                             Flags override the file. SIGHUP reloads it.
  -i, --interface IFACE      capture on IFACE, both directions; repeat for several
  -t, --target HOST[:PORT]   where VXLAN goes (port 4789 by default); a DNS name is
                             resolved again every --resolve-seconds
      --mtu BYTES            path MTU to the target (default 1500); larger frames are
                             cut to MTU-36 bytes (IPv4 target), as AWS does
      --max-rate RATE        cap what is sent: 20000pps, 100Mbps, or both with a comma;
                             the excess is dropped and counted
      --batch N              datagrams per sendmmsg (default 64)
  -B, --buffer-size BYTES    libpcap ring per interface, K/M/G suffix (default 64M)
      --sndbuf BYTES         socket send buffer (default 4M)
      --resolve-seconds N    re-resolve the target this often (default 30)
      --poll-usec N          after a wake-up that found less than a batch, look again
                             N microseconds later so frames leave in batches
                             (default 500; 0 = wake for every frame)
      --metrics-listen ADDR:PORT
                             serve Prometheus metrics at /metrics (default off)
      --import-aws-filter FILE
                             load filters from `aws ec2 describe-traffic-mirror-filters`
                             JSON; sessions name them by traffic_mirror_filter_id.
                             With --check-config, prints them as YAML
      --vni N                one session from the command line, with the one imported
                             filter (or --accept-all): session number
                             --session-number (default 1), packet length --packet-length
      --session-number N     see --vni
      --packet-length N      see --vni
      --accept-all           with --vni and no imported filter: mirror every IP packet
      --check-config         check the config (interfaces exist, target resolves), print
                             the sessions, and exit: 0 when good, 1 with every error
      --explain FILE         for each frame of a pcap file (tcpdump -w -i IFACE), print the
                             session and rule that decide it, then exit
      --local-mac MAC        with --explain: frames from MAC are egress, others ingress
                             (default: the configured interface's MAC, when it exists here)
  -V, --version              print the version and exit
  -h, --help                 this text

The sender never mirrors its own VXLAN: its capture filter leaves out UDP to
the target's address and port. It needs CAP_NET_RAW (capture, and a raw socket
so that the outer UDP source port can follow each inner flow). Turn off
segmentation offloads (ethtool -K IFACE tso off gso off gro off) to mirror
packets as they are on the wire rather than as the kernel's larger aggregates.
)";

struct Options {
    std::string config_path;
    std::vector<std::string> interfaces;
    std::optional<std::string> target;
    std::optional<uint32_t> mtu;
    std::optional<RateLimit> max_rate;
    std::optional<uint32_t> batch;
    std::optional<uint64_t> buffer_bytes;
    std::optional<uint64_t> sndbuf_bytes;
    std::optional<uint32_t> resolve_seconds;
    std::optional<uint32_t> poll_usec;
    std::optional<std::string> metrics_listen;
    std::vector<std::string> aws_filter_files;
    std::optional<uint32_t> vni;
    uint16_t session_number = 1;
    std::optional<uint32_t> packet_length;
    bool accept_all = false;
    bool check_config = false;
    std::string explain_path;
    std::optional<std::array<uint8_t, 6>> local_mac;
};

[[noreturn]] void usage_error(const std::string& message) {
    std::cerr << "mirrortap-sender: " << message << "\n(mirrortap-sender --help lists the options)\n";
    std::exit(2);
}

uint64_t number_arg(const char* flag, const char* text, uint64_t min, uint64_t max) {
    char* end = nullptr;
    errno = 0;
    const unsigned long long v = std::strtoull(text, &end, 10);
    if (errno || !end || *end || end == text || v < min || v > max)
        usage_error(std::string(flag) + " wants a number " + std::to_string(min) + ".." + std::to_string(max) +
                    ", got '" + text + "'");
    return v;
}

Options parse_args(int argc, char** argv) {
    enum {
        kMtu = 1000, kMaxRate, kBatch, kSndbuf, kResolve, kMetrics, kImport, kVni, kSessionNumber, kPacketLength,
        kAcceptAll, kCheck, kExplain, kLocalMac, kPoll
    };
    static const option longopts[] = {
        {"config", required_argument, nullptr, 'c'},
        {"interface", required_argument, nullptr, 'i'},
        {"target", required_argument, nullptr, 't'},
        {"mtu", required_argument, nullptr, kMtu},
        {"max-rate", required_argument, nullptr, kMaxRate},
        {"batch", required_argument, nullptr, kBatch},
        {"buffer-size", required_argument, nullptr, 'B'},
        {"sndbuf", required_argument, nullptr, kSndbuf},
        {"resolve-seconds", required_argument, nullptr, kResolve},
        {"poll-usec", required_argument, nullptr, kPoll},
        {"metrics-listen", required_argument, nullptr, kMetrics},
        {"import-aws-filter", required_argument, nullptr, kImport},
        {"vni", required_argument, nullptr, kVni},
        {"session-number", required_argument, nullptr, kSessionNumber},
        {"packet-length", required_argument, nullptr, kPacketLength},
        {"accept-all", no_argument, nullptr, kAcceptAll},
        {"check-config", no_argument, nullptr, kCheck},
        {"explain", required_argument, nullptr, kExplain},
        {"local-mac", required_argument, nullptr, kLocalMac},
        {"version", no_argument, nullptr, 'V'},
        {"help", no_argument, nullptr, 'h'},
        {nullptr, 0, nullptr, 0},
    };
    Options o;
    int ch;
    std::string why;
    while ((ch = getopt_long(argc, argv, "c:i:t:B:Vh", longopts, nullptr)) != -1) {
        switch (ch) {
            case 'c': o.config_path = optarg; break;
            case 'i': o.interfaces.push_back(optarg); break;
            case 't': o.target = optarg; break;
            case kMtu: o.mtu = uint32_t(number_arg("--mtu", optarg, 576, 9216)); break;
            case kMaxRate:
                o.max_rate = parse_rate(optarg, why);
                if (!o.max_rate) usage_error("--max-rate: " + why);
                break;
            case kBatch: o.batch = uint32_t(number_arg("--batch", optarg, 1, 1024)); break;
            case 'B':
                o.buffer_bytes = parse_size_bytes(optarg, why);
                if (!o.buffer_bytes) usage_error("--buffer-size: " + why);
                break;
            case kSndbuf:
                o.sndbuf_bytes = parse_size_bytes(optarg, why);
                if (!o.sndbuf_bytes) usage_error("--sndbuf: " + why);
                break;
            case kResolve: o.resolve_seconds = uint32_t(number_arg("--resolve-seconds", optarg, 1, 86400)); break;
            case kPoll: o.poll_usec = uint32_t(number_arg("--poll-usec", optarg, 0, 100000)); break;
            case kMetrics: o.metrics_listen = optarg; break;
            case kImport: o.aws_filter_files.push_back(optarg); break;
            case kVni: o.vni = uint32_t(number_arg("--vni", optarg, 0, 0xFFFFFF)); break;
            case kSessionNumber: o.session_number = uint16_t(number_arg("--session-number", optarg, 1, 32766)); break;
            case kPacketLength: o.packet_length = uint32_t(number_arg("--packet-length", optarg, 14, 65535)); break;
            case kAcceptAll: o.accept_all = true; break;
            case kCheck: o.check_config = true; break;
            case kExplain: o.explain_path = optarg; break;
            case kLocalMac: {
                std::array<uint8_t, 6> mac{};
                if (!parse_mac(optarg, mac)) usage_error(std::string("--local-mac: bad MAC '") + optarg + "'");
                o.local_mac = mac;
                break;
            }
            case 'V':
                std::cout << "mirrortap-sender " << MIRRORTAP_VERSION << "\n" << pcap_lib_version() << "\n";
                std::exit(0);
            case 'h': std::cout << kUsage; std::exit(0);
            default: usage_error("unknown option");
        }
    }
    if (optind < argc) usage_error(std::string("unexpected argument '") + argv[optind] + "'");
    return o;
}

struct Loaded {
    RunConfig run;
    std::vector<std::string> errors;  // formatted, with file:line:column
    std::vector<std::string> notes;
    FilterLibrary imported;
};

// Config file, then flags, then AWS filters, then sessions. `for_run` adds
// the checks that running needs (interface, target, sessions).
Loaded load(const Options& o, bool for_run) {
    Loaded out;
    SenderConfig& c = out.run.config;
    const std::string origin = o.config_path.empty() ? "command line" : o.config_path;
    std::vector<ConfigError> errors;
    if (!o.config_path.empty()) {
        ConfigLoad l = load_config_file(o.config_path);
        for (const auto& e : l.errors) out.errors.push_back(format_error(o.config_path, e));
        if (!l.ok()) return out;
        c = std::move(l.config);
    }
    if (!o.interfaces.empty()) {
        c.interfaces = o.interfaces;
        c.interfaces_at.assign(o.interfaces.size(), SourceMark{});
    }
    if (o.target) {
        std::string why;
        if (!parse_target(*o.target, c.target_host, c.target_port, why)) out.errors.push_back("--target: " + why);
        c.target_at = {};
    }
    if (o.mtu) c.mtu = *o.mtu;
    if (o.max_rate) c.max_rate = *o.max_rate;
    if (o.batch) c.batch_size = *o.batch;
    if (o.buffer_bytes) c.capture_buffer_bytes = *o.buffer_bytes;
    if (o.sndbuf_bytes) c.send_buffer_bytes = *o.sndbuf_bytes;
    if (o.resolve_seconds) c.resolve_interval_seconds = *o.resolve_seconds;
    if (o.poll_usec) c.poll_interval_usec = *o.poll_usec;
    if (o.metrics_listen) c.metrics_listen = *o.metrics_listen;

    std::vector<std::string> files;
    const std::filesystem::path base =
        o.config_path.empty() ? std::filesystem::path(".") : std::filesystem::path(o.config_path).parent_path();
    for (const auto& f : c.aws_filter_files) files.push_back(std::filesystem::path(f).is_absolute() ? f : (base / f).string());
    for (const auto& f : o.aws_filter_files) files.push_back(f);
    for (const auto& f : files) {
        AwsImport imp = import_aws_filters_file(f);
        for (const auto& e : imp.errors) out.errors.push_back(format_error(f, e));
        for (const auto& n : imp.notes) out.notes.push_back(f + ": " + n);
        for (auto& [id, filter] : imp.filters) out.imported[id] = filter;
    }

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
            out.errors.push_back("--vni: needs exactly one imported filter (--import-aws-filter) or --accept-all; " +
                                 std::to_string(out.imported.size()) + " imported");
        }
        for (const auto& other : c.sessions)
            if (other.session.session_number == o.session_number)
                out.errors.push_back("--vni: session number " + std::to_string(o.session_number) +
                                     " is already in the config; choose another with --session-number");
        c.sessions.push_back(std::move(sc));
    }

    out.run.sessions = resolve_sessions(c, out.imported, errors);
    if (for_run) {
        validate_for_run(c, errors);
        for (size_t i = 0; i < c.interfaces.size(); ++i) {
            if (if_nametoindex(c.interfaces[i].c_str()) == 0)
                errors.push_back({i < c.interfaces_at.size() ? c.interfaces_at[i] : SourceMark{},
                                  "interface: no such interface '" + c.interfaces[i] + "'"});
        }
        if (!c.target_host.empty()) {
            sockaddr_storage addr{};
            if (std::string e = resolve_target(c.target_host, addr); !e.empty())
                errors.push_back({c.target_at, "target: " + e});
        }
    }
    for (const auto& e : errors) out.errors.push_back(format_error(e.at.line ? origin : "mirrortap-sender", e));
    return out;
}

void print_errors(const Loaded& l) {
    for (const auto& n : l.notes) std::cerr << "mirrortap-sender: note: " << n << "\n";
    for (const auto& e : l.errors) std::cerr << e << "\n";
}

int check_config(const Options& o) {
    Loaded l = load(o, o.explain_path.empty());
    print_errors(l);
    if (!l.errors.empty()) return 1;
    for (const auto& [id, filter] : l.imported) {
        std::cout << "# imported " << id << ", as YAML:\n"
                  << "filter:\n"
                  << filter_to_yaml(filter, 2);
    }
    const SenderConfig& c = l.run.config;
    std::string names;
    for (const auto& i : c.interfaces) names += (names.empty() ? "" : ",") + i;
    std::cout << "interface " << names << ", target " << c.target_host << ":" << c.target_port << ", mtu " << c.mtu
              << "\n";
    SessionEngine engine(l.run.sessions);
    for (const Session& s : engine.sessions()) {
        std::cout << "session " << s.session_number << " vni " << s.vni << " (" << s.name() << ")"
                  << (s.packet_length ? ", packet_length " + std::to_string(*s.packet_length) : "")
                  << (s.filter.id.empty() ? "" : ", filter " + s.filter.id) << ": "
                  << s.filter.rules(Direction::egress).size() << " egress rule(s), "
                  << s.filter.rules(Direction::ingress).size() << " ingress rule(s)\n";
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
    SessionEngine engine(l.run.sessions);
    ExplainTotals totals;
    if (std::string e = explain_pcap(o.explain_path, engine, eo, std::cout, totals); !e.empty()) {
        std::cerr << "mirrortap-sender: " << e << "\n";
        return 1;
    }
    std::cout << totals.packets << " packets, " << totals.mirrored << " mirrored\n";
    return 0;
}

int run(const Options& o) {
    Loaded l = load(o, true);
    print_errors(l);
    if (!l.errors.empty()) return 1;

    boost::asio::io_context io;
    SenderStats stats;
    std::unique_ptr<Exporter> exporter;
    const std::string metrics_listen = l.run.config.metrics_listen;
    if (!metrics_listen.empty()) {
        exporter = std::make_unique<Exporter>(stats);
        if (std::string e = exporter->start(metrics_listen); !e.empty()) {
            std::cerr << "mirrortap-sender: " << e << "\n";
            return 1;
        }
    }
    Sender sender(io, stats);
    if (std::string e = sender.start(std::move(l.run)); !e.empty()) {
        std::cerr << "mirrortap-sender: " << e << "\n";
        return 1;
    }

    boost::asio::signal_set signals(io, SIGTERM, SIGINT, SIGHUP);
    std::function<void(const boost::system::error_code&, int)> on_signal =
        [&](const boost::system::error_code& ec, int signo) {
            if (ec) return;
            if (signo == SIGHUP) {
                Loaded next = load(o, true);
                print_errors(next);
                const std::string next_metrics = next.run.config.metrics_listen;
                std::string e = next.errors.empty() ? sender.reload(std::move(next.run)) : "config has errors";
                if (e.empty()) {
                    stats.reloads_ok.add();
                    if (next_metrics != metrics_listen)
                        std::cerr << "mirrortap-sender: metrics_listen changes take a restart\n";
                } else {
                    stats.reloads_failed.add();
                    std::cerr << "mirrortap-sender: reload refused, the running config stays: " << e << "\n";
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
              << kernel_drops << " packets dropped by kernel\n";
    return 0;
}

}  // namespace

int main(int argc, char** argv) {
    Options o = parse_args(argc, argv);
    if (o.check_config) return check_config(o);
    if (!o.explain_path.empty()) return explain(o);
    return run(o);
}
