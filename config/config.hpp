// One Config for the collector, filled by the YAML file and then by flags.
// Everything downstream receives a validated Config and never re-checks it.
#pragma once
#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/enum_names.hpp"
#include "base/result.hpp"
#include "support/errors.hpp"
#include "support/parse.hpp"

namespace mirrortap {

enum class SessionKeyMode { vni, vni_and_source };
inline constexpr auto kSessionKeyModeNames = enum_names<SessionKeyMode>({
    {SessionKeyMode::vni, "vni"},
    {SessionKeyMode::vni_and_source, "vni_and_source"},
});

// Who may send. Empty lists allow everyone (the default: an NLB in front
// already limits who reaches the port).
struct Allowlist {
    std::vector<Cidr> sources;
    std::vector<VniRange> vnis;
    bool source_allowed(const std::array<uint8_t, 16>& a) const;
    bool vni_allowed(uint32_t vni) const;
};

// Credentials for /metrics; /healthz and /readyz stay open for load balancers.
struct MetricsAuth {
    std::string username;
    std::string password;      // read from password_file
    std::string bearer_token;  // read from bearer_token_file
    // Where they were read from: root reads them again at a reload, so they
    // must be as trustworthy as the config file (collector/cli.cpp checks).
    std::string password_file;
    std::string bearer_token_file;
    bool enabled() const { return !username.empty() || !bearer_token.empty(); }
};

// What /metrics shows (collector/session_series.hpp).
struct MetricsConfig {
    // Sessions with series of their own: those named in `sessions:`, then the
    // loudest others; the rest are summed into session="other". 0 = no cap.
    uint32_t max_session_series = 1024;
};

// Sinks by name, in the order of their slot in Session::sinks (SinkSlot in sinks/sink_set.hpp).
inline constexpr std::array<std::string_view, 4> kSinkNames = {"pcap", "tap", "stream", "forward"};
inline constexpr uint32_t kAllSinks = ~0u;

struct NamedSession {
    uint32_t vni = 0;
    std::string name;
    std::optional<uint16_t> vlan;  // 802.1Q VID on the TAPs with tap_session_vlan, 1..4094
    uint32_t sinks = kAllSinks;    // bit i: feeds kSinkNames[i]; every sink unless the entry lists them
    bool operator==(const NamedSession&) const = default;
};

// The VLAN ID of a VNI with tap_session_vlan and no `vlan:` of its own: the
// VNI modulo 4094, 0 read as 4094 (VIDs 0 and 4095 are reserved), so VNIs
// 1..4094 keep their number and VNIs that differ by a multiple of 4094 share one.
uint16_t vlan_for_vni(uint32_t vni);

struct PcapConfig {
    bool enabled = true;
    std::string dir = "./captures";
    uint64_t rotate_size_bytes = 1ull << 30;
    uint32_t rotate_seconds = 3600;  // 0 = never by time
    uint32_t retain_files = 0;       // per session, 0 = keep all
    uint64_t retain_bytes = 0;       // per session, 0 = keep all
    uint64_t retain_total_bytes = 0; // all sessions together, 0 = keep all
    // Finished files whose last write (modification time) is older than this
    // are removed, every session directory's; 0 = keep all.
    uint32_t retain_seconds = 0;
    uint32_t flush_interval_ms = 500;  // below a second so that tailing stays live
    // A session with under a page pending at a flush waits up to this long
    // (more records or its time), so that thousands of quiet sessions make
    // few large writes, not one small writev each per flush; 0 = off.
    uint32_t quiet_flush_ms = 5000;
    // One block of records handed to the pcap writer thread (one write(2)).
    uint32_t buffer_bytes = 256 * 1024;
    // Blocks per worker's pool: buffer_blocks * buffer_bytes may wait for a
    // slow disk before records are dropped as queue_full (64 MiB by default).
    uint32_t buffer_blocks = 256;
    // Below this much free space the sink stops writing (records counted as
    // disk_full) and /healthz goes 503, before the disk is really full.
    uint64_t min_free_bytes = 0;
    uint32_t file_mode = 0640;
    std::string group;  // group of new files and directories; empty = the process's
    // A flow index beside each file (docs/flow-index.md), of at most this many flows.
    bool flow_index = true;
    uint32_t index_max_flows = 100000;
    // Descriptors follow active sessions, not sessions: a file that took no
    // record for this long is closed (it stays .pcap.part and is reopened by
    // its next record), and each worker's sink keeps at most max_open_files
    // open, closing the longest unwritten first. idle_close_seconds 0 = never
    // by time; max_open_files 0 = each worker's share of the descriptor limit
    // (resolved at start, collector/collector.hpp).
    uint32_t idle_close_seconds = 60;
    uint32_t max_open_files = 0;
};

// Scale-in without losing captures (collector/lifecycle.hpp): in an Auto
// Scaling group with a termination lifecycle hook, the collector finishes
// its files and then completes the hook's action itself. Off while hook_name is empty.
struct LifecycleConfig {
    std::string hook_name;
    std::string group_name;
    std::string endpoint;   // Auto Scaling's endpoint URL; empty = AWS's for the region
    std::string region;     // empty = AWS_REGION, AWS_DEFAULT_REGION, else the instance's
    uint32_t poll_seconds = 5;        // how often IMDS's target-lifecycle-state is read
    uint32_t heartbeat_seconds = 60;  // RecordLifecycleActionHeartbeat this often while draining
    uint32_t drain_seconds = 1800;    // the drain's deadline; unfinished, the hook's timeout ends the wait
    bool enabled() const { return !hook_name.empty(); }
};

// s3://BUCKET/PREFIX: where finished captures go (upload/uploader.hpp).
struct UploadUrl {
    std::string text;    // as given
    std::string bucket;
    std::string prefix;  // without slashes at either end; "" for none
    bool operator==(const UploadUrl&) const = default;
};

// Shipping finished pcaps to S3; off while url.bucket is empty.
struct UploadConfig {
    UploadUrl url;
    std::string endpoint;        // http[s]://HOST[:PORT] of an S3-compatible store; "" = AWS
    std::string region;          // "" = AWS_REGION, AWS_DEFAULT_REGION, then the instance's (IMDS)
    bool delete_after_upload = true;  // else marked uploaded (an extended attribute) and kept
    std::string storage_class;   // "" = the bucket's default
    uint32_t drain_seconds = 60;  // SIGTERM: how long pending files may take to go up
    uint32_t retry_cap_seconds = 30;  // longest wait between attempts while the store fails
    // Between two manifests of the chain (docs/evidence.md); 0 = pcap.rotate_seconds, or 300 when that is 0.
    uint32_t manifest_seconds = 0;
    bool enabled() const { return !url.bucket.empty(); }
};

// The collector's own figures in CloudWatch (collector/cloudwatch_publisher.hpp):
// received, dropped and refused by reason, disk free, upload backlog and
// health, sent with PutMetricData every interval_seconds, dimension Fleet.
// Off while metric_namespace is empty.
struct CloudWatchConfig {
    std::string metric_namespace;
    std::string region;    // "" = AWS_REGION, AWS_DEFAULT_REGION, else the instance's (IMDS)
    std::string endpoint;  // "" = AWS_ENDPOINT_URL_CLOUDWATCH, else https://monitoring.REGION.amazonaws.com
    std::string fleet = "mirrortap";  // the value of the Fleet dimension: alarms aggregate the collectors by it
    uint32_t interval_seconds = 60;
    bool enabled() const { return !metric_namespace.empty(); }
};

struct Config {
    Endpoint listen;
    std::optional<Endpoint> listen_geneve;  // GENEVE from a Gateway Load Balancer; off when absent
    uint32_t workers = 0;  // 0 = one per core
    uint64_t rcvbuf_bytes = 64ull << 20;
    // Receive from an AF_PACKET ring on this interface (collector/ring_source.hpp)
    // instead of UDP sockets; empty = sockets, the default.
    std::string capture_interface;
    uint32_t snaplen = 65535;
    SessionKeyMode session_key = SessionKeyMode::vni;
    uint32_t max_sessions = 1024;
    // A session idle this long is ended and its slot freed, so that a burst of
    // stray VNIs cannot hold max_sessions for ever. 0 = sessions never end.
    uint32_t session_idle_seconds = 600;
    std::vector<NamedSession> sessions;
    PcapConfig pcap;
    std::optional<Endpoint> metrics_listen;
    MetricsAuth metrics_auth;
    MetricsConfig metrics;
    Allowlist allow;
    std::string user;         // drop root to this user once everything is open (like tcpdump -Z)
    bool allow_root = false;  // run as root without --user, knowingly
    // http:// to a host other than this one (the store, Auto Scaling, STS,
    // IMDS moved elsewhere) carries tokens and captures in clear: refused
    // unless this is set, and then warned about at every start.
    bool allow_insecure_endpoints = false;
    // The IDS feed and forwarding; each off while empty.
    std::vector<std::string> tap;    // TAP device names (sinks/tap_sink.hpp)
    bool tap_session_vlan = false;   // push each session's VLAN tag on the TAPs
    std::string stream;              // "-" (stdout), a FIFO path or unix:PATH (sinks/stream_sink.hpp)
    bool stream_required = false;    // /healthz says 503 while nobody reads the stream, or its reader stalls
    std::optional<Endpoint> forward; // re-encapsulate and send here (sinks/forward_sink.hpp)
    LifecycleConfig lifecycle;
    UploadConfig upload;
    CloudWatchConfig cloudwatch;
    // Names this collector in flow indexes and object keys; "" = the EC2 instance id when
    // uploading (resolved once at start), else the host name.
    std::string collector_id;

