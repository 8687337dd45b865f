#include "sender/aws_import.hpp"

// JSON is YAML 1.2's flow syntax, so the YAML reader every config goes
// through (support/yaml.hpp, yaml-cpp) reads this file too: one parser, with
// line:column in its errors and keys given twice refused. Two things yaml-cpp
// does not do as JSON does are handled before it sees the text (see
// prepare_json): nesting depth (its own guard answers "bad file" at 1:1) and
// UTF-16 surrogate pairs (\ud83d\ude00), which it refuses as invalid code
// points. It also accepts some text that is not JSON ({,}, comments, bare
// words); every value is still checked below, so such text fails there.

#include <algorithm>
#include <array>
#include <cstdio>
#include <set>

#include "support/file.hpp"
#include "support/text.hpp"
#include "support/yaml.hpp"
#include "support/yaml_value.hpp"

namespace mirrortap::sender {

namespace {

// AWS's output nests five levels; anything past this is refused unparsed.
constexpr int kMaxJsonDepth = 64;

// A document of many filters can pass the 1 MiB a config may have.
constexpr size_t kMaxJsonBytes = 16u << 20;

bool is_high_surrogate(unsigned v) { return v >= 0xD800 && v <= 0xDBFF; }
bool is_low_surrogate(unsigned v) { return v >= 0xDC00 && v <= 0xDFFF; }

// The four hex digits of a \uXXXX escape starting at `at` (the backslash).
std::optional<unsigned> unicode_escape(std::string_view json, size_t at) {
    if (at + 6 > json.size() || json[at] != '\\' || json[at + 1] != 'u') return std::nullopt;
    unsigned v = 0;
    for (size_t i = at + 2; i < at + 6; ++i) {
        const char c = json[i];
        const int digit = c >= '0' && c <= '9' ? c - '0'
                          : c >= 'a' && c <= 'f' ? c - 'a' + 10
                          : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                                 : -1;
        if (digit < 0) return std::nullopt;
        v = v * 16 + unsigned(digit);
    }
    return v;
}

// The JSON text as yaml-cpp can read it: each surrogate pair \uD8xx\uDCxx
// written as the one escape YAML has for it, \UXXXXXXXX (two columns shorter:
// an error's line stays right, its column may be off by a few after one).
// nullopt and `why` when nested deeper than kMaxJsonDepth.
std::optional<std::string> prepare_json(std::string_view json, std::string& why) {
    std::string out;
    out.reserve(json.size());
    int depth = 0;
    bool in_string = false;
    for (size_t i = 0; i < json.size(); ++i) {
        const char c = json[i];
        if (in_string) {
            if (c == '\\' && i + 1 < json.size()) {
                const auto high = unicode_escape(json, i);
                const auto low = high && is_high_surrogate(*high) ? unicode_escape(json, i + 6) : std::nullopt;
                if (low && is_low_surrogate(*low)) {
                    char escape[11];
                    std::snprintf(escape, sizeof escape, "\\U%08X", 0x10000 + ((*high - 0xD800) << 10) + (*low - 0xDC00));
                    out += escape;
                    i += 11;
                } else {
                    out += json.substr(i, 2);  // any other escape, \" and \\ included, as it is
                    ++i;
                }
                continue;
            }
            if (c == '"') in_string = false;
        } else if (c == '"') {
            in_string = true;
        } else if ((c == '[' || c == '{') && ++depth > kMaxJsonDepth) {
            why = "JSON nested deeper than " + std::to_string(kMaxJsonDepth) +
                  " levels: not what aws ec2 describe-traffic-mirror-filters prints";
            return std::nullopt;
        } else if (c == ']' || c == '}') {
            --depth;
        }
        out += c;
    }
    return out;
}

class Importer {
public:
    explicit Importer(AwsImport& out) : out_(out), errors_(out.errors) {}

