#include "sessions/config.hpp"

#include "sessions/settings.hpp"
#include "support/file.hpp"
#include "support/text.hpp"
#include "support/yaml_value.hpp"

namespace mirrortap::sessions {

namespace {

// `select:`: one filter, or a list of them. Not list_items(): a filter's
// own commas (Values=web,api) must not split it.
void read_select(const YAML::Node& v, std::vector<cloud::Ec2Filter>& select, ErrorList& errors) {
    auto one = [&](const YAML::Node& n) {
        if (!n.IsScalar()) return errors.add(error_at(n, "select: expected Name=NAME,Values=VALUE[,VALUE...]"));
        if (auto f = parse_select(n.Scalar())) select.push_back(std::move(*f));
        else errors.add(error_at(n, "select: " + f.error()));
    };
    if (v.IsSequence()) {
        for (const YAML::Node& item : v) one(item);
    } else {
        one(v);
    }
}

// One entry of `selectors:`.
Selector read_selector(const YAML::Node& item, ErrorList& errors) {
    Selector s;
    s.line = item.Mark().line + 1;
    s.column = item.Mark().column + 1;
    bool named = false;
    read_keys(item, {
        {"name", [&](const YAML::Node& v, std::string_view key) {
             named = true;
             if (auto n = read_value(v, key, errors, parse_selector_name)) s.name = *n;
         }},
        {"select", [&](const YAML::Node& v, std::string_view) { read_select(v, s.select, errors); }},
        {"target", [&](const YAML::Node& v, std::string_view key) {
             if (auto id = read_value(v, key, errors, parse_target_id)) s.target_id = *id;
         }},
        {"filter", [&](const YAML::Node& v, std::string_view key) {
             if (auto id = read_value(v, key, errors, parse_filter_id)) s.filter_id = *id;
         }},
        {"vni", [&](const YAML::Node& v, std::string_view key) {
             if (auto n = read_value(v, key, errors, parse_vni)) s.vni = *n;
         }},
        {"session_number", [&](const YAML::Node& v, std::string_view key) {
             if (auto n = read_value(v, key, errors, parse_session_number)) s.session_number = *n;
         }},
        {"packet_length", [&](const YAML::Node& v, std::string_view key) {
             s.packet_length = read_value(v, key, errors, parse_packet_length);
         }},
    }, errors, "a selector");
    if (item.IsMap() && !named) errors.add(error_at(item, "a selector needs a name"));
    return s;
}

}  // namespace

std::vector<std::string> SessionsConfig::default_unsupported_instance_types() {
    // AWS's Traffic Mirroring limitations (the source's instance type), as
    // published in December 2026: of the Xen-based types only C4, D2, G3,
    // G3s, H1, I3, M4, P2, P3, R4, X1 and X1e are mirrored; these virtualized
    // Nitro families are not; nor is any bare-metal size.
    return {// Xen-based, previous generation
            "t1.*", "t2.*", "m1.*", "m2.*", "m3.*", "c1.*", "c3.*", "cc2.*", "cg1.*", "cr1.*", "g2.*", "hi1.*",
            "hs1.*", "i2.*", "r3.*",
            // virtualized Nitro: general purpose, compute, memory, storage, accelerated, HPC
            "m8g.*", "m6a.*", "m6i.*", "m6id.*", "m6idn.*", "m6in.*", "m7a.*", "m7g.*", "m7gd.*", "m7i.*",
            "m7i-flex.*", "c8g.*", "c6a.*", "c6gd.*", "c6gn.*", "c6i.*", "c6id.*", "c6in.*", "c7a.*", "c7g.*",
            "c7gd.*", "c7gn.*", "c7i.*", "r8g.*", "r6a.*", "r6i.*", "r6id.*", "r6idn.*", "r6in.*", "r7a.*",
            "r7g.*", "r7gd.*", "r7i.*", "r7iz.*", "x8g.*", "x2idn.*", "x2iedn.*", "x2iezn.*", "i4g.*", "i4i.*",
            "im4gn.*", "is4gen.*", "inf2.*", "p5.*", "trn1.*", "trn1n.*", "hpc6a.*", "hpc6id.*", "hpc7a.*",
            "hpc7g.*",
            // bare metal, every family
            "*.metal"};
}

void load_selectors(const YAML::Node& list, std::vector<Selector>& selectors, ErrorList& errors) {
    if (!list.IsSequence()) {
        errors.add(error_at(list, "selectors: expected a list of selectors"));
        return;
    }
    selectors.clear();
    for (const YAML::Node& item : list) {
        if (errors.stopped()) return;
        selectors.push_back(read_selector(item, errors));
    }
}

ConfigLoad load_config_text(std::string_view text) {
    ConfigLoad out;
    ErrorList errors(out.errors);
    if (const std::optional<YAML::Node> root = parse_yaml_document(text, errors))
        load_settings(sessions_settings(), *root, out.config, errors);
    return out;
}

ConfigLoad load_config_file(const std::string& path) {
    return load_config_from_file<ConfigLoad>(path, [](std::string_view text) { return load_config_text(text); });
}

SelectorsLoad load_selectors_text(std::string_view text) {
    SelectorsLoad out;
    ErrorList errors(out.errors);
    const std::optional<YAML::Node> root = parse_yaml_document(text, errors);
    if (!root) return out;
    bool given = false;
    read_keys(*root, {{"selectors", [&](const YAML::Node& n, std::string_view) {
                           given = true;
                           load_selectors(n, out.selectors, errors);
                       }}},
              errors);
    if (!errors.empty()) return out;
    if (!given || out.selectors.empty()) {
        errors.add("no selector: the value must hold selectors: with at least one");
        return out;
    }
    SessionsConfig c;
    c.selectors = out.selectors;
    for (std::string& p : check_config(c)) errors.add(std::move(p));
    return out;
}

bool instance_type_listed(std::string_view type, const std::vector<std::string>& patterns) {
    for (std::string_view p : patterns) {
        std::string_view t = type;
        if (p.starts_with("*.")) {
            // A size of every family: "*.metal" takes m5.metal and m7i.metal-24xl.
            const size_t dot = t.find('.');
            if (dot == std::string_view::npos) continue;
            if (t.substr(dot + 1).starts_with(p.substr(2))) return true;
            continue;
        }
        if (p.ends_with('*') ? t.starts_with(p.substr(0, p.size() - 1)) : t == p) return true;
    }
    return false;
}

std::vector<std::string> check_config(const SessionsConfig& config) {
    std::vector<std::string> problems;
    if (!config.selectors_parameter.empty() && !config.selectors.empty())
        problems.push_back("selectors_parameter and selectors (or --select) both given: the selectors come from one place");
    if (config.selectors.empty() && config.selectors_parameter.empty())
        problems.push_back("no selector: give selectors: in the file, --select, --target, --filter and --vni, "
                           "or selectors_parameter");
    for (const Selector& s : config.selectors)
        for (std::string& p : selector_problems(s)) problems.push_back(std::move(p));
    for (std::string& p : selector_conflicts(config.selectors)) problems.push_back(std::move(p));
    return problems;
}

}  // namespace mirrortap::sessions
