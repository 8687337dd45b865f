// Every collector setting, declared once in config/settings.cpp: its YAML
// key, its flag, its parser and bounds, its default, its help, and whether a
// reload applies it. The YAML loader, the command line, --help, the docs
// table (docs/interfaces.md, checked by tests/config) and the reload's
// restart-only list are all read off this one table.
#pragma once
#include <string>
#include <string_view>
#include <vector>

#include "config/config.hpp"
#include "support/settings.hpp"

namespace mirrortap {

const SettingsTable<Config>& collector_settings();

// The --help sections, in the order --help shows them.
const std::vector<std::string_view>& collector_setting_groups();

// The command line's actions besides settings (--config, --check-config,
// --version, --help), for --help and the docs.
const std::vector<SettingDoc>& collector_action_docs();

// Settings and actions, as --help and docs/interfaces.md show them.
std::vector<SettingDoc> collector_docs();

// A reload: every restart-only setting that `next` changed gets its running
// value back, with one note each ("listen changes only with a restart; ...").
std::vector<std::string> keep_restart_only_settings(Config& next, const Config& running);

}  // namespace mirrortap
