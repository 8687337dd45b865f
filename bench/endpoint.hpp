// Small helpers shared by the bench tools: socket addresses and numeric flags.
#pragma once
#include <netinet/in.h>
#include <sys/socket.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "support/clock.hpp"

namespace mirrortap::bench {

using mirrortap::monotonic_ns;

// An IPv4 or IPv6 UDP address as the command line spells it:
// "127.0.0.1:4789", "[::1]:4789", or a bare address (port = default_port).
struct Endpoint {
    sockaddr_storage storage{};
    socklen_t length = 0;

    int family() const { return storage.ss_family; }
    uint16_t port() const;
    void set_port(uint16_t port);
    const sockaddr* get() const { return reinterpret_cast<const sockaddr*>(&storage); }
    sockaddr* get() { return reinterpret_cast<sockaddr*>(&storage); }
    bool is_loopback() const;
    std::string to_string() const;
};

std::optional<Endpoint> parse_endpoint(std::string_view text, uint16_t default_port);

// Decimal with an optional K/M/G suffix (powers of 1000 for counts, of 1024 for
// bytes: the caller says which). Rejects trailing junk and overflow.
std::optional<uint64_t> parse_count(std::string_view text, uint64_t suffix_base = 1000);

// Root can size a socket buffer past net.core.rmem_max (SO_RCVBUFFORCE); others
// get what the sysctl allows. Returns the size the kernel reports afterwards.
int set_receive_buffer(int fd, int bytes);

}  // namespace mirrortap::bench
