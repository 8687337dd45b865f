// The collector's YAML config loader (the table of settings in
// config/settings.cpp over support/'s YAML reader), its command line, and the
// value parsers they share. Whatever the bytes, loading returns a Config or
// errors: it never throws, crashes or hangs, every error says something on
// one line (user text escaped), and there are at most 50 of them plus one.
#include <string>
#include <vector>

#include "config/config.hpp"
#include "config/settings.hpp"
#include "fuzz/fuzz_support.hpp"
#include "support/command_line.hpp"
#include "support/text.hpp"

using namespace mirrortap;

namespace {

// One line each: a value with "\nOK" in it must not forge a log line.
void check_message(const std::string& m) {
    FUZZ_CHECK(!m.empty());
    FUZZ_CHECK(!has_control_character(m));
}

void check_errors(const std::vector<ConfigError>& errors) {
    FUZZ_CHECK(errors.size() <= ErrorList::kMaxErrors + 1);
    for (const ConfigError& e : errors) {
        check_message(e.message);
        FUZZ_CHECK(e.line >= 0 && e.column >= 0);
        FUZZ_CHECK(!format_error("fuzz.yaml", e).empty());
    }
}

// A parser that refuses says why, on one line.
template <typename T>
void check_refusal(const Result<T>& v) {
    if (!v) check_message(v.error());
}

// The bytes as a command line: arguments split at NUL bytes, applied like the collector does.
void command_line(std::string_view text) {
    std::vector<std::string> args = {"mirrortap-collector"};
    for (size_t start = 0; start <= text.size() && args.size() < 64;) {
        const size_t nul = std::min(text.find('\0', start), text.size());
        args.emplace_back(text.substr(start, nul - start));
        start = nul + 1;
    }
    std::vector<const char*> argv;
    for (const auto& a : args) argv.push_back(a.c_str());
    const auto flags = flag_table(collector_settings());
    const CommandLine cl = parse_command_line(int(argv.size()), argv.data(), flags.specs);
    for (const auto& e : cl.errors) check_message(e);
    for (const FlagUse& use : cl.uses) FUZZ_CHECK(use.spec < flags.specs.size());
    Config c;
    for (const auto& e : apply_flags(flags, cl.uses, c)) check_message(e);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    const std::string_view text(reinterpret_cast<const char*>(data), size);

    const ConfigLoad load = load_config_text(text);
    check_errors(load.errors);
    if (load.ok()) {
        // A loaded config is a valid one: nothing downstream checks again.
        FUZZ_CHECK(validate(load.config).empty());
        for (const NamedSession& s : load.config.sessions) {
            FUZZ_CHECK(s.vni <= 0xFFFFFF);
            FUZZ_CHECK(valid_session_name(s.name));
            const std::string* name = load.config.name_for(s.vni);
            FUZZ_CHECK(name && *name == s.name);
        }
        // Every restart-only setting compares equal to itself: a reload to the same file keeps nothing.
        Config again = load.config;
        FUZZ_CHECK(keep_restart_only_settings(again, load.config).empty());
    }
    if (size <= 4096) command_line(text);

    // The same bytes through each value parser.
    auto size_bytes = parse_size_bytes(text);
    check_refusal(size_bytes);
    if (size_bytes) FUZZ_CHECK(parse_size_bytes(format_size(*size_bytes)) == size_bytes);
    auto endpoint = parse_endpoint(text);
    check_refusal(endpoint);
    if (endpoint) FUZZ_CHECK(endpoint->family() == AF_INET || endpoint->family() == AF_INET6);
    auto target = parse_endpoint(text, EndpointRules{.allow_names = true, .default_port = 4789, .min_port = 1});
    check_refusal(target);
    if (target) FUZZ_CHECK(target->port >= 1 && (target->is_name() ? valid_host_name(target->host) : true));
    auto number = parse_uint(text, 65535);
    check_refusal(number);
    if (number) FUZZ_CHECK(*number <= 65535);
    auto duration = parse_duration(text);
    check_refusal(duration);
    if (duration) FUZZ_CHECK(duration->count() >= 0 && parse_duration(format_duration(*duration)) == duration);
    auto cidr = parse_cidr(text);
    check_refusal(cidr);
    if (cidr) FUZZ_CHECK(parse_cidr(cidr->to_string()) == cidr);
    auto range = parse_vni_range(text);
    check_refusal(range);
    if (range) FUZZ_CHECK(range->first <= range->last && range->last <= 0xFFFFFF);
    check_refusal(parse_bool(text));
    check_refusal(parse_file_mode(text));
    if (auto key = parse_session_key(text); !key) check_message(key.error());
    if (auto valid = valid_session_name(text); !valid) check_message(valid.error());
    FUZZ_CHECK(!has_control_character(printable(text)));
    return 0;
}
