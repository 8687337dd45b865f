#include "support/errors.hpp"

namespace mirrortap {

std::string format_error(std::string_view origin, const ConfigError& e) {
    std::string out(origin);
    if (e.line > 0) out += ":" + std::to_string(e.line) + ":" + std::to_string(e.column);
    out += ": " + e.message;
    return out;
}

void ErrorList::add(ConfigError e) {
    if (stopped_) return;
    if (out_.size() >= kMaxErrors) {
        out_.push_back({0, 0, "too many errors, stopping"});
        stopped_ = true;
        return;
    }
    out_.push_back(std::move(e));
}

}  // namespace mirrortap
