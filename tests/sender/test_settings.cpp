// The sender's table of settings against everything that must agree with it:
// sender/README.md, the defaults a SenderConfig holds, every flag and key in
// use before the table, and the command line read through it.
#include <doctest/doctest.h>

#include <algorithm>
#include <fstream>
#include <set>
#include <sstream>

#include "sender/cli.hpp"
#include "sender/settings.hpp"

using namespace mirrortap;
using namespace mirrortap::sender;

#ifndef MIRRORTAP_SOURCE_DIR
#error "MIRRORTAP_SOURCE_DIR must be defined"
#endif

namespace {

const std::string kBegin = "<!-- settings table: begin -->\n";
const std::string kEnd = "<!-- settings table: end -->";

std::string read_file(const std::string& path) {
    std::ifstream in(path);
    std::stringstream s;
    s << in.rdbuf();
    return s.str();
}

SenderCommandLine parse(std::vector<const char*> args) {
    args.insert(args.begin(), "mirrortap-sender");
    return parse_sender_command_line(int(args.size()), args.data());
}

std::string errors_of(const SenderCommandLine& cl) {
    std::string all;
    for (const auto& e : cl.errors) all += e + "\n";
    return all;
}

}  // namespace

TEST_CASE("settings: sender/README.md's table is the one the declarations make") {
    const std::string readme = read_file(MIRRORTAP_SOURCE_DIR "/sender/README.md");
    const size_t from = readme.find(kBegin), to = readme.find(kEnd);
    REQUIRE_MESSAGE(from != std::string::npos, "no '" << kBegin << "' in sender/README.md");
    REQUIRE_MESSAGE(to != std::string::npos, "no '" << kEnd << "' in sender/README.md");
    const std::string have = readme.substr(from + kBegin.size(), to - from - kBegin.size());
    const std::string want = markdown_table(sender_docs());
    CHECK_MESSAGE(have == want, "sender/README.md's settings table differs from sender/settings.cpp; between the "
                                "markers it should read:\n"
                                    << want);
}

TEST_CASE("settings: every default shown is the default a SenderConfig holds") {
    for (const auto& s : sender_settings()) {
        if (s.default_text.empty()) continue;
        CAPTURE(s.key);
        SenderConfig parsed;
        const SenderConfig defaults;
        CHECK(s.value.set(s.default_text, parsed).ok());
        CHECK(s.value.same(parsed, defaults));
    }
    // Settings without a default shown are off or empty by default.
    const SenderConfig c;
    CHECK(c.interfaces.empty());
    CHECK(c.target.host.empty());
    CHECK_FALSE(c.max_rate.any());
    CHECK_FALSE(c.metrics_listen);
    CHECK(c.sessions.empty());
    CHECK(c.aws_filter_files.empty());
}

TEST_CASE("settings: keys and flags are unique, every flag is in a --help group") {
    const auto problems = table_problems(sender_settings(), sender_action_docs(), sender_setting_groups());
    CHECK_MESSAGE(problems.empty(), (problems.empty() ? std::string() : problems.front()));
}

TEST_CASE("settings: every flag and key in use before the table still exists") {
    const std::vector<std::string_view> old_flags = {
        "-c", "--config", "-i", "--interface", "-t", "--target", "--mtu", "--max-rate", "--batch", "-B",
        "--buffer-size", "--sndbuf", "--resolve-seconds", "--poll-usec", "--metrics-listen", "--import-aws-filter",
        "--vni", "--session-number", "--packet-length", "--accept-all", "--check-config", "--explain", "--local-mac",
        "-V", "--version", "-h", "--help"};
    const std::vector<std::string_view> old_keys = {
        "interface", "target", "sessions", "aws_filter_files", "mtu", "max_rate", "metrics_listen", "batch_size",
        "capture_buffer_bytes", "send_buffer_bytes", "resolve_interval_seconds", "poll_interval_usec"};
    std::set<std::string_view> flags, keys;
    for (const auto& d : sender_docs()) {
        std::string_view names = d.flag;
        for (size_t comma; (comma = names.find(',')) != std::string_view::npos; names.remove_prefix(comma + 1))
            flags.insert(names.substr(0, comma));
        flags.insert(names);
        keys.insert(d.key);
    }
    for (auto f : old_flags) CHECK_MESSAGE(flags.count(f), f);
    for (auto k : old_keys) CHECK_MESSAGE(keys.count(k), k);
    CHECK(keys.size() == old_keys.size() + 5);  // vpc_cidr, unreachable_grace, aws_interface, aws_target, "" for the actions
}

