#include "cloud/s3_address.hpp"

#include <arpa/inet.h>

#include <algorithm>

#include "support/parse.hpp"
#include "support/text.hpp"

namespace mirrortap::cloud {

namespace {

bool unreserved(unsigned char c) {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.' ||
           c == '_' || c == '~';
}

// Length of the UTF-8 sequence starting at text[i], or 0 when it is not one
// (overlong forms, surrogates and code points past U+10FFFF included).
size_t utf8_sequence_length(std::string_view text, size_t i) {
    const auto byte = [&](size_t k) { return static_cast<unsigned char>(text[k]); };
    const unsigned char c = byte(i);
    if (c < 0x80) return 1;
    size_t n;
    uint32_t cp;
    if ((c & 0xE0) == 0xC0) n = 2, cp = c & 0x1F;
    else if ((c & 0xF0) == 0xE0) n = 3, cp = c & 0x0F;
    else if ((c & 0xF8) == 0xF0) n = 4, cp = c & 0x07;
    else return 0;
    if (i + n > text.size()) return 0;
    for (size_t k = 1; k < n; ++k) {
        if ((byte(i + k) & 0xC0) != 0x80) return 0;
        cp = (cp << 6) | (byte(i + k) & 0x3F);
    }
    static constexpr uint32_t kSmallest[] = {0, 0, 0x80, 0x800, 0x10000};
    if (cp < kSmallest[n] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return 0;
    return n;
}

bool is_ipv4_literal(std::string_view name) {
    return name.find(':') == std::string_view::npos && name.find('/') == std::string_view::npos &&
           std::count(name.begin(), name.end(), '.') == 3 && parse_cidr(name).has_value();
}

}  // namespace

bool valid_bucket_name(std::string_view name) {
    if (name.size() < 3 || name.size() > 63) return false;
    for (const char c : name)
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '-')) return false;
    const auto alnum = [](char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); };
    if (!alnum(name.front()) || !alnum(name.back())) return false;
    if (name.find("..") != std::string_view::npos) return false;
    return !is_ipv4_literal(name);
}

bool plain_http_to_another_host(std::string_view url, bool imds) {
    if (!url.starts_with("http://")) return false;
    std::string_view rest = url.substr(7);
    rest = rest.substr(0, rest.find('/'));
    const std::string host(rest.starts_with('[') ? rest.substr(1, rest.find(']') - 1) : rest.substr(0, rest.find(':')));
    in_addr a4{};
    in6_addr a6{};
    if (inet_pton(AF_INET, host.c_str(), &a4) == 1) {
        if ((ntohl(a4.s_addr) >> 24) == 127) return false;
    } else if (inet_pton(AF_INET6, host.c_str(), &a6) == 1) {
        if (IN6_IS_ADDR_LOOPBACK(&a6)) return false;
    } else if (host == "localhost") {
        return false;
    }
    return !(imds && (host == "169.254.169.254" || host == "fd00:ec2::254"));
}

mirrortap::Result<> check_object_key(std::string_view key) {
    if (key.empty()) return fail("an object key may not be empty");
    if (key.size() > 1024) return fail("object key of " + std::to_string(key.size()) + " bytes is longer than 1024");
    if (has_control_character(key)) return fail("object key " + quote(key) + " holds a control character");
    for (size_t i = 0; i < key.size();) {
        const size_t n = utf8_sequence_length(key, i);
        if (n == 0) return fail("object key " + quote(key) + " is not valid UTF-8");
        i += n;
    }
    return {};
}

mirrortap::Result<> check_location(const S3Location& location) {
    if (location.endpoint.empty() ? !valid_bucket_name(location.bucket)
                                  : location.bucket.empty() || location.bucket.size() > 255 ||
                                        uri_encode(location.bucket, false) != location.bucket) {
        return fail("bucket name " + quote(location.bucket) +
                    " is not valid (3 to 63 of a-z, 0-9, '.', '-', starting and ending with a letter or digit)");
    }
    if (location.region.empty() || location.region.size() > 32 ||
        uri_encode(location.region, false) != location.region || location.region.find('.') != std::string::npos) {
        return fail("region " + quote(location.region) + " is not a region name (like eu-west-1)");
    }
    if (!location.endpoint.empty()) {
        if (auto url = parse_endpoint_url(location.endpoint); !url) return fail(url.error());
    }
    return {};
}

std::string uri_encode(std::string_view text, bool keep_slash) {
    static constexpr char kHex[] = "0123456789ABCDEF";
    std::string out;
    out.reserve(text.size() * 3);
    for (const char ch : text) {
        const auto c = static_cast<unsigned char>(ch);
        if (unreserved(c) || (keep_slash && c == '/')) {
            out += ch;
        } else {
            out += '%';
            out += kHex[c >> 4];
            out += kHex[c & 0xF];
        }
    }
    return out;
}

std::string canonical_query(std::vector<QueryParam> params) {
    for (auto& p : params) {
        p.name = uri_encode(p.name, false);
        p.value = uri_encode(p.value, false);
    }
    std::sort(params.begin(), params.end(), [](const QueryParam& a, const QueryParam& b) {
        return a.name != b.name ? a.name < b.name : a.value < b.value;
    });
    std::string out;
    for (const auto& p : params) {
        if (!out.empty()) out += '&';
        out += p.name + "=" + p.value;
    }
    return out;
}

std::string s3_url(const S3Location& location, std::string_view key, const std::vector<QueryParam>& query) {
    std::string url;
    std::string path;
    if (!location.endpoint.empty()) {
        url = location.endpoint;
        if (url.ends_with('/')) url.pop_back();
        path = "/" + uri_encode(location.bucket, false);
    } else if (location.bucket.find('.') != std::string::npos) {
        url = "https://s3." + location.region + ".amazonaws.com";
        path = "/" + location.bucket;
    } else {
        url = "https://" + location.bucket + ".s3." + location.region + ".amazonaws.com";
    }
    if (!key.empty()) path += "/" + uri_encode(key, true);
    if (path.empty()) path = "/";
    url += path;
    if (!query.empty()) url += "?" + canonical_query(query);
    return url;
}

}  // namespace mirrortap::cloud
