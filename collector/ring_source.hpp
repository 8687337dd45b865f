// AF_PACKET TPACKET_V3 receive (--capture-interface): the kernel writes each
// VXLAN datagram for the listen port into a memory-mapped ring, with its
// receive time, and never queues it on a UDP socket. The worker reads the
// UDP payload where the kernel put it: the only copy of a packet is the
// sink's, from the ring into its buffer.
#pragma once
#include <netinet/in.h>

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "collector/source.hpp"
#include "config/config.hpp"
#include "support/counter.hpp"

namespace mirrortap {

// What the kernel's IPv4 input would make of a source or destination
// address on the capture interface (ip_route_input_slow, fib_validate_source),
// read once at open: the interface's settings and the host's addresses. Not
// followed afterwards (an address added later is not known), and a strict
// rp_filter's route lookup for every other source is not repeated per frame.
struct MartianRules {
    static constexpr size_t kMaxAddresses = 64;
    bool loopback_interface = false;  // lo itself: 127/8 belongs there
    bool route_localnet = false;      // net.ipv4.conf.*.route_localnet: 127/8 may arrive from outside
    bool accept_local = false;        // net.ipv4.conf.*.accept_local: our own addresses may come as sources
    bool rp_filter = false;           // net.ipv4.conf.{all,IFACE}.rp_filter: the source's route is checked
    // The listen address is 0.0.0.0 or [::]: the socket filter does not pin
    // the destination, so it must be one of the host's (else the kernel
    // forwards or drops the datagram and no socket sees it).
    bool any_destination = false;
    uint32_t local_count = 0, broadcast_count = 0, local6_count = 0;
    std::array<uint32_t, kMaxAddresses> local{};      // the host's IPv4 addresses, host order
    std::array<uint32_t, kMaxAddresses> broadcast{};  // their subnets' broadcast addresses, host order
    std::array<in6_addr, kMaxAddresses> local6{};     // the host's IPv6 addresses
    bool local4(uint32_t address) const;
    bool is_local6(const in6_addr& address) const;
};

// One worker's ring: an AF_PACKET socket, bound and in the group, and its mapping.
struct Ring {
    int fd = -1;
    std::byte* map = nullptr;
    size_t block_bytes = 0;
    size_t block_count = 0;
    MartianRules martians;
};

// One ring per worker, all in one PACKET_FANOUT group whose classic BPF
// program steers by VNI (VNI modulo the ring count, as the socket group
// does), so a session's packets stay in one worker, in order. IPv4 is
// reassembled before the fanout (PACKET_FANOUT_FLAG_DEFRAG); an IPv6
// fragment for the port is counted (outer_fragment), not reassembled.
//
// A packet socket sees frames before the IP layer has checked anything, so
// the ring checks what the kernel's receive path checks before a UDP socket
// may have a datagram (ip_rcv_core, ip_route_input_slow, __udp4_lib_rcv and
// their IPv6 twins): header fields, checksums, lengths and martian
// addresses. What the kernel would drop is refused and counted by reason
// (OuterRefusal), never received: both sources agree on every datagram.
//
// The port guard: a UDP socket bound to the listen address whose filter
// drops everything. With it the kernel finds a socket for the port (no ICMP
// port unreachable goes back to the sender) and queues nothing on it; other
// ports and other programs' sockets are not touched. It also keeps a second
// collector (or anything else) off the port, as the socket source does.
struct RingGroup {
    std::vector<Ring> rings;
    int port_guard = -1;
    uint16_t port = 0;     // the listen port (the kernel's choice when --listen said 0)
    // ring_bytes: each ring's size (--rcvbuf), in whole blocks. Nothing is
    // left open when it fails.
    static Result<RingGroup> open(const std::string& interface, const Endpoint& listen, size_t count,
                                  uint64_t ring_bytes);
    void close();  // what the sources did not take over
};

class RingSource final : public Source {
public:
    explicit RingSource(Ring ring);  // takes ownership of the socket and its mapping
    ~RingSource() override;
    RingSource(const RingSource&) = delete;
    RingSource& operator=(const RingSource&) = delete;

    size_t next_batch(std::span<Datagram> out, int timeout_ms) override;
    SourceStats stats() const override;
    // A block the kernel is still filling is ours only once it retires it (at
    // the latest after its block timeout): the drain at stop waits that long.
    int drain_timeout_ms() const override;
    // False once the interface went down or away, until frames come again.
    Result<> health() const override;

private:
    // Hands the blocks read by the previous call back to the kernel: the
    // datagrams it returned pointed into them.
    void release_read_blocks();
    bool block_ready(size_t index) const;
    // The datagram in a frame, or false for one the kernel's UDP receive
    // path would never have delivered to a socket (counted by reason).
    bool parse(const std::byte* frame, Datagram& d);
    bool refuse(OuterRefusal why) { return refused_[size_t(why)].add(), false; }
    bool martian_source4(uint32_t source) const;

    Ring ring_;
    size_t next_block_ = 0;             // the block to read, or being read
    size_t to_release_ = 0;             // blocks finished by the previous call, just before next_block_
    const std::byte* frame_ = nullptr;  // the next frame of the block being read
    uint32_t frames_left_ = 0;          // frames of that block not yet read
    RelaxedCounter fragments_;
    std::array<RelaxedCounter, kOuterRefusalNames.size()> refused_{};
    // PACKET_STATISTICS resets the kernel's counts at each read: summed here,
    // by whichever thread asks (the exporter's).
    mutable std::atomic<uint64_t> ring_drops_{0};
    // The socket's last error (ENETDOWN when the interface went down or was
    // deleted), 0 while frames arrive. Set by the worker, read by the exporter.
    std::atomic<int> link_error_{0};
};

}  // namespace mirrortap
