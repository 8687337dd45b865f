// mirrortap-sessions' command line (support/command_line.hpp): the settings'
// flags from the table, applied over the config file in the order given, and
// the actions (--once, --dry-run, --check-config) and the one selector of
// --select/--target/--filter/--vni. A command line that cannot be understood
// is a usage error, found before any file is read or request sent.
#pragma once
#include <string>
#include <vector>

#include "sessions/config.hpp"
#include "support/command_line.hpp"

namespace mirrortap::sessions {

struct SessionsCommandLine {
    bool help = false;
    bool version = false;
    bool check_config = false;
    bool once = false;
    bool dry_run = false;
    std::string config_path;
    // The one selector of the command line; `selector_given` when any of its flags was.
    bool selector_given = false;
    Selector selector;

    std::vector<FlagUse> setting_uses;
    std::vector<std::string> errors;
};

SessionsCommandLine parse_sessions_command_line(int argc, const char* const* argv);

// The configuration the run uses: the file's (when --config), the settings'
// flags over it, and the command line's selector instead of the file's.
// `errors`: every problem, file ones as FILE:LINE:COLUMN, none when good.
SessionsConfig resolve_config(const SessionsCommandLine& cl, std::vector<std::string>& errors);

// --help: the synopsis, every flag, grouped.
std::string sessions_usage();

// --check-config's answer: the selectors as the run will use them.
std::string describe_config(const SessionsConfig& config);

}  // namespace mirrortap::sessions