    void run(const YAML::Node& root) {
        std::map<std::string, RuleLists> by_filter;
        if (root.IsSequence()) {
            // --query 'TrafficMirrorSessions[]' and the like: a bare list (or
            // a list of lists) of filters, rules, sessions or targets.
            read_list(root, "(top level)", by_filter, 0);
        } else if (!root.IsMap()) {
            errors_.add(error_at(root, kWhat));
            return;
        } else if (!read_listings(root, by_filter)) {
            // --query 'TrafficMirrorSessions[0]': one object.
            if (!read_object(root, "(top level)", by_filter)) return;
        }
        for (auto& [id, lists] : by_filter) {
            for (Direction d : {Direction::ingress, Direction::egress})
                if (std::string problem = rule_count_problem(lists[size_t(d)].size(), d); !problem.empty())
                    errors_.add(error_at(root, printable(id) + ": " + problem));
            Filter f(std::move(lists[size_t(Direction::ingress)]), std::move(lists[size_t(Direction::egress)]));
            f.id = id;
            f.amazon_dns = amazon_dns.count(id) > 0;
            out_.filters[id] = std::move(f);
        }
    }

private:
    using RuleLists = std::array<std::vector<FilterRule>, kDirectionCount>;

    // "TrafficMirrorFilters[0].IngressFilterRules[2].RuleNumber: why", at the value.
    void error(const YAML::Node& at, const std::string& path, const std::string& why) {
        errors_.add(error_at(at, path + ": " + why));
    }

    // The value at `key` of `node` read by `parse` into `into`, when given.
    // False when it was given and bad (reported at the value).
    template <typename Parse, typename T>
    bool read_field(const YAML::Node& node, const char* key, const std::string& path, Parse parse, T& into) {
        const YAML::Node v = node[key];
        if (!v) return true;
        auto value = read_value(v, path + "." + key, errors_, parse);
        if (value) into = std::move(*value);
        return bool(value);
    }

    // A field AWS always prints; its absence is an error.
    template <typename Parse, typename T>
    bool read_required(const YAML::Node& node, const char* key, const std::string& path, Parse parse, T& into) {
        if (!node[key]) {
            error(node, path, std::string("no ") + key);
            return false;
        }
        return read_field(node, key, path, parse, into);
    }

    std::optional<PortRange> port_range(const YAML::Node& node, const std::string& path) {
        const auto port = [](std::string_view t, std::string& why) { return parse_uint(t, 65535, why); };
        if (!node.IsMap() || !node["FromPort"] || !node["ToPort"]) {
            error(node, path, "a port range needs FromPort and ToPort");
            return std::nullopt;
        }
        uint64_t from = 0, to = 0;
        if (!read_field(node, "FromPort", path, port, from) || !read_field(node, "ToPort", path, port, to))
            return std::nullopt;
        if (from > to) {
            error(node, path, "FromPort is above ToPort");
            return std::nullopt;
        }
        return PortRange{uint16_t(from), uint16_t(to)};
    }

    std::optional<Direction> direction(const YAML::Node& node, const std::string& path,
                                       std::optional<Direction> expected) {
        const YAML::Node d = node["TrafficDirection"];
        if (!d) {
            if (!expected) error(node, path, "no TrafficDirection");
            return expected;
        }
        const auto named = read_value(d, path + ".TrafficDirection", errors_,
                                      [](std::string_view t, std::string& why) -> std::optional<Direction> {
                                          if (t == "ingress") return Direction::ingress;
                                          if (t == "egress") return Direction::egress;
                                          why = "expected ingress or egress, got " + quote(t);
                                          return std::nullopt;
                                      });
        if (named && expected && *named != *expected) {
            error(d, path + ".TrafficDirection",
                  quote(d.Scalar()) + " in the " + (*expected == Direction::ingress ? "Ingress" : "Egress") +
                      "FilterRules list");
            return std::nullopt;
        }
        return named;
    }

