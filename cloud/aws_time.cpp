#include "cloud/aws_time.hpp"

#include <charconv>

namespace mirrortap::cloud {

namespace {

bool read_number(std::string_view text, size_t at, size_t digits, int& out) {
    if (at + digits > text.size()) return false;
    for (size_t i = at; i < at + digits; ++i)
        if (text[i] < '0' || text[i] > '9') return false;
    return std::from_chars(text.data() + at, text.data() + at + digits, out).ec == std::errc{};
}

}  // namespace

std::optional<SystemTime> parse_aws_time(std::string_view text) {
    using namespace std::chrono;
    int y, mo, d, h, mi, s;
    if (!read_number(text, 0, 4, y) || text.size() < 20 || text[4] != '-' || !read_number(text, 5, 2, mo) ||
        text[7] != '-' || !read_number(text, 8, 2, d) || text[10] != 'T' || !read_number(text, 11, 2, h) ||
        text[13] != ':' || !read_number(text, 14, 2, mi) || text[16] != ':' || !read_number(text, 17, 2, s)) {
        return std::nullopt;
    }
    size_t at = 19;
    nanoseconds fraction{0};
    if (text[at] == '.') {
        ++at;
        int64_t scale = 100'000'000;
        const size_t first_digit = at;
        while (at < text.size() && text[at] >= '0' && text[at] <= '9') {
            fraction += nanoseconds((text[at] - '0') * scale);
            scale /= 10;
            ++at;
        }
        if (at == first_digit) return std::nullopt;
    }
    if (at + 1 != text.size() || text[at] != 'Z') return std::nullopt;
    const year_month_day date{year{y}, month{static_cast<unsigned>(mo)}, day{static_cast<unsigned>(d)}};
    if (!date.ok() || h > 23 || mi > 59 || s > 60) return std::nullopt;
    return time_point_cast<system_clock::duration>(sys_days(date) + hours(h) + minutes(mi) + seconds(s) + fraction);
}

}  // namespace mirrortap::cloud
