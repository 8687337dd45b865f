// The command line: flags fill the same Config as the YAML file, after it.
#pragma once
#include <string>
#include <vector>

#include "config/config.hpp"

namespace mirrortap {

struct CliRequest {
    enum class Action { run, check_config, help, version } action = Action::run;
    Config config;
    std::string config_path;     // empty: defaults only
    std::vector<std::string> errors;  // one line each, ready to print
};

// Flags as CLI11 reads them (support/command_line.hpp), applied by the table
// of settings (config/settings.hpp) over the config file, in the order given.
CliRequest parse_collector_cli(int argc, char** argv);
// --help: every flag of the table, grouped, with its default.
std::string collector_usage();

}  // namespace mirrortap
