#include "bench/endpoint.hpp"

#include <arpa/inet.h>

#include "support/text.hpp"

namespace mirrortap::bench {

void set_port(Endpoint& e, uint16_t port) {
    e.port = port;
    if (e.family() == AF_INET6) reinterpret_cast<sockaddr_in6*>(&e.addr)->sin6_port = htons(port);
    else reinterpret_cast<sockaddr_in*>(&e.addr)->sin_port = htons(port);
}

bool is_loopback(const Endpoint& e) {
    if (e.family() == AF_INET6) return IN6_IS_ADDR_LOOPBACK(&reinterpret_cast<const sockaddr_in6*>(&e.addr)->sin6_addr);
    return (ntohl(reinterpret_cast<const sockaddr_in*>(&e.addr)->sin_addr.s_addr) >> 24) == 127;
}

Result<uint64_t> parse_count(std::string_view text, uint64_t min, uint64_t max) {
    uint64_t scale = 1;
    std::string_view digits = text;
    if (!text.empty()) {
        switch (text.back()) {
            case 'k': case 'K': scale = 1000; break;
            case 'm': case 'M': scale = 1000 * 1000; break;
            case 'g': case 'G': scale = 1000 * 1000 * 1000; break;
            default: break;
        }
        if (scale > 1) digits.remove_suffix(1);
    }
    const auto n = parse_uint(digits, UINT64_MAX / scale);
    if (!n) {
        const bool digits_only = !digits.empty() && digits.find_first_not_of("0123456789") == std::string_view::npos;
        return fail(digits_only ? "count " + quote(text) + " is too large"
                                : "expected a count such as 1000, 200k, 1M or 2G, got " + quote(text));
    }
    const uint64_t v = *n * scale;
    if (v < min || v > max)
        return fail((v < min ? "must be at least " + std::to_string(min) : "must be at most " + std::to_string(max)) +
                    ", got " + quote(text));
    return v;
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
