#include "bench/endpoint.hpp"

#include <arpa/inet.h>

#include <algorithm>
#include <charconv>
#include <cstring>
#include <ctime>

namespace mirrortap::bench {

uint16_t Endpoint::port() const {
    if (family() == AF_INET6) return ntohs(reinterpret_cast<const sockaddr_in6*>(&storage)->sin6_port);
    return ntohs(reinterpret_cast<const sockaddr_in*>(&storage)->sin_port);
}

void Endpoint::set_port(uint16_t port) {
    if (family() == AF_INET6) reinterpret_cast<sockaddr_in6*>(&storage)->sin6_port = htons(port);
    else reinterpret_cast<sockaddr_in*>(&storage)->sin_port = htons(port);
}

bool Endpoint::is_loopback() const {
    if (family() == AF_INET6) {
        return IN6_IS_ADDR_LOOPBACK(&reinterpret_cast<const sockaddr_in6*>(&storage)->sin6_addr);
    }
    const uint32_t a = ntohl(reinterpret_cast<const sockaddr_in*>(&storage)->sin_addr.s_addr);
    return (a >> 24) == 127;
}

std::string Endpoint::to_string() const {
    char text[INET6_ADDRSTRLEN] = {};
    if (family() == AF_INET6) {
        inet_ntop(AF_INET6, &reinterpret_cast<const sockaddr_in6*>(&storage)->sin6_addr, text, sizeof text);
        return "[" + std::string(text) + "]:" + std::to_string(port());
    }
    inet_ntop(AF_INET, &reinterpret_cast<const sockaddr_in*>(&storage)->sin_addr, text, sizeof text);
    return std::string(text) + ":" + std::to_string(port());
}

std::optional<Endpoint> parse_endpoint(std::string_view text, uint16_t default_port) {
    std::string host;
    std::string_view port_text;
    if (!text.empty() && text.front() == '[') {
        const size_t close = text.find(']');
        if (close == std::string_view::npos) return std::nullopt;
        host = std::string(text.substr(1, close - 1));
        std::string_view rest = text.substr(close + 1);
        if (!rest.empty()) {
            if (rest.front() != ':') return std::nullopt;
            port_text = rest.substr(1);
        }
    } else if (std::count(text.begin(), text.end(), ':') == 1) {
        const size_t colon = text.find(':');
        host = std::string(text.substr(0, colon));
        port_text = text.substr(colon + 1);
    } else {
        host = std::string(text);  // bare IPv4, or bare IPv6 without a port
    }

    uint16_t port = default_port;
    if (!port_text.empty() || (text.size() && text.back() == ':')) {
        auto [end, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
        if (ec != std::errc{} || end != port_text.data() + port_text.size()) return std::nullopt;
    }

    Endpoint e;
    auto* v4 = reinterpret_cast<sockaddr_in*>(&e.storage);
    auto* v6 = reinterpret_cast<sockaddr_in6*>(&e.storage);
    if (inet_pton(AF_INET, host.c_str(), &v4->sin_addr) == 1) {
        v4->sin_family = AF_INET;
        e.length = sizeof(sockaddr_in);
    } else if (inet_pton(AF_INET6, host.c_str(), &v6->sin6_addr) == 1) {
        v6->sin6_family = AF_INET6;
        e.length = sizeof(sockaddr_in6);
    } else {
        return std::nullopt;
    }
    e.set_port(port);
    return e;
}

std::optional<uint64_t> parse_count(std::string_view text, uint64_t suffix_base) {
    uint64_t value = 0;
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (ec != std::errc{} || end == text.data()) return std::nullopt;
    std::string_view suffix(end, text.data() + text.size() - end);
    uint64_t scale = 1;
    if (suffix == "k" || suffix == "K") scale = suffix_base;
    else if (suffix == "m" || suffix == "M") scale = suffix_base * suffix_base;
    else if (suffix == "g" || suffix == "G") scale = suffix_base * suffix_base * suffix_base;
    else if (!suffix.empty()) return std::nullopt;
    if (value > UINT64_MAX / scale) return std::nullopt;
    return value * scale;
}

int set_receive_buffer(int fd, int bytes) {
    // Passed as given, exactly as the collector does (the kernel doubles it for
    // its bookkeeping), so that the baseline queues as much as the collector.
    const int request = bytes;
    if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &request, sizeof request) != 0) {
        setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &request, sizeof request);
    }
    int actual = 0;
    socklen_t len = sizeof actual;
    getsockopt(fd, SOL_SOCKET, SO_RCVBUF, &actual, &len);
    return actual;
}

}  // namespace mirrortap::bench
