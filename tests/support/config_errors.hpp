// A loader's errors as one text, one formatted error a line: what a test
// shows when a load that should succeed did not, or searches for a message.
#pragma once
#include <string>
#include <string_view>
#include <vector>

#include "support/errors.hpp"

namespace mirrortap::test {

inline std::string all_errors(const std::vector<ConfigError>& errors, std::string_view origin = "cfg") {
    std::string s;
    for (const auto& e : errors) s += format_error(origin, e) + "\n";
    return s;
}

}  // namespace mirrortap::test