TEST_CASE("command line: settings' flags apply over the file in order, actions are read") {
    const SenderCommandLine cl =
        parse({"-c", "s.yaml", "-i", "eth1", "--interface=eth2,eth3", "-t", "[::1]:4790", "-B", "8M", "--mtu", "9000",
               "--max-rate", "5kpps,1Gbps", "--resolve-seconds", "2m", "--vni", "42", "--session-number", "7",
               "--packet-length", "128", "--accept-all", "--import-aws-filter", "a.json", "--import-aws-filter",
               "b.json", "--local-mac", "02:00:00:00:00:01", "--check-config", "--explain", "x.pcap",
               "--metrics-listen", "127.0.0.1:9101"});
    INFO(errors_of(cl));
    REQUIRE(cl.errors.empty());
    CHECK(cl.config_path == "s.yaml");
    CHECK(cl.vni == 42u);
    CHECK(cl.session_number == 7);
    CHECK(cl.packet_length == 128u);
    CHECK(cl.accept_all);
    CHECK(cl.aws_filter_files == std::vector<std::string>{"a.json", "b.json"});
    CHECK(cl.local_mac == MacAddress{2, 0, 0, 0, 0, 1});
    CHECK(cl.check_config);
    CHECK(cl.explain_path == "x.pcap");

    ConfigLoad file = load_config_text("interface: [eth0, eth9]\ntarget: 10.0.0.1\nmtu: 1500\n");
    REQUIRE(file.ok());
    SenderConfig& c = file.config;
    CHECK(apply_setting_flags(cl, c).empty());
    CHECK(c.interfaces == std::vector<std::string>{"eth1", "eth2", "eth3"});  // the flag replaced the file's list
    CHECK(c.interfaces_at.empty());  // no line in the file to point at
    CHECK(c.target.host == "::1");
    CHECK(c.target.port == 4790);
    CHECK(c.target_at == SourceMark{});
    CHECK(c.capture_buffer_bytes == 8u << 20);
    CHECK(c.mtu == 9000);
    CHECK(c.max_rate == RateLimit{5000, 1000000000});
    CHECK(c.resolve_interval_seconds == 120);
    REQUIRE(c.metrics_listen);
    CHECK(c.metrics_listen->port == 9101);
}

TEST_CASE("command line: mistakes are one line each, found before any file is read") {
    auto first = [](std::vector<const char*> args) {
        const SenderCommandLine cl = parse(std::move(args));
        REQUIRE_FALSE(cl.errors.empty());
        return cl.errors.front();
    };
    CHECK(first({"--frobnicate"}) == "unknown option '--frobnicate' (see --help)");
    CHECK(first({"stray"}) == "unexpected argument 'stray' (see --help)");
    CHECK(first({"--mtu"}) == "option '--mtu' needs a value");
    CHECK(first({"--accept-all=yes"}) == "option '--accept-all' takes no value");
    CHECK(first({"--max-rate", "12"}).starts_with("bad --max-rate: expected a rate such as 20000pps"));
    CHECK(first({"--mtu", "100"}) == "bad --mtu: must be at least 576, got '100'");
    CHECK(first({"-B", "64Q"}).starts_with("bad --buffer-size: expected a size such as"));
    CHECK(first({"-t", "host:0"}) == "bad --target: bad port in 'host:0': must be at least 1, got '0'");
    CHECK(first({"-i", "a/b"}).starts_with("bad --interface: expected an interface name"));
    CHECK(first({"--vni", "16777216"}) == "bad --vni: expected a VNI (0..16777215), got '16777216'");
    CHECK(first({"--session-number", "0"}) == "bad --session-number: must be at least 1, got '0'");
    CHECK(first({"--packet-length", "13"}) == "bad --packet-length: must be at least 14, got '13'");
    CHECK(first({"--local-mac", "nope"}) == "bad --local-mac: expected a MAC address such as 02:00:5e:10:00:01, got 'nope'");
    CHECK(first({"--metrics-listen", "localhost:9101"}).starts_with("bad --metrics-listen: 'localhost' is not an IPv4"));
    CHECK(first({"--resolve-seconds", "0"}) == "bad --resolve-seconds: must be at least 1s, got '0'");
    // A value with a control character is escaped when echoed.
    CHECK(first({"--mtu", "15\n00"}) == "bad --mtu: expected a whole number, got '15\\n00'");
    // --help and --version are read whatever else is wrong.
    CHECK(parse({"--frobnicate", "-h"}).help);
    CHECK(parse({"-V"}).version);
}

TEST_CASE("command line: --help lists every flag of the table and every action") {
    const std::string help = sender_usage();
    for (const auto& d : sender_docs()) {
        if (d.flag.empty()) continue;
        CAPTURE(d.flag);
        CHECK(help.find(flag_synopsis(d)) != std::string::npos);
    }
    CHECK(help.find("Only in the config file: sessions, aws_filter_files.") != std::string::npos);
    CHECK(help.find("kept by a reload until a restart: capture_buffer_bytes.") != std::string::npos);
}