    std::optional<FilterRule> rule(const YAML::Node& node, const std::string& path) {
        FilterRule r;
        bool ok = read_required(node, "RuleNumber", path, parse_rule_number, r.rule_number);
        ok &= read_required(node, "RuleAction", path, parse_rule_action, r.action);
        // Protocol absent (or 0) is AWS's "All protocols".
        uint64_t protocol = 0;
        ok &= read_field(node, "Protocol", path, [](std::string_view t, std::string& why) { return parse_uint(t, 255, why); },
                         protocol);
        if (protocol != 0) r.protocol = uint8_t(protocol);
        ok &= read_field(node, "SourceCidrBlock", path, parse_filter_cidr, r.source_cidr);
        ok &= read_field(node, "DestinationCidrBlock", path, parse_filter_cidr, r.destination_cidr);
        for (auto [key, into] : {std::pair{"SourcePortRange", &r.source_ports},
                                 std::pair{"DestinationPortRange", &r.destination_ports}}) {
            if (const YAML::Node p = node[key]) {
                *into = port_range(p, path + "." + key);
                ok &= into->has_value();
            }
        }
        ok &= read_field(node, "Description", path, parse_label_text, r.description);
        if (ok) {
            if (std::string problem = rule_problem(r); !problem.empty()) {
                error(node, path, problem);
                ok = false;
            }
        }
        if (!ok) return std::nullopt;
        return r;
    }

    void add_rules(const YAML::Node& list, const std::string& path, std::optional<Direction> expected,
                   std::map<std::string, RuleLists>& by_filter, const std::string& filter_id) {
        if (!list.IsSequence()) {
            error(list, path, "expected a list of rules");
            return;
        }
        read_each(list, path, [&](const YAML::Node& node, const std::string& p) {
            add_rule(node, p, expected, by_filter, filter_id);
        });
    }

    void add_rule(const YAML::Node& node, const std::string& p, std::optional<Direction> expected,
                  std::map<std::string, RuleLists>& by_filter, const std::string& filter_id) {
        if (!node.IsMap()) {
            error(node, p, "expected a rule (a JSON object)");
            return;
        }
        std::string id = filter_id;
        if (id.empty() && !read_field(node, "TrafficMirrorFilterId", p, parse_label_text, id)) return;
        if (id.empty()) {
            error(node, p, "no TrafficMirrorFilterId");
            return;
        }
        const auto d = direction(node, p, expected);
        auto r = rule(node, p);
        if (!d || !r) return;
        auto& rules = by_filter[id][size_t(*d)];
        for (const FilterRule& other : rules) {
            if (other.rule_number == r->rule_number)
                error(node, p, "duplicate RuleNumber " + std::to_string(r->rule_number) + " in " +
                                   std::string(to_string(*d)) + " rules of " + printable(id));
        }
        rules.push_back(std::move(*r));
    }

    // What --query may leave and the four outputs hold, by the keys AWS prints.
    static constexpr const char* kWhat =
        "expected what aws ec2 describe-traffic-mirror-filters, -filter-rules, -sessions or -targets prints: an "
        "object with TrafficMirrorFilters, TrafficMirrorFilterRules, TrafficMirrorSessions or TrafficMirrorTargets, "
        "or (--query) a list of them or one of them";

    // The whole output of a describe command; false when it has none of
    // the four lists (it may be one object instead).
    bool read_listings(const YAML::Node& root, std::map<std::string, RuleLists>& by_filter) {
        bool any = false;
        if (const YAML::Node n = root["TrafficMirrorFilters"]) {
            any = true;
            out_.listings.insert("describe-traffic-mirror-filters");
            if (!n.IsSequence()) error(n, "TrafficMirrorFilters", "expected a list of filters");
            else read_each(n, "TrafficMirrorFilters", [&](const YAML::Node& f, const std::string& p) { read_filter(f, p, by_filter); });
        }
        if (const YAML::Node n = root["TrafficMirrorFilterRules"]) {
            any = true;
            out_.listings.insert("describe-traffic-mirror-filter-rules");
            add_rules(n, "TrafficMirrorFilterRules", std::nullopt, by_filter, "");
        }
        if (const YAML::Node n = root["TrafficMirrorSessions"]) {
            any = true;
            out_.listings.insert("describe-traffic-mirror-sessions");
            if (!n.IsSequence()) error(n, "TrafficMirrorSessions", "expected a list of sessions");
            else read_each(n, "TrafficMirrorSessions", [&](const YAML::Node& x, const std::string& p) { read_session(x, p); });
        }
        if (const YAML::Node n = root["TrafficMirrorTargets"]) {
            any = true;
            out_.listings.insert("describe-traffic-mirror-targets");
            if (!n.IsSequence()) error(n, "TrafficMirrorTargets", "expected a list of targets");
            else read_each(n, "TrafficMirrorTargets", [&](const YAML::Node& x, const std::string& p) { read_target(x, p); });
        }
        if (const YAML::Node t = root["NextToken"]) {
            if (t.IsScalar() && !t.Scalar().empty()) out_.next_token = t.Scalar();
        }
        return any;
    }

