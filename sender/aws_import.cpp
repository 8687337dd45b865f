#include "sender/aws_import.hpp"

// Boost.JSON arrived in Boost 1.75; Debian 12's Boost is 1.74, whose
// property_tree reads JSON well enough for this document (every value becomes
// text, arrays are children with empty keys).
#include <boost/property_tree/json_parser.hpp>
#include <boost/property_tree/ptree.hpp>

#include <algorithm>
#include <charconv>
#include <fstream>
#include <set>
#include <sstream>

namespace mirrortap::sender {

namespace {

using boost::property_tree::ptree;

class Importer {
public:
    explicit Importer(AwsImport& out) : out_(out) {}

    void error(const std::string& path, const std::string& message) {
        out_.errors.push_back({{}, path + ": " + message});
    }

    std::optional<long> integer(const ptree& node, const std::string& path, long min, long max) {
        const std::string& s = node.data();
        long v = 0;
        auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
        if (s.empty() || ec != std::errc{} || end != s.data() + s.size() || v < min || v > max) {
            error(path, "expected a whole number " + std::to_string(min) + ".." + std::to_string(max) + ", got '" +
                            s + "'");
            return std::nullopt;
        }
        return v;
    }

    std::optional<PortRange> port_range(const ptree& node, const std::string& path) {
        PortRange r;
        auto from = node.get_child_optional("FromPort");
        auto to = node.get_child_optional("ToPort");
        if (!from || !to) {
            error(path, "a port range needs FromPort and ToPort");
            return std::nullopt;
        }
        auto f = integer(*from, path + ".FromPort", 0, 65535);
        auto t = integer(*to, path + ".ToPort", 0, 65535);
        if (!f || !t) return std::nullopt;
        if (*f > *t) {
            error(path, "FromPort is above ToPort");
            return std::nullopt;
        }
        r.from_port = uint16_t(*f);
        r.to_port = uint16_t(*t);
        return r;
    }

    std::optional<FilterRule> rule(const ptree& node, const std::string& path, std::optional<Direction> expected,
                                   Direction& direction) {
        FilterRule r;
        bool ok = true;
        if (auto d = node.get_optional<std::string>("TrafficDirection")) {
            if (*d == "ingress") direction = Direction::ingress;
            else if (*d == "egress") direction = Direction::egress;
            else {
                error(path + ".TrafficDirection", "expected ingress or egress, got '" + *d + "'");
                return std::nullopt;
            }
            if (expected && *expected != direction) {
                error(path + ".TrafficDirection", "'" + *d + "' in the " +
                                                      std::string(*expected == Direction::ingress ? "Ingress" : "Egress") +
                                                      "FilterRules list");
                return std::nullopt;
            }
        } else if (expected) {
            direction = *expected;
        } else {
            error(path, "no TrafficDirection");
            return std::nullopt;
        }
        if (auto n = node.get_child_optional("RuleNumber")) {
            auto v = integer(*n, path + ".RuleNumber", 1, 32766);
            if (v) r.rule_number = uint16_t(*v);
            else ok = false;
        } else {
            error(path, "no RuleNumber");
            ok = false;
        }
        const std::string action = node.get("RuleAction", "");
        if (action == "accept") r.action = RuleAction::accept;
        else if (action == "reject") r.action = RuleAction::reject;
        else {
            error(path + ".RuleAction", "expected accept or reject, got '" + action + "'");
            ok = false;
        }
        // Protocol absent (or 0) is AWS's "All protocols".
        if (auto p = node.get_child_optional("Protocol")) {
            auto v = integer(*p, path + ".Protocol", 0, 255);
            if (!v) ok = false;
            else if (*v != 0) r.protocol = uint8_t(*v);
        }
        auto cidr = [&](const char* key, std::optional<Cidr>& into) {
            if (auto s = node.get_optional<std::string>(key)) {
                into = Cidr::parse(*s);
                if (!into) {
                    error(path + "." + key, "'" + *s + "' is not a CIDR block");
                    ok = false;
                }
            }
        };
        cidr("SourceCidrBlock", r.source_cidr);
        cidr("DestinationCidrBlock", r.destination_cidr);
        if (auto p = node.get_child_optional("SourcePortRange")) {
            r.source_ports = port_range(*p, path + ".SourcePortRange");
            ok &= bool(r.source_ports);
        }
        if (auto p = node.get_child_optional("DestinationPortRange")) {
            r.destination_ports = port_range(*p, path + ".DestinationPortRange");
            ok &= bool(r.destination_ports);
        }
        if (ok && r.has_port_range() && r.protocol != kProtoTcp && r.protocol != kProtoUdp) {
            error(path, "a port range with a protocol other than 6 (tcp) or 17 (udp)");
            ok = false;
        }
        r.description = node.get("Description", "");
        if (!ok) return std::nullopt;
        return r;
    }

    using RuleLists = std::array<std::vector<FilterRule>, kDirectionCount>;

