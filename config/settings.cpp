#include "config/settings.hpp"

#include <chrono>

#include "cloud/cloudwatch.hpp"
#include "cloud/s3_address.hpp"
#include "support/file.hpp"
#include "support/text.hpp"
#include "support/yaml_value.hpp"

namespace mirrortap {

namespace {

using C = Config;
using P = PcapConfig;
using L = LifecycleConfig;
using U = UploadConfig;
using CW = CloudWatchConfig;
using std::chrono::seconds;

// --help sections.
constexpr std::string_view kReceiving = "Receiving";
constexpr std::string_view kPcap = "Pcap files (<dir>/<session>/<session>-<UTC start>-<seq>.pcap)";
constexpr std::string_view kWhoMaySend = "Who may send";
constexpr std::string_view kIdsFeed = "IDS feed and forwarding (per session: sinks: [...] in the config)";
constexpr std::string_view kMonitoring = "Monitoring";
constexpr std::string_view kPrivileges = "Privileges";
constexpr std::string_view kLifecycle = "Auto Scaling termination (lifecycle hook)";
constexpr std::string_view kUpload = "Upload to S3 (finished pcaps; all bound at start)";

// The collector binds and connects to addresses, never to names.
constexpr EndpointRules kLiteralAddress{};

// A password or token file's content into the field; the error names the file.
Result<std::string> secret_from_file(std::string_view path) {
    auto secret = read_secret_file(std::string(path));
    if (!secret) return fail(quote(path) + ": " + secret.error());
    return std::move(*secret);
}

// A secret file: its content into `Secret`, its path into `Path` (checked
// like the config file it is named in, collector/cli.cpp).
template <auto Secret, auto Path>
SettingValue<Config> secret_file_value() {
    SettingValue<Config> v = parsed_value<C>(field<&C::metrics_auth, Secret>, secret_from_file);
    v.set = [set = v.set](std::string_view text, Config& c) {
        auto read = set(text, c);
        if (read) c.metrics_auth.*Path = std::string(text);
        return read;
    };
    v.copy = [](Config& to, const Config& from) {
        to.metrics_auth.*Secret = from.metrics_auth.*Secret;
        to.metrics_auth.*Path = from.metrics_auth.*Path;
    };
    return v;
}

// ---- sessions: [{vni, name, vlan, sinks}] --------------------------------------

Result<std::string> parse_session_name(std::string_view text) {
    if (auto valid = valid_session_name(text); !valid) return fail(std::move(valid).error());
    return std::string(text);
}

Result<uint16_t> parse_vlan_id(std::string_view text) {
    auto v = parse_uint(text, 4094);
    if (!v) return fail(v.error());
    if (*v == 0) return fail("0 is reserved; use 1 to 4094");
    return uint16_t(*v);
}

NamedSession load_session(const YAML::Node& item, ErrorList& errors) {
    NamedSession s;
    bool have_vni = false, have_name = false;  // a bad value was reported already: not "missing" as well
    read_keys(item, {
        {"vni", [&](const YAML::Node& v, std::string_view key) {
             if (auto vni = read_value(v, key, errors, parse_vni)) s.vni = *vni;
             have_vni = true;
         }},
        {"name", [&](const YAML::Node& v, std::string_view key) {
             if (auto name = read_value(v, key, errors, parse_session_name)) s.name = *name;
             have_name = true;
         }},
        {"vlan", [&](const YAML::Node& v, std::string_view key) { s.vlan = read_value(v, key, errors, parse_vlan_id); }},
        {"sinks", [&](const YAML::Node& v, std::string_view key) {
             auto items = list_items(v, std::string(key), errors);
             if (!items) return;
             s.sinks = 0;
             for (const ListItem& item : *items)
                 if (auto i = parse_at(item.node, item.text, key, errors, parse_sink_name)) s.sinks |= 1u << *i;
         }},
    }, errors, "sessions entry");
    if (item.IsMap() && !have_vni) errors.add(error_at(item, "sessions entry: 'vni' is required"));
    if (item.IsMap() && !have_name) errors.add(error_at(item, "sessions entry: 'name' is required"));
    return s;
}

void load_sessions(const YAML::Node& list, std::vector<NamedSession>& sessions, ErrorList& errors) {
    if (!list.IsSequence()) {
        errors.add(error_at(list, "sessions: expected a list such as [{vni: 501, name: web}]"));
        return;
    }
    sessions.clear();
    for (const YAML::Node& item : list) {
        if (errors.stopped()) return;
        sessions.push_back(load_session(item, errors));
    }
}

SettingsTable<Config> make_table() {
    return {
        // ---- receiving ----
        {.key = "listen", .flag = "--listen", .value_name = "ADDR:PORT", .default_text = "0.0.0.0:4789",
         .group = kReceiving, .help = "UDP address to listen on\nIPv6 as [ADDR]:PORT; [::]:4789 takes IPv4 too",
         .on_reload = OnReload::restart, .value = endpoint_value<C>(field<&C::listen>, kLiteralAddress)},
        {.key = "listen_geneve", .flag = "--listen-geneve", .value_name = "ADDR:PORT", .group = kReceiving,
         .help = "also take GENEVE (a Gateway Load Balancer's, usually port 6081) here\noff when absent; the VXLAN mirror packet inside is decapsulated",
         .on_reload = OnReload::restart, .value = endpoint_value<C>(field<&C::listen_geneve>, kLiteralAddress)},
        {.key = "workers", .flag = "--workers", .value_name = "N", .default_text = "0", .group = kReceiving,
         .help = "receive workers, 0 = one per core\none SO_REUSEPORT socket and thread each", .on_reload = OnReload::restart,
         .value = number_value<C>(field<&C::workers>, 0, 256)},
        {.key = "rcvbuf", .flag = "--rcvbuf", .value_name = "BYTES", .default_text = "64M", .group = kReceiving,
         .help = "socket receive buffer (K/M/G)", .on_reload = OnReload::restart,
         .value = size_value<C>(field<&C::rcvbuf_bytes>)},
        {.key = "capture_interface", .flag = "--capture-interface", .value_name = "IFACE", .group = kReceiving,
         .help = "receive from an AF_PACKET ring on IFACE instead of UDP sockets\n"
                 "one TPACKET_V3 ring per worker, steered by VNI; needs CAP_NET_RAW at start; --rcvbuf sizes each ring",
         .on_reload = OnReload::restart, .value = parsed_value<C>(field<&C::capture_interface>, parse_interface_name)},
        {.key = "snaplen", .flag = "--snaplen", .value_name = "N", .default_text = "65535", .group = kReceiving,
         .help = "bytes of each inner frame kept", .value = number_value<C>(field<&C::snaplen>, 14, 262144)},
        {.key = "session_key", .flag = "--session-key", .value_name = "MODE", .default_text = "vni",
         .group = kReceiving, .help = "what makes a session\nvni, or vni_and_source (VNI and outer source)", .on_reload = OnReload::restart,
         .value = parsed_value<C>(field<&C::session_key>, parse_session_key)},
        {.key = "max_sessions", .flag = "--max-sessions", .value_name = "N", .default_text = "1024",
         .group = kReceiving, .help = "at most this many sessions\nfurther VNIs are dropped, counted as session_limit", .on_reload = OnReload::restart,
         .value = number_value<C>(field<&C::max_sessions>, 1, 1u << 20)},
        {.key = "session_idle_seconds", .flag = "--session-idle-seconds", .value_name = "N", .default_text = "600",
         .group = kReceiving,
         .help = "a session without packets this long is ended: files finished, its slot freed for new VNIs\n"
                 "0 = never; (or a duration: 90s, 10m, 1h)",
         .value = duration_value<C>(field<&C::session_idle_seconds>, seconds(0), seconds(366 * 86400))},
        {.key = "sessions", .group = kReceiving,
         .help = "names, VLANs and sinks of sessions: [{vni: 501, name: web, vlan: 501, sinks: [pcap, tap]}]",
         .value = node_value<C>(field<&C::sessions>, load_sessions)},

        // ---- pcap files ----
        {.key = "pcap.enabled", .flag = "--no-pcap", .switch_value = "false", .default_text = "true",
         .group = kPcap, .help = "write no pcap files", .value = bool_value<C>(field<&C::pcap, &P::enabled>)},
        {.key = "pcap.dir", .flag = "--pcap-dir", .value_name = "DIR", .default_text = "./captures", .group = kPcap,
         .help = "where session directories go", .value = text_value<C>(field<&C::pcap, &P::dir>),
         .flag_also = [](C& c) { c.pcap.enabled = true; }},
        {.key = "pcap.rotate_size", .flag = "--rotate-size", .value_name = "BYTES", .default_text = "1G",
         .group = kPcap, .help = "new file past this size (K/M/G)",
         .value = size_value<C>(field<&C::pcap, &P::rotate_size_bytes>, 4096)},
        {.key = "pcap.rotate_seconds", .flag = "--rotate-seconds", .value_name = "N", .default_text = "3600",
         .group = kPcap, .help = "new file after N seconds, 0 = never\n(or a duration: 5m, 1h, 1d)",
         .value = duration_value<C>(field<&C::pcap, &P::rotate_seconds>, seconds(0), seconds(366 * 86400))},
        {.key = "pcap.retain_files", .flag = "--retain-files", .value_name = "N", .default_text = "0",
         .group = kPcap, .help = "finished files kept per session\n0 = keep all",
         .value = number_value<C>(field<&C::pcap, &P::retain_files>, 0, 1u << 30)},
        {.key = "pcap.retain_bytes", .flag = "--retain-bytes", .value_name = "BYTES", .default_text = "0",
         .group = kPcap, .help = "finished bytes kept per session\n0 = keep all",
         .value = size_value<C>(field<&C::pcap, &P::retain_bytes>)},
        {.key = "pcap.retain_total_bytes", .flag = "--retain-total-bytes", .value_name = "BYTES", .default_text = "0",
         .group = kPcap, .help = "finished bytes kept across all sessions, oldest removed first\n0 = keep all; "
                                 "with upload, files not yet uploaded stay unless below min_free",
         .value = size_value<C>(field<&C::pcap, &P::retain_total_bytes>)},
        {.key = "pcap.retain_seconds", .flag = "--retain-seconds", .value_name = "N", .default_text = "0",
         .group = kPcap,
         .help = "finished files older than this are removed, with their flow indexes, in every session directory\n"
                 "age from the file's last write (its modification time); 0 = keep all; (or a duration: 12h, 7d); "
                 "with upload, files not yet uploaded stay unless below min_free",
         .value = duration_value<C>(field<&C::pcap, &P::retain_seconds>, seconds(0), seconds(3660 * 86400))},
        {.key = "pcap.min_free_bytes", .flag = "--min-free", .value_name = "BYTES", .default_text = "0",
         .group = kPcap, .help = "stop writing below this free space\n0 = off; records counted as disk_full, /healthz 503",
         .value = size_value<C>(field<&C::pcap, &P::min_free_bytes>)},
        {.key = "pcap.flush_interval_ms", .default_text = "500", .group = kPcap,
         .help = "how often buffered records reach the file, in ms",
         .value = number_value<C>(field<&C::pcap, &P::flush_interval_ms>, 0, 1000)},
        {.key = "pcap.quiet_flush_ms", .default_text = "5000", .group = kPcap,
         .help = "a session with under 4 KiB pending at a flush waits up to this long, in ms: quiet sessions make "
                 "few large writes; 0 = off (every session every flush_interval_ms); below flush_interval_ms "
                 "acts as it",
         .value = number_value<C>(field<&C::pcap, &P::quiet_flush_ms>, 0, 60000)},
        {.key = "pcap.buffer_size", .default_text = "256K", .group = kPcap,
         .help = "size of one block of records handed to the writer; at least 64K + 16 so one record always fits",
         .value = size_value<C>(field<&C::pcap, &P::buffer_bytes>, 65536 + 16)},
        {.key = "pcap.buffer_blocks", .default_text = "256", .group = kPcap,
         .help = "blocks per worker, shared by all its sessions: what may wait for a slow disk before records drop as queue_full",
         .value = number_value<C>(field<&C::pcap, &P::buffer_blocks>, 4, 1u << 20)},
        {.key = "pcap.idle_close_seconds", .default_text = "60", .group = kPcap,
         .help = "close a file that took no record for N seconds (it stays .pcap.part); its next record opens it again\n"
                 "0 = never",
         .value = duration_value<C>(field<&C::pcap, &P::idle_close_seconds>, seconds(0), seconds(366 * 86400))},
        {.key = "pcap.max_open_files", .default_text = "0", .group = kPcap,
         .help = "files each receive worker keeps open at most; past it, the one unwritten longest is closed\n"
                 "until its next record; 0 = each worker's share of the descriptor limit (ulimit -n) less 1024",
         .on_reload = OnReload::restart,
         .value = number_value<C>(field<&C::pcap, &P::max_open_files>, 0, 1u << 20)},
        {.key = "pcap.file_mode", .default_text = "0640", .group = kPcap,
         .help = "mode of new files; directories get x where files get r",
         .value = parsed_value<C>(field<&C::pcap, &P::file_mode>, parse_file_mode)},
        {.key = "pcap.group", .group = kPcap, .help = "group of new files and directories; empty = the process's",
         .value = text_value<C>(field<&C::pcap, &P::group>)},
        {.key = "pcap.flow_index", .flag = "--no-flow-index", .switch_value = "false", .default_text = "true",
         .group = kPcap,
         .help = "write no flow index (<file>.pcap.flows.json.gz beside each finished file, docs/flow-index.md)",
         .value = bool_value<C>(field<&C::pcap, &P::flow_index>)},
        {.key = "pcap.index_max_flows", .default_text = "100000", .group = kPcap,
         .help = "flows one file's index holds; past it the index says index_complete false",
         .value = number_value<C>(field<&C::pcap, &P::index_max_flows>, 1, 10'000'000)},

        // ---- who may send ----
        {.key = "allowed_sources", .flag = "--allow-source", .value_name = "CIDR,...", .group = kWhoMaySend,
         .help = "outer source addresses accepted\nempty = all; others dropped as source_not_allowed",
         .value = list_value<C>(field<&C::allow, &Allowlist::sources>, parse_cidr)},
        {.key = "allowed_vnis", .flag = "--allow-vni", .value_name = "VNI|A-B,...", .group = kWhoMaySend,
         .help = "VNIs accepted\nempty = all; others dropped as vni_not_allowed",
         .value = list_value<C>(field<&C::allow, &Allowlist::vnis>, parse_vni_range)},

        // ---- IDS feed and forwarding ----
        {.key = "tap", .flag = "--tap", .value_name = "NAME[,NAME...]", .group = kIdsFeed,
         .help = "write frames to these TAP interfaces\ncreated if missing; a flow and its reply share one TAP",
         .value = list_value<C>(field<&C::tap>, parse_interface_name)},
        {.key = "tap_session_vlan", .flag = "--tap-session-vlan", .switch_value = "true", .default_text = "false",
         .group = kIdsFeed, .help = "tag frames on the TAPs with the session's VLAN",
         .value = bool_value<C>(field<&C::tap_session_vlan>)},
        {.key = "stream", .flag = "--stream", .value_name = "PATH", .group = kIdsFeed,
         .help = "live pcap stream\n- (stdout), a FIFO (created if missing) or unix:PATH\nunix:PATH: we listen, one reader at a time",
         .value = text_value<C>(field<&C::stream>)},
        {.key = "stream_required", .flag = "--stream-required", .switch_value = "true", .default_text = "false",
         .group = kIdsFeed, .help = "/healthz is 503 while nobody reads the stream, or its reader has taken nothing for 2 s",
         .value = bool_value<C>(field<&C::stream_required>)},
        {.key = "forward", .flag = "--forward", .value_name = "ADDR:PORT", .group = kIdsFeed,
         .help = "re-encapsulate (same VNI), send there",
         .value = endpoint_value<C>(field<&C::forward>, kLiteralAddress)},

        // ---- monitoring ----
        {.key = "metrics_listen", .flag = "--metrics-listen", .value_name = "ADDR:PORT", .group = kMonitoring,
         .help = "serve /metrics, /healthz, /readyz\noff when absent; credentials: metrics_auth.* keys", .on_reload = OnReload::restart,
         .value = endpoint_value<C>(field<&C::metrics_listen>, kLiteralAddress)},
        {.key = "metrics_auth.username", .group = kMonitoring, .help = "basic-auth user for /metrics",
         .on_reload = OnReload::restart, .value = text_value<C>(field<&C::metrics_auth, &MetricsAuth::username>)},
        {.key = "metrics_auth.password_file", .group = kMonitoring,
         .help = "file holding the basic-auth password (one line, at most 4 KiB)", .on_reload = OnReload::restart,
         .value = secret_file_value<&MetricsAuth::password, &MetricsAuth::password_file>()},
        {.key = "metrics_auth.bearer_token_file", .group = kMonitoring,
         .help = "file holding a bearer token for /metrics (one line, at most 4 KiB)", .on_reload = OnReload::restart,
         .value = secret_file_value<&MetricsAuth::bearer_token, &MetricsAuth::bearer_token_file>()},
        {.key = "cloudwatch.namespace", .group = kMonitoring,
         .help = "publish this collector's figures to CloudWatch under this namespace (PutMetricData): packets received, "
                 "dropped and refused by reason, disk free, upload backlog, health\noff when empty",
         .on_reload = OnReload::restart,
         .value = parsed_value<C>(field<&C::cloudwatch, &CW::metric_namespace>,
                                  cloud::parse_cloudwatch_namespace)},
        {.key = "cloudwatch.fleet", .default_text = "mirrortap", .group = kMonitoring,
         .help = "value of the one dimension, Fleet, of every figure: alarms add up the collectors of a fleet by it",
         .on_reload = OnReload::restart,
         .value = parsed_value<C>(field<&C::cloudwatch, &CW::fleet>, cloud::parse_dimension_value)},
        {.key = "cloudwatch.region", .group = kMonitoring,
         .help = "CloudWatch's region; empty = AWS_REGION, AWS_DEFAULT_REGION, else the instance's (IMDS)",
         .on_reload = OnReload::restart, .value = parsed_value<C>(field<&C::cloudwatch, &CW::region>, parse_aws_region)},
        {.key = "cloudwatch.endpoint", .group = kMonitoring,
         .help = "CloudWatch endpoint URL; empty = AWS_ENDPOINT_URL_CLOUDWATCH, else https://monitoring.REGION.amazonaws.com",
         .on_reload = OnReload::restart, .value = parsed_value<C>(field<&C::cloudwatch, &CW::endpoint>, parse_endpoint_url)},
        {.key = "cloudwatch.interval_seconds", .default_text = "60", .group = kMonitoring,
         .help = "how often the figures are sent (a duration; one request per interval, at most 1000 figures each)",
         .on_reload = OnReload::restart,
         .value = duration_value<C>(field<&C::cloudwatch, &CW::interval_seconds>, seconds(1), seconds(3600))},
        {.key = "metrics.max_session_series", .default_text = "1024", .group = kMonitoring,
         .help = "sessions with /metrics series of their own: the named, then the loudest; "
                 "the rest summed into session=\"other\"\n0 = no cap; bounds the page at any number of sessions",
         .value = number_value<C>(field<&C::metrics, &MetricsConfig::max_session_series>, 0, 1u << 20)},

        // ---- upload to S3 ----
        {.key = "upload.url", .flag = "--upload", .value_name = "s3://BUCKET/PREFIX", .group = kUpload,
         .help = "upload finished pcaps (and flow indexes) here, then delete them\noff when absent; keys PREFIX/pcap/session=/date=/hour=/collector=/FILE",
         .on_reload = OnReload::restart, .value = parsed_value<C>(field<&C::upload, &U::url>, parse_upload_url)},
        {.key = "upload.endpoint", .flag = "--upload-endpoint", .value_name = "URL", .group = kUpload,
         .help = "an S3-compatible store, http[s]://HOST[:PORT] (path-style)\nempty = AWS S3", .on_reload = OnReload::restart,
         .value = parsed_value<C>(field<&C::upload, &U::endpoint>, parse_endpoint_url)},
        {.key = "upload.region", .flag = "--upload-region", .value_name = "REGION", .group = kUpload,
         .help = "the bucket's region\nempty = AWS_REGION, AWS_DEFAULT_REGION, then the instance's (IMDS)",
         .on_reload = OnReload::restart, .value = parsed_value<C>(field<&C::upload, &U::region>, parse_aws_region)},
        {.key = "upload.delete_after_upload", .default_text = "true", .group = kUpload,
         .help = "delete each file once stored; false: keep it, marked uploaded (xattr user.mirrortap.uploaded)",
         .on_reload = OnReload::restart, .value = bool_value<C>(field<&C::upload, &U::delete_after_upload>)},
        {.key = "upload.storage_class", .group = kUpload,
         .help = "S3 storage class of the objects (STANDARD_IA, GLACIER_IR, ...); empty = the bucket's default",
         .on_reload = OnReload::restart, .value = parsed_value<C>(field<&C::upload, &U::storage_class>, parse_storage_class)},
        {.key = "upload.drain_seconds", .default_text = "60", .group = kUpload,
         .help = "on SIGTERM, how long pending files may take to go up before the collector exits (a duration: 90s, 5m)",
         .on_reload = OnReload::restart,
         .value = duration_value<C>(field<&C::upload, &U::drain_seconds>, seconds(0), seconds(86400))},
        {.key = "upload.retry_cap_seconds", .default_text = "30", .group = kUpload,
         .help = "longest wait between attempts while the store fails (jittered backoff; a duration)",
         .on_reload = OnReload::restart,
         .value = duration_value<C>(field<&C::upload, &U::retry_cap_seconds>, seconds(1), seconds(3600))},
        {.key = "upload.manifest_seconds", .default_text = "0", .group = kUpload,
         .help = "between two manifests of this collector's chain (files stored, drops; docs/evidence.md)\n"
                 "0 = pcap.rotate_seconds, or 300 when that is 0 (a duration)",
         .on_reload = OnReload::restart,
         .value = duration_value<C>(field<&C::upload, &U::manifest_seconds>, seconds(0), seconds(86400))},
        {.key = "collector_id", .flag = "--collector-id", .value_name = "ID", .group = kUpload,
         .help = "this collector in flow indexes and object keys (collector=ID)\nempty = with upload the EC2 instance id (IMDS), else the host name",
         .on_reload = OnReload::restart, .value = parsed_value<C>(field<&C::collector_id>, parse_collector_id)},

        // ---- privileges ----
        {.key = "user", .flag = "--user", .value_name = "NAME", .group = kPrivileges,
         .help = "drop root to NAME once sockets and files are open\nlike tcpdump -Z", .on_reload = OnReload::restart,
         .value = text_value<C>(field<&C::user>)},
        {.key = "allow_root", .flag = "--allow-root", .switch_value = "true", .default_text = "false",
         .group = kPrivileges, .help = "keep running as root without --user (or with a --user of uid 0)",
         .on_reload = OnReload::restart, .value = bool_value<C>(field<&C::allow_root>)},
        {.key = "allow_insecure_endpoints", .default_text = "false", .group = kPrivileges,
         .help = "accept http:// endpoints on other hosts than this one (upload, lifecycle, AWS_ENDPOINT_URL_*, "
                 "IMDS elsewhere than 169.254.169.254): tokens and captures then cross the network in clear; "
                 "warned about at every start",
         .on_reload = OnReload::restart, .value = bool_value<C>(field<&C::allow_insecure_endpoints>)},

        // ---- Auto Scaling termination ----
        {.key = "lifecycle.hook_name", .flag = "--lifecycle-hook", .value_name = "NAME", .group = kLifecycle,
         .help = "the group's termination lifecycle hook: on Terminated (IMDS), /readyz 503, files finished, then CompleteLifecycleAction\n"
                 "off when empty; needs lifecycle.group_name",
         .on_reload = OnReload::restart, .value = parsed_value<C>(field<&C::lifecycle, &L::hook_name>, parse_auto_scaling_name)},
        {.key = "lifecycle.group_name", .flag = "--lifecycle-group", .value_name = "NAME", .group = kLifecycle,
         .help = "the Auto Scaling group of the hook", .on_reload = OnReload::restart,
         .value = parsed_value<C>(field<&C::lifecycle, &L::group_name>, parse_auto_scaling_name)},
        {.key = "lifecycle.endpoint", .group = kLifecycle,
         .help = "Auto Scaling endpoint URL; empty = AWS_ENDPOINT_URL_AUTO_SCALING, else https://autoscaling.REGION.amazonaws.com", .on_reload = OnReload::restart,
         .value = parsed_value<C>(field<&C::lifecycle, &L::endpoint>, parse_endpoint_url)},
        {.key = "lifecycle.region", .group = kLifecycle,
         .help = "region of the group; empty = AWS_REGION, AWS_DEFAULT_REGION, else the instance's (IMDS)",
         .on_reload = OnReload::restart, .value = parsed_value<C>(field<&C::lifecycle, &L::region>, parse_aws_region)},
        {.key = "lifecycle.poll_seconds", .default_text = "5", .group = kLifecycle,
         .help = "how often the instance's target lifecycle state is read from IMDS", .on_reload = OnReload::restart,
         .value = duration_value<C>(field<&C::lifecycle, &L::poll_seconds>, seconds(1), seconds(300))},
        {.key = "lifecycle.heartbeat_seconds", .default_text = "60", .group = kLifecycle,
         .help = "RecordLifecycleActionHeartbeat this often while draining; below the hook's heartbeat timeout",
         .on_reload = OnReload::restart,
         .value = duration_value<C>(field<&C::lifecycle, &L::heartbeat_seconds>, seconds(1), seconds(7200))},
        {.key = "lifecycle.drain_seconds", .default_text = "1800", .group = kLifecycle,
         .help = "longest drain; one not done by then is not completed: the hook's timeout ends the wait",
         .on_reload = OnReload::restart,
         .value = duration_value<C>(field<&C::lifecycle, &L::drain_seconds>, seconds(1), seconds(172800))},
    };
}

}  // namespace

const SettingsTable<Config>& collector_settings() {
    static const SettingsTable<Config> table = make_table();
    return table;
}

const std::vector<std::string_view>& collector_setting_groups() {
    static const std::vector<std::string_view> groups = {kReceiving, kPcap,        kWhoMaySend, kIdsFeed,
                                                          kMonitoring, kUpload, kPrivileges, kLifecycle, "Other"};
    return groups;
}

const std::vector<SettingDoc>& collector_action_docs() {
    static const std::vector<SettingDoc> actions = with_standard_actions({
        {.flag = "-c,--config", .value_name = "FILE", .group = "Other",
         .help = "YAML config (see config/example.yaml); flags override it"},
        {.flag = "--check-config", .group = "Other", .help = "validate the configuration and exit"},
    });
    return actions;
}

std::vector<SettingDoc> collector_docs() {
    std::vector<SettingDoc> docs = describe(collector_settings());
    docs.insert(docs.end(), collector_action_docs().begin(), collector_action_docs().end());
    return docs;
}

std::vector<std::string> keep_restart_only_settings(Config& next, const Config& running) {
    return keep_restart_only(collector_settings(), next, running);
}

}  // namespace mirrortap