    template <typename Each>
    void read_each(const YAML::Node& list, const std::string& path, Each each) {
        size_t i = 0;
        for (const YAML::Node& item : list) {
            if (errors_.stopped()) return;
            each(item, path + "[" + std::to_string(i++) + "]");
        }
    }

    // A --query list: objects of any of the four kinds, or lists of them
    // ('TrafficMirrorFilters[].EgressFilterRules' gives one list per filter).
    void read_list(const YAML::Node& list, const std::string& path, std::map<std::string, RuleLists>& by_filter,
                   int depth) {
        read_each(list, path == "(top level)" ? "" : path, [&](const YAML::Node& item, const std::string& p) {
            if (item.IsSequence() && depth == 0) read_list(item, p, by_filter, 1);
            else if (item.IsMap()) read_object(item, p, by_filter);
            else if (item.IsScalar())
                error(item, p, "a plain value: --query must keep whole objects (e.g. 'TrafficMirrorFilters[]', not "
                               "'TrafficMirrorFilters[].TrafficMirrorFilterId')");
            else error(item, p, "expected a filter, a rule, a session or a target (a JSON object)");
        });
    }

    // One object, told apart by the keys AWS prints for each kind.
    bool read_object(const YAML::Node& node, const std::string& path, std::map<std::string, RuleLists>& by_filter) {
        const std::string p = path.empty() ? "(top level)" : path;
        if (node["RuleNumber"] || node["TrafficMirrorFilterRuleId"]) {
            out_.listings.insert("describe-traffic-mirror-filter-rules");
            add_rule(node, p, std::nullopt, by_filter, "");
        } else if (node["TrafficMirrorSessionId"] || node["SessionNumber"]) {
            out_.listings.insert("describe-traffic-mirror-sessions");
            read_session(node, p);
        } else if (node["TrafficMirrorFilterId"]) {
            out_.listings.insert("describe-traffic-mirror-filters");
            read_filter(node, p, by_filter);
        } else if (node["TrafficMirrorTargetId"]) {
            out_.listings.insert("describe-traffic-mirror-targets");
            read_target(node, p);
        } else {
            errors_.add(error_at(node, p + ": " + kWhat));
            return false;
        }
        return true;
    }

    void read_filter(const YAML::Node& f, const std::string& path, std::map<std::string, RuleLists>& by_filter) {
        std::string id;
        if (f.IsMap() && !read_field(f, "TrafficMirrorFilterId", path, parse_label_text, id)) return;
        if (id.empty()) {
            error(f, path, "no TrafficMirrorFilterId");
            return;
        }
        by_filter[id];  // a filter without rules still exists (and mirrors nothing)
        if (const YAML::Node l = f["IngressFilterRules"])
            add_rules(l, path + ".IngressFilterRules", Direction::ingress, by_filter, id);
        if (const YAML::Node l = f["EgressFilterRules"])
            add_rules(l, path + ".EgressFilterRules", Direction::egress, by_filter, id);
        if (const YAML::Node services = f["NetworkServices"]; services && services.IsSequence()) {
            out_.filters_with_services.insert(id);
            for (const YAML::Node& s : services) {
                if (s.IsScalar() && s.Scalar() == "amazon-dns") amazon_dns.insert(id);
                else error(s, path + ".NetworkServices", "unknown network service (AWS has amazon-dns)");
            }
        }
    }

