#include "sender/aws_import.hpp"

// The AWS CLI's JSON is read with support/json.hpp, the library every JSON
// read goes through, with the limits a file a person hands over deserves: a
// key given twice is refused (as in a YAML config), and so is nesting past
// kMaxJsonDepth. Errors name the JSON path of the value and, found with
// json::locate once the whole document is read, its line and column.

#include <algorithm>
#include <array>
#include <cstdio>
#include <set>

#include "support/file.hpp"
#include "support/text.hpp"
#include "support/json.hpp"

namespace mirrortap::sender {

namespace {

// AWS's output nests five levels; anything past this is refused unparsed.
constexpr int kMaxJsonDepth = 64;

// A document of many filters can pass the 1 MiB a config may have.
constexpr size_t kMaxJsonBytes = 16u << 20;

// A value of the document and the way to it from the root, so that an
// error about it can say where it is. Absent (false) when a member is not there.
class Node {
public:
    Node() = default;
    Node(const json::Value* value, json::Path path) : v_(value), path_(std::move(path)) {}

    explicit operator bool() const { return v_ != nullptr; }
    bool is_object() const { return v_ && v_->is_object(); }
    bool is_array() const { return v_ && v_->is_array(); }
    // One value: a string, a number or true/false (null is no value, as in YAML).
    bool is_scalar() const { return v_ && (v_->is_string() || v_->is_number() || v_->is_boolean()); }
    // Its text: a string as it is, a number or boolean as JSON writes it, for
    // the same value parsers the YAML config's fields go through.
    std::string scalar() const {
        if (!v_) return {};
        return v_->is_string() ? v_->get<std::string>() : v_->dump();
    }
    Node operator[](const char* key) const {
        const json::Value* m = v_ ? json::member(*v_, key) : nullptr;
        if (!m) return Node();
        json::Path p = path_;
        p.emplace_back(std::string(key));
        return Node(m, std::move(p));
    }
    std::vector<Node> items() const {
        std::vector<Node> out;
        if (!is_array()) return out;
        for (size_t i = 0; i < v_->size(); ++i) {
            json::Path p = path_;
            p.emplace_back(i);
            out.emplace_back(&(*v_)[i], std::move(p));
        }
        return out;
    }
    const json::Path& path() const { return path_; }

private:
    const json::Value* v_ = nullptr;
    json::Path path_;
};

class Importer {
public:
    explicit Importer(AwsImport& out) : out_(out), errors_(out.errors) {}

    void run(const Node& root) {
        std::map<std::string, RuleLists> by_filter;
        if (root.is_array()) {
            // --query 'TrafficMirrorSessions[]' and the like: a bare list (or
            // a list of lists) of filters, rules, sessions or targets.
            read_list(root, "(top level)", by_filter, 0);
        } else if (!root.is_object()) {
            error_at(root, kWhat);
            return;
        } else if (!read_listings(root, by_filter)) {
            // --query 'TrafficMirrorSessions[0]': one object.
            if (!read_object(root, "(top level)", by_filter)) return;
        }
        for (auto& [id, lists] : by_filter) {
            for (Direction d : {Direction::ingress, Direction::egress})
                if (auto checked = check_rule_count(lists[size_t(d)].size(), d); !checked)
                    error_at(root, printable(id) + ": " + checked.error());
            Filter f(std::move(lists[size_t(Direction::ingress)]), std::move(lists[size_t(Direction::egress)]));
            f.id = id;
            f.amazon_dns = amazon_dns.count(id) > 0;
            out_.filters[id] = std::move(f);
        }
    }

private:
    using RuleLists = std::array<std::vector<FilterRule>, kDirectionNames.size()>;

    // "TrafficMirrorFilters[0].IngressFilterRules[2].RuleNumber: why", at the value.
    void error(const Node& at, const std::string& path, const std::string& why) {
        error_at(at, path + ": " + why);
    }

    // The value at `key` of `node` read by `parse` into `into`, when given.
    // False when it was given and bad (reported at the value).
    template <typename Parse, typename T>
    bool read_field(const Node& node, const char* key, const std::string& path, Parse parse, T& into) {
        const Node v = node[key];
        if (!v) return true;
        auto value = read_value(v, path + "." + key, parse);
        if (value) into = std::move(*value);
        return bool(value);
    }

    // A field AWS always prints; its absence is an error.
    template <typename Parse, typename T>
    bool read_required(const Node& node, const char* key, const std::string& path, Parse parse, T& into) {
        if (!node[key]) {
            error(node, path, std::string("no ") + key);
            return false;
        }
        return read_field(node, key, path, parse, into);
    }

