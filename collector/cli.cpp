#include "collector/cli.hpp"

#include <getopt.h>

#include <functional>
#include <map>

namespace mirrortap {

namespace {

enum Flag : int {
    f_config = 1000, f_listen, f_workers, f_rcvbuf, f_snaplen, f_pcap_dir, f_no_pcap, f_rotate_size,
    f_rotate_seconds, f_retain_files, f_retain_bytes, f_session_key, f_max_sessions, f_metrics_listen,
    f_check_config, f_version, f_help, f_allow_source, f_allow_vni, f_user, f_allow_root, f_min_free,
    f_tap, f_tap_session_vlan, f_stream, f_stream_required, f_forward,
};

const option kOptions[] = {
    {"config", required_argument, nullptr, f_config},
    {"listen", required_argument, nullptr, f_listen},
    {"workers", required_argument, nullptr, f_workers},
    {"rcvbuf", required_argument, nullptr, f_rcvbuf},
    {"snaplen", required_argument, nullptr, f_snaplen},
    {"pcap-dir", required_argument, nullptr, f_pcap_dir},
    {"no-pcap", no_argument, nullptr, f_no_pcap},
    {"rotate-size", required_argument, nullptr, f_rotate_size},
    {"rotate-seconds", required_argument, nullptr, f_rotate_seconds},
    {"retain-files", required_argument, nullptr, f_retain_files},
    {"retain-bytes", required_argument, nullptr, f_retain_bytes},
    {"session-key", required_argument, nullptr, f_session_key},
    {"max-sessions", required_argument, nullptr, f_max_sessions},
    {"metrics-listen", required_argument, nullptr, f_metrics_listen},
    {"allow-source", required_argument, nullptr, f_allow_source},
    {"allow-vni", required_argument, nullptr, f_allow_vni},
    {"user", required_argument, nullptr, f_user},
    {"allow-root", no_argument, nullptr, f_allow_root},
    {"min-free", required_argument, nullptr, f_min_free},
    {"tap", required_argument, nullptr, f_tap},
    {"tap-session-vlan", no_argument, nullptr, f_tap_session_vlan},
    {"stream", required_argument, nullptr, f_stream},
    {"stream-required", no_argument, nullptr, f_stream_required},
    {"forward", required_argument, nullptr, f_forward},
    {"check-config", no_argument, nullptr, f_check_config},
    {"version", no_argument, nullptr, f_version},
    {"help", no_argument, nullptr, f_help},
    {nullptr, 0, nullptr, 0},
};

// Applies one flag's value to the config, or records a one-line error.
class FlagApplier {
public:
    FlagApplier(Config& c, std::vector<std::string>& errors) : c_(c), errors_(errors) {}

