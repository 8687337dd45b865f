// The sender's command line, with CLI11 (support/command_line.hpp): the
// settings' flags come from the table (sender/settings.hpp) and are applied
// over the config file in the order given; the rest are actions (--vni,
// --explain, --check-config, ...). A command line that cannot be understood
// (unknown option, bad value) is a usage error, found before any file is read.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "sender/config.hpp"
#include "support/command_line.hpp"

namespace mirrortap::sender {

struct SenderCommandLine {
    bool help = false;
    bool version = false;
    bool check_config = false;
    std::string config_path;
    std::vector<std::string> aws_filter_files;  // --import-aws-filter, relative to the working directory
    // --vni: one session from the command line.
    std::optional<uint32_t> vni;
    uint16_t session_number = 1;
    std::optional<uint32_t> packet_length;
    bool accept_all = false;
    std::string explain_path;
    std::optional<MacAddress> local_mac;

    std::vector<FlagUse> setting_uses;  // the settings' flags, in command-line order
    std::vector<std::string> errors;    // usage errors, one line each
};

SenderCommandLine parse_sender_command_line(int argc, const char* const* argv);

// The settings' flags over `config` (the file's, or the defaults), in the
// order given: a list flag's first use replaces the file's list. Returns the
// errors (none for a command line parse_sender_command_line accepted).
std::vector<std::string> apply_setting_flags(const SenderCommandLine& cl, SenderConfig& config);

// --help: the synopsis, every flag of the table and every action, grouped.
std::string sender_usage();

}  // namespace mirrortap::sender
