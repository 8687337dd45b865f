#include "sender/config.hpp"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <charconv>
#include <fstream>
#include <set>
#include <sstream>

namespace mirrortap::sender {

std::string format_error(std::string_view origin, const ConfigError& e) {
    std::string out(origin);
    if (e.at.line > 0) out += ":" + std::to_string(e.at.line) + ":" + std::to_string(e.at.column);
    out += ": " + e.message;
    return out;
}

// ---- value parsers ----------------------------------------------------------

namespace {

std::optional<uint64_t> parse_number(std::string_view t) {
    uint64_t v = 0;
    auto [end, ec] = std::from_chars(t.data(), t.data() + t.size(), v);
    if (t.empty() || ec != std::errc{} || end != t.data() + t.size()) return std::nullopt;
    return v;
}

std::string lower(std::string_view s) {
    std::string out(s);
    std::transform(out.begin(), out.end(), out.begin(), [](unsigned char c) { return char(std::tolower(c)); });
    return out;
}

// Splits "100M" into 100 and a multiplier from a suffix table.
std::optional<uint64_t> number_with_suffix(std::string_view text,
                                           std::initializer_list<std::pair<std::string_view, uint64_t>> suffixes,
                                           bool suffix_required) {
    size_t digits = 0;
    while (digits < text.size() && text[digits] >= '0' && text[digits] <= '9') ++digits;
    auto n = parse_number(text.substr(0, digits));
    if (!n) return std::nullopt;
    std::string suffix = lower(text.substr(digits));
    if (suffix.empty() && !suffix_required) return n;
    for (auto [s, mult] : suffixes) {
        if (suffix == s) {
            if (*n > UINT64_MAX / mult) return std::nullopt;
            return *n * mult;
        }
    }
    return std::nullopt;
}

}  // namespace

std::optional<uint64_t> parse_size_bytes(std::string_view text, std::string& why) {
    auto v = number_with_suffix(text, {{"k", 1ull << 10}, {"m", 1ull << 20}, {"g", 1ull << 30}}, false);
    if (!v) why = "expected a byte count such as 4096, 512K, 32M or 1G, got '" + std::string(text) + "'";
    return v;
}

std::optional<RateLimit> parse_rate(std::string_view text, std::string& why) {
    RateLimit r;
    std::string_view rest = text;
    bool any = false;
    while (!rest.empty()) {
        const size_t comma = rest.find(',');
        std::string_view part = rest.substr(0, comma);
        rest = comma == std::string_view::npos ? std::string_view{} : rest.substr(comma + 1);
        if (auto pps = number_with_suffix(part, {{"pps", 1}, {"kpps", 1000}, {"mpps", 1000000}}, true)) {
            r.packets_per_second = *pps;
        } else if (auto bps = number_with_suffix(
                       part, {{"bps", 1}, {"kbps", 1000}, {"mbps", 1000000}, {"gbps", 1000000000}}, true)) {
            r.bits_per_second = *bps;
        } else {
            why = "expected a rate such as 20000pps, 50kpps, 100Mbps, 1Gbps or both with a comma, got '" +
                  std::string(part) + "'";
            return std::nullopt;
        }
        any = true;
    }
    if (!any) {
        why = "empty rate";
        return std::nullopt;
    }
    return r;
}

bool parse_target(std::string_view text, std::string& host, uint16_t& port, std::string& why) {
    port = kDefaultTargetPort;
    std::string_view port_text;
    if (text.empty()) {
        why = "empty target";
        return false;
    }
    if (text.front() == '[') {
        const size_t close = text.find(']');
        if (close == std::string_view::npos) {
            why = "missing ']' in '" + std::string(text) + "'";
            return false;
        }
        host = std::string(text.substr(1, close - 1));
        std::string_view after = text.substr(close + 1);
        if (!after.empty()) {
            if (after.front() != ':') {
                why = "expected ':PORT' after ']' in '" + std::string(text) + "'";
                return false;
            }
            port_text = after.substr(1);
        }
    } else if (std::count(text.begin(), text.end(), ':') > 1) {
        host = std::string(text);  // a bare IPv6 address
    } else if (const size_t colon = text.find(':'); colon != std::string_view::npos) {
        host = std::string(text.substr(0, colon));
        port_text = text.substr(colon + 1);
    } else {
        host = std::string(text);
    }
    if (host.empty()) {
        why = "no host in '" + std::string(text) + "'";
        return false;
    }
    if (!port_text.empty() || text.back() == ':') {
        auto p = parse_number(port_text);
        if (!p || *p == 0 || *p > 65535) {
            why = "bad port '" + std::string(port_text) + "' (1..65535)";
            return false;
        }
        port = uint16_t(*p);
    }
    return true;
}

bool parse_protocol(std::string_view text, std::optional<uint8_t>& protocol, std::string& why) {
    const std::string t = lower(text);
    if (t == "all" || t == "-1" || t == "0") {
        protocol.reset();
        return true;
    }
    static const std::pair<std::string_view, uint8_t> names[] = {
        {"icmp", kProtoIcmp}, {"tcp", kProtoTcp}, {"udp", kProtoUdp}, {"icmpv6", kProtoIcmpv6}, {"sctp", 132}};
    for (auto [name, number] : names) {
        if (t == name) {
            protocol = number;
            return true;
        }
    }
    auto n = parse_number(t);
    if (!n || *n > 255) {
        why = "protocol must be an IANA number 0..255, a name (tcp, udp, icmp, icmpv6, sctp) or all, got '" +
              std::string(text) + "'";
        return false;
    }
    protocol = uint8_t(*n);
    return true;
}

// ---- YAML loading -----------------------------------------------------------

namespace {

SourceMark mark_of(const YAML::Node& n) {
    const YAML::Mark m = n.Mark();
    if (m.line < 0) return {};
    return {m.line + 1, m.column + 1};
}

class Reader {
public:
    explicit Reader(std::vector<ConfigError>& errors) : errors_(errors) {}