    void read_session(const YAML::Node& node, const std::string& path) {
        if (!node.IsMap()) {
            error(node, path, "expected a session (a JSON object)");
            return;
        }
        AwsSession s;
        const auto number = [](std::string_view t, std::string& why) -> std::optional<uint16_t> {
            const auto n = parse_uint(t, kMinSessionNumber, kMaxSessionNumber, why);
            return n ? std::optional<uint16_t>(uint16_t(*n)) : std::nullopt;
        };
        bool ok = read_required(node, "TrafficMirrorSessionId", path, parse_label_text, s.id);
        ok &= read_required(node, "NetworkInterfaceId", path, parse_label_text, s.network_interface_id);
        ok &= read_required(node, "TrafficMirrorTargetId", path, parse_label_text, s.target_id);
        ok &= read_required(node, "TrafficMirrorFilterId", path, parse_label_text, s.filter_id);
        ok &= read_required(node, "SessionNumber", path, number, s.session_number);
        ok &= read_required(node, "VirtualNetworkId", path, parse_vni, s.vni);
        ok &= read_field(node, "PacketLength", path, parse_packet_length, s.packet_length);
        ok &= read_field(node, "Description", path, parse_label_text, s.description);
        if (!ok) return;
        if (!out_.sessions.emplace(s.id, s).second) error(node, path, "session " + printable(s.id) + " given twice");
    }

    void read_target(const YAML::Node& node, const std::string& path) {
        if (!node.IsMap()) {
            error(node, path, "expected a target (a JSON object)");
            return;
        }
        AwsTarget t;
        bool ok = read_required(node, "TrafficMirrorTargetId", path, parse_label_text, t.id);
        ok &= read_field(node, "Type", path, parse_label_text, t.type);
        ok &= read_field(node, "Description", path, parse_label_text, t.description);
        for (const char* key : {"NetworkInterfaceId", "NetworkLoadBalancerArn", "GatewayLoadBalancerEndpointId"})
            if (node[key]) ok &= read_field(node, key, path, parse_label_text, t.where);
        if (!ok) return;
        if (!out_.targets.emplace(t.id, t).second) error(node, path, "target " + printable(t.id) + " given twice");
    }

