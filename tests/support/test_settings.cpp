#include <doctest/doctest.h>

#include "support/command_line.hpp"
#include "support/settings.hpp"

using namespace mirrortap;
using namespace std::chrono_literals;

namespace {

// A small program's config, declared the way either program declares its own.
struct Output {
    bool enabled = true;
    std::string dir = "./out";
    uint64_t rotate_bytes = 1ull << 30;
    uint32_t rotate_seconds = 3600;
};

struct ToyConfig {
    Endpoint listen = *parse_endpoint("0.0.0.0:4789");
    uint32_t workers = 0;
    Output out;
    std::vector<VniRange> vnis;
    std::vector<std::string> names;  // from a structure only the file holds
    bool loud = false;

};

void load_names(const YAML::Node& n, std::vector<std::string>& names, ErrorList& errors) {
    if (!n.IsSequence()) return errors.add(error_at(n, "names: expected a list of {name: ...}"));
    for (const YAML::Node& item : n) {
        if (item.IsMap() && item["name"] && item["name"].IsScalar()) names.push_back(item["name"].Scalar());
        else errors.add(error_at(item, "names: each entry needs a name"));
    }
}

const SettingsTable<ToyConfig>& toy_table() {
    using C = ToyConfig;
    static const SettingsTable<C> table = {
        {.key = "listen", .flag = "--listen", .value_name = "ADDR:PORT", .default_text = "0.0.0.0:4789",
         .group = "Receiving", .help = "where to listen\nIPv6 as [ADDR]:PORT", .on_reload = OnReload::restart,
         .value = endpoint_value<C>(field<&C::listen>)},
        {.key = "workers", .flag = "-w,--workers", .value_name = "N", .default_text = "0", .group = "Receiving",
         .help = "threads", .on_reload = OnReload::restart, .value = number_value<C>(field<&C::workers>, 0, 256)},
        {.key = "out.enabled", .flag = "--no-out", .switch_value = "false", .default_text = "true",
         .group = "Output", .help = "write nothing", .value = bool_value<C>(field<&C::out, &Output::enabled>)},
        {.key = "out.dir", .flag = "--out-dir", .value_name = "DIR", .default_text = "./out", .group = "Output",
         .help = "where files go", .value = text_value<C>(field<&C::out, &Output::dir>),
         .flag_also = [](C& c) { c.out.enabled = true; }},
        {.key = "out.rotate_size", .flag = "--rotate-size", .value_name = "BYTES", .default_text = "1G",
         .group = "Output", .help = "new file past this size",
         .value = size_value<C>(field<&C::out, &Output::rotate_bytes>, 4096)},
        {.key = "out.rotate_seconds", .default_text = "3600", .help = "new file after this long",
         .value = duration_value<C>(field<&C::out, &Output::rotate_seconds>, 0s, std::chrono::seconds(24h))},
        {.key = "allowed_vnis", .flag = "--allow-vni", .value_name = "VNI|A-B,...", .group = "Receiving",
         .help = "VNIs accepted", .value = list_value<C>(field<&C::vnis>, parse_vni_range)},
        {.key = "names", .help = "names for things", .value = node_value<C>(field<&C::names>, load_names)},
        {.key = "loud", .flag = "--loud", .switch_value = "true", .default_text = "false", .group = "Other",
         .help = "say more", .value = bool_value<C>(field<&C::loud>)},
    };
    return table;
}

struct Loaded {
    ToyConfig config;
    std::vector<ConfigError> errors;
};

Loaded load(std::string_view yaml) {
    Loaded l;
    ErrorList errors(l.errors);
    if (auto root = parse_yaml_document(yaml, errors)) load_settings(toy_table(), *root, l.config, errors);
    return l;
}

ConfigError only_error(const Loaded& l) {
    REQUIRE(l.errors.size() == 1);
    return l.errors.front();
}

// Flags as a program applies them: in command-line order, over `c`.
std::vector<std::string> apply_args(std::vector<const char*> args, ToyConfig& c) {
    const auto flags = flag_table(toy_table());
    args.insert(args.begin(), "toy");
    CommandLine cl = parse_command_line(int(args.size()), args.data(), flags.specs);
    for (auto& e : apply_flags(flags, cl.uses, c)) cl.errors.push_back(std::move(e));
    return cl.errors;
}

}  // namespace