    std::optional<PortRange> port_range(const Node& node, const std::string& path) {
        const auto port = [](std::string_view t) { return parse_uint(t, 65535); };
        if (!node.is_object() || !node["FromPort"] || !node["ToPort"]) {
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

    std::optional<Direction> direction(const Node& node, const std::string& path,
                                       std::optional<Direction> expected) {
        const Node d = node["TrafficDirection"];
        if (!d) {
            if (!expected) error(node, path, "no TrafficDirection");
            return expected;
        }
        const auto named = read_value(d, path + ".TrafficDirection",
                                      [](std::string_view t) -> Result<Direction> {
                                          if (auto d = kDirectionNames.parse(t)) return *d;
                                          return fail("expected ingress or egress, got " + quote(t));
                                      });
        if (named && expected && *named != *expected) {
            error(d, path + ".TrafficDirection",
                  quote(d.scalar()) + " in the " + (*expected == Direction::ingress ? "Ingress" : "Egress") +
                      "FilterRules list");
            return std::nullopt;
        }
        return named;
    }

    std::optional<FilterRule> rule(const Node& node, const std::string& path) {
        FilterRule r;
        bool ok = read_required(node, "RuleNumber", path, parse_rule_number, r.rule_number);
        ok &= read_required(node, "RuleAction", path, parse_rule_action, r.action);
        // Protocol absent (or 0) is AWS's "All protocols".
        uint64_t protocol = 0;
        ok &= read_field(node, "Protocol", path, [](std::string_view t) { return parse_uint(t, 255); },
                         protocol);
        if (protocol != 0) r.protocol = uint8_t(protocol);
        ok &= read_field(node, "SourceCidrBlock", path, parse_filter_cidr, r.source_cidr);
        ok &= read_field(node, "DestinationCidrBlock", path, parse_filter_cidr, r.destination_cidr);
        for (auto [key, into] : {std::pair{"SourcePortRange", &r.source_ports},
                                 std::pair{"DestinationPortRange", &r.destination_ports}}) {
            if (const Node p = node[key]) {
                *into = port_range(p, path + "." + key);
                ok &= into->has_value();
            }
        }
        ok &= read_field(node, "Description", path, parse_text, r.description);
        if (ok) {
            if (auto checked = check_rule(r); !checked) {
                error(node, path, checked.error());
                ok = false;
            }
        }
        if (!ok) return std::nullopt;
        return r;
    }

    void add_rules(const Node& list, const std::string& path, std::optional<Direction> expected,
                   std::map<std::string, RuleLists>& by_filter, const std::string& filter_id) {
        if (!list.is_array()) {
            error(list, path, "expected a list of rules");
            return;
        }
        read_each(list, path, [&](const Node& node, const std::string& p) {
            add_rule(node, p, expected, by_filter, filter_id);
        });
    }

    void add_rule(const Node& node, const std::string& p, std::optional<Direction> expected,
                  std::map<std::string, RuleLists>& by_filter, const std::string& filter_id) {
        if (!node.is_object()) {
            error(node, p, "expected a rule (a JSON object)");
            return;
        }
        std::string id = filter_id;
        if (id.empty() && !read_field(node, "TrafficMirrorFilterId", p, parse_text, id)) return;
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
                                   std::string(kDirectionNames(*d)) + " rules of " + printable(id));
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
    bool read_listings(const Node& root, std::map<std::string, RuleLists>& by_filter) {
        bool any = false;
        if (const Node n = root["TrafficMirrorFilters"]) {
            any = true;
            out_.listings.insert("describe-traffic-mirror-filters");
            if (!n.is_array()) error(n, "TrafficMirrorFilters", "expected a list of filters");
            else read_each(n, "TrafficMirrorFilters", [&](const Node& f, const std::string& p) { read_filter(f, p, by_filter); });
        }
        if (const Node n = root["TrafficMirrorFilterRules"]) {
            any = true;
            out_.listings.insert("describe-traffic-mirror-filter-rules");
            add_rules(n, "TrafficMirrorFilterRules", std::nullopt, by_filter, "");
        }
        if (const Node n = root["TrafficMirrorSessions"]) {
            any = true;
            out_.listings.insert("describe-traffic-mirror-sessions");
            if (!n.is_array()) error(n, "TrafficMirrorSessions", "expected a list of sessions");
            else read_each(n, "TrafficMirrorSessions", [&](const Node& x, const std::string& p) { read_session(x, p); });
        }
        if (const Node n = root["TrafficMirrorTargets"]) {
            any = true;
            out_.listings.insert("describe-traffic-mirror-targets");
            if (!n.is_array()) error(n, "TrafficMirrorTargets", "expected a list of targets");
            else read_each(n, "TrafficMirrorTargets", [&](const Node& x, const std::string& p) { read_target(x, p); });
        }
        if (const Node t = root["NextToken"]) {
            if (t.is_scalar() && !t.scalar().empty()) out_.next_token = t.scalar();
        }
        return any;
    }

    template <typename Each>
    void read_each(const Node& list, const std::string& path, Each each) {
        size_t i = 0;
        for (const Node& item : list.items()) {
            if (errors_.stopped()) return;
            each(item, path + "[" + std::to_string(i++) + "]");
        }
    }

    // A --query list: objects of any of the four kinds, or lists of them
    // ('TrafficMirrorFilters[].EgressFilterRules' gives one list per filter).
    void read_list(const Node& list, const std::string& path, std::map<std::string, RuleLists>& by_filter,
                   int depth) {
        read_each(list, path == "(top level)" ? "" : path, [&](const Node& item, const std::string& p) {
            if (item.is_array() && depth == 0) read_list(item, p, by_filter, 1);
            else if (item.is_object()) read_object(item, p, by_filter);
            else if (item.is_scalar())
                error(item, p, "a plain value: --query must keep whole objects (e.g. 'TrafficMirrorFilters[]', not "
                               "'TrafficMirrorFilters[].TrafficMirrorFilterId')");
            else error(item, p, "expected a filter, a rule, a session or a target (a JSON object)");
        });
    }

    // One object, told apart by the keys AWS prints for each kind.
    bool read_object(const Node& node, const std::string& path, std::map<std::string, RuleLists>& by_filter) {
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
            error_at(node, p + ": " + kWhat);
            return false;
        }
        return true;
    }

    void read_filter(const Node& f, const std::string& path, std::map<std::string, RuleLists>& by_filter) {
        std::string id;
        if (f.is_object() && !read_field(f, "TrafficMirrorFilterId", path, parse_text, id)) return;
        if (id.empty()) {
            error(f, path, "no TrafficMirrorFilterId");
            return;
        }
        by_filter[id];  // a filter without rules still exists (and mirrors nothing)
        if (const Node l = f["IngressFilterRules"])
            add_rules(l, path + ".IngressFilterRules", Direction::ingress, by_filter, id);
        if (const Node l = f["EgressFilterRules"])
            add_rules(l, path + ".EgressFilterRules", Direction::egress, by_filter, id);
        if (const Node services = f["NetworkServices"]; services && services.is_array()) {
            out_.filters_with_services.insert(id);
            for (const Node& s : services.items()) {
                if (s.is_scalar() && s.scalar() == "amazon-dns") amazon_dns.insert(id);
                else error(s, path + ".NetworkServices", "unknown network service (AWS has amazon-dns)");
            }
        }
    }

    void read_session(const Node& node, const std::string& path) {
        if (!node.is_object()) {
            error(node, path, "expected a session (a JSON object)");
            return;
        }
        AwsSession s;
        const auto number = [](std::string_view t) -> Result<uint16_t> {
            const auto n = parse_uint(t, kMinSessionNumber, kMaxSessionNumber);
            if (!n) return fail(n.error());
            return uint16_t(*n);
        };
        bool ok = read_required(node, "TrafficMirrorSessionId", path, parse_text, s.id);
        ok &= read_required(node, "NetworkInterfaceId", path, parse_text, s.network_interface_id);
        ok &= read_required(node, "TrafficMirrorTargetId", path, parse_text, s.target_id);
        ok &= read_required(node, "TrafficMirrorFilterId", path, parse_text, s.filter_id);
        ok &= read_required(node, "SessionNumber", path, number, s.session_number);
        ok &= read_required(node, "VirtualNetworkId", path, parse_vni, s.vni);
        ok &= read_field(node, "PacketLength", path, parse_packet_length, s.packet_length);
        ok &= read_field(node, "Description", path, parse_text, s.description);
        if (!ok) return;
        if (!out_.sessions.emplace(s.id, s).second) error(node, path, "session " + printable(s.id) + " given twice");
    }

    void read_target(const Node& node, const std::string& path) {
        if (!node.is_object()) {
            error(node, path, "expected a target (a JSON object)");
            return;
        }
        AwsTarget t;
        bool ok = read_required(node, "TrafficMirrorTargetId", path, parse_text, t.id);
        ok &= read_field(node, "Type", path, parse_text, t.type);
        ok &= read_field(node, "Description", path, parse_text, t.description);
        for (const char* key : {"NetworkInterfaceId", "NetworkLoadBalancerArn", "GatewayLoadBalancerEndpointId"})
            if (node[key]) ok &= read_field(node, key, path, parse_text, t.where);
        if (!ok) return;
        if (!out_.targets.emplace(t.id, t).second) error(node, path, "target " + printable(t.id) + " given twice");
    }

    // An error about the value at `at`; its place is found when the import is done.
    void error_at(const Node& at, std::string message) {
        const size_t before = out_.errors.size();
        errors_.add(ConfigError{0, 0, std::move(message)});
        if (!errors_.stopped() && out_.errors.size() > before) places_.emplace_back(before, at.path());
    }

    // The single value at `n`, read by `parse(text) -> Result`, as a
    // config's fields are (support/yaml_value.hpp): a list or object where
    // one value belongs, or a refusal, is an error at `n` naming `key`, and nullopt.
    template <typename Parse>
    auto read_value(const Node& n, const std::string& key, Parse parse)
        -> std::optional<typename decltype(parse(std::string_view()))::value_type> {
        if (!n.is_scalar()) {
            error_at(n, key + ": expected a single value");
            return std::nullopt;
        }
        const std::string text = n.scalar();
        auto value = parse(std::string_view(text));
        if (!value) {
            error_at(n, key + ": " + value.error());
            return std::nullopt;
        }
        return std::move(*value);
    }

public:
    // Each error's line and column, in one more pass over the text.
    void place_errors(std::string_view text) {
        std::vector<json::Path> paths;
        for (const auto& [index, path] : places_) paths.push_back(path);
        const std::vector<ConfigError> found = json::locate(text, paths);
        for (size_t i = 0; i < places_.size(); ++i) {
            out_.errors[places_[i].first].line = found[i].line;
            out_.errors[places_[i].first].column = found[i].column;
        }
    }

private:
    AwsImport& out_;
    ErrorList errors_;
    std::vector<std::pair<size_t, json::Path>> places_;  // out_.errors index, where it is about
    std::set<std::string> amazon_dns;  // filters whose NetworkServices list amazon-dns
};

}  // namespace

AwsImport import_aws_filters_text(std::string_view text) {
    AwsImport out;
    ErrorList errors(out.errors);
    if (trim(text).find_first_not_of("\r\n") == std::string_view::npos) {
        errors.add("empty: not what aws ec2 describe-traffic-mirror-filters prints");
        return out;
    }
    const auto root = json::parse(text, {.max_depth = kMaxJsonDepth, .unique_keys = true});
    if (!root) {
        ConfigError error = root.error();
        if (error.message.find("nested deeper") != std::string::npos)
            error.message += ": not what aws ec2 describe-traffic-mirror-filters prints";
        errors.add(std::move(error));
        return out;
    }
    Importer importer(out);
    importer.run(Node(&*root, {}));
    importer.place_errors(text);
    return out;
}

AwsImport import_aws_filters_file(const std::string& path) {
    const auto text = read_regular_file(path, kMaxJsonBytes, "AWS filter file");
    if (!text) {
        AwsImport out;
        out.errors.push_back({0, 0, text.error()});
        return out;
    }
    return import_aws_filters_text(*text);
}

namespace {

std::string rule_text(const FilterRule& r) {
    std::string t = "rule " + std::to_string(r.rule_number) + " (" + std::string(kRuleActionNames(r.action));
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
        std::array<std::vector<FilterRule>, kDirectionNames.size()> rules{have.rules(Direction::ingress),
                                                                   have.rules(Direction::egress)};
        for (Direction d : {Direction::ingress, Direction::egress}) {
            for (const FilterRule& r : filter.rules(d)) {
                auto same_number = std::find_if(rules[size_t(d)].begin(), rules[size_t(d)].end(),
                                                [&](const FilterRule& o) { return o.rule_number == r.rule_number; });
                if (same_number == rules[size_t(d)].end()) {
                    rules[size_t(d)].push_back(r);
                } else if (!(*same_number == r)) {
                    errors.push_back(origin + ": filter " + printable(id) + ": " + std::string(kDirectionNames(d)) + " " +
                                     rule_text(r) + " differs from " + rule_text(*same_number) + " in " + first +
                                     ": refused (the same filter in two files is merged rule by rule; a rule number "
                                     "must mean the same rule in both)");
                    conflict = true;
                }
            }
            if (auto checked = check_rule_count(rules[size_t(d)].size(), d); !checked) {
                errors.push_back(origin + ": filter " + printable(id) + " with the rules of " + first + ": " +
                                 checked.error());
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
