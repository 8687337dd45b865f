// Reading YAML for config loaders, with one set of rules for both programs.
// yaml-cpp alone keeps one of two equal keys silently and ignores a second
// document; here both are errors, as is a file with nothing in it.
#pragma once
#include <yaml-cpp/yaml.h>

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "support/errors.hpp"

namespace mirrortap {

// Parses the one YAML document of a config text. Refused, each with its
// line:column: bad syntax (and nesting too deep), a key given twice in one
// mapping (reported at the second, naming the first's line), a second
// document, and no document or an empty one ("config file is empty").
// Returns the root unless the text did not parse or was empty: after keys
// given twice the tree is still returned, so that the loader finds the
// file's other errors too (both entries of such a key stay in the tree).
std::optional<YAML::Node> parse_yaml_document(std::string_view text, ErrorList& errors);

// An error at the place where `node` starts (1-based), or without a place for
// a node that has none.
ConfigError error_at(const YAML::Node& node, std::string message);

// One item of a list value.
struct ListItem {
    YAML::Node node;   // where it is, for errors
    std::string text;
};

// The items of a list value: a YAML sequence of scalars, or one scalar
// holding a comma-separated list ("7, 100-199"; empty items kept for the
// item's parser to refuse). Another shape is an error naming `key` (nullopt);
// a non-scalar item is an error and left out.
std::optional<std::vector<ListItem>> list_items(const YAML::Node& n, std::string_view key, ErrorList& errors);

}  // namespace mirrortap
