#include "sender/config.hpp"

#include <algorithm>
#include <cctype>
#include <map>
#include <set>

#include "sender/settings.hpp"
#include "support/file.hpp"
#include "support/settings.hpp"
#include "support/text.hpp"
#include "support/yaml.hpp"
#include "support/yaml_value.hpp"

namespace mirrortap::sender {

SourceMark mark_of(const YAML::Node& n) {
    const YAML::Mark m = n.Mark();
    if (m.is_null() || m.line < 0) return {};
    return {m.line + 1, m.column + 1};
}

ConfigError error_at_mark(SourceMark at, std::string message) { return {at.line, at.column, std::move(message)}; }

Result<uint16_t> parse_rule_number(std::string_view text) {
    const auto n = parse_uint(text, 1, 32766);
    if (!n) return fail(n.error());
    return uint16_t(*n);
}

namespace {

// "ID=VALUE": the id (no '=', not empty) and the value's text (in `text`).
struct Mapping {
    std::string id;
    std::string_view value;
};
Result<Mapping> split_mapping(std::string_view text, std::string_view example) {
    const size_t eq = text.find('=');
    if (eq == std::string_view::npos || eq == 0 || eq + 1 == text.size())
        return fail("expected ID=VALUE such as " + std::string(example) + ", got " + quote(text));
    auto label = parse_text(trim(text.substr(0, eq)));
    if (!label) return fail(label.error());
    return Mapping{*label, trim(text.substr(eq + 1))};
}

}  // namespace

Result<AwsInterfaceName> parse_aws_interface(std::string_view text) {
    // An ENI alone: its interface here is found through IMDSv2 (eni.hpp).
    if (text.find('=') == std::string_view::npos) {
        const std::string_view id = trim(text);
        const std::string_view digits = id.substr(std::min<size_t>(4, id.size()));
        const bool hex = std::all_of(digits.begin(), digits.end(), [](char c) { return std::isxdigit(uint8_t(c)); });
        if (!id.starts_with("eni-") || !hex || (digits.size() != 8 && digits.size() != 17))
            return fail("expected ENI or ENI=IFACE such as eni-0a1b2c3d4e5f67890 or eni-0a1b2c3d4e5f67890=eth0, got " +
                        quote(text));
        return AwsInterfaceName{std::string(id), ""};
    }
    auto m = split_mapping(text, "eni-0a1b2c3d4e5f67890=eth0");
    if (!m) return fail(std::move(m).error());
    auto name = parse_interface_name(m->value);
    if (!name) return fail(name.error());
    return AwsInterfaceName{std::move(m->id), *name};
}

Result<AwsTargetAddress> parse_aws_target(std::string_view text) {
    auto m = split_mapping(text, "tmt-0a1b2c3d4e5f67890=nlb.example.com");
    if (!m) return fail(std::move(m).error());
    auto endpoint = parse_endpoint(m->value, kTargetRules);
    if (!endpoint) return fail(endpoint.error());
    return AwsTargetAddress{std::move(m->id), *endpoint};
}

Result<RuleAction> parse_rule_action(std::string_view text) {
    if (auto action = kRuleActionNames.parse(text)) return *action;
    return fail("expected accept or reject, got " + quote(text));
}

Result<> check_rule(const FilterRule& rule) {
    if (rule.source_cidr && rule.destination_cidr && rule.source_cidr->is_v4() != rule.destination_cidr->is_v4())
        return fail("source_cidr_block " + rule.source_cidr->to_string() + " and destination_cidr_block " +
                    rule.destination_cidr->to_string() +
                    " are of different IP address families; AWS refuses a rule that mixes IPv4 and IPv6 (write one "
                    "rule for each)");
    if (!rule.has_port_range() || (rule.protocol && (*rule.protocol == kProtoTcp || *rule.protocol == kProtoUdp)))
        return {};
    return fail("a port range needs protocol 6 (tcp) or 17 (udp); this rule has " +
                (rule.protocol ? "protocol " + std::to_string(*rule.protocol) : std::string("all protocols")));
}

Result<> check_rule_count(size_t rules, Direction d) {
    if (rules <= kMaxRulesPerDirection) return {};
    return fail(std::to_string(rules) + " " + std::string(kDirectionNames(d)) + " rules; AWS allows at most " +
                std::to_string(kMaxRulesPerDirection) + " filter rules per filter in each direction (Traffic "
                "Mirroring quotas, not adjustable)");
}

// ---- sessions and their filters ---------------------------------------------
//
// These are structures only the file holds (a list of maps of lists of
// maps), so the table declares `sessions` as one setting of node shape and
// the code below reads its fields with the same walker and parsers.

namespace {

Result<uint16_t> parse_port(std::string_view text) {
    const auto n = parse_uint(text, 65535);
    if (!n) return fail(n.error());
    return uint16_t(*n);
}

Result<uint16_t> parse_session_number(std::string_view text) {
    const auto n = parse_uint(text, kMinSessionNumber, kMaxSessionNumber);
    if (!n) return fail(n.error());
    return uint16_t(*n);
}

}  // namespace

// AWS: "Valid values are 1-8500. Setting a PacketLength greater than 8500
// will result in an error response." Below 14 bytes not even the inner
// Ethernet header would reach the collector (a decap error there), so the
// sender asks for at least that much.
Result<uint32_t> parse_packet_length(std::string_view text) {
    const auto n = parse_uint(text, 0, UINT32_MAX);
    if (!n) return fail(n.error());
    if (*n > kMaxPacketLength)
        return fail("AWS's valid values are 1-" + std::to_string(kMaxPacketLength) +
                    " (greater is an error response), got " + quote(text));
    if (*n < kMinPacketLength) return fail("must be at least " + std::to_string(kMinPacketLength) + ", got " + quote(text));
    return uint32_t(*n);
}

namespace {

Result<std::string> parse_filter_id(std::string_view text) {
    if (text.empty()) return fail("expected the id of an imported filter, such as tmf-0a1b2c3d4e5f67890");
    auto id = parse_text(text);
    if (!id) return fail(id.error());
    return *id;
}

// {from_port, to_port}, both inclusive and both required.
std::optional<PortRange> read_port_range(const YAML::Node& n, const std::string& key, ErrorList& errors) {
    std::optional<uint16_t> ports[2];
    bool given[2] = {false, false};
    const auto port = [&](int i) {
        return [&, i](const YAML::Node& v, std::string_view name) {
            given[i] = true;
            ports[i] = read_value(v, name, errors, parse_port);
        };
    };
    read_keys(n, {{"from_port", port(0)}, {"to_port", port(1)}}, errors, key);
    if (!n.IsMap()) return std::nullopt;  // the walk said so
    if (!given[0] || !given[1]) {
        errors.add(error_at(n, key + ": needs both from_port and to_port"));
        return std::nullopt;
    }
    if (!ports[0] || !ports[1]) return std::nullopt;
    if (*ports[0] > *ports[1]) {
        errors.add(error_at(n, key + ": from_port " + std::to_string(*ports[0]) + " is above to_port " +
                                   std::to_string(*ports[1])));
        return std::nullopt;
    }
    return PortRange{*ports[0], *ports[1]};
}

// One rule, or nullopt when anything in it was wrong (each reported).
std::optional<FilterRule> read_rule(const YAML::Node& item, ErrorList& errors) {
    FilterRule rule;
    bool valid = true, number_given = false, action_given = false;
    SourceMark protocol_at;
    // A field's value, or the rule is invalid (its error reported by read_value).
    auto take = [&valid](auto value, auto& into) {
        if (value) into = *value;
        valid &= bool(value);
    };
    // A field read by `parse` into `into`.
    auto field = [&](auto parse, auto& into) {
        return [&, parse](const YAML::Node& v, std::string_view key) { take(read_value(v, key, errors, parse), into); };
    };
    auto ports = [&](auto& into) {
        return [&](const YAML::Node& v, std::string_view key) { take(read_port_range(v, std::string(key), errors), into); };
    };
    read_keys(item, {
        {"rule_number", [&](const YAML::Node& v, std::string_view key) {
             number_given = true;
             take(read_value(v, key, errors, parse_rule_number), rule.rule_number);
         }},
        {"rule_action", [&](const YAML::Node& v, std::string_view key) {
             action_given = true;
             take(read_value(v, key, errors, parse_rule_action), rule.action);
         }},
        {"protocol", [&](const YAML::Node& v, std::string_view key) {
             protocol_at = mark_of(v);
             const auto protocol = read_value(v, key, errors, parse_protocol);
             if (protocol) rule.protocol = *protocol;
             valid &= protocol.has_value();
         }},
        {"source_cidr_block", field(parse_filter_cidr, rule.source_cidr)},
        {"destination_cidr_block", field(parse_filter_cidr, rule.destination_cidr)},
        {"source_port_range", ports(rule.source_ports)},
        {"destination_port_range", ports(rule.destination_ports)},
        {"description", field(parse_text, rule.description)},
    }, errors, "a rule");
    if (!item.IsMap()) return std::nullopt;
    // A value that is present but wrong was reported already, not also as missing.
    if (!number_given) errors.add(error_at(item, "a rule needs a rule_number (1..32766)"));
    if (!action_given) errors.add(error_at(item, "a rule needs a rule_action (accept or reject)"));
    if (!valid || !number_given || !action_given) return std::nullopt;
    if (auto checked = check_rule(rule); !checked) {
        const bool ports = checked.error().rfind("a port range", 0) == 0;
        errors.add(error_at_mark(ports && rule.protocol ? protocol_at : mark_of(item), checked.error()));
        return std::nullopt;
    }
    return rule;
}

std::vector<FilterRule> read_rules(const YAML::Node& list, Direction dir, ErrorList& errors) {
    const std::string key(kDirectionNames(dir));
    std::vector<FilterRule> rules;
    if (!list.IsSequence()) {
        errors.add(error_at(list, key + ": expected a list of rules"));
        return rules;
    }
    std::map<uint16_t, int> first_line;  // rule_number -> line
    for (const YAML::Node& item : list) {
        if (errors.stopped()) break;
        auto rule = read_rule(item, errors);
        if (!rule) continue;
        auto [it, fresh] = first_line.emplace(rule->rule_number, mark_of(item).line);
        if (!fresh) {
            errors.add(error_at(item, "duplicate rule_number " + std::to_string(rule->rule_number) + " in " + key +
                                          " rules (first at line " + std::to_string(it->second) + ")"));
            continue;
        }
        rules.push_back(std::move(*rule));
    }
    if (auto checked = check_rule_count(rules.size(), dir); !checked) errors.add(error_at(list, key + ": " + checked.error()));
    return rules;
}

// AWS's NetworkServices: `amazon-dns` is the only one there is.
bool read_network_services(const YAML::Node& list, ErrorList& errors) {
    if (!list.IsSequence()) {
        errors.add(error_at(list, "network_services: expected a list, e.g. [amazon-dns]"));
        return false;
    }
    bool amazon_dns = false;
    for (const YAML::Node& s : list) {
        if (s.IsScalar() && s.Scalar() == "amazon-dns") amazon_dns = true;
        else errors.add(error_at(s, "network_services: the only network service is amazon-dns"));
    }
    return amazon_dns;
}

Filter read_filter(const YAML::Node& n, ErrorList& errors) {
    std::vector<FilterRule> ingress, egress;
    bool amazon_dns = false;
    read_keys(n, {
        {"ingress", [&](const YAML::Node& v, std::string_view) { ingress = read_rules(v, Direction::ingress, errors); }},
        {"egress", [&](const YAML::Node& v, std::string_view) { egress = read_rules(v, Direction::egress, errors); }},
        // For the reader only.
        {"description", [&](const YAML::Node& v, std::string_view key) { read_value(v, key, errors, parse_text); }},
        {"network_services", [&](const YAML::Node& v, std::string_view) { amazon_dns = read_network_services(v, errors); }},
    }, errors, "filter");
    Filter f(std::move(ingress), std::move(egress));
    f.amazon_dns = amazon_dns;
    return f;
}

// A session's `interface`: one name, a comma-separated string, or a list.
std::vector<std::string> read_interface_list(const YAML::Node& n, ErrorList& errors) {
    std::vector<std::string> names;
    auto add = [&](const YAML::Node& item, std::string_view text) {
        auto name = parse_interface_name(text);
        if (!name) errors.add(error_at(item, "interface: " + name.error()));
        else if (std::find(names.begin(), names.end(), *name) != names.end())
            errors.add(error_at(item, "interface: " + quote(*name) + " is given twice"));
        else names.push_back(std::move(*name));
    };
    if (n.IsSequence()) {
        for (const YAML::Node& item : n) {
            if (item.IsScalar()) add(item, item.Scalar());
            else errors.add(error_at(item, "interface: expected an interface name"));
        }
    } else if (n.IsScalar()) {
        for (std::string_view part : split_list(n.Scalar())) add(n, part);
    } else {
        errors.add(error_at(n, "interface: expected a name or a list of names"));
    }
    if (names.empty() && n.IsSequence()) errors.add(error_at(n, "interface: an empty list (leave it out for the top level's)"));
    return names;
}

// One session; `number` is its session_number when that was good.
SessionConfig read_session(const YAML::Node& item, std::optional<uint16_t>& number, ErrorList& errors) {
    SessionConfig sc;
    sc.at = mark_of(item);
    Session& s = sc.session;
    std::set<std::string_view> given;
    // Each reader notes its key as given: a missing key is told apart from a bad value.
    const auto reader = [&given](auto read) {
        return [&given, read](const YAML::Node& v, std::string_view key) {
            given.insert(key);
            read(v, key);
        };
    };
    read_keys(item, {
        {"session_number", reader([&](const YAML::Node& v, std::string_view key) {
             number = read_value(v, key, errors, parse_session_number);
             if (number) s.session_number = *number;
         })},
        {"virtual_network_id", reader([&](const YAML::Node& v, std::string_view key) {
             if (auto n = read_value(v, key, errors, parse_vni)) s.vni = *n;
         })},
        {"packet_length", reader([&](const YAML::Node& v, std::string_view key) {
             s.packet_length = read_value(v, key, errors, parse_packet_length);
         })},
        {"description", reader([&](const YAML::Node& v, std::string_view key) {
             if (auto d = read_value(v, key, errors, parse_text)) s.description = *d;
         })},
        {"filter", reader([&](const YAML::Node& v, std::string_view) { s.filter = read_filter(v, errors); })},
        {"traffic_mirror_filter_id", reader([&](const YAML::Node& v, std::string_view key) {
             if (auto id = read_value(v, key, errors, parse_filter_id)) sc.filter_id = *id;
             sc.filter_id_at = mark_of(v);
         })},
        {"interface", reader([&](const YAML::Node& v, std::string_view) {
             sc.interfaces = read_interface_list(v, errors);
             sc.interfaces_at = mark_of(v);
         })},
        {"target", reader([&](const YAML::Node& v, std::string_view key) {
             sc.target = read_value(v, key, errors, [](std::string_view t) { return parse_endpoint(t, kTargetRules); });
             sc.target_at = mark_of(v);
         })},
    }, errors, "a session");
    if (!item.IsMap()) return sc;
    if (!given.count("session_number")) errors.add(error_at(item, "a session needs a session_number (1..32766)"));
    if (!given.count("virtual_network_id"))
        errors.add(error_at(item, "a session needs a virtual_network_id (0..16777215)"));
    const bool filter = given.count("filter"), filter_id = given.count("traffic_mirror_filter_id");
    if (!filter && !filter_id) errors.add(error_at(item, "a session needs a filter or a traffic_mirror_filter_id"));
    if (filter && filter_id)
        errors.add(error_at(item, "a session has either a filter or a traffic_mirror_filter_id, not both"));
    return sc;
}

// Where each interface of `n` (a list, or one comma-separated value) was written.
std::vector<SourceMark> item_marks(const YAML::Node& n, size_t count) {
    if (!n.IsSequence()) return std::vector<SourceMark>(count, mark_of(n));
    std::vector<SourceMark> marks;
    for (const YAML::Node& item : n) marks.push_back(mark_of(item));
    return marks;
}

}  // namespace

void load_sessions(const YAML::Node& list, std::vector<SessionConfig>& sessions, ErrorList& errors) {
    if (!list.IsSequence()) {
        errors.add(error_at(list, "sessions: expected a list of sessions"));
        return;
    }
    sessions.clear();
    std::map<uint16_t, int> first_line;  // session_number -> line
    for (const YAML::Node& item : list) {
        if (errors.stopped()) return;
        std::optional<uint16_t> number;
        SessionConfig sc = read_session(item, number, errors);
        // Sessions that name interfaces are checked per interface once the
        // command line is in (resolve_sessions).
        if (number && sc.interfaces.empty()) {
            auto [it, fresh] = first_line.emplace(*number, sc.at.line);
            if (!fresh)
                errors.add(error_at(item, "duplicate session_number " + std::to_string(*number) + " (first at line " +
                                              std::to_string(it->second) + ")"));
        }
        sessions.push_back(std::move(sc));
    }
}

// ---- the file ------------------------------------------------------------------

ConfigLoad load_config_text(std::string_view text) {
    ConfigLoad out;
    ErrorList errors(out.errors);
    const std::optional<YAML::Node> root = parse_yaml_document(text, errors);
    if (!root) return out;
    SenderConfig& c = out.config;
    load_settings(sender_settings(), *root, c, errors);
    // Where the interfaces and the target were written, for the checks that
    // only running can make (does the interface exist, does the name resolve).
    if (root->IsMap()) {
        if (const YAML::Node n = (*root)["target"]; n) c.target_at = mark_of(n);
        if (const YAML::Node n = (*root)["interface"]; n) c.interfaces_at = item_marks(n, c.interfaces.size());
    }
    return out;
}

ConfigLoad load_config_file(const std::string& path) {
    return load_config_from_file<ConfigLoad>(path, [](std::string_view text) { return load_config_text(text); });
}

std::vector<std::string> capture_interfaces(const SenderConfig& c) {
    std::vector<std::string> names;
    auto add = [&](const std::string& n) {
        if (std::find(names.begin(), names.end(), n) == names.end()) names.push_back(n);
    };
    for (const auto& n : c.interfaces) add(n);
    for (const auto& sc : c.sessions)
        for (const auto& n : sc.interfaces) add(n);
    return names;
}

std::vector<Endpoint> session_targets(const SenderConfig& c) {
    std::vector<Endpoint> targets;
    auto add = [&](const Endpoint& e) {
        if (std::none_of(targets.begin(), targets.end(),
                         [&](const Endpoint& t) { return t.host == e.host && t.port == e.port; }))
            targets.push_back(e);
    };
    if (!c.target.host.empty()) add(c.target);
    for (const auto& sc : c.sessions)
        if (sc.target) add(*sc.target);
    return targets;
}

namespace {

// AWS's rules for the sessions of one source interface: at most 3, and
// session numbers unique among them. `sessions` are indexes into c.sessions.
void check_interface_sessions(const SenderConfig& c, const std::string& interface, const std::vector<size_t>& sessions,
                              std::vector<ConfigError>& errors) {
    std::map<uint16_t, size_t> first;  // session_number -> index
    for (size_t i : sessions) {
        const SessionConfig& sc = c.sessions[i];
        auto [it, fresh] = first.emplace(sc.session.session_number, i);
        // Two sessions that both take the top level's interfaces were reported by load_sessions.
        const bool reported = c.sessions[it->second].interfaces.empty() && sc.interfaces.empty();
        if (!fresh && !reported)
            errors.push_back(error_at_mark(sc.at, "duplicate session_number " + std::to_string(sc.session.session_number) +
                                                      " on interface " + quote(interface) + " (first at line " +
                                                      std::to_string(c.sessions[it->second].at.line) + ")"));
    }
    if (sessions.size() <= kMaxSessionsPerInterface) return;
    std::string numbers;
    for (size_t i : sessions) numbers += (numbers.empty() ? "" : ", ") + std::to_string(c.sessions[i].session.session_number);
    errors.push_back(error_at_mark(
        c.sessions[sessions[kMaxSessionsPerInterface]].at,
        "interface " + quote(interface) + " is the source of " + std::to_string(sessions.size()) + " sessions (" + numbers +
            "); AWS allows at most " + std::to_string(kMaxSessionsPerInterface) +
            " sessions per source network interface (Traffic Mirroring quotas, not adjustable)"));
}

}  // namespace

std::vector<Session> resolve_sessions(const SenderConfig& c, const FilterLibrary& library,
                                      std::vector<ConfigError>& errors) {
    const std::vector<std::string> interfaces = capture_interfaces(c);
    const std::vector<Endpoint> targets = session_targets(c);
    if (interfaces.size() > kMaxInterfaces)
        errors.push_back({0, 0, "more than " + std::to_string(kMaxInterfaces) + " interfaces"});
    auto index_of = [&](const std::string& name) {
        return size_t(std::find(interfaces.begin(), interfaces.end(), name) - interfaces.begin());
    };
    std::vector<std::vector<size_t>> per_interface(interfaces.size());
    std::vector<Session> sessions;
    for (size_t k = 0; k < c.sessions.size(); ++k) {
        const SessionConfig& sc = c.sessions[k];
        Session s = sc.session;
        // A session without interfaces takes the top level's.
        for (const std::string& name : sc.interfaces.empty() ? c.interfaces : sc.interfaces) {
            const size_t i = index_of(name);
            if (i >= kMaxInterfaces) continue;
            s.interfaces |= uint64_t(1) << i;
            per_interface[i].push_back(k);
        }
        if (sc.target) {
            for (size_t t = 0; t < targets.size(); ++t)
                if (targets[t].host == sc.target->host && targets[t].port == sc.target->port) s.target = uint16_t(t);
        }
        if (!sc.filter_id.empty()) {
            auto it = library.find(sc.filter_id);
            if (it == library.end()) {
                std::string known;
                for (const auto& [id, f] : library) known += (known.empty() ? "" : ", ") + printable(id);
                errors.push_back(error_at_mark(
                    sc.filter_id_at,
                    "traffic_mirror_filter_id " + quote(sc.filter_id) + " is not among the imported AWS filters" +
                        (known.empty() ? std::string(" (none imported: use --import-aws-filter FILE or aws_filter_files)")
                                       : " (imported: " + known + ")")));
                continue;
            }
            s.filter = it->second;
        }
        sessions.push_back(std::move(s));
    }
    for (size_t i = 0; i < interfaces.size() && i < kMaxInterfaces; ++i)
        check_interface_sessions(c, interfaces[i], per_interface[i], errors);
    return sessions;
}

void validate_for_run(const SenderConfig& c, std::vector<ConfigError>& errors) {
    for (const SessionConfig& sc : c.sessions)
        if (sc.interfaces.empty() && c.interfaces.empty())
            errors.push_back(error_at_mark(sc.at, "session " + std::to_string(sc.session.session_number) +
                                                      " has no source interface: set 'interface:' (in it or at the top "
                                                      "level) or give -i IFACE"));
    if (c.sessions.empty() && c.interfaces.empty())
        errors.push_back({0, 0, "no interface to capture on: set 'interface:' or give -i IFACE"});
    for (size_t i = 0; i < c.interfaces.size(); ++i) {
        // Two captures on one interface would mirror each frame twice.
        if (std::find(c.interfaces.begin(), c.interfaces.begin() + long(i), c.interfaces[i]) !=
            c.interfaces.begin() + long(i))
            errors.push_back(error_at_mark(i < c.interfaces_at.size() ? c.interfaces_at[i] : SourceMark{},
                                           "interface " + quote(c.interfaces[i]) + " is given twice"));
    }
    for (const SessionConfig& sc : c.sessions)
        if (!sc.target && c.target.host.empty())
            errors.push_back(error_at_mark(sc.at, "session " + std::to_string(sc.session.session_number) +
                                                      " has no target: set 'target:' (in it or at the top level) or "
                                                      "give --target HOST[:PORT]"));
    if (c.sessions.empty() && c.target.host.empty())
        errors.push_back({0, 0, "no target: set 'target:' or give --target HOST[:PORT]"});
    if (c.sessions.empty()) errors.push_back({0, 0, "no sessions: nothing would be mirrored"});
}

std::string filter_to_yaml(const Filter& f, int indent) {
    std::string pad(size_t(indent), ' ');
    std::string out;
    if (f.amazon_dns) out += pad + "network_services: [amazon-dns]\n";
    for (Direction d : {Direction::egress, Direction::ingress}) {
        out += pad + std::string(kDirectionNames(d)) + ":";
        if (f.rules(d).empty()) {
            out += " []\n";
            continue;
        }
        out += "\n";
        for (const FilterRule& r : f.rules(d)) {
            out += pad + "  - {rule_number: " + std::to_string(r.rule_number) +
                   ", rule_action: " + std::string(kRuleActionNames(r.action));
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