TEST_CASE("settings: dotted keys read nested maps, values land in their fields") {
    const Loaded l = load(
        "listen: '[::1]:5'\nworkers: 4\nout:\n  dir: /srv/x\n  rotate_size: 64M\n  rotate_seconds: 5m\n"
        "allowed_vnis: [7, 100-199]\nnames:\n  - {name: a}\n  - {name: b}\nloud: yes\n");
    for (const auto& e : l.errors) FAIL(format_error("toy", e));
    CHECK(l.config.listen.text == "[::1]:5");
    CHECK(l.config.workers == 4);
    CHECK(l.config.out.dir == "/srv/x");
    CHECK(l.config.out.rotate_bytes == 64ull << 20);
    CHECK(l.config.out.rotate_seconds == 300);
    CHECK(l.config.vnis == std::vector<VniRange>{{7, 7}, {100, 199}});
    CHECK(l.config.names == std::vector<std::string>{"a", "b"});
    CHECK(l.config.loud);
    CHECK(load("allowed_vnis: \"7, 100-199\"\n").config.vnis.size() == 2);
    CHECK(load("allowed_vnis: []\n").config.vnis.empty());
}

TEST_CASE("settings: errors name the key and sit at the value") {
    ConfigError e = only_error(load("out:\n  rotate_size: 1K\n"));
    CHECK(e.line == 2);
    CHECK(e.column == 16);
    CHECK(e.message == "out.rotate_size: must be at least 4K, got '1K'");
    e = only_error(load("out:\n  rotate_seconds: 1500ms\n"));
    CHECK(e.message == "out.rotate_seconds: must be a whole number of 1s, got '1500ms'");
    e = only_error(load("allowed_vnis:\n  - 5\n  - 9-3\n"));
    CHECK(e.line == 3);
    CHECK(e.message.find("reversed") != std::string::npos);
    CHECK(only_error(load("allowed_vnis: \"5,,6\"\n")).message.find("got ''") != std::string::npos);
    CHECK(only_error(load("workers: [1]\n")).message == "workers: expected a single value");
    CHECK(only_error(load("out: 5\n")).message == "out: expected a mapping of keys to values");
    CHECK(only_error(load("- a\n")).message == "the top level: expected a mapping of keys to values");
    CHECK(only_error(load("names: {}\n")).message.find("names:") == 0);
    CHECK(only_error(load("out:\n  dir: \"a\\nb\"\n")).message == "out.dir: 'a\\nb' holds a control character");
}

TEST_CASE("settings: an unknown key is an error at its place, with a guess") {
    ConfigError e = only_error(load("listen: 127.0.0.1:1\nout:\n  dir: /x\n  rotate_sise: 1G\n"));
    CHECK(e.line == 4);
    CHECK(e.column == 3);
    CHECK(e.message == "unknown key 'rotate_sise' in out (did you mean rotate_size?)");
    CHECK(only_error(load("wrokers: 2\n")).message == "unknown key 'wrokers' in the top level (did you mean workers?)");
    CHECK(only_error(load("zzzzzz: 2\n")).message == "unknown key 'zzzzzz' in the top level");
    CHECK(only_error(load("out.dir: /x\n")).message.find("unknown key 'out.dir'") == 0);  // nesting is by maps
    CHECK(only_error(load("[a]: 1\n")).message == "keys in the top level must be plain names");
    CHECK(only_error(load("\"bad\\nkey\": 1\n")).message.find("'bad\\nkey'") != std::string::npos);
}

TEST_CASE("settings: flags apply in order, switches, lists and side effects") {
    ToyConfig c;
    CHECK(apply_args({"--no-out", "--rotate-size", "8M", "-w", "3", "--loud"}, c).empty());
    CHECK_FALSE(c.out.enabled);
    CHECK(c.out.rotate_bytes == 8ull << 20);
    CHECK(c.workers == 3);
    CHECK(c.loud);
    CHECK(apply_args({"--out-dir=/d"}, c).empty());  // --out-dir turns output back on
    CHECK(c.out.enabled);
    CHECK(c.out.dir == "/d");
    // A list flag replaces the file's list on its first use; later uses add to it.
    c.vnis = {{1, 1}};
    CHECK(apply_args({"--allow-vni", "5,6-7", "--allow-vni", "9"}, c).empty());
    CHECK(c.vnis == std::vector<VniRange>{{5, 5}, {6, 7}, {9, 9}});
}

