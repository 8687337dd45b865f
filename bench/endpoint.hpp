// Small helpers shared by the bench tools: what they do with support's
// Endpoint beyond parsing it, counts with SI suffixes, receive buffers, and
// reading their command line through a table of options.
#pragma once
#include <netinet/in.h>
#include <sys/socket.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <string>
#include <string_view>

#include "base/result.hpp"
#include "support/clock.hpp"
#include "support/command_line.hpp"
#include "support/parse.hpp"
#include "support/settings.hpp"

namespace mirrortap::bench {

using mirrortap::monotonic_ns;

inline const sockaddr* socket_address(const Endpoint& e) { return reinterpret_cast<const sockaddr*>(&e.addr); }
// The port in the socket address too (a raw socket wants 0 there).
void set_port(Endpoint& e, uint16_t port);
bool is_loopback(const Endpoint& e);

// A count: 1000000, 200k, 1M, 2G (k/M/G in powers of 1000, either case), in [min, max].
Result<uint64_t> parse_count(std::string_view text, uint64_t min, uint64_t max);

// A count option of a bench tool's table, in [min, max].
template <typename Options, typename At>
SettingValue<Options> count_value(At at, uint64_t min, uint64_t max) {
    return parsed_value<Options>(at, [min, max](std::string_view t) { return parse_count(t, min, max); });
}

// Reads a bench tool's command line through its table of options (support's
// settings: CLI11, the same parsers and one-line errors as the programs).
// The defaults are the table's (what --help shows is what runs). -h/--help
// prints `synopsis`, the options and `footer`, -V/--version the version, and
// both exit 0; any mistake is printed as "tool: ..." and exits 2.
template <typename Options>
void parse_options_or_exit(int argc, char** argv, const SettingsTable<Options>& table, const char* tool,
                           const std::string& synopsis, const std::string& footer, Options& options) {
    for (const auto& s : table)
        if (!s.default_text.empty() && !s.value.set(s.default_text, options).ok()) std::abort();  // a typo in the table
    FlagTable<Options> flags = flag_table(table);
    const std::vector<SettingDoc> actions = with_standard_actions({});
    for (const SettingDoc& a : actions) flags.specs.push_back({std::string(a.flag), false});
    const CommandLine cl = parse_command_line(argc, argv, flags.specs);
    if (cl.help) {
        std::vector<SettingDoc> docs = describe(table);
        docs.insert(docs.end(), actions.begin(), actions.end());
        std::printf("%s\n%s%s", synopsis.c_str(), render_help(docs, {"Options", "Other"}).c_str(), footer.c_str());
        std::exit(0);
    }
    if (cl.version) {
        std::fputs(version_line(tool).c_str(), stdout);
        std::exit(0);
    }
    std::vector<std::string> errors = cl.errors;
    if (errors.empty()) errors = apply_flags(flags, cl.uses, options);
    if (!errors.empty()) std::exit(report_usage_errors(tool, errors));
}

// Root can size a socket buffer past net.core.rmem_max (SO_RCVBUFFORCE); others
// get what the sysctl allows. Returns the size the kernel reports afterwards.
int set_receive_buffer(int fd, int bytes);

}  // namespace mirrortap::bench
