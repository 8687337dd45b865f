// One declaration per setting, for either program: its YAML key, its flag,
// how its value is parsed and bounded, its default, its help, and whether a
// reload applies it. The YAML loader, the command line, --help, the docs
// table and the reload's list of restart-only settings are all read off the
// one table, so they cannot drift apart.
//
//   const SettingsTable<MyConfig> table = {
//       {.key = "pcap.rotate_size", .flag = "--rotate-size", .value_name = "BYTES",
//        .default_text = "1G", .group = "Pcap files", .help = "start a new file past this size",
//        .value = size_value<MyConfig>(field<&MyConfig::pcap, &Pcap::rotate_size_bytes>, 4096)},
//   };
//   load_settings(table, root, config, errors);            // YAML, after parse_yaml_document
//   const auto flags = flag_table(table);                   // the command line
//   apply_flags(flags, parse_command_line(argc, argv, flags.specs).uses, config);
//   render_help(describe(table), groups);                   // --help
//   keep_restart_only(table, next, running);                // a reload's notes
#pragma once
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <chrono>
#include <functional>
#include <limits>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include "support/command_line.hpp"
#include "support/errors.hpp"
#include "support/parse.hpp"
#include "support/text.hpp"
#include "support/yaml.hpp"

namespace mirrortap {

// When a changed value takes effect.
enum class OnReload {
    applies,  // a reload applies the new value
    restart,  // bound at start (sockets, threads, privileges): a reload keeps the running value, with a note
};

// How a setting's value is read and where it lands in the config struct.
template <typename Config>
struct SettingValue {
    enum class Shape {
        scalar,  // one value: "64M"
        list,    // a YAML list or comma-separated text: [a, b] or "a, b"; a flag replaces the file's list
        repeated,  // a list whose flag is given once per item, never split at commas (paths, names)
        node,    // a structure only the file can hold, read by `load` (a list of maps, say)
    };
    Shape shape = Shape::scalar;
    // scalar: applies the value; list: appends one item. Refused: why not.
    std::function<Result<>(std::string_view text, Config&)> set;
    std::function<void(Config&)> clear;                                // list: empties it before the items
    std::function<void(const YAML::Node&, Config&, ErrorList&)> load;  // node: reads it, errors at their place
    std::function<bool(const Config&, const Config&)> same;            // unchanged between two configs?
    std::function<void(Config& to, const Config& from)> copy;          // a reload keeps the running value
};

template <typename Config>
struct Setting {
    std::string_view key;           // YAML key, dotted when nested ("pcap.rotate_size"); never empty
    std::string_view flag;          // CLI11 names ("--rotate-size", "-i,--interface"); "" = only in the file
    std::string_view value_name;    // "BYTES" in --help; "" = the flag is a switch that sets switch_value
    std::string_view switch_value;  // what a switch flag sets: "true" (--allow-root), "false" (--no-pcap)
    std::string_view default_text;  // the default as --help and the docs show it; "" = none
    std::string_view group;         // the --help section it is listed in
    std::string_view help;          // what it does; '\n' starts another --help line, each line a clause
    OnReload on_reload = OnReload::applies;
    SettingValue<Config> value;
    std::function<void(Config&)> flag_also;  // what the flag does beyond the value (--pcap-dir turns pcap on)
};

template <typename Config>
using SettingsTable = std::vector<Setting<Config>>;

// ---- where a value lands ------------------------------------------------------

// An accessor for a (nested) member: field<&Config::pcap, &Pcap::dir>(config) is config.pcap.dir.
template <auto... Members>
inline constexpr auto field = [](auto& object) -> auto& { return (object .* ... .* Members); };

namespace settings_detail {

template <typename Config, typename At>
using FieldType = std::remove_cvref_t<std::invoke_result_t<At, Config&>>;

template <typename Config, typename At>
void compare_by_field(SettingValue<Config>& v, At at) {
    v.same = [at](const Config& a, const Config& b) { return at(a) == at(b); };
    v.copy = [at](Config& to, const Config& from) { at(to) = at(from); };
}

}  // namespace settings_detail

// A scalar read by `parse(text) -> Result<V>` into the field.
template <typename Config, typename At, typename Parse>
SettingValue<Config> parsed_value(At at, Parse parse) {
    SettingValue<Config> v;
    v.set = [at, parse](std::string_view text, Config& c) -> Result<> {
        auto parsed = parse(text);
        if (!parsed) return fail(std::move(parsed).error());
        at(c) = static_cast<settings_detail::FieldType<Config, At>>(std::move(*parsed));
        return {};
    };
    settings_detail::compare_by_field(v, at);
    return v;
}

// A whole number in [min, max] (max defaults to what the field holds).
template <typename Config, typename At>
SettingValue<Config> number_value(At at, uint64_t min = 0,
                                  uint64_t max = std::numeric_limits<settings_detail::FieldType<Config, At>>::max()) {
    return parsed_value<Config>(at, [min, max](std::string_view t) { return parse_uint(t, min, max); });
}

// Bytes with K/M/G/T, in [min, max].
template <typename Config, typename At>
SettingValue<Config> size_value(At at, uint64_t min = 0,
                                uint64_t max = std::numeric_limits<settings_detail::FieldType<Config, At>>::max()) {
    return parsed_value<Config>(at, [min, max](std::string_view t) { return parse_size_bytes(t, min, max); });
}

// A duration (30, 30s, 5m, ...) into an integral field counting `Unit`s; it must be whole Units.
template <typename Config, typename At, typename Rep, typename Period>
SettingValue<Config> duration_value(At at, std::chrono::duration<Rep, Period> min, std::chrono::duration<Rep, Period> max) {
    using Unit = std::chrono::duration<Rep, Period>;
    return parsed_value<Config>(at, [min, max](std::string_view t) -> Result<Rep> {
        const auto d = parse_duration(t, min, max);
        if (!d) return fail(d.error());
        if (*d % Unit(1) != Duration::zero())
            return fail("must be a whole number of " + format_duration(Unit(1)) + ", got " + quote(t));
        return std::chrono::duration_cast<Unit>(*d).count();
    });
}

template <typename Config, typename At>
SettingValue<Config> bool_value(At at) {
    return parsed_value<Config>(at, [](std::string_view t) { return parse_bool(t); });
}

// Free text (a path, a user name); control characters are refused.
template <typename Config, typename At>
SettingValue<Config> text_value(At at) {
    return parsed_value<Config>(at, [](std::string_view t) { return parse_text(t); });
}

template <typename Config, typename At>
SettingValue<Config> endpoint_value(At at, EndpointRules rules = {}) {
    return parsed_value<Config>(at, [rules](std::string_view t) { return parse_endpoint(t, rules); });
}

// A list whose items `parse(text) -> Result<Item>` reads.
template <typename Config, typename At, typename Parse>
SettingValue<Config> list_value(At at, Parse parse) {
    SettingValue<Config> v;
    v.shape = SettingValue<Config>::Shape::list;
    v.set = [at, parse](std::string_view text, Config& c) -> Result<> {
        auto item = parse(text);
        if (!item) return fail(std::move(item).error());
        at(c).push_back(std::move(*item));
        return {};
    };
    v.clear = [at](Config& c) { at(c).clear(); };
    settings_detail::compare_by_field(v, at);
    return v;
}

// A list whose flag is repeated once per item (--from DIR --from DIR); its
// items are never split at commas. In a file, a YAML list.
template <typename Config, typename At, typename Parse>
SettingValue<Config> repeated_value(At at, Parse parse) {
    SettingValue<Config> v = list_value<Config>(at, parse);
    v.shape = SettingValue<Config>::Shape::repeated;
    return v;
}

// A structure only the file holds, read by `load(node, field, errors)`.
template <typename Config, typename At, typename Load>
SettingValue<Config> node_value(At at, Load load) {
    SettingValue<Config> v;
    v.shape = SettingValue<Config>::Shape::node;
    v.load = [at, load](const YAML::Node& n, Config& c, ErrorList& errors) { load(n, at(c), errors); };
    settings_detail::compare_by_field(v, at);
    return v;
}

// ---- reading the file ---------------------------------------------------------

// Walks nested mappings by the dotted keys and calls `found(index, value)` for
// each key of `keys` present. Unknown keys (with a "did you mean"), non-scalar
// keys and non-mapping sections are errors at their place; `where` names the
// outermost mapping in them ("unknown key 'x' in the top level").
void walk_settings(const YAML::Node& root, const std::vector<std::string_view>& keys,
                   const std::function<void(size_t index, const YAML::Node& value)>& found, ErrorList& errors,
                   std::string_view where = "the top level");

// A mapping read key by key, each row a key and what reading its value does:
// rows keyed by name, so that a new key cannot put another key's reader out
// of step (as a switch over positions in a key list could). Keys are walked
// as walk_settings walks them (unknown keys are errors with a "did you mean").
struct KeyReader {
    std::string_view key;
    std::function<void(const YAML::Node& value, std::string_view key)> read;
};
void read_keys(const YAML::Node& map, const std::vector<KeyReader>& rows, ErrorList& errors,
               std::string_view where = "the top level");

// Reads one setting's YAML value into the config; errors name the key.
template <typename Config>
void load_setting(const Setting<Config>& s, const YAML::Node& n, Config& config, ErrorList& errors) {
    using Shape = typename SettingValue<Config>::Shape;
    const std::string key(s.key);
    auto set = [&](const YAML::Node& at, std::string_view text) {
        if (auto set = s.value.set(text, config); !set) errors.add(error_at(at, key + ": " + set.error()));
    };
    switch (s.value.shape) {
        case Shape::node:
            s.value.load(n, config, errors);
            return;
        case Shape::scalar:
            if (!n.IsScalar()) return errors.add(error_at(n, key + ": expected a single value"));
            return set(n, n.Scalar());
        case Shape::list:
        case Shape::repeated:
            if (auto items = list_items(n, key, errors)) {
                s.value.clear(config);
                for (const ListItem& item : *items) set(item.node, item.text);
            }
            return;
    }
}

// Loads a parsed YAML document over `config` (which holds the defaults).
template <typename Config>
void load_settings(const SettingsTable<Config>& table, const YAML::Node& root, Config& config, ErrorList& errors) {
    std::vector<std::string_view> keys;
    for (const auto& s : table) keys.push_back(s.key);
    walk_settings(root, keys, [&](size_t i, const YAML::Node& n) { load_setting(table[i], n, config, errors); },
                  errors);
}

// ---- the command line ---------------------------------------------------------

// "--rotate-size" of "--rotate-size", "--interface" of "-i,--interface".
std::string_view long_flag_name(std::string_view flag);

// Applies one use of a setting's flag. `first_use`: the first time this flag
// appears on the command line, when a list drops what the file said (later
// uses add to it). Refused: a one-line error naming the flag.
template <typename Config>
Result<> apply_flag(const Setting<Config>& s, std::string_view value, bool first_use, Config& config) {
    using Shape = typename SettingValue<Config>::Shape;
    Result<> set;
    if (s.value_name.empty()) {
        set = s.value.set(s.switch_value, config);
    } else if (s.value.shape == Shape::list) {
        if (first_use) s.value.clear(config);
        for (std::string_view item : split_list(value))
            if (set = s.value.set(item, config); !set) break;
    } else {
        if (s.value.shape == Shape::repeated && first_use) s.value.clear(config);
        set = s.value.set(value, config);
    }
    if (!set) return fail("bad " + std::string(long_flag_name(s.flag)) + ": " + set.error());
    if (s.flag_also) s.flag_also(config);
    return {};
}

// The settings that have a flag, in table order, with the FlagSpecs that
// parse_command_line takes: specs[i] is settings[i]'s flag. A program may
// append its own action flags (--help, --config) after them.
template <typename Config>
struct FlagTable {
    std::vector<const Setting<Config>*> settings;
    std::vector<FlagSpec> specs;
};

template <typename Config>
FlagTable<Config> flag_table(const SettingsTable<Config>& table) {
    FlagTable<Config> flags;
    for (const auto& s : table) {
        if (s.flag.empty()) continue;
        flags.settings.push_back(&s);
        flags.specs.push_back({std::string(s.flag), !s.value_name.empty()});
    }
    return flags;
}

// Applies the uses of settings' flags in command-line order (uses of specs
// past flags.settings, the program's own, are skipped). Returns the errors.
template <typename Config>
std::vector<std::string> apply_flags(const FlagTable<Config>& flags, const std::vector<FlagUse>& uses, Config& config) {
    std::vector<std::string> errors;
    std::vector<bool> used(flags.settings.size());
    for (const FlagUse& use : uses) {
        if (use.spec >= flags.settings.size()) continue;
        if (auto applied = apply_flag(*flags.settings[use.spec], use.value, !used[use.spec], config); !applied)
            errors.push_back(std::move(applied).error());
        used[use.spec] = true;
    }
    return errors;
}

// ---- reloads --------------------------------------------------------------------

// Restores the running value of every restart-only setting that `next`
// changed, one note each ("listen changes only with a restart; ...").
template <typename Config>
std::vector<std::string> keep_restart_only(const SettingsTable<Config>& table, Config& next, const Config& running) {
    std::vector<std::string> notes;
    for (const auto& s : table) {
        if (s.on_reload != OnReload::restart || s.value.same(next, running)) continue;
        s.value.copy(next, running);
        notes.push_back(std::string(s.key) + " changes only with a restart; keeping the running value");
    }
    return notes;
}

// ---- help and docs ----------------------------------------------------------------

// A setting or a command-line action (--help, --check-config) as --help and
// the docs present it, whatever the config struct.
struct SettingDoc {
    std::string_view key;  // "" for an action
    std::string_view flag;
    std::string_view value_name;
    std::string_view default_text;
    std::string_view group;
    std::string_view help;
    OnReload on_reload = OnReload::applies;
};

template <typename Config>
std::vector<SettingDoc> describe(const SettingsTable<Config>& table) {
    std::vector<SettingDoc> docs;
    for (const auto& s : table) docs.push_back({s.key, s.flag, s.value_name, s.default_text, s.group, s.help, s.on_reload});
    return docs;
}

// What would make a table lie to its users, one line each (empty: none):
// a key or flag declared twice (settings and actions together), a setting
// without help or without same/copy (a reload could not compare or keep it),
// a flag outside the --help groups, a switch that does not say what it sets.
template <typename Config>
std::vector<std::string> table_problems(const SettingsTable<Config>& table, const std::vector<SettingDoc>& actions,
                                        const std::vector<std::string_view>& groups) {
    std::vector<std::string> problems;
    std::vector<std::string_view> keys, flags;
    const auto seen = [](std::vector<std::string_view>& in, std::string_view v) {
        const bool fresh = std::find(in.begin(), in.end(), v) == in.end();
        in.push_back(v);
        return fresh;
    };
    const auto grouped = [&](std::string_view g) { return std::find(groups.begin(), groups.end(), g) != groups.end(); };
    for (const auto& s : table) {
        const std::string key(s.key);
        if (!seen(keys, s.key)) problems.push_back(key + ": key declared twice");
        if (s.help.empty()) problems.push_back(key + ": no help");
        if (!s.value.same || !s.value.copy) problems.push_back(key + ": a reload cannot compare or keep it");
        if (s.flag.empty()) continue;
        if (!seen(flags, s.flag)) problems.push_back(key + ": flag " + std::string(s.flag) + " declared twice");
        if (!grouped(s.group)) problems.push_back(key + ": flag outside the --help groups");
        if (s.value_name.empty() && s.switch_value.empty()) problems.push_back(key + ": a switch that sets nothing");
    }
    for (const auto& a : actions) {
        if (!seen(flags, a.flag)) problems.push_back(std::string(a.flag) + ": flag declared twice");
        if (!grouped(a.group)) problems.push_back(std::string(a.flag) + ": action outside the --help groups");
    }
    return problems;
}

// `actions` and then -V/--version and -h/--help, in the group "Other": every
// program answers them the same way (support/command_line.hpp).
std::vector<SettingDoc> with_standard_actions(std::vector<SettingDoc> actions);

// "-i, --interface IFACE": a flag as --help and the docs write it.
std::string flag_synopsis(const SettingDoc& d);

// The flags of `docs` grouped under their section titles, in `group_order`,
// tcpdump style: flag and value, what it does, the default in brackets
// (not for switches). Settings without a flag are left out.
std::string render_help(const std::vector<SettingDoc>& docs, const std::vector<std::string_view>& group_order);

// A Markdown table of `docs`, one row each: flag, config key, default, on
// reload (applies / restart), meaning (help lines joined with "; "). `|` is escaped.
std::string markdown_table(const std::vector<SettingDoc>& docs);

// A program's manual page, its OPTIONS and CONFIGURATION FILE sections read
// off the same docs and groups as --help.
struct ManPage {
    std::string_view name;      // "mirrortap-collector"
    int section = 8;            // 1: user commands, 8: system administration (daemons)
    std::string_view version;   // "0.1.0+git152.f4e12f6", in the footer
    std::string_view date;      // "2026-12-01", in the footer; "" = none
    std::string_view summary;   // the NAME line after the dash
    std::string_view synopsis;  // "[--config FILE] [options]", after the name
    std::string_view description;                  // paragraphs separated by a blank line
    std::vector<SettingDoc> docs;                  // settings and actions
    std::vector<std::string_view> groups;          // the --help groups, in order
    std::vector<std::pair<std::string_view, std::string_view>> sections;  // more: {"FILES", text}, {"SEE ALSO", text}
};

// The page in roff (man(7) macros): NAME, SYNOPSIS, DESCRIPTION, OPTIONS by
// group (each flag with its value, help lines, default, config key, whether a
// reload applies it), CONFIGURATION FILE (the keys without a flag), then
// `sections`. Text is escaped: a backslash, a line starting with '.' or '\'',
// and every '-' of a flag (a minus sign, not a hyphen).
std::string render_man(const ManPage& page);

}  // namespace mirrortap
