// One value of a structured YAML field (a rule's number, a session's VNI)
// through a value parser, with the settings' error shape. Apart from
// support/yaml.hpp so that each can change without the other.
#pragma once
#include <string>
#include <string_view>
#include <utility>

#include "support/yaml.hpp"

namespace mirrortap {

// The single value at `n`, read by `parse(text, why) -> std::optional<T>`:
// for the fields of a structured value (a rule's number, a session's VNI),
// which the settings table does not declare one by one. A refusal, or a list
// or mapping where one value belongs, is an error at `n` naming `key`
// ("rule_number: must be at least 1, got '0'"), and nullopt.
// `text` (the node's, or one item of a list at it) through `parse`; a
// refusal is an error at `n` naming `key`.
template <typename Parse>
auto parse_at(const YAML::Node& n, std::string_view text, std::string_view key, ErrorList& errors, Parse parse)
    -> decltype(parse(std::string_view(), std::declval<std::string&>())) {
    std::string why;
    auto value = parse(text, why);
    if (!value) errors.add(error_at(n, std::string(key) + ": " + why));
    return value;
}

template <typename Parse>
auto read_value(const YAML::Node& n, std::string_view key, ErrorList& errors, Parse parse)
    -> decltype(parse(std::string_view(), std::declval<std::string&>())) {
    if (!n.IsScalar()) {
        errors.add(error_at(n, std::string(key) + ": expected a single value"));
        return std::nullopt;
    }
    return parse_at(n, n.Scalar(), key, errors, parse);
}

}  // namespace mirrortap
