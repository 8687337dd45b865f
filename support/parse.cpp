#include "support/parse.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <algorithm>
#include <charconv>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <ctime>

#include "support/text.hpp"

namespace mirrortap {

// ---- numbers, sizes, durations, switches ------------------------------------

namespace {

// Digits only, into a uint64_t; nullopt on anything else or on overflow.
std::optional<uint64_t> digits_value(std::string_view text) {
    if (text.empty() || text.front() < '0' || text.front() > '9') return std::nullopt;
    uint64_t v = 0;
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
    if (ec != std::errc() || end != text.data() + text.size()) return std::nullopt;
    return v;
}

// Splits "100M" into "100" and "M".
std::pair<std::string_view, std::string_view> split_suffix(std::string_view text) {
    size_t n = 0;
    while (n < text.size() && text[n] >= '0' && text[n] <= '9') ++n;
    return {text.substr(0, n), text.substr(n)};
}

std::string lower(std::string_view text) {
    std::string out(text);
    for (char& c : out)
        if (c >= 'A' && c <= 'Z') c = char(c - 'A' + 'a');
    return out;
}

}  // namespace

Result<uint64_t> parse_uint(std::string_view text, uint64_t max) {
    return parse_uint(text, 0, max);
}

Result<uint64_t> parse_uint(std::string_view text, uint64_t min, uint64_t max) {
    const auto v = digits_value(text);
    if (!v) {
        // All digits but no value: too large for any counter we have.
        const bool too_long = !text.empty() && split_suffix(text).second.empty();
        return fail(too_long ? "must be at most " + std::to_string(max) + ", got " + quote(text)
                       : "expected a whole number, got " + quote(text));
    }
    if (*v < min || *v > max) {
        return fail((*v < min ? "must be at least " + std::to_string(min) : "must be at most " + std::to_string(max)) +
                    ", got " + quote(text));
    }
    return *v;
}

Result<uint64_t> parse_size_bytes(std::string_view text) {
    return parse_size_bytes(text, 0, UINT64_MAX);
}

Result<uint64_t> parse_size_bytes(std::string_view text, uint64_t min, uint64_t max) {
    const auto [digits, suffix] = split_suffix(text);
    unsigned shift = 0;
    if (suffix.size() > 1) shift = 99;
    else if (suffix.size() == 1) {
        switch (suffix.front()) {
            case 'k': case 'K': shift = 10; break;
            case 'm': case 'M': shift = 20; break;
            case 'g': case 'G': shift = 30; break;
            case 't': case 'T': shift = 40; break;
            default: shift = 99;
        }
    }
    const auto n = digits_value(digits);
    if (!n || shift == 99) {
        return fail("expected a size such as 4096, 64K, 100M, 1G or 2T, got " + quote(text));
    }
    if (*n > (UINT64_MAX >> shift)) {
        return fail("size " + quote(text) + " is too large");
    }
    const uint64_t v = *n << shift;
    if (v < min || v > max) {
        return fail((v < min ? "must be at least " + format_size(min) : "must be at most " + format_size(max)) +
                    ", got " + quote(text));
    }
    return v;
}

std::string format_size(uint64_t bytes) {
    static constexpr std::pair<unsigned, char> kUnits[] = {{40, 'T'}, {30, 'G'}, {20, 'M'}, {10, 'K'}};
    if (bytes != 0)
        for (auto [shift, unit] : kUnits)
            if (bytes % (1ull << shift) == 0) return std::to_string(bytes >> shift) + unit;
    return std::to_string(bytes);
}

namespace {

struct DurationUnit {
    std::string_view suffix;
    Duration length;
};
// Largest first: format_duration picks the first that divides.
constexpr DurationUnit kDurationUnits[] = {
    {"d", std::chrono::hours(24)}, {"h", std::chrono::hours(1)}, {"m", std::chrono::minutes(1)},
    {"s", std::chrono::seconds(1)}, {"ms", std::chrono::milliseconds(1)},
};

}  // namespace

Result<Duration> parse_duration(std::string_view text) {
    return parse_duration(text, Duration::zero(), Duration::max());
}

Result<Duration> parse_duration(std::string_view text, Duration min, Duration max) {
    const auto [digits, suffix] = split_suffix(text);
    const auto n = digits_value(digits);
    const DurationUnit* unit = suffix.empty() ? &kDurationUnits[3] : nullptr;  // bare: seconds
    for (const auto& u : kDurationUnits)
        if (suffix == u.suffix) unit = &u;
    if (!n || !unit) {
        return fail("expected a duration such as 30 (seconds), 30s, 500ms, 5m, 2h or 1d, got " + quote(text));
    }
    if (*n > uint64_t(Duration::max().count() / unit->length.count())) {
        return fail("duration " + quote(text) + " is too long");
    }
    const Duration d = unit->length * int64_t(*n);
    if (d < min || d > max) {
        return fail((d < min ? "must be at least " + format_duration(min) : "must be at most " + format_duration(max)) +
              ", got " + quote(text));
    }
    return d;
}

std::string format_duration(Duration d) {
    for (const auto& u : kDurationUnits)
        if (d.count() % u.length.count() == 0) return std::to_string(d / u.length) + std::string(u.suffix);
    return std::to_string(d.count()) + "ns";
}

Result<std::string> parse_text(std::string_view text) {
    if (has_control_character(text)) {
        return fail(quote(text) + " holds a control character");
    }
    return std::string(text);
}

Result<bool> parse_bool(std::string_view text) {
    const std::string t = lower(text);
    if (t == "true" || t == "yes" || t == "on") return true;
    if (t == "false" || t == "no" || t == "off") return false;
    return fail("expected true or false (or yes/no, on/off), got " + quote(text));
}

Result<uint32_t> parse_file_mode(std::string_view text) {
    uint32_t v = 0;
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v, 8);
    if (text.empty() || text.front() == '-' || text.front() == '+' || ec != std::errc() ||
        end != text.data() + text.size() || v > 0777) {
        return fail("expected an octal file mode such as 0640, got " + quote(text));
    }
    return v;
}