TEST_CASE("settings: bad flags give one line each, naming the flag") {
    ToyConfig c;
    CHECK(apply_args({"--rotate-size", "lots"}, c) ==
          std::vector<std::string>{"bad --rotate-size: expected a size such as 4096, 64K, 100M, 1G or 2T, got 'lots'"});
    CHECK(apply_args({"--workers", "999"}, c) == std::vector<std::string>{"bad --workers: must be at most 256, got '999'"});
    CHECK(apply_args({"--allow-vni", ""}, c).size() == 1);  // an empty allowlist flag is a mistake, not "all"
    CHECK(apply_args({"--frobnicate"}, c) == std::vector<std::string>{"unknown option '--frobnicate' (see --help)"});
    CHECK(apply_args({"--frob=1"}, c) == std::vector<std::string>{"unknown option '--frob' (see --help)"});
    CHECK(apply_args({"stray"}, c) == std::vector<std::string>{"unexpected argument 'stray' (see --help)"});
    CHECK(apply_args({"--listen"}, c) == std::vector<std::string>{"option '--listen' needs a value"});
    CHECK(apply_args({"--loud=false"}, c) == std::vector<std::string>{"option '--loud' takes no value"});
    CHECK(apply_args({"--listen", "x\ny:1"}, c).front().find("'x\\ny'") != std::string::npos);
}

TEST_CASE("settings: a dash alone is a value, as in --stream -") {
    ToyConfig c;
    CHECK(apply_args({"--out-dir", "-"}, c).empty());
    CHECK(c.out.dir == "-");
}

TEST_CASE("settings: a reload keeps restart-only values and says which") {
    ToyConfig running, next;
    next.listen = *parse_endpoint("127.0.0.1:9");
    next.workers = running.workers;
    next.out.dir = "/new";
    const auto notes = keep_restart_only(toy_table(), next, running);
    REQUIRE(notes.size() == 1);
    CHECK(notes.front() == "listen changes only with a restart; keeping the running value");
    CHECK(next.listen == running.listen);
    CHECK(next.out.dir == "/new");  // applies on reload
    CHECK(keep_restart_only(toy_table(), next, running).empty());
}

TEST_CASE("settings: a table that would lie to its users is found out") {
    const std::vector<std::string_view> groups = {"Receiving", "Output", "Other"};
    CHECK(table_problems(toy_table(), {}, groups).empty());
    SettingsTable<ToyConfig> bad = toy_table();
    bad.push_back(bad[1]);            // workers again: key and flag twice
    bad[2].group = "Nowhere";         // --no-out in no --help group
    bad[8].switch_value = "";         // --loud sets nothing
    const std::vector<SettingDoc> actions = {{.flag = "--listen", .group = "Other"}};  // an action on a setting's flag
    const auto problems = table_problems(bad, actions, groups);
    CHECK(problems == std::vector<std::string>{"out.enabled: flag outside the --help groups",
                                               "loud: a switch that sets nothing", "workers: key declared twice",
                                               "workers: flag -w,--workers declared twice",
                                               "--listen: flag declared twice"});
}

TEST_CASE("settings: --help groups flags and shows defaults, file-only keys stay out") {
    const std::string help = render_help(describe(toy_table()), {"Receiving", "Output", "Other"});
    CHECK(help ==
          "Receiving:\n"
          "  --listen ADDR:PORT       where to listen                    [0.0.0.0:4789]\n"
          "                           IPv6 as [ADDR]:PORT\n"
          "  -w, --workers N          threads                            [0]\n"
          "  --allow-vni VNI|A-B,...  VNIs accepted\n"
          "\n"
          "Output:\n"
          "  --no-out                 write nothing\n"
          "  --out-dir DIR            where files go                     [./out]\n"
          "  --rotate-size BYTES      new file past this size            [1G]\n"
          "\n"
          "Other:\n"
          "  --loud                   say more\n");
}