    void apply(int flag, const char* name, std::string_view value) {
        std::string why;
        auto fail = [&] { errors_.push_back("bad --" + std::string(name) + " '" + std::string(value) + "': " + why); };
        auto size = [&](auto& out) { if (auto v = parse_size_bytes(value, why)) out = decltype(out)(*v); else fail(); };
        auto uint = [&](auto& out, uint64_t max) { if (auto v = parse_uint(value, max, why)) out = decltype(out)(*v); else fail(); };
        // Comma-separated; a flag replaces what the file said.
        auto list = [&](auto& out, auto parse) {
            out.clear();
            for (size_t start = 0; start <= value.size();) {
                const size_t comma = std::min(value.find(',', start), value.size());
                if (auto v = parse(value.substr(start, comma - start), why)) out.push_back(*v);
                else return fail();
                start = comma + 1;
            }
        };
        switch (flag) {
            case f_listen: if (auto e = parse_endpoint(value, why)) c_.listen = *e; else fail(); break;
            case f_metrics_listen: if (auto e = parse_endpoint(value, why)) c_.metrics_listen = *e; else fail(); break;
            case f_workers: uint(c_.workers, 256); break;
            case f_rcvbuf: size(c_.rcvbuf_bytes); break;
            case f_snaplen: uint(c_.snaplen, 262144); break;
            case f_pcap_dir: c_.pcap.dir = std::string(value); c_.pcap.enabled = true; break;
            case f_no_pcap: c_.pcap.enabled = false; break;
            case f_rotate_size: size(c_.pcap.rotate_size_bytes); break;
            case f_rotate_seconds: uint(c_.pcap.rotate_seconds, 366u * 86400); break;
            case f_retain_files: uint(c_.pcap.retain_files, 1u << 30); break;
            case f_retain_bytes: size(c_.pcap.retain_bytes); break;
            case f_session_key: if (auto k = parse_session_key(value, why)) c_.session_key = *k; else fail(); break;
            case f_max_sessions: uint(c_.max_sessions, 1u << 20); break;
            case f_min_free: size(c_.pcap.min_free_bytes); break;
            case f_allow_source: list(c_.allow.sources, parse_cidr); break;
            case f_allow_vni: list(c_.allow.vnis, parse_vni_range); break;
            case f_user: c_.user = std::string(value); break;
            case f_allow_root: c_.allow_root = true; break;
            case f_tap: list(c_.tap, parse_tap_name); break;
            case f_tap_session_vlan: c_.tap_session_vlan = true; break;
            case f_stream: c_.stream = std::string(value); break;
            case f_stream_required: c_.stream_required = true; break;
            case f_forward: if (auto e = parse_endpoint(value, why)) c_.forward = *e; else fail(); break;
            default: break;
        }
    }

private:
    Config& c_;
    std::vector<std::string>& errors_;
};

const char* name_of(int flag) {
    for (const option* o = kOptions; o->name; ++o)
        if (o->val == flag) return o->name;
    return "?";
}

}  // namespace

std::string collector_usage() {
    return R"(Usage: mirrortap-collector [--config FILE] [options]

Receives VXLAN-encapsulated mirror traffic (AWS VPC Traffic Mirroring or
mirrortap-sender), strips the VXLAN header and writes each mirror session's
inner frames to its own rotated pcap files. Flags override the config file.

Receiving:
  --listen ADDR:PORT       UDP address to listen on           [0.0.0.0:4789]
                           IPv6 as [ADDR]:PORT; [::]:4789 takes IPv4 too
  --workers N              receive workers, one socket each    [one per core]
  --rcvbuf BYTES           socket receive buffer (K/M/G)       [64M]
  --snaplen N              bytes of each inner frame kept      [65535]
  --session-key MODE       vni | vni_and_source                [vni]
  --max-sessions N         sessions created on first sight     [1024]

Pcap files (<dir>/<session>/<session>-<UTC start>-<seq>.pcap):
  --pcap-dir DIR           where session directories go        [./captures]
  --no-pcap                write no pcap files
  --rotate-size BYTES      new file past this size (K/M/G)     [1G]
  --rotate-seconds N       new file after N seconds, 0 = never [3600]
  --retain-files N         finished files kept per session     [0 = all]
  --retain-bytes BYTES     finished bytes kept per session     [0 = all]

  --min-free BYTES         stop writing below this free space [0 = off]

Who may send:
  --allow-source CIDR,...  outer source addresses accepted     [all]
  --allow-vni VNI|A-B,...  VNIs accepted                       [all]
                           others are dropped before decap and counted
                           (source_not_allowed, vni_not_allowed)

IDS feed and forwarding (per session: sinks: [...] in the config):
  --tap NAME[,NAME...]     write frames to these TAP interfaces, created if
                           missing; a flow and its reply share one TAP  [off]
  --tap-session-vlan       tag frames on the TAPs with the session's VLAN
  --stream PATH            live pcap stream: - (stdout), a FIFO (created if
                           missing) or unix:PATH (we listen)          [off]
  --stream-required        /healthz is 503 while nobody reads the stream
  --forward ADDR:PORT      re-encapsulate (same VNI) and send on      [off]

Monitoring:
  --metrics-listen ADDR:PORT  serve /metrics, /healthz, /readyz [off]
                           basic auth or a bearer token: metrics_auth in the config

Privileges:
  --user NAME              drop root to NAME once sockets and files are open
  --allow-root             keep running as root without --user

Other:
  --config FILE            YAML config (see config/example.yaml)
  --check-config           validate the configuration and exit
  --version                print the version and exit
  --help                   print this help and exit

Signals: SIGTERM/SIGINT drain, flush and close every file, then exit 0;
SIGHUP closes every open file and starts new ones.

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
    // First pass: only --config, so that the file is loaded before flags override it.
    std::vector<std::pair<int, std::string>> flags;
    opterr = 0;
    optind = 0;  // glibc: start afresh, also when parsing again for a reload
    int longindex = 0;
    for (int c; (c = getopt_long(argc, argv, ":", kOptions, &longindex)) != -1;) {
        if (c == '?') {
            req.errors.push_back(std::string("unknown option '") + argv[optind - 1] + "' (see --help)");
            continue;
        }
        if (c == ':') {
            req.errors.push_back(std::string("option '") + argv[optind - 1] + "' needs a value");
            continue;
        }
        switch (c) {
            case f_help: req.action = CliRequest::Action::help; return req;
            case f_version: req.action = CliRequest::Action::version; return req;
            case f_check_config: req.action = CliRequest::Action::check_config; break;
            case f_config: req.config_path = optarg; break;
            default: flags.emplace_back(c, optarg ? optarg : ""); break;
        }
    }
    if (optind < argc) req.errors.push_back(std::string("unexpected argument '") + argv[optind] + "' (see --help)");
    if (!req.errors.empty()) return req;

    if (!req.config_path.empty()) {
        ConfigLoad load = load_config_file(req.config_path);
        for (const auto& e : load.errors) req.errors.push_back(format_error(req.config_path, e));
        if (!load.ok()) return req;
        req.config = std::move(load.config);
    }
    FlagApplier applier(req.config, req.errors);
    for (const auto& [flag, value] : flags) applier.apply(flag, name_of(flag), value);
    if (req.errors.empty())
        for (const auto& e : validate(req.config)) req.errors.push_back(format_error("config", e));
    return req;
}

}  // namespace mirrortap