// ---- VXLAN network identifiers -----------------------------------------------

namespace {
constexpr uint32_t kMaxVni = 0xFFFFFF;  // 24 bits; decap/vxlan.hpp has the same, but support is below decap
}  // namespace

Result<uint32_t> parse_vni(std::string_view text) {
    const auto v = parse_uint(text, kMaxVni);
    if (!v) {
        return fail("expected a VNI (0..16777215), got " + quote(text));
    }
    return uint32_t(*v);
}

Result<VniRange> parse_vni_range(std::string_view text) {
    const size_t dash = text.find('-');
    const auto first = parse_uint(text.substr(0, dash), kMaxVni);
    const auto last = dash == std::string_view::npos ? first : parse_uint(text.substr(dash + 1), kMaxVni);
    if (!first || !last) {
        return fail("expected a VNI (0..16777215) or a range such as 100-199, got " + quote(text));
    }
    if (*last < *first) {
        return fail("range " + quote(text) + " is reversed; write the lower VNI first");
    }
    return VniRange{uint32_t(*first), uint32_t(*last)};
}

// ---- addresses ----------------------------------------------------------------

namespace {

constexpr uint8_t kMappedPrefix[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xFF, 0xFF};

}  // namespace

bool Cidr::contains(const std::array<uint8_t, 16>& a) const {
    const size_t whole = prefix_bits / 8;
    if (std::memcmp(addr.data(), a.data(), whole) != 0) return false;
    const unsigned rest = prefix_bits % 8;
    if (rest == 0) return true;
    const auto mask = uint8_t(0xFF << (8 - rest));
    return (addr[whole] & mask) == (a[whole] & mask);
}

bool Cidr::is_v4() const { return prefix_bits >= 96 && std::memcmp(addr.data(), kMappedPrefix, 12) == 0; }

std::string Cidr::to_string() const {
    char buf[INET6_ADDRSTRLEN] = {};
    if (is_v4()) {
        inet_ntop(AF_INET, addr.data() + 12, buf, sizeof buf);
        return std::string(buf) + "/" + std::to_string(prefix_bits - 96);
    }
    inet_ntop(AF_INET6, addr.data(), buf, sizeof buf);
    return std::string(buf) + "/" + std::to_string(prefix_bits);
}

