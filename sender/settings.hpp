// Every sender setting, declared once in sender/settings.cpp: its YAML key,
// its flag, its parser and bounds, its default, its help, and whether a
// reload applies it. The YAML loader, the command line, --help, the table in
// sender/README.md (checked by tests/sender/test_settings.cpp) and the
// reload's restart-only list are all read off this one table.
#pragma once
#include <string_view>
#include <vector>

#include "sender/config.hpp"
#include "support/settings.hpp"

namespace mirrortap::sender {

const SettingsTable<SenderConfig>& sender_settings();

// The --help sections, in the order --help shows them.
const std::vector<std::string_view>& sender_setting_groups();

// What the command line does besides settings (--config, --vni, --explain,
// --check-config, ...), for the parser, --help and the docs.
const std::vector<SettingDoc>& sender_action_docs();

// Settings and actions, as --help and sender/README.md show them.
std::vector<SettingDoc> sender_docs();

}  // namespace mirrortap::sender
