// One value of a structured YAML field (a rule's number, a session's VNI)
// through a value parser, with the settings' error shape. Apart from
// support/yaml.hpp so that each can change without the other.
#pragma once
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include "support/yaml.hpp"

namespace mirrortap {

// The single value at `n`, read by `parse(text) -> Result<T>`: for the
// fields of a structured value (a rule's number, a session's VNI), which the
// settings table does not declare one by one. A refusal, or a list or mapping
// where one value belongs, is an error at `n` naming `key` ("rule_number:
// must be at least 1, got '0'"), added to `errors`, and nullopt: the reason
// is in `errors`, with every other error of the file (a config reports all).
// `text` (the node's, or one item of a list at it) through `parse`; a
// refusal is an error at `n` naming `key`.
template <typename Parse>
auto parse_at(const YAML::Node& n, std::string_view text, std::string_view key, ErrorList& errors, Parse parse)
    -> std::optional<typename decltype(parse(text))::value_type> {
    auto value = parse(text);
    if (!value) {
        errors.add(error_at(n, std::string(key) + ": " + value.error()));
        return std::nullopt;
    }
    return std::move(*value);
}

template <typename Parse>
auto read_value(const YAML::Node& n, std::string_view key, ErrorList& errors, Parse parse)
    -> decltype(parse_at(n, std::string_view(), key, errors, parse)) {
    if (!n.IsScalar()) {
        errors.add(error_at(n, std::string(key) + ": expected a single value"));
        return std::nullopt;
    }
    return parse_at(n, n.Scalar(), key, errors, parse);
}

}  // namespace mirrortap