Result<Cidr> parse_cidr(std::string_view text) {
    const size_t slash = text.find('/');
    const std::string host(text.substr(0, slash));
    Cidr c;
    unsigned max_bits = 128;
    if (inet_pton(AF_INET, host.c_str(), c.addr.data() + 12) == 1) {
        std::memcpy(c.addr.data(), kMappedPrefix, 12);
        max_bits = 32;
    } else if (inet_pton(AF_INET6, host.c_str(), c.addr.data()) != 1) {
        return fail("expected an address or CIDR block such as 10.0.0.0/8 or 2001:db8::/32, got " + quote(text));
    }
    uint64_t bits = max_bits;
    if (slash != std::string_view::npos) {
        const auto b = parse_uint(text.substr(slash + 1), max_bits);
        if (!b) {
            return fail("bad prefix length in " + quote(text) + ": " + b.error());
        }
        bits = *b;
    }
    c.prefix_bits = uint8_t(bits + 128 - max_bits);
    // Clear host bits so that 10.1.2.3/8 means 10.0.0.0/8.
    for (unsigned i = c.prefix_bits; i < 128; ++i) c.addr[i / 8] &= uint8_t(~(0x80 >> (i % 8)));
    return c;
}

bool Endpoint::operator==(const Endpoint& other) const {
    if (len != other.len || port != other.port) return false;
    return len ? std::memcmp(&addr, &other.addr, len) == 0 : host == other.host;
}

std::string address_text(const sockaddr_storage& addr) {
    char buf[INET6_ADDRSTRLEN] = {};
    if (addr.ss_family == AF_INET)
        inet_ntop(AF_INET, &reinterpret_cast<const sockaddr_in&>(addr).sin_addr, buf, sizeof buf);
    else if (addr.ss_family == AF_INET6)
        inet_ntop(AF_INET6, &reinterpret_cast<const sockaddr_in6&>(addr).sin6_addr, buf, sizeof buf);
    return buf;
}

std::string endpoint_text(const sockaddr_storage& addr) {
    const bool v6 = addr.ss_family == AF_INET6;
    const uint16_t port = ntohs(v6 ? reinterpret_cast<const sockaddr_in6&>(addr).sin6_port
                                   : reinterpret_cast<const sockaddr_in&>(addr).sin_port);
    const std::string host = address_text(addr);
    return (v6 ? "[" + host + "]" : host) + ":" + std::to_string(port);
}

bool valid_host_name(std::string_view name) {
    if (name.empty() || name.size() > 253) return false;
    std::string_view last_label;
    for (std::string_view rest = name;;) {
        const size_t dot = rest.find('.');
        const std::string_view label = rest.substr(0, dot);
        if (label.empty() || label.size() > 63 || label.front() == '-' || label.back() == '-') return false;
        for (const char ch : label) {
            const bool ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
                            ch == '-' || ch == '_';
            if (!ok) return false;
        }
        last_label = label;
        if (dot == std::string_view::npos) break;
        rest.remove_prefix(dot + 1);
    }
    // A top-level label is never numeric: "300.1.1.1" is a bad address, not a name.
    return !std::all_of(last_label.begin(), last_label.end(), [](char ch) { return ch >= '0' && ch <= '9'; });
}

Result<Endpoint> parse_endpoint(std::string_view text) {
    return parse_endpoint(text, EndpointRules{});
}