    AwsImport& out_;
    ErrorList errors_;
    std::set<std::string> amazon_dns;  // filters whose NetworkServices list amazon-dns
};

}  // namespace

AwsImport import_aws_filters_text(std::string_view json) {
    AwsImport out;
    ErrorList errors(out.errors);
    if (trim(json).find_first_not_of("\r\n") == std::string_view::npos) {
        errors.add("empty: not what aws ec2 describe-traffic-mirror-filters prints");
        return out;
    }
    std::string why;
    const std::optional<std::string> prepared = prepare_json(json, why);
    if (!prepared) {
        errors.add(why);
        return out;
    }
    const std::optional<YAML::Node> root = parse_yaml_document(*prepared, errors);
    if (!root || !errors.empty()) return out;
    Importer(out).run(*root);
    return out;
}

AwsImport import_aws_filters_file(const std::string& path) {
    std::string why;
    const std::optional<std::string> text = read_regular_file(path, kMaxJsonBytes, "AWS filter file", why);
    if (!text) {
        AwsImport out;
        out.errors.push_back({0, 0, why});
        return out;
    }
    return import_aws_filters_text(*text);
}

namespace {

std::string rule_text(const FilterRule& r) {
    std::string t = "rule " + std::to_string(r.rule_number) + " (" + std::string(to_string(r.action));
    if (r.protocol) t += ", protocol " + std::to_string(*r.protocol);
    if (r.source_cidr) t += ", from " + r.source_cidr->to_string();
    if (r.destination_cidr) t += ", to " + r.destination_cidr->to_string();
    return t + ")";
}

}  // namespace

void AwsLibrary::add(AwsImport imp, const std::string& origin, std::vector<std::string>& errors) {
    for (const std::string& listing : imp.listings)
        (imp.next_token.empty() ? pages_[listing].last : pages_[listing].continued).push_back(origin);
    for (auto& [id, filter] : imp.filters) {
        const bool services = imp.filters_with_services.count(id) > 0;
        auto [it, fresh] = filters.emplace(id, filter);
        if (fresh) {
            origin_["filter " + id] = origin;
            if (services) services_origin_[id] = origin;
            continue;
        }
        // The same filter again: merged rule by rule.
        Filter& have = it->second;
        const std::string first = origin_["filter " + id];
        bool conflict = false;
        std::array<std::vector<FilterRule>, kDirectionCount> rules{have.rules(Direction::ingress),
                                                                   have.rules(Direction::egress)};
        for (Direction d : {Direction::ingress, Direction::egress}) {
            for (const FilterRule& r : filter.rules(d)) {
                auto same_number = std::find_if(rules[size_t(d)].begin(), rules[size_t(d)].end(),
                                                [&](const FilterRule& o) { return o.rule_number == r.rule_number; });
                if (same_number == rules[size_t(d)].end()) {
                    rules[size_t(d)].push_back(r);
                } else if (!(*same_number == r)) {
                    errors.push_back(origin + ": filter " + printable(id) + ": " + std::string(to_string(d)) + " " +
                                     rule_text(r) + " differs from " + rule_text(*same_number) + " in " + first +
                                     ": refused (the same filter in two files is merged rule by rule; a rule number "
                                     "must mean the same rule in both)");
                    conflict = true;
                }
            }
            if (std::string problem = rule_count_problem(rules[size_t(d)].size(), d); !problem.empty()) {
                errors.push_back(origin + ": filter " + printable(id) + " with the rules of " + first + ": " + problem);
                conflict = true;
            }
        }
        bool amazon_dns = have.amazon_dns;
        if (services) {
            auto known = services_origin_.find(id);
            if (known != services_origin_.end() && have.amazon_dns != filter.amazon_dns) {
                errors.push_back(origin + ": filter " + printable(id) + ": NetworkServices " +
                                 (filter.amazon_dns ? "[amazon-dns]" : "[]") + " differs from " +
                                 (have.amazon_dns ? "[amazon-dns]" : "[]") + " in " + known->second + ": refused");
                conflict = true;
            } else if (known == services_origin_.end()) {
                services_origin_[id] = origin;
                amazon_dns = filter.amazon_dns;
            }
        }
        if (conflict) continue;
        Filter merged(std::move(rules[size_t(Direction::ingress)]), std::move(rules[size_t(Direction::egress)]));
        merged.id = id;
        merged.amazon_dns = amazon_dns;
        have = std::move(merged);
    }
    auto add_same = [&](auto& into, auto& from, const char* kind) {
        for (auto& [id, item] : from) {
            auto [it, fresh] = into.emplace(id, item);
            const std::string key = std::string(kind) + " " + id;
            if (fresh) origin_[key] = origin;
            else if (!(it->second == item))
                errors.push_back(origin + ": " + kind + " " + printable(id) + " differs from the one in " +
                                 origin_[key] + ": refused");
        }
    };
    add_same(sessions, imp.sessions, "session");
    add_same(targets, imp.targets, "target");
}

void AwsLibrary::finish(std::vector<std::string>& errors) const {
    for (const auto& [listing, pages] : pages_) {
        if (pages.continued.empty() || !pages.last.empty()) continue;
        std::string files;
        for (const auto& f : pages.continued) files += (files.empty() ? "" : ", ") + f;
        errors.push_back(files + ": a page of aws ec2 " + listing +
                         " that continues (NextToken) and no last page (one without NextToken): the listing is "
                         "incomplete; give every page (aws ... --starting-token TOKEN), or let the CLI fetch them all "
                         "(leave out --max-items)");
    }
}

}  // namespace mirrortap::sender