    void error(SourceMark at, std::string message) { errors_.push_back({at, std::move(message)}); }
    void error(const YAML::Node& n, std::string message) { error(mark_of(n), std::move(message)); }

    // Calls `fn(key, key_node, value)` for each entry; refuses keys not in `allowed`.
    template <typename Fn>
    bool each_key(const YAML::Node& map, std::string_view what, std::initializer_list<std::string_view> allowed,
                  Fn fn) {
        if (!map.IsMap()) {
            error(map, what_str(what) + " must be a mapping of keys to values");
            return false;
        }
        std::set<std::string> seen;
        for (auto it = map.begin(); it != map.end(); ++it) {
            // A copy: yaml-cpp's operator-> returns a temporary pair, so a
            // reference to its member dangles at the end of this statement.
            const YAML::Node key = it->first;
            if (!key.IsScalar()) {
                error(key, "keys in " + what_str(what) + " must be plain names");
                continue;
            }
            const std::string& name = key.Scalar();
            if (std::find(allowed.begin(), allowed.end(), name) == allowed.end()) {
                std::string list;
                for (auto a : allowed) list += (list.empty() ? "" : ", ") + std::string(a);
                error(key, "unknown key '" + name + "' in " + what_str(what) + " (known: " + list + ")");
                continue;
            }
            if (!seen.insert(name).second) {
                error(key, "key '" + name + "' given twice in " + what_str(what));
                continue;
            }
            fn(name, key, it->second);
        }
        return true;
    }

    std::optional<std::string> scalar(const YAML::Node& n, std::string_view key) {
        if (!n.IsScalar()) {
            error(n, "'" + std::string(key) + "' must be a single value");
            return std::nullopt;
        }
        return n.Scalar();
    }