Result<Endpoint> parse_endpoint(std::string_view text, const EndpointRules& rules) {
    Endpoint e;
    e.text = std::string(text);
    const std::string form = std::string(rules.allow_names ? "HOST" : "ADDRESS") +
                             (rules.default_port ? "[:PORT]" : ":PORT") + " (IPv6 as [ADDRESS]" +
                             (rules.default_port ? "[:PORT]" : ":PORT") + ")";
    std::string_view host;
    std::optional<std::string_view> port;
    if (!text.empty() && text.front() == '[') {
        const size_t close = text.find(']');
        const std::string_view after = close == std::string_view::npos ? "" : text.substr(close + 1);
        if (close == std::string_view::npos || (!after.empty() && after.front() != ':')) {
            return fail("expected " + form + ", got " + quote(text));
        }
        host = text.substr(1, close - 1);
        if (!after.empty()) port = after.substr(1);
    } else if (std::count(text.begin(), text.end(), ':') > 1) {
        // Several colons and no brackets: a bare IPv6 address, whose port cannot be told apart.
        if (!rules.default_port) {
            return fail("expected " + form + ", got " + quote(text));
        }
        host = text;
    } else if (const size_t colon = text.find(':'); colon != std::string_view::npos) {
        host = text.substr(0, colon);
        port = text.substr(colon + 1);
    } else {
        host = text;
    }
    if (!port && !rules.default_port) {
        return fail("expected " + form + ", got " + quote(text));
    }
    if (port) {
        const auto p = parse_uint(*port, rules.min_port, 65535);
        if (!p) {
            return fail("bad port in " + quote(text) + ": " + p.error());
        }
        e.port = uint16_t(*p);
    } else {
        e.port = *rules.default_port;
    }
    e.host = std::string(host);
    auto* v4 = reinterpret_cast<sockaddr_in*>(&e.addr);
    auto* v6 = reinterpret_cast<sockaddr_in6*>(&e.addr);
    if (inet_pton(AF_INET, e.host.c_str(), &v4->sin_addr) == 1) {
        v4->sin_family = AF_INET;
        v4->sin_port = htons(e.port);
        e.len = sizeof(sockaddr_in);
    } else if (inet_pton(AF_INET6, e.host.c_str(), &v6->sin6_addr) == 1) {
        v6->sin6_family = AF_INET6;
        v6->sin6_port = htons(e.port);
        e.len = sizeof(sockaddr_in6);
    } else if (rules.allow_names && valid_host_name(host) && text.front() != '[') {
        e.addr = {};  // a name: the caller resolves it
    } else {
        return fail(quote(host) + (rules.allow_names ? " is not an IPv4 or IPv6 address or a host name"
                                                : " is not an IPv4 or IPv6 address"));
    }
    return e;
}

Result<std::string> parse_endpoint_url(std::string_view text) {
    std::string_view rest = text;
    if (rest.starts_with("http://")) rest.remove_prefix(7);
    else if (rest.starts_with("https://")) rest.remove_prefix(8);
    else {
        return fail("endpoint " + quote(text) + " must start with http:// or https://");
    }
    if (rest.ends_with('/')) rest.remove_suffix(1);
    if (rest.empty() || rest.find_first_of("/?#@ ") != std::string_view::npos || has_control_character(rest)) {
        return fail("endpoint " + quote(text) + " must be http[s]://HOST[:PORT], with no path, query or credentials in it");
    }
    EndpointRules rules;
    rules.allow_names = true;
    rules.default_port = 80;
    rules.min_port = 1;
    if (const auto host = parse_endpoint(rest, rules); !host) {
        return fail("endpoint " + quote(text) + ": " + host.error());
    }
    return std::string(text.substr(0, text.size() - (text.ends_with('/') ? 1 : 0)));
}

// ---- times ---------------------------------------------------------------------

namespace {

bool fixed_digits(std::string_view s, size_t at, size_t n, int& out) {
    if (at + n > s.size()) return false;
    out = 0;
    for (size_t i = at; i < at + n; ++i) {
        if (s[i] < '0' || s[i] > '9') return false;
        out = out * 10 + (s[i] - '0');
    }
    return true;
}

}  // namespace

