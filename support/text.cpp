#include "support/text.hpp"

namespace mirrortap {

namespace {
bool is_control(unsigned char c) { return c < 0x20 || c == 0x7F; }
}  // namespace

std::string printable(std::string_view text) {
    static constexpr char kHex[] = "0123456789abcdef";
    std::string out;
    out.reserve(text.size());
    for (const char ch : text) {
        const auto c = static_cast<unsigned char>(ch);
        switch (c) {
            case '\n': out += "\\n"; break;
            case '\r': out += "\\r"; break;
            case '\t': out += "\\t"; break;
            case '\\': out += "\\\\"; break;
            default:
                if (is_control(c)) {
                    out += "\\x";
                    out += kHex[c >> 4];
                    out += kHex[c & 0xF];
                } else {
                    out += ch;
                }
        }
    }
    return out;
}

std::string quote(std::string_view text) { return "'" + printable(text) + "'"; }

bool has_control_character(std::string_view text) {
    for (const char ch : text)
        if (is_control(static_cast<unsigned char>(ch))) return true;
    return false;
}

std::string_view trim(std::string_view text) {
    while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
    while (!text.empty() && (text.back() == ' ' || text.back() == '\t')) text.remove_suffix(1);
    return text;
}

std::vector<std::string_view> split_list(std::string_view text) {
    std::vector<std::string_view> items;
    for (;;) {
        const size_t comma = text.find(',');
        items.push_back(trim(text.substr(0, comma)));
        if (comma == std::string_view::npos) return items;
        text.remove_prefix(comma + 1);
    }
}

std::string count_of(uint64_t n, std::string_view singular, std::string_view plural) {
    std::string out = std::to_string(n) + " ";
    if (n == 1) return out.append(singular);
    if (plural.empty()) return out.append(singular).append("s");
    return out.append(plural);
}

std::string wrapped_words(std::string lead, const std::vector<std::string_view>& words, size_t width) {
    std::string out, line = std::move(lead);
    for (size_t i = 0; i < words.size(); ++i) {
        const std::string word = std::string(words[i]) + (i + 1 < words.size() ? "," : ".");
        if (!line.empty() && line.size() + 1 + word.size() > width) out += line + "\n", line.clear();
        line += (line.empty() ? "" : " ") + word;
    }
    return out + line + "\n";
}

}  // namespace mirrortap