TEST_CASE("settings: the docs table has a row per setting, pipes escaped") {
    const std::string md = markdown_table(describe(toy_table()));
    CHECK(md.find("| `--allow-vni VNI\\|A-B,...` | `allowed_vnis` |  | applies | VNIs accepted |\n") !=
          std::string::npos);
    CHECK(md.find("| `--listen ADDR:PORT` | `listen` | `0.0.0.0:4789` | restart | where to listen; IPv6 as [ADDR]:PORT |") !=
          std::string::npos);
    CHECK(md.find("|  | `names` |  | applies | names for things |") != std::string::npos);
}

TEST_CASE("settings: the manual page lists the flags by group and the file-only keys, roff-escaped") {
    std::vector<SettingDoc> docs = describe(toy_table());
    docs.push_back({.flag = "--help", .group = "Other", .help = "print this help and exit"});
    const std::string man = render_man({.name = "toy", .section = 8, .version = "1.2.3+git4.abc", .date = "2026-12-01",
                                        .summary = "a toy program", .synopsis = "[-w N] [options]",
                                        .description = "First paragraph.\n\n.dot and back\\slash",
                                        .docs = docs, .groups = {"Receiving", "Output", "Other"},
                                        .sections = {{"See also", "tcpdump(8)"}}});
    CHECK(man.find(".TH \"TOY\" \"8\" \"2026-12-01\" \"mirrortap 1.2.3+git4.abc\" \"System Administration\"\n") !=
          std::string::npos);
    CHECK(man.find(".SH NAME\ntoy \\- a toy program\n") != std::string::npos);
    CHECK(man.find(".SH SYNOPSIS\n.B toy\n[\\-w N] [options]\n") != std::string::npos);
    // A paragraph that starts with '.' is not a request; a backslash is printed.
    CHECK(man.find(".PP\nFirst paragraph.\n.PP\n\\&.dot and back\\eslash\n") != std::string::npos);
    // Groups in the order given, each flag with its value, help lines, default, key, reload.
    const size_t receiving = man.find(".SS \"Receiving\"\n"), output = man.find(".SS \"Output\"\n"),
                 other = man.find(".SS \"Other\"\n");
    REQUIRE(receiving != std::string::npos);
    CHECK(receiving < output);
    CHECK(output < other);
    CHECK(man.find(".TP\n\\fB\\-\\-listen\\fR \\fIADDR:PORT\\fR\nwhere to listen\n.br\nIPv6 as [ADDR]:PORT\n.br\n"
                   "Default: 0.0.0.0:4789. Config file key: \\fBlisten\\fR. A reload keeps the running value until a "
                   "restart.\n") != std::string::npos);
    CHECK(man.find("\\fB\\-w\\fR, \\fB\\-\\-workers\\fR \\fIN\\fR\n") != std::string::npos);
    // A switch shows no default (it flips it); an action has no key.
    CHECK(man.find(".TP\n\\fB\\-\\-no\\-out\\fR\nwrite nothing\n.br\nConfig file key: \\fBout.enabled\\fR.\n") !=
          std::string::npos);
    CHECK(man.find(".TP\n\\fB\\-\\-help\\fR\nprint this help and exit\n.SH CONFIGURATION FILE") != std::string::npos);
    // Keys without a flag, after the options.
    const size_t file = man.find(".SH CONFIGURATION FILE\n");
    REQUIRE(file != std::string::npos);
    CHECK(man.find(".TP\n\\fBout.rotate_seconds\\fR\nnew file after this long\n.br\nDefault: 3600.\n", file) !=
          std::string::npos);
    CHECK(man.find(".TP\n\\fBnames\\fR\nnames for things\n", file) != std::string::npos);
    CHECK(man.find("\\fBout.rotate_seconds", 0) == man.find("\\fBout.rotate_seconds", file));
    CHECK(man.find(".SH SEE ALSO\n.PP\ntcpdump(8)\n") != std::string::npos);
}

TEST_CASE("settings: every default shown parses to the default held") {
    for (const auto& s : toy_table()) {
        if (s.default_text.empty()) continue;
        CAPTURE(s.key);
        ToyConfig c;
        ToyConfig defaults;
        CHECK(s.value.set(s.default_text, c).ok());
        CHECK(s.value.same(c, defaults));
    }
}