    void add_rules(const ptree& list, const std::string& path, std::optional<Direction> expected,
                   std::map<std::string, RuleLists>& by_filter, const std::string& filter_id) {
        size_t i = 0;
        for (const auto& [key, node] : list) {
            const std::string p = path + "[" + std::to_string(i++) + "]";
            std::string id = filter_id.empty() ? node.get("TrafficMirrorFilterId", "") : filter_id;
            if (id.empty()) {
                error(p, "no TrafficMirrorFilterId");
                continue;
            }
            Direction d = Direction::ingress;
            if (auto r = rule(node, p, expected, d)) {
                auto& rules = by_filter[id][size_t(d)];
                for (const FilterRule& other : rules) {
                    if (other.rule_number == r->rule_number) {
                        error(p, "duplicate RuleNumber " + std::to_string(r->rule_number) + " in " +
                                     std::string(to_string(d)) + " rules of " + id);
                    }
                }
                rules.push_back(std::move(*r));
            }
        }
    }

    void run(const ptree& root) {
        std::map<std::string, RuleLists> by_filter;
        bool found = false;
        if (auto filters = root.get_child_optional("TrafficMirrorFilters")) {
            found = true;
            size_t i = 0;
            for (const auto& [key, f] : *filters) {
                const std::string path = "TrafficMirrorFilters[" + std::to_string(i++) + "]";
                const std::string id = f.get("TrafficMirrorFilterId", "");
                if (id.empty()) {
                    error(path, "no TrafficMirrorFilterId");
                    continue;
                }
                by_filter[id];  // a filter without rules still exists (and mirrors nothing)
                if (auto l = f.get_child_optional("IngressFilterRules"))
                    add_rules(*l, path + ".IngressFilterRules", Direction::ingress, by_filter, id);
                if (auto l = f.get_child_optional("EgressFilterRules"))
                    add_rules(*l, path + ".EgressFilterRules", Direction::egress, by_filter, id);
                if (auto services = f.get_child_optional("NetworkServices")) {
                    for (const auto& [k, s] : *services) {
                        if (s.data() == "amazon-dns")
                            out_.notes.push_back(id + ": NetworkServices amazon-dns has no meaning off AWS; "
                                                      "DNS traffic is filtered by the rules like any other");
                    }
                }
            }
        }
        // describe-traffic-mirror-filter-rules prints one flat list.
        if (auto rules = root.get_child_optional("TrafficMirrorFilterRules")) {
            found = true;
            add_rules(*rules, "TrafficMirrorFilterRules", std::nullopt, by_filter, "");
        }
        if (!found) {
            error("(top level)", "neither TrafficMirrorFilters nor TrafficMirrorFilterRules: is this the output of "
                                 "aws ec2 describe-traffic-mirror-filters?");
            return;
        }
        for (auto& [id, lists] : by_filter) {
            Filter f(std::move(lists[size_t(Direction::ingress)]), std::move(lists[size_t(Direction::egress)]));
            f.id = id;
            out_.filters[id] = std::move(f);
        }
    }

private:
    AwsImport& out_;
};

// property_tree's JSON parser recurses once per nesting level, so a file
// nested tens of thousands deep overflows the stack (found by fuzz/aws_import).
// AWS's output nests five levels; anything past this is refused unparsed.
constexpr int kMaxJsonDepth = 64;

int json_depth(std::string_view json) {
    int depth = 0, deepest = 0;
    bool in_string = false, escaped = false;
    for (char c : json) {
        if (in_string) {
            if (escaped) escaped = false;
            else if (c == '\\') escaped = true;
            else if (c == '"') in_string = false;
        } else if (c == '"') {
            in_string = true;
        } else if (c == '[' || c == '{') {
            deepest = std::max(deepest, ++depth);
        } else if (c == ']' || c == '}') {
            --depth;
        }
    }
    return deepest;
}

}  // namespace

AwsImport import_aws_filters_text(std::string_view json) {
    AwsImport out;
    if (json_depth(json) > kMaxJsonDepth) {
        out.errors.push_back({{}, "JSON nested deeper than " + std::to_string(kMaxJsonDepth) +
                                      " levels: not what aws ec2 describe-traffic-mirror-filters prints"});
        return out;
    }
    ptree root;
    try {
        std::istringstream in{std::string(json)};
        boost::property_tree::read_json(in, root);
    } catch (const boost::property_tree::json_parser_error& e) {
        out.errors.push_back({{int(e.line()), 1}, "JSON: " + e.message()});
        return out;
    }
    Importer(out).run(root);
    return out;
}

AwsImport import_aws_filters_file(const std::string& path) {
    std::ifstream in(path);
    if (!in) {
        AwsImport out;
        out.errors.push_back({{}, "cannot open file"});
        return out;
    }
    std::stringstream ss;
    ss << in.rdbuf();
    return import_aws_filters_text(ss.str());
}

}  // namespace mirrortap::sender