    std::optional<uint64_t> integer(const YAML::Node& n, std::string_view key, uint64_t min, uint64_t max) {
        auto s = scalar(n, key);
        if (!s) return std::nullopt;
        auto v = parse_number(*s);
        if (!v || *v < min || *v > max) {
            error(n, "'" + std::string(key) + "' must be a whole number " + std::to_string(min) + ".." +
                         std::to_string(max) + ", got '" + *s + "'");
            return std::nullopt;
        }
        return v;
    }

    std::optional<uint64_t> size(const YAML::Node& n, std::string_view key) {
        auto s = scalar(n, key);
        if (!s) return std::nullopt;
        std::string why;
        auto v = parse_size_bytes(*s, why);
        if (!v) error(n, "'" + std::string(key) + "': " + why);
        return v;
    }

private:
    static std::string what_str(std::string_view w) { return std::string(w); }
    std::vector<ConfigError>& errors_;
};

std::optional<PortRange> read_port_range(Reader& r, const YAML::Node& n, std::string_view key) {
    PortRange range;
    bool from_set = false, to_set = false;
    bool ok = r.each_key(n, key, {"from_port", "to_port"}, [&](const std::string& k, const YAML::Node&,
                                                                const YAML::Node& v) {
        auto p = r.integer(v, k, 0, 65535);
        if (!p) return;
        if (k == "from_port") range.from_port = uint16_t(*p), from_set = true;
        else range.to_port = uint16_t(*p), to_set = true;
    });
    if (!ok) return std::nullopt;
    if (!from_set || !to_set) {
        r.error(n, "'" + std::string(key) + "' needs both from_port and to_port");
        return std::nullopt;
    }
    if (range.from_port > range.to_port) {
        r.error(n, "'" + std::string(key) + "': from_port " + std::to_string(range.from_port) +
                       " is above to_port " + std::to_string(range.to_port));
        return std::nullopt;
    }
    return range;
}

std::optional<Cidr> read_cidr(Reader& r, const YAML::Node& n, std::string_view key) {
    auto s = r.scalar(n, key);
    if (!s) return std::nullopt;
    auto c = Cidr::parse(*s);
    if (!c) r.error(n, "'" + std::string(key) + "': '" + *s + "' is not an IPv4 or IPv6 CIDR block");
    return c;
}

std::vector<FilterRule> read_rules(Reader& r, const YAML::Node& list, Direction dir) {
    std::vector<FilterRule> rules;
    const std::string where = std::string(to_string(dir)) + " rules";
    if (!list.IsSequence()) {
        r.error(list, "'" + std::string(to_string(dir)) + "' must be a list of rules");
        return rules;
    }
    std::map<uint16_t, int> numbers_seen;  // rule_number -> line
    for (const YAML::Node& item : list) {
        FilterRule rule;
        bool number_set = false, action_set = false, valid = true;
        SourceMark protocol_at;
        r.each_key(item, "a rule",
                   {"rule_number", "rule_action", "protocol", "source_cidr_block", "destination_cidr_block",
                    "source_port_range", "destination_port_range", "description"},
                   [&](const std::string& k, const YAML::Node&, const YAML::Node& v) {
                       if (k == "rule_number") {
                           auto n = r.integer(v, k, 1, 32766);
                           if (n) rule.rule_number = uint16_t(*n), number_set = true;
                           else valid = false;
                       } else if (k == "rule_action") {
                           auto s = r.scalar(v, k);
                           if (s && (*s == "accept" || *s == "reject")) {
                               rule.action = *s == "accept" ? RuleAction::accept : RuleAction::reject;
                               action_set = true;
                           } else {
                               if (s) r.error(v, "'rule_action' must be accept or reject, got '" + *s + "'");
                               valid = false;
                           }
                       } else if (k == "protocol") {
                           auto s = r.scalar(v, k);
                           std::string why;
                           protocol_at = mark_of(v);
                           if (!s || !parse_protocol(*s, rule.protocol, why)) {
                               if (s) r.error(v, why);
                               valid = false;
                           }
                       } else if (k == "source_cidr_block") {
                           rule.source_cidr = read_cidr(r, v, k);
                           valid &= bool(rule.source_cidr);
                       } else if (k == "destination_cidr_block") {
                           rule.destination_cidr = read_cidr(r, v, k);
                           valid &= bool(rule.destination_cidr);
                       } else if (k == "source_port_range") {
                           rule.source_ports = read_port_range(r, v, k);
                           valid &= bool(rule.source_ports);
                       } else if (k == "destination_port_range") {
                           rule.destination_ports = read_port_range(r, v, k);
                           valid &= bool(rule.destination_ports);
                       } else if (k == "description") {
                           if (auto s = r.scalar(v, k)) rule.description = *s;
                       }
                   });
        if (!item.IsMap()) continue;
        if (!item["rule_number"]) r.error(item, "a rule needs a rule_number (1..32766)");
        if (!item["rule_action"]) r.error(item, "a rule needs a rule_action (accept or reject)");
        if (number_set) {
            auto [it, inserted] = numbers_seen.emplace(rule.rule_number, mark_of(item).line);
            if (!inserted) {
                r.error(item, "duplicate rule_number " + std::to_string(rule.rule_number) + " in " + where +
                                  " (first at line " + std::to_string(it->second) + ")");
                valid = false;
            }
        }
        // AWS refuses port ranges on anything but TCP and UDP; so do we, rather
        // than keep a rule that could never match.
        if (rule.has_port_range() && (!rule.protocol || (*rule.protocol != kProtoTcp && *rule.protocol != kProtoUdp))) {
            r.error(rule.protocol ? protocol_at : mark_of(item),
                    "a port range needs protocol 6 (tcp) or 17 (udp); this rule has " +
                        (rule.protocol ? "protocol " + std::to_string(*rule.protocol) : std::string("all protocols")));
            valid = false;
        }
        if (valid && number_set && action_set) rules.push_back(std::move(rule));
    }
    return rules;
}

std::optional<Filter> read_filter(Reader& r, const YAML::Node& n) {
    std::vector<FilterRule> ingress, egress;
    bool ok = r.each_key(n, "filter", {"ingress", "egress", "description"},
                         [&](const std::string& k, const YAML::Node&, const YAML::Node& v) {
                             if (k == "ingress") ingress = read_rules(r, v, Direction::ingress);
                             else if (k == "egress") egress = read_rules(r, v, Direction::egress);
                         });
    if (!ok) return std::nullopt;
    return Filter(std::move(ingress), std::move(egress));
}

void read_sessions(Reader& r, const YAML::Node& list, SenderConfig& c) {
    if (!list.IsSequence()) {
        r.error(list, "'sessions' must be a list");
        return;
    }
    std::map<uint16_t, int> numbers_seen;
    for (const YAML::Node& item : list) {
        SessionConfig sc;
        sc.at = mark_of(item);
        bool number_set = false, filter_set = false;
        r.each_key(item, "a session",
                   {"session_number", "virtual_network_id", "packet_length", "description", "filter",
                    "traffic_mirror_filter_id"},
                   [&](const std::string& k, const YAML::Node&, const YAML::Node& v) {
                       if (k == "session_number") {
                           auto n = r.integer(v, k, kMinSessionNumber, kMaxSessionNumber);
                           if (n) sc.session.session_number = uint16_t(*n), number_set = true;
                       } else if (k == "virtual_network_id") {
                           auto n = r.integer(v, k, 0, 0xFFFFFF);
                           if (n) sc.session.vni = uint32_t(*n);
                       } else if (k == "packet_length") {
                           // Below 14 bytes not even the Ethernet header would reach
                           // the collector, which counts that as a decap error.
                           auto n = r.integer(v, k, 14, 65535);
                           if (n) sc.session.packet_length = uint32_t(*n);
                       } else if (k == "description") {
                           if (auto s = r.scalar(v, k)) sc.session.description = *s;
                       } else if (k == "filter") {
                           if (auto f = read_filter(r, v)) sc.session.filter = std::move(*f);
                           filter_set = true;
                       } else if (k == "traffic_mirror_filter_id") {
                           if (auto s = r.scalar(v, k)) sc.filter_id = *s;
                           sc.filter_id_at = mark_of(v);
                           filter_set = true;
                       }
                   });
        if (!item.IsMap()) continue;
        if (!item["session_number"]) r.error(item, "a session needs a session_number (1..32766)");
        if (!item["virtual_network_id"]) r.error(item, "a session needs a virtual_network_id (0..16777215)");
        if (!filter_set) r.error(item, "a session needs a filter or a traffic_mirror_filter_id");
        if (item["filter"] && item["traffic_mirror_filter_id"])
            r.error(item, "a session has either a filter or a traffic_mirror_filter_id, not both");
        if (number_set) {
            auto [it, inserted] = numbers_seen.emplace(sc.session.session_number, sc.at.line);
            if (!inserted)
                r.error(item, "duplicate session_number " + std::to_string(sc.session.session_number) +
                                  " (first at line " + std::to_string(it->second) + ")");
        }
        c.sessions.push_back(std::move(sc));
    }
}

}  // namespace

ConfigLoad load_config_text(std::string_view text) {
    ConfigLoad out;
    Reader r(out.errors);
    YAML::Node root;
    try {
        root = YAML::Load(std::string(text));
    } catch (const YAML::ParserException& e) {
        out.errors.push_back({{e.mark.line + 1, e.mark.column + 1}, e.msg});
        return out;
    }
    if (!root || root.IsNull()) return out;  // an empty file: all defaults
    SenderConfig& c = out.config;
    r.each_key(root, "the top level",
               {"interface", "target", "sessions", "aws_filter_files", "mtu", "max_rate", "metrics_listen",
                "batch_size", "capture_buffer_bytes", "send_buffer_bytes", "resolve_interval_seconds",
                "poll_interval_usec"},
               [&](const std::string& k, const YAML::Node&, const YAML::Node& v) {
                   if (k == "interface") {
                       if (v.IsScalar()) {
                           c.interfaces = {v.Scalar()};
                           c.interfaces_at = {mark_of(v)};
                       } else if (v.IsSequence() && v.size() > 0) {
                           for (const YAML::Node& i : v) {
                               if (auto s = r.scalar(i, k)) {
                                   c.interfaces.push_back(*s);
                                   c.interfaces_at.push_back(mark_of(i));
                               }
                           }
                       } else {
                           r.error(v, "'interface' must be an interface name or a list of them");
                       }
                   } else if (k == "target") {
                       c.target_at = mark_of(v);
                       std::string why;
                       if (auto s = r.scalar(v, k); s && !parse_target(*s, c.target_host, c.target_port, why))
                           r.error(v, "'target': " + why);
                   } else if (k == "sessions") {
                       read_sessions(r, v, c);
                   } else if (k == "aws_filter_files") {
                       if (v.IsScalar()) {
                           c.aws_filter_files = {v.Scalar()};
                       } else if (v.IsSequence()) {
                           for (const YAML::Node& i : v)
                               if (auto s = r.scalar(i, k)) c.aws_filter_files.push_back(*s);
                       } else {
                           r.error(v, "'aws_filter_files' must be a file name or a list of them");
                       }
                   } else if (k == "mtu") {
                       // 576 is the smallest MTU IPv4 promises; 9216 the largest jumbo frame.
                       if (auto n = r.integer(v, k, 576, 9216)) c.mtu = uint32_t(*n);
                   } else if (k == "max_rate") {
                       r.each_key(v, "max_rate", {"packets_per_second", "bits_per_second"},
                                  [&](const std::string& rk, const YAML::Node&, const YAML::Node& rv) {
                                      auto n = r.integer(rv, rk, 0, UINT64_MAX);
                                      if (!n) return;
                                      if (rk == "packets_per_second") c.max_rate.packets_per_second = *n;
                                      else c.max_rate.bits_per_second = *n;
                                  });
                   } else if (k == "metrics_listen") {
                       if (auto s = r.scalar(v, k)) c.metrics_listen = *s;
                   } else if (k == "batch_size") {
                       if (auto n = r.integer(v, k, 1, 1024)) c.batch_size = uint32_t(*n);
                   } else if (k == "capture_buffer_bytes") {
                       if (auto n = r.size(v, k)) c.capture_buffer_bytes = *n;
                   } else if (k == "send_buffer_bytes") {
                       if (auto n = r.size(v, k)) c.send_buffer_bytes = *n;
                   } else if (k == "poll_interval_usec") {
                       if (auto n = r.integer(v, k, 0, 100000)) c.poll_interval_usec = uint32_t(*n);
                   } else if (k == "resolve_interval_seconds") {
                       if (auto n = r.integer(v, k, 1, 86400)) c.resolve_interval_seconds = uint32_t(*n);
                   }
               });
    return out;
}

ConfigLoad load_config_file(const std::string& path) {
    std::ifstream in(path);
    if (!in) {
        ConfigLoad out;
        out.errors.push_back({{}, "cannot open config file"});
        return out;
    }
    std::stringstream ss;
    ss << in.rdbuf();
    return load_config_text(ss.str());
}

std::vector<Session> resolve_sessions(const SenderConfig& c, const FilterLibrary& library,
                                      std::vector<ConfigError>& errors) {
    std::vector<Session> sessions;
    for (const SessionConfig& sc : c.sessions) {
        Session s = sc.session;
        if (!sc.filter_id.empty()) {
            auto it = library.find(sc.filter_id);
            if (it == library.end()) {
                std::string known;
                for (const auto& [id, f] : library) known += (known.empty() ? "" : ", ") + id;
                errors.push_back({sc.filter_id_at, "traffic_mirror_filter_id '" + sc.filter_id +
                                                       "' is not among the imported AWS filters" +
                                                       (known.empty() ? std::string(" (none imported: use --import-aws-filter FILE or aws_filter_files)")
                                                                      : " (imported: " + known + ")")});
                continue;
            }
            s.filter = it->second;
        }
        sessions.push_back(std::move(s));
    }
    return sessions;
}

void validate_for_run(const SenderConfig& c, std::vector<ConfigError>& errors) {
    if (c.interfaces.empty())
        errors.push_back({{}, "no interface to capture on: set 'interface:' or give -i IFACE"});
    if (c.target_host.empty()) errors.push_back({{}, "no target: set 'target:' or give --target HOST[:PORT]"});
    if (c.sessions.empty()) errors.push_back({{}, "no sessions: nothing would be mirrored"});
}

std::string filter_to_yaml(const Filter& f, int indent) {
    std::string pad(size_t(indent), ' ');
    std::string out;
    for (Direction d : {Direction::egress, Direction::ingress}) {
        out += pad + std::string(to_string(d)) + ":";
        if (f.rules(d).empty()) {
            out += " []\n";
            continue;
        }
        out += "\n";
        for (const FilterRule& r : f.rules(d)) {
            out += pad + "  - {rule_number: " + std::to_string(r.rule_number) +
                   ", rule_action: " + std::string(to_string(r.action));
            if (r.protocol) out += ", protocol: " + std::to_string(*r.protocol);
            if (r.source_cidr) out += ", source_cidr_block: " + r.source_cidr->to_string();
            if (r.destination_cidr) out += ", destination_cidr_block: " + r.destination_cidr->to_string();
            auto range = [&](const char* key, const std::optional<PortRange>& p) {
                if (p)
                    out += std::string(", ") + key + ": {from_port: " + std::to_string(p->from_port) +
                           ", to_port: " + std::to_string(p->to_port) + "}";
            };
            range("source_port_range", r.source_ports);
            range("destination_port_range", r.destination_ports);
            if (!r.description.empty()) {
                YAML::Emitter e;
                e << YAML::DoubleQuoted << r.description;
                out += std::string(", description: ") + e.c_str();
            }
            out += "}\n";
        }
    }
    return out;
}

}  // namespace mirrortap::sender
