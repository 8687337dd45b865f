// Errors about a config file or a command line, with the place they refer to.
#pragma once
#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace mirrortap {

struct ConfigError {
    int line = 0;    // 1-based; 0 when not tied to a place in a file
    int column = 0;  // 1-based
    std::string message;
};

// `origin:line:column: message`, or `origin: message` without a place.
std::string format_error(std::string_view origin, const ConfigError& e);

// Collects errors into a vector, at most kMaxErrors of them: past that one
// more, "too many errors, stopping", and nothing after it. A file of a
// million bad lines gives a readable answer, not a million lines.
class ErrorList {
public:
    static constexpr size_t kMaxErrors = 50;

    explicit ErrorList(std::vector<ConfigError>& out) : out_(out) {}

    void add(ConfigError e);
    void add(int line, int column, std::string message) { add(ConfigError{line, column, std::move(message)}); }
    void add(std::string message) { add(0, 0, std::move(message)); }

    // True once the cap was reached: callers may stop looking for more.
    bool stopped() const { return stopped_; }
    bool empty() const { return out_.empty(); }
    size_t size() const { return out_.size(); }

private:
    std::vector<ConfigError>& out_;
    bool stopped_ = false;
};

}  // namespace mirrortap