    Config();  // defaults, including listen 0.0.0.0:4789
    const std::string* name_for(uint32_t vni) const;
    // Which sinks (bits by kSinkNames) the sessions of this VNI feed.
    uint32_t sink_mask_for(uint32_t vni) const;
    // The 802.1Q VID of this VNI's sessions on the TAPs: its `vlan:`, else vlan_for_vni.
    uint16_t session_vlan(uint32_t vni) const;
};

struct ConfigLoad {
    Config config;
    std::vector<ConfigError> errors;  // at most 50, then "too many errors, stopping"
    bool ok() const { return errors.empty(); }
};

// Parses YAML text over the defaults, by the table of settings
// (config/settings.hpp). Every problem is reported, not just the first; an
// empty text, a key given twice and an unknown key are errors.
ConfigLoad load_config_text(std::string_view text);
// The same for a file, read fail-closed (support/file.hpp): errors without a
// line are about the file itself.
ConfigLoad load_config_file(const std::string& path);

// The collector's own value parsers (support/parse.hpp has the shared ones).
// Each fails with why on bad input.
Result<SessionKeyMode> parse_session_key(std::string_view text);
// Session names become directory names and label values.
Result<> valid_session_name(std::string_view name);
Result<uint32_t> parse_sink_name(std::string_view text);  // its index in kSinkNames
// Auto Scaling group and lifecycle hook names: 1 to 255 characters, no control characters, no ':'.
Result<std::string> parse_auto_scaling_name(std::string_view text);
Result<UploadUrl> parse_upload_url(std::string_view text);        // s3://BUCKET[/PREFIX]
Result<std::string> parse_storage_class(std::string_view text);  // an S3 storage class
Result<std::string> parse_aws_region(std::string_view text);     // us-east-1

// A collector id goes into object keys as collector=ID: 1 to 128 of A-Z a-z 0-9 . _ -
Result<std::string> parse_collector_id(std::string_view text);

// Checks between settings (names used twice, a forward that would loop, ...),
// run after flags are applied too. Each setting's own bounds are its parser's.
std::vector<ConfigError> validate(const Config& c);

// The VNI whose automatic session name `name` is (vni-501, vni-501-10.0.0.1),
// or nullopt: a named session may take only its own VNI's automatic name, or
// it would share a directory and a `session` label with another VNI.
std::optional<uint32_t> automatic_name_vni(std::string_view name);

}  // namespace mirrortap
