#include "find/time_arg.hpp"

#include <charconv>
#include <chrono>

namespace mirrortap::find {

namespace {

bool digits(std::string_view s, size_t at, size_t n, int& out) {
    if (at + n > s.size()) return false;
    out = 0;
    for (size_t i = at; i < at + n; ++i) {
        if (s[i] < '0' || s[i] > '9') return false;
        out = out * 10 + (s[i] - '0');
    }
    return true;
}

std::optional<uint64_t> relative(std::string_view text, uint64_t now_ns, std::string& why) {
    uint64_t amount = 0;
    const char* b = text.data() + 1;
    const char* e = text.data() + text.size();
    const auto [p, ec] = std::from_chars(b, e, amount);
    uint64_t unit = 0;
    if (ec == std::errc() && p + 1 == e) {
        switch (*p) {
            case 's': unit = 1; break;
            case 'm': unit = 60; break;
            case 'h': unit = 3600; break;
            case 'd': unit = 86400; break;
        }
    }
    if (unit == 0 || p == b) {
        why = "a relative time is a minus, a number and s, m, h or d: -15m";
        return std::nullopt;
    }
    const uint64_t back = amount * unit * 1'000'000'000ull;
    if (amount > 100000ull * 86400 / unit || back > now_ns) {
        why = "that is before 1970";
        return std::nullopt;
    }
    return now_ns - back;
}

}  // namespace

std::optional<uint64_t> parse_time_arg(std::string_view text, uint64_t now_ns, std::string& why) {
    if (text.starts_with('-')) return relative(text, now_ns, why);
    // YYYY-MM-DDTHH:MM:SS[.frac](Z|+HH:MM|-HH:MM); 't', 'z' and ' ' as RFC 3339 allows.
    int y, mo, d, h, mi, s;
    const bool shape = text.size() >= 19 && digits(text, 0, 4, y) && text[4] == '-' && digits(text, 5, 2, mo) &&
                       text[7] == '-' && digits(text, 8, 2, d) &&
                       (text[10] == 'T' || text[10] == 't' || text[10] == ' ') && digits(text, 11, 2, h) &&
                       text[13] == ':' && digits(text, 14, 2, mi) && text[16] == ':' && digits(text, 17, 2, s);
    const std::string form = "expected RFC 3339 (2026-12-01T10:02:00Z) or a relative time (-15m)";
    if (!shape) {
        why = form;
        return std::nullopt;
    }
    size_t i = 19;
    uint64_t frac_ns = 0;
    if (i < text.size() && text[i] == '.') {
        ++i;
        uint64_t scale = 100'000'000;
        const size_t start = i;
        while (i < text.size() && text[i] >= '0' && text[i] <= '9') {
            frac_ns += uint64_t(text[i] - '0') * scale;
            scale /= 10;
            ++i;
        }
        if (i == start) {
            why = form;
            return std::nullopt;
        }
    }
    int64_t offset_s = 0;
    if (i < text.size() && (text[i] == 'Z' || text[i] == 'z')) {
        ++i;
    } else if (i < text.size() && (text[i] == '+' || text[i] == '-')) {
        int oh, om;
        if (!digits(text, i + 1, 2, oh) || i + 3 >= text.size() || text[i + 3] != ':' || !digits(text, i + 4, 2, om) ||
            oh > 23 || om > 59) {
            why = form;
            return std::nullopt;
        }
        offset_s = (text[i] == '+' ? 1 : -1) * (oh * 3600 + om * 60);
        i += 6;
    } else {
        why = "the time needs a zone: Z or +HH:MM";
        return std::nullopt;
    }
    if (i != text.size()) {
        why = form;
        return std::nullopt;
    }
    using namespace std::chrono;
    const year_month_day ymd{year(y), month(unsigned(mo)), day(unsigned(d))};
    if (!ymd.ok() || h > 23 || mi > 59 || s > 60) {
        why = "no such date or time";
        return std::nullopt;
    }
    const int64_t secs = sys_days(ymd).time_since_epoch().count() * 86400 + h * 3600 + mi * 60 + s - offset_s;
    if (secs < 0) {
        why = "that is before 1970";
        return std::nullopt;
    }
    return uint64_t(secs) * 1'000'000'000ull + frac_ns;
}

}  // namespace mirrortap::find
