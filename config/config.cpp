#include "config/config.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <yaml-cpp/yaml.h>

#include <charconv>
#include <cstring>
#include <fstream>
#include <functional>
#include <map>
#include <set>
#include <sstream>

namespace mirrortap {

namespace {

ConfigError error_at(const YAML::Node& node, std::string message) {
    const YAML::Mark m = node.Mark();
    // yaml-cpp counts from 0; editors and compilers count from 1.
    if (m.is_null()) return {0, 0, std::move(message)};
    return {m.line + 1, m.column + 1, std::move(message)};
}

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
        auto text = scalar(n, key);
        if (!text) return;
        if (*text == "true" || *text == "yes" || *text == "on") out = true;
        else if (*text == "false" || *text == "no" || *text == "off") out = false;
        else errors_.push_back(error_at(n, std::string(key) + ": expected true or false, got '" + *text + "'"));
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
        });
        if (item.IsMap() && !have_vni) r.error(item, "sessions entry: 'vni' is required");
        if (item.IsMap() && s.name.empty()) r.error(item, "sessions entry: 'name' is required");
        c.sessions.push_back(std::move(s));
    }
}

void load_pcap(Reader& r, const YAML::Node& n, PcapConfig& p) {
    r.map(n, "pcap", {
        {"enabled", [&](const YAML::Node& v) { r.boolean(v, "pcap.enabled", p.enabled); }},
        {"dir", [&](const YAML::Node& v) { r.string(v, "pcap.dir", p.dir); }},
        {"rotate_size", [&](const YAML::Node& v) { r.into(v, "pcap.rotate_size", p.rotate_size_bytes, parse_size_bytes); }},
        {"rotate_seconds", [&](const YAML::Node& v) { r.uint(v, "pcap.rotate_seconds", p.rotate_seconds, 366u * 86400); }},
        {"retain_files", [&](const YAML::Node& v) { r.uint(v, "pcap.retain_files", p.retain_files, 1u << 30); }},
        {"retain_bytes", [&](const YAML::Node& v) { r.into(v, "pcap.retain_bytes", p.retain_bytes, parse_size_bytes); }},
        {"flush_interval_ms", [&](const YAML::Node& v) { r.uint(v, "pcap.flush_interval_ms", p.flush_interval_ms, 1000); }},
        {"buffer_size", [&](const YAML::Node& v) { r.into(v, "pcap.buffer_size", p.buffer_bytes, parse_size_bytes); }},
    });
}

