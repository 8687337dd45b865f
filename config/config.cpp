#include "config/config.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <yaml-cpp/yaml.h>

#include <cstring>
#include <functional>
#include <map>
#include <set>

#include "support/file.hpp"
#include "support/text.hpp"
#include "support/yaml.hpp"

namespace mirrortap {

namespace {

const auto size_parser = [](std::string_view t, std::string& why) { return parse_size_bytes(t, why); };
const auto endpoint_parser = [](std::string_view t, std::string& why) { return parse_endpoint(t, why); };

// Turns a scalar into a value with one of the shared parsers, or records why not.
class Reader {
public:
    explicit Reader(std::vector<ConfigError>& errors) : errors_(errors) {}

    std::optional<std::string> scalar(const YAML::Node& n, std::string_view key) {
        if (!n.IsScalar()) {
            errors_.push_back(error_at(n, std::string(key) + ": expected a single value"));
            return std::nullopt;
        }
        return n.Scalar();
    }

    template <typename T, typename Parse>
    void into(const YAML::Node& n, std::string_view key, T& out, Parse parse) {
        auto text = scalar(n, key);
        if (!text) return;
        std::string why;
        auto v = parse(*text, why);
        if (!v) {
            errors_.push_back(error_at(n, std::string(key) + ": " + why));
            return;
        }
        out = static_cast<T>(*v);
    }

    void uint(const YAML::Node& n, std::string_view key, auto& out, uint64_t max) {
        into(n, key, out, [max](std::string_view t, std::string& why) { return parse_uint(t, max, why); });
    }

    void boolean(const YAML::Node& n, std::string_view key, bool& out) {
        into(n, key, out, parse_bool);
    }

    void string(const YAML::Node& n, std::string_view key, std::string& out) {
        if (auto t = scalar(n, key)) out = *t;
    }

    // Calls the handler of each known key; an unknown key is an error at its own place.
    using Handlers = std::map<std::string, std::function<void(const YAML::Node&)>, std::less<>>;
    void map(const YAML::Node& n, std::string_view where, const Handlers& handlers) {
        if (!n.IsMap()) {
            errors_.push_back(error_at(n, std::string(where) + ": expected a mapping of keys to values"));
            return;
        }
        for (const auto& kv : n) {
            const std::string key = kv.first.Scalar();
            auto h = handlers.find(key);
            if (h == handlers.end()) {
                errors_.push_back(error_at(kv.first, "unknown key '" + key + "' in " + std::string(where)));
                continue;
            }
            h->second(kv.second);
        }
    }

