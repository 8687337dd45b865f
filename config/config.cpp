#include "config/config.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <yaml-cpp/yaml.h>

#include <cstring>
#include <map>
#include <set>

#include "cloud/s3_address.hpp"
#include "config/settings.hpp"
#include "support/file.hpp"
#include "support/text.hpp"
#include "support/yaml.hpp"

namespace mirrortap {

Config::Config() {
    listen = *parse_endpoint("0.0.0.0:4789");
}

const std::string* Config::name_for(uint32_t vni) const {
    for (const auto& s : sessions)
        if (s.vni == vni) return &s.name;
    return nullptr;
}

uint32_t Config::sink_mask_for(uint32_t vni) const {
    for (const auto& s : sessions)
        if (s.vni == vni) return s.sinks;
    return kAllSinks;
}

uint16_t vlan_for_vni(uint32_t vni) {
    const uint32_t v = vni % 4094;
    return uint16_t(v == 0 ? 4094 : v);
}

uint16_t Config::session_vlan(uint32_t vni) const {
    for (const auto& s : sessions)
        if (s.vni == vni && s.vlan) return *s.vlan;
    return vlan_for_vni(vni);
}

Result<UploadUrl> parse_upload_url(std::string_view text) {
    constexpr std::string_view kScheme = "s3://";
    if (text.substr(0, kScheme.size()) != kScheme)
        return fail(quote(text) + " is not an s3://BUCKET/PREFIX URL");
    std::string_view rest = text.substr(kScheme.size());
    const size_t slash = rest.find('/');
    UploadUrl url{std::string(text), std::string(rest.substr(0, slash)), ""};
    if (!cloud::valid_bucket_name(url.bucket))
        return fail("bucket " + quote(url.bucket) +
                    " is not a valid S3 bucket name (3 to 63 of a-z, 0-9, '.', '-', starting and ending with a letter or digit)");
    if (slash != std::string_view::npos) {
        std::string_view prefix = rest.substr(slash + 1);
        while (!prefix.empty() && prefix.back() == '/') prefix.remove_suffix(1);
        url.prefix = std::string(prefix);
    }
    if (url.prefix.find("//") != std::string::npos || url.prefix.starts_with('/'))
        return fail("prefix " + quote(url.prefix) + " has an empty path segment ('//')");
    if (!url.prefix.empty()) {
        if (auto key = cloud::check_object_key(url.prefix); !key)
            return fail("prefix " + quote(url.prefix) + ": " + key.error());
        if (url.prefix.size() > 512)
            return fail("prefix is longer than 512 bytes: the keys under it would not fit S3's 1024");
    }
    return url;
}

Result<std::string> parse_storage_class(std::string_view text) {
    static const std::set<std::string_view> kClasses = {
        "STANDARD",   "REDUCED_REDUNDANCY", "STANDARD_IA", "ONEZONE_IA", "INTELLIGENT_TIERING",
        "GLACIER",    "DEEP_ARCHIVE",       "GLACIER_IR",  "OUTPOSTS",   "EXPRESS_ONEZONE"};
    if (text.empty() || kClasses.count(text)) return std::string(text);
    return fail(quote(text) + " is not an S3 storage class (STANDARD, STANDARD_IA, ONEZONE_IA, INTELLIGENT_TIERING, "
                "GLACIER_IR, GLACIER, DEEP_ARCHIVE, ...)");
}

Result<std::string> parse_aws_region(std::string_view text) {
    const bool shaped = !text.empty() && text.size() <= 32 &&
                        text.find_first_not_of("abcdefghijklmnopqrstuvwxyz0123456789-") == std::string_view::npos &&
                        text.front() != '-' && text.back() != '-';
    if (text.empty() || shaped) return std::string(text);
    return fail(quote(text) + " is not an AWS region name (like eu-west-1)");
}

Result<std::string> parse_collector_id(std::string_view text) {
    const bool shaped = text.size() <= 128 && text != "." && text != ".." &&
                        text.find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-") ==
                            std::string_view::npos;
    if (shaped) return std::string(text);
    return fail(quote(text) + " cannot name a collector in object keys: 1 to 128 of A-Z a-z 0-9 . _ -");
}

Result<uint32_t> parse_sink_name(std::string_view text) {
    for (uint32_t i = 0; i < kSinkNames.size(); ++i)
        if (text == kSinkNames[i]) return i;
    return fail("unknown sink " + quote(text) + " (pcap, tap, stream or forward)");
}

Result<std::string> parse_auto_scaling_name(std::string_view text) {
    if (text.empty() || text.size() > 255 || has_control_character(text) || text.find(':') != std::string_view::npos)
        return fail(quote(text) + " is not a group or hook name (1 to 255 characters, no control characters, no ':')");
    return std::string(text);
}

ConfigLoad load_config_text(std::string_view text) {
    ConfigLoad out;
    ErrorList errors(out.errors);
    if (auto root = parse_yaml_document(text, errors)) load_settings(collector_settings(), *root, out.config, errors);
    if (errors.empty())
        for (ConfigError& e : validate(out.config)) errors.add(std::move(e));
    return out;
}

ConfigLoad load_config_file(const std::string& path) {
    return load_config_from_file<ConfigLoad>(path, [](std::string_view text) { return load_config_text(text); });
}

Result<SessionKeyMode> parse_session_key(std::string_view text) {
    if (auto mode = kSessionKeyModeNames.parse(text)) return *mode;
    return fail("expected vni or vni_and_source, got " + quote(text));
}

Result<> valid_session_name(std::string_view name) {
    if (name.empty() || name.size() > 64)
        return fail("a session name has 1 to 64 characters");
    if (name == "." || name == "..")
        return fail(quote(name) + " cannot be a directory name");
    for (char ch : name) {
        const bool ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
                        ch == '-' || ch == '_' || ch == '.';
        if (!ok)
            return fail(quote(name) + " may use only letters, digits, '-', '_' and '.'");
    }
    return {};
}

bool Allowlist::source_allowed(const std::array<uint8_t, 16>& a) const {
    if (sources.empty()) return true;
    for (const auto& c : sources)
        if (c.contains(a)) return true;
    return false;
}

bool Allowlist::vni_allowed(uint32_t vni) const {
    if (vnis.empty()) return true;
    for (const auto& r : vnis)
        if (vni >= r.first && vni <= r.last) return true;
    return false;
}

namespace {

bool is_any_address(const Endpoint& e) {
    if (e.family() == AF_INET) return reinterpret_cast<const sockaddr_in&>(e.addr).sin_addr.s_addr == INADDR_ANY;
    const auto& a = reinterpret_cast<const sockaddr_in6&>(e.addr).sin6_addr;
    return std::memcmp(&a, &in6addr_any, sizeof a) == 0;
}

bool is_loopback(const Endpoint& e) {
    if (e.family() == AF_INET)
        return (ntohl(reinterpret_cast<const sockaddr_in&>(e.addr).sin_addr.s_addr) >> 24) == 127;
    const auto& a = reinterpret_cast<const sockaddr_in6&>(e.addr).sin6_addr;
    return std::memcmp(&a, &in6addr_loopback, sizeof a) == 0;
}

uint16_t port_of(const Endpoint& e) {
    return ntohs(e.family() == AF_INET ? reinterpret_cast<const sockaddr_in&>(e.addr).sin_port
                                       : reinterpret_cast<const sockaddr_in6&>(e.addr).sin6_port);
}

void validate_ids_feed(const Config& c, std::vector<ConfigError>& errors) {
    std::set<std::string> taps;
    for (const auto& t : c.tap)
        if (!taps.insert(t).second) errors.push_back({0, 0, "tap: " + quote(t) + " is named twice"});
    if (c.tap.size() > 64) errors.push_back({0, 0, "tap: at most 64 devices"});
    if (c.stream_required && c.stream.empty())
        errors.push_back({0, 0, "stream_required: needs a stream (stream: PATH or --stream PATH)"});
    if (c.stream.starts_with("unix:") && (c.stream.size() == 5 || c.stream.size() - 5 > 107))
        errors.push_back({0, 0, "stream: a unix socket path has 1 to 107 bytes"});
    if (c.tap_session_vlan) {
        // Two named sessions on one VID would be one network to the IDS.
        std::map<uint16_t, uint32_t> vni_of_vlan;
        for (const auto& s : c.sessions) {
            const uint16_t vid = c.session_vlan(s.vni);
            auto [it, fresh] = vni_of_vlan.emplace(vid, s.vni);
            if (!fresh)
                errors.push_back({0, 0, "sessions: VNI " + std::to_string(it->second) + " and VNI " +
                                            std::to_string(s.vni) + " would share VLAN " + std::to_string(vid) +
                                            " on the TAPs; give one a vlan: of its own"});
        }
    }
    // Only the loops we can see from here: our own address, or loopback while we listen on all.
    if (c.forward && port_of(*c.forward) == port_of(c.listen) &&
        (c.forward->text == c.listen.text || (is_any_address(c.listen) && is_loopback(*c.forward))))
        errors.push_back({0, 0, "forward: " + quote(c.forward->text) + " is where we listen; that would loop"});
}

void validate_lifecycle(const LifecycleConfig& l, std::vector<ConfigError>& errors) {
    const bool any = !l.hook_name.empty() || !l.group_name.empty() || !l.endpoint.empty() || !l.region.empty();
    if (any && (l.hook_name.empty() || l.group_name.empty()))
        errors.push_back({0, 0, "lifecycle: hook_name and group_name go together (the termination hook and its group)"});
}

}  // namespace

std::optional<uint32_t> automatic_name_vni(std::string_view name) {
    if (!name.starts_with("vni-")) return std::nullopt;
    name.remove_prefix(4);
    // vni-<VNI>, and vni-<VNI>-<source> with session_key vni_and_source.
    const size_t digits = std::min(name.find('-'), name.size());
    if (digits == 0 || digits > 8) return std::nullopt;
    uint32_t vni = 0;
    for (char ch : name.substr(0, digits)) {
        if (ch < '0' || ch > '9') return std::nullopt;
        vni = vni * 10 + uint32_t(ch - '0');
    }
    return vni;
}

std::vector<ConfigError> validate(const Config& c) {
    std::vector<ConfigError> errors;
    std::set<uint32_t> vnis;
    std::set<std::string> names;
    for (const auto& s : c.sessions) {
        if (!vnis.insert(s.vni).second)
            errors.push_back({0, 0, "sessions: VNI " + std::to_string(s.vni) + " is named twice"});
        if (!s.name.empty() && !names.insert(s.name).second)
            errors.push_back({0, 0, "sessions: name " + quote(s.name) + " is used twice"});
        if (const auto other = automatic_name_vni(s.name); other && *other != s.vni)
            errors.push_back({0, 0, "sessions: VNI " + std::to_string(s.vni) + " may not be named " + quote(s.name) +
                                        ": that is the name (and directory) of unnamed VNI " +
                                        std::to_string(*other)});
    }
    if (c.pcap.enabled && c.pcap.dir.empty()) errors.push_back({0, 0, "pcap.dir: must not be empty"});
    if (c.metrics_auth.username.empty() != c.metrics_auth.password.empty())
        errors.push_back({0, 0, "metrics_auth: username and password_file go together"});
    if (c.listen_geneve && !c.capture_interface.empty())
        errors.push_back({0, 0, "capture_interface: the ring takes VXLAN on listen only; GENEVE (listen_geneve) needs the socket source"});
    // One port, two SO_REUSEPORT groups would be one group: VXLAN and GENEVE mixed.
    if (c.listen_geneve && port_of(*c.listen_geneve) == port_of(c.listen))
        errors.push_back({0, 0, "listen_geneve: " + quote(c.listen_geneve->text) + " has the port of listen; give GENEVE a port of its own"});
    validate_ids_feed(c, errors);
    validate_lifecycle(c.lifecycle, errors);
    if (c.upload.enabled() && !c.pcap.enabled)
        errors.push_back({0, 0, "upload: uploads finished pcap files; pcap files are off (--no-pcap)"});
    return errors;
}

}  // namespace mirrortap
