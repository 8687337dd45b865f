// Reading the AWS_* environment variables the SDKs read, through a lookup
// that tests can replace. A variable set to "" counts as unset, as in the SDKs.
#pragma once
#include <cstdlib>
#include <functional>
#include <map>
#include <optional>
#include <string>

namespace mirrortap::cloud {

using EnvLookup = std::function<std::optional<std::string>(const std::string& name)>;

inline EnvLookup process_environment() {
    return [](const std::string& name) -> std::optional<std::string> {
        const char* value = std::getenv(name.c_str());
        if (!value || !*value) return std::nullopt;
        return std::string(value);
    };
}

inline EnvLookup fixed_environment(std::map<std::string, std::string> values) {
    return [values = std::move(values)](const std::string& name) -> std::optional<std::string> {
        const auto it = values.find(name);
        if (it == values.end() || it->second.empty()) return std::nullopt;
        return it->second;
    };
}

}  // namespace mirrortap::cloud