    void error(const YAML::Node& n, std::string message) { errors_.push_back(error_at(n, std::move(message))); }

private:
    std::vector<ConfigError>& errors_;
};

template <typename T, typename Parse>
void load_list(Reader& r, const YAML::Node& n, std::string_view key, std::vector<T>& out, Parse parse);

void load_sessions(Reader& r, const YAML::Node& list, Config& c) {
    if (!list.IsSequence()) {
        r.error(list, "sessions: expected a list such as [{vni: 501, name: web}]");
        return;
    }
    for (const auto& item : list) {
        NamedSession s;
        bool have_vni = false;
        r.map(item, "sessions entry", {
            {"vni", [&](const YAML::Node& n) { r.uint(n, "vni", s.vni, 0xFFFFFF); have_vni = true; }},
            {"name", [&](const YAML::Node& n) {
                 r.string(n, "name", s.name);
                 std::string why;
                 if (!valid_session_name(s.name, why)) r.error(n, "name: " + why);
             }},
            {"vlan", [&](const YAML::Node& n) {
                 uint16_t vid = 0;
                 r.uint(n, "vlan", vid, 4094);
                 if (vid == 0 && n.IsScalar() && n.Scalar() == "0") r.error(n, "vlan: 0 is reserved; use 1 to 4094");
                 if (vid != 0) s.vlan = vid;
             }},
            {"sinks", [&](const YAML::Node& n) {
                 std::vector<uint32_t> picked;
                 load_list(r, n, "sinks", picked, parse_sink_name);
                 s.sinks = 0;
                 for (uint32_t i : picked) s.sinks |= 1u << i;
             }},
        });
        if (item.IsMap() && !have_vni) r.error(item, "sessions entry: 'vni' is required");
        if (item.IsMap() && s.name.empty()) r.error(item, "sessions entry: 'name' is required");
        c.sessions.push_back(std::move(s));
    }
}

// A YAML list, or one scalar holding a comma-separated list, of values for one parser.
template <typename T, typename Parse>
void load_list(Reader& r, const YAML::Node& n, std::string_view key, std::vector<T>& out, Parse parse) {
    auto one = [&](const YAML::Node& item, std::string_view text) {
        std::string why;
        if (auto v = parse(text, why)) out.push_back(*v);
        else r.error(item, std::string(key) + ": " + why);
    };
    if (n.IsSequence()) {
        for (const auto& item : n)
            if (auto t = r.scalar(item, key)) one(item, *t);
        return;
    }
    auto text = r.scalar(n, key);
    if (!text) return;
    std::string_view rest = *text;
    while (!rest.empty()) {
        const size_t comma = rest.find(',');
        std::string_view part = rest.substr(0, comma);
        while (!part.empty() && part.front() == ' ') part.remove_prefix(1);
        while (!part.empty() && part.back() == ' ') part.remove_suffix(1);
        if (!part.empty()) one(n, part);
        rest = comma == std::string_view::npos ? std::string_view{} : rest.substr(comma + 1);
    }
}

void load_metrics_auth(Reader& r, const YAML::Node& n, MetricsAuth& a) {
    auto secret = [&](const YAML::Node& v, std::string_view key, std::string& out) {
        std::string path;
        r.string(v, key, path);
        std::string why;
        if (auto s = read_secret_file(path, why)) out = *s;
        else r.error(v, std::string(key) + ": " + quote(path) + ": " + why);
    };
    r.map(n, "metrics_auth", {
        {"username", [&](const YAML::Node& v) { r.string(v, "metrics_auth.username", a.username); }},
        {"password_file", [&](const YAML::Node& v) { secret(v, "metrics_auth.password_file", a.password); }},
        {"bearer_token_file", [&](const YAML::Node& v) { secret(v, "metrics_auth.bearer_token_file", a.bearer_token); }},
    });
    if (n.IsMap() && a.username.empty() != a.password.empty())
        r.error(n, "metrics_auth: username and password_file go together");
}

void load_pcap(Reader& r, const YAML::Node& n, PcapConfig& p) {
    r.map(n, "pcap", {
        {"enabled", [&](const YAML::Node& v) { r.boolean(v, "pcap.enabled", p.enabled); }},
        {"dir", [&](const YAML::Node& v) { r.string(v, "pcap.dir", p.dir); }},
        {"rotate_size", [&](const YAML::Node& v) { r.into(v, "pcap.rotate_size", p.rotate_size_bytes, size_parser); }},
        {"rotate_seconds", [&](const YAML::Node& v) { r.uint(v, "pcap.rotate_seconds", p.rotate_seconds, 366u * 86400); }},
        {"retain_files", [&](const YAML::Node& v) { r.uint(v, "pcap.retain_files", p.retain_files, 1u << 30); }},
        {"retain_bytes", [&](const YAML::Node& v) { r.into(v, "pcap.retain_bytes", p.retain_bytes, size_parser); }},
        {"flush_interval_ms", [&](const YAML::Node& v) { r.uint(v, "pcap.flush_interval_ms", p.flush_interval_ms, 1000); }},
        {"buffer_size", [&](const YAML::Node& v) { r.into(v, "pcap.buffer_size", p.buffer_bytes, size_parser); }},
        {"min_free_bytes", [&](const YAML::Node& v) { r.into(v, "pcap.min_free_bytes", p.min_free_bytes, size_parser); }},
        {"file_mode", [&](const YAML::Node& v) { r.into(v, "pcap.file_mode", p.file_mode, parse_file_mode); }},
        {"group", [&](const YAML::Node& v) { r.string(v, "pcap.group", p.group); }},
    });
}

void load_root(Reader& r, const YAML::Node& root, Config& c) {
    r.map(root, "config", {
        {"listen", [&](const YAML::Node& n) { r.into(n, "listen", c.listen, endpoint_parser); }},
        {"workers", [&](const YAML::Node& n) { r.uint(n, "workers", c.workers, 256); }},
        {"rcvbuf", [&](const YAML::Node& n) { r.into(n, "rcvbuf", c.rcvbuf_bytes, size_parser); }},
        {"snaplen", [&](const YAML::Node& n) { r.uint(n, "snaplen", c.snaplen, 262144); }},
        {"session_key", [&](const YAML::Node& n) { r.into(n, "session_key", c.session_key, parse_session_key); }},
        {"max_sessions", [&](const YAML::Node& n) { r.uint(n, "max_sessions", c.max_sessions, 1u << 20); }},
        {"sessions", [&](const YAML::Node& n) { load_sessions(r, n, c); }},
        {"pcap", [&](const YAML::Node& n) { load_pcap(r, n, c.pcap); }},
        {"allowed_sources", [&](const YAML::Node& n) { load_list(r, n, "allowed_sources", c.allow.sources, parse_cidr); }},
        {"allowed_vnis", [&](const YAML::Node& n) { load_list(r, n, "allowed_vnis", c.allow.vnis, parse_vni_range); }},
        {"user", [&](const YAML::Node& n) { r.string(n, "user", c.user); }},
        {"allow_root", [&](const YAML::Node& n) { r.boolean(n, "allow_root", c.allow_root); }},
        {"metrics_auth", [&](const YAML::Node& n) { load_metrics_auth(r, n, c.metrics_auth); }},
        {"metrics_listen", [&](const YAML::Node& n) {
             Endpoint e;
             r.into(n, "metrics_listen", e, endpoint_parser);
             if (e.len) c.metrics_listen = e;
         }},
        {"tap", [&](const YAML::Node& n) { load_list(r, n, "tap", c.tap, parse_tap_name); }},
        {"tap_session_vlan", [&](const YAML::Node& n) { r.boolean(n, "tap_session_vlan", c.tap_session_vlan); }},
        {"stream", [&](const YAML::Node& n) { r.string(n, "stream", c.stream); }},
        {"stream_required", [&](const YAML::Node& n) { r.boolean(n, "stream_required", c.stream_required); }},
        {"forward", [&](const YAML::Node& n) {
             Endpoint e;
             r.into(n, "forward", e, endpoint_parser);
             if (e.len) c.forward = e;
         }},
    });
}

}  // namespace

Config::Config() {
    std::string why;
    listen = *parse_endpoint("0.0.0.0:4789", why);
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

std::optional<std::string> parse_tap_name(std::string_view text, std::string& why) {
    // IFNAMSIZ is 16 with the terminating NUL; '/' and white space are never allowed.
    if (text.empty() || text.size() > 15 || text == "." || text == "..") {
        why = "an interface name has 1 to 15 characters, got '" + std::string(text) + "'";
        return std::nullopt;
    }
    for (char ch : text) {
        const bool ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
                        ch == '-' || ch == '_' || ch == '.';
        if (!ok) {
            why = "'" + std::string(text) + "' may use only letters, digits, '-', '_' and '.'";
            return std::nullopt;
        }
    }
    return std::string(text);
}

std::optional<uint32_t> parse_sink_name(std::string_view text, std::string& why) {
    for (uint32_t i = 0; i < kSinkNames.size(); ++i)
        if (text == kSinkNames[i]) return i;
    why = "unknown sink '" + std::string(text) + "' (pcap, tap, stream or forward)";
    return std::nullopt;
}

ConfigLoad load_config_text(std::string_view text) {
    ConfigLoad out;
    ErrorList errors(out.errors);
    const auto root = parse_yaml_document(text, errors);
    if (!root) return out;
    Reader r(out.errors);
    load_root(r, *root, out.config);
    if (out.errors.empty()) out.errors = validate(out.config);
    return out;
}

ConfigLoad load_config_file(const std::string& path) {
    std::string why;
    const auto text = read_config_file(path, why);
    if (!text) {
        ConfigLoad out;
        out.errors.push_back({0, 0, why});
        return out;
    }
    return load_config_text(*text);
}

std::optional<SessionKeyMode> parse_session_key(std::string_view text, std::string& why) {
    if (text == "vni") return SessionKeyMode::vni;
    if (text == "vni_and_source") return SessionKeyMode::vni_and_source;
    why = "expected vni or vni_and_source, got '" + std::string(text) + "'";
    return std::nullopt;
}

bool valid_session_name(std::string_view name, std::string& why) {
    if (name.empty() || name.size() > 64) {
        why = "a session name has 1 to 64 characters";
        return false;
    }
    if (name == "." || name == "..") {
        why = "'" + std::string(name) + "' cannot be a directory name";
        return false;
    }
    for (char ch : name) {
        const bool ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
                        ch == '-' || ch == '_' || ch == '.';
        if (!ok) {
            why = "'" + std::string(name) + "' may use only letters, digits, '-', '_' and '.'";
            return false;
        }
    }
    return true;
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
        if (!taps.insert(t).second) errors.push_back({0, 0, "tap: '" + t + "' is named twice"});
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
        errors.push_back({0, 0, "forward: " + c.forward->text + " is where we listen; that would loop"});
}

}  // namespace

std::vector<ConfigError> validate(const Config& c) {
    std::vector<ConfigError> errors;
    std::set<uint32_t> vnis;
    std::set<std::string> names;
    for (const auto& s : c.sessions) {
        if (!vnis.insert(s.vni).second)
            errors.push_back({0, 0, "sessions: VNI " + std::to_string(s.vni) + " is named twice"});
        if (!s.name.empty() && !names.insert(s.name).second)
            errors.push_back({0, 0, "sessions: name '" + s.name + "' is used twice"});
    }
    if (c.snaplen < 14) errors.push_back({0, 0, "snaplen: must be at least 14 (one Ethernet header)"});
    if (c.max_sessions == 0) errors.push_back({0, 0, "max_sessions: must be at least 1"});
    if (c.pcap.enabled && c.pcap.dir.empty()) errors.push_back({0, 0, "pcap.dir: must not be empty"});
    if (c.pcap.rotate_size_bytes < 4096)
        errors.push_back({0, 0, "pcap.rotate_size: must be at least 4K"});
    if (c.pcap.buffer_bytes < 65536 + 16)
        errors.push_back({0, 0, "pcap.buffer_size: must be at least 64K so that one record always fits"});
    validate_ids_feed(c, errors);
    return errors;
}

}  // namespace mirrortap
