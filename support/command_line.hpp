// Command-line parsing (with CLI11) for both programs: which flags were
// given, with their values, in the order given. What a flag means is the
// caller's (support/settings.hpp's apply_flag for settings).
#pragma once
#include <cstddef>
#include <string>
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

struct CommandLine {
    std::vector<FlagUse> uses;        // in command-line order, repeats included
    std::vector<std::string> errors;  // one line each: "unknown option '--frobnicate' (see --help)"
};

// Unknown options, stray arguments, a missing value and a value given to a
// switch are errors; `--flag value` and `--flag=value` are the same.
CommandLine parse_command_line(int argc, const char* const* argv, const std::vector<FlagSpec>& specs);

}  // namespace mirrortap
