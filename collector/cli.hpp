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

CliRequest parse_collector_cli(int argc, char** argv);
std::string collector_usage();

}  // namespace mirrortap
