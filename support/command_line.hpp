// Command-line parsing (with CLI11) for every program: which flags were
// given, with their values, in the order given, and the words that are not
// flags where a program takes them (mirrortap-find's filter expression).
// What a flag means is the caller's (support/settings.hpp's apply_flag for
// settings); -h/--help and -V/--version mean the same in every program.
#pragma once
#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace mirrortap {

struct FlagSpec {
    std::string names;  // CLI11 style: "--listen", "-c,--config"
    bool takes_value = true;
};

struct FlagUse {
    size_t spec = 0;    // index into the specs given to parse_command_line
    std::string value;  // "" for a switch
};

struct CommandLineRules {
    // Words that are not flags (and every word after "--") are the program's
    // (CommandLine::words); otherwise each is an error.
    bool words = false;
};

struct CommandLine {
    std::vector<FlagUse> uses;        // in command-line order, repeats included
    std::vector<std::string> words;   // with CommandLineRules::words, in order
    std::vector<std::string> errors;  // one line each: "unknown option '--frobnicate' (see --help)"
    bool help = false;                // -h or --help was given (it answers whatever else is wrong)
    bool version = false;             // -V or --version was given
};

// Unknown options, stray arguments, a missing value and a value given to a
// switch are errors; `--flag value`, `--flag=value` and `-f value` are the
// same. As with getopt, the word after a flag that takes a value is its value
// even when it starts with '-' (--since -15m). A spec named "-h,--help" or
// "-V,--version" sets `help` or `version` as well as being a use.
CommandLine parse_command_line(int argc, const char* const* argv, const std::vector<FlagSpec>& specs,
                               CommandLineRules rules = {});

// "mirrortap-find 0.4.0+git12.abcdef0\n": what -V/--version prints, the same in every program.
std::string version_line(std::string_view program);

// Usage errors as every program reports them: "PROGRAM: ERROR" on standard
// error, one a line (an unknown option's says "(see --help)"). Returns 2,
// the exit status of a usage error.
int report_usage_errors(std::string_view program, const std::vector<std::string>& errors);

}  // namespace mirrortap