void load_root(Reader& r, const YAML::Node& root, Config& c) {
    r.map(root, "config", {
        {"listen", [&](const YAML::Node& n) { r.into(n, "listen", c.listen, parse_endpoint); }},
        {"workers", [&](const YAML::Node& n) { r.uint(n, "workers", c.workers, 256); }},
        {"rcvbuf", [&](const YAML::Node& n) { r.into(n, "rcvbuf", c.rcvbuf_bytes, parse_size_bytes); }},
        {"snaplen", [&](const YAML::Node& n) { r.uint(n, "snaplen", c.snaplen, 262144); }},
        {"session_key", [&](const YAML::Node& n) { r.into(n, "session_key", c.session_key, parse_session_key); }},
        {"max_sessions", [&](const YAML::Node& n) { r.uint(n, "max_sessions", c.max_sessions, 1u << 20); }},
        {"sessions", [&](const YAML::Node& n) { load_sessions(r, n, c); }},
        {"pcap", [&](const YAML::Node& n) { load_pcap(r, n, c.pcap); }},
        {"metrics_listen", [&](const YAML::Node& n) {
             Endpoint e;
             r.into(n, "metrics_listen", e, parse_endpoint);
             if (e.len) c.metrics_listen = e;
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

std::string format_error(std::string_view origin, const ConfigError& e) {
    std::ostringstream o;
    o << origin;
    if (e.line > 0) o << ':' << e.line << ':' << e.column;
    o << ": " << e.message;
    return o.str();
}

ConfigLoad load_config_text(std::string_view text) {
    ConfigLoad out;
    YAML::Node root;
    try {
        root = YAML::Load(std::string(text));
    } catch (const YAML::Exception& e) {
        out.errors.push_back({e.mark.line + 1, e.mark.column + 1, e.msg});
        return out;
    }
    Reader r(out.errors);
    if (root.IsNull()) return out;  // an empty file means all defaults
    load_root(r, root, out.config);
    if (out.errors.empty()) out.errors = validate(out.config);
    return out;
}

ConfigLoad load_config_file(const std::string& path) {
    std::ifstream in(path);
    if (!in) {
        ConfigLoad out;
        out.errors.push_back({0, 0, std::string("cannot read: ") + std::strerror(errno)});
        return out;
    }
    std::stringstream buf;
    buf << in.rdbuf();
    return load_config_text(buf.str());
}

std::optional<uint64_t> parse_uint(std::string_view text, uint64_t max, std::string& why) {
    uint64_t v = 0;
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
    if (ec != std::errc() || end != text.data() + text.size() || text.empty()) {
        why = "expected a whole number, got '" + std::string(text) + "'";
        return std::nullopt;
    }
    if (v > max) {
        why = "must be at most " + std::to_string(max) + ", got " + std::string(text);
        return std::nullopt;
    }
    return v;
}

std::optional<uint64_t> parse_size_bytes(std::string_view text, std::string& why) {
    if (text.empty()) {
        why = "expected a size such as 4096, 64K, 100M or 1G";
        return std::nullopt;
    }
    uint64_t unit = 1;
    std::string_view digits = text;
    switch (text.back()) {
        case 'k': case 'K': unit = 1ull << 10; break;
        case 'm': case 'M': unit = 1ull << 20; break;
        case 'g': case 'G': unit = 1ull << 30; break;
        case 't': case 'T': unit = 1ull << 40; break;
        default: break;
    }
    if (unit != 1) digits.remove_suffix(1);
    auto v = parse_uint(digits, UINT64_MAX / unit, why);
    if (!v) {
        why = "expected a size such as 4096, 64K, 100M or 1G, got '" + std::string(text) + "'";
        return std::nullopt;
    }
    return *v * unit;
}

std::optional<Endpoint> parse_endpoint(std::string_view text, std::string& why) {
    Endpoint e;
    e.text = std::string(text);
    std::string host;
    std::string_view port;
    if (!text.empty() && text.front() == '[') {
        auto close = text.find(']');
        if (close == std::string_view::npos || close + 1 >= text.size() || text[close + 1] != ':') {
            why = "expected [IPv6]:PORT, got '" + e.text + "'";
            return std::nullopt;
        }
        host = std::string(text.substr(1, close - 1));
        port = text.substr(close + 2);
    } else {
        auto colon = text.rfind(':');
        if (colon == std::string_view::npos || text.find(':') != colon) {
            why = "expected ADDRESS:PORT (IPv6 as [ADDRESS]:PORT), got '" + e.text + "'";
            return std::nullopt;
        }
        host = std::string(text.substr(0, colon));
        port = text.substr(colon + 1);
    }
    std::string port_why;
    auto p = parse_uint(port, 65535, port_why);
    if (!p) {
        why = "bad port in '" + e.text + "': " + port_why;
        return std::nullopt;
    }
    auto* v4 = reinterpret_cast<sockaddr_in*>(&e.addr);
    auto* v6 = reinterpret_cast<sockaddr_in6*>(&e.addr);
    if (inet_pton(AF_INET, host.c_str(), &v4->sin_addr) == 1) {
        v4->sin_family = AF_INET;
        v4->sin_port = htons(uint16_t(*p));
        e.len = sizeof(sockaddr_in);
    } else if (inet_pton(AF_INET6, host.c_str(), &v6->sin6_addr) == 1) {
        v6->sin6_family = AF_INET6;
        v6->sin6_port = htons(uint16_t(*p));
        e.len = sizeof(sockaddr_in6);
    } else {
        why = "'" + host + "' is not an IPv4 or IPv6 address";
        return std::nullopt;
    }
    return e;
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
    return errors;
}

}  // namespace mirrortap