std::string rfc3339_ns(uint64_t ns) {
    const time_t secs = time_t(ns / 1'000'000'000ull);
    tm t{};
    gmtime_r(&secs, &t);
    char day[32], out[48];
    strftime(day, sizeof day, "%Y-%m-%dT%H:%M:%S", &t);
    snprintf(out, sizeof out, "%s.%09lluZ", day, static_cast<unsigned long long>(ns % 1'000'000'000ull));
    return out;
}

Result<uint64_t> parse_rfc3339(std::string_view text) {
    const std::string form = "expected an RFC 3339 time such as 2026-12-01T10:02:00Z, got " + quote(text);
    int y, mo, d, h, mi, s;
    const bool shape = text.size() >= 19 && fixed_digits(text, 0, 4, y) && text[4] == '-' &&
                       fixed_digits(text, 5, 2, mo) && text[7] == '-' && fixed_digits(text, 8, 2, d) &&
                       (text[10] == 'T' || text[10] == 't' || text[10] == ' ') && fixed_digits(text, 11, 2, h) &&
                       text[13] == ':' && fixed_digits(text, 14, 2, mi) && text[16] == ':' &&
                       fixed_digits(text, 17, 2, s);
    if (!shape) return fail(form);
    size_t i = 19;
    uint64_t fraction_ns = 0;
    if (i < text.size() && text[i] == '.') {
        const size_t first = ++i;
        for (uint64_t scale = 100'000'000; i < text.size() && text[i] >= '0' && text[i] <= '9'; ++i, scale /= 10)
            fraction_ns += uint64_t(text[i] - '0') * scale;
        if (i == first) return fail(form);
    }
    int64_t offset_s = 0;
    if (i < text.size() && (text[i] == 'Z' || text[i] == 'z')) {
        ++i;
    } else if (i < text.size() && (text[i] == '+' || text[i] == '-')) {
        int oh, om;
        if (!fixed_digits(text, i + 1, 2, oh) || i + 3 >= text.size() || text[i + 3] != ':' ||
            !fixed_digits(text, i + 4, 2, om) || oh > 23 || om > 59)
            return fail(form);
        offset_s = (text[i] == '+' ? 1 : -1) * (oh * 3600 + om * 60);
        i += 6;
    } else {
        return fail("the time " + quote(text) + " needs a zone: Z or +HH:MM");
    }
    if (i != text.size()) return fail(form);
    using namespace std::chrono;
    const year_month_day ymd{year(y), month(unsigned(mo)), day(unsigned(d))};
    if (!ymd.ok() || h > 23 || mi > 59 || s > 60) return fail("no such date or time: " + quote(text));
    const int64_t secs = int64_t(sys_days(ymd).time_since_epoch().count()) * 86400 + h * 3600 + mi * 60 + s - offset_s;
    if (secs < 0) return fail(quote(text) + " is before 1970");
    return uint64_t(secs) * 1'000'000'000ull + fraction_ns;
}

Result<uint64_t> TimeArg::at(uint64_t now_ns) const {
    if (!relative) return ns;
    if (ns > now_ns) return fail(format_duration(Duration(int64_t(ns))) + " ago is before 1970");
    return now_ns - ns;
}

Result<TimeArg> parse_time_arg(std::string_view text) {
    if (text.starts_with('-')) {
        // A century back is as far as a capture can reach; it keeps the sum in range.
        const auto back = parse_duration(text.substr(1), Duration::zero(), std::chrono::hours(24 * 36525));
        if (!back) return fail("expected a time relative to now such as -15m, -2h or -1d, got " + quote(text));
        return TimeArg{uint64_t(back->count()), true};
    }
    const auto ns = parse_rfc3339(text);
    if (!ns) {
        if (ns.error().starts_with("expected")) return fail(ns.error() + " (or a time relative to now: -15m)");
        return fail(ns.error());
    }
    return TimeArg{*ns, false};
}

// ---- interfaces ------------------------------------------------------------------

Result<MacAddress> parse_mac(std::string_view text) {
    MacAddress mac{};
    std::string_view rest = text;
    for (size_t i = 0; i < mac.size(); ++i) {
        const size_t colon = i + 1 < mac.size() ? rest.find(':') : rest.size();
        const std::string_view group = rest.substr(0, colon);
        unsigned v = 0;
        const auto [end, ec] = std::from_chars(group.data(), group.data() + group.size(), v, 16);
        const bool hex_only = group.find_first_not_of("0123456789abcdefABCDEF") == std::string_view::npos;
        if (colon == std::string_view::npos || group.empty() || group.size() > 2 || !hex_only ||
            ec != std::errc() || end != group.data() + group.size()) {
            return fail("expected a MAC address such as 02:00:5e:10:00:01, got " + quote(text));
        }
        mac[i] = uint8_t(v);
        rest.remove_prefix(std::min(rest.size(), colon + 1));
    }
    return mac;
}

std::string mac_text(const MacAddress& mac) {
    char out[18];
    std::snprintf(out, sizeof out, "%02x:%02x:%02x:%02x:%02x:%02x", mac[0], mac[1], mac[2], mac[3], mac[4], mac[5]);
    return out;
}

Result<std::string> parse_interface_name(std::string_view text) {
    constexpr size_t kMaxName = 15;  // IFNAMSIZ less the terminating NUL
    const bool bad_byte =
        text.find_first_of("/:% \t\n\v\f\r") != std::string_view::npos || has_control_character(text);
    if (text.empty() || text.size() > kMaxName || text == "." || text == ".." || bad_byte) {
        return fail("expected an interface name (1 to " + std::to_string(kMaxName) +
              " bytes, no '/', ':', '%' or spaces), got " + quote(text));
    }
    return std::string(text);
}

}  // namespace mirrortap
