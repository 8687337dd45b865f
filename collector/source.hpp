// Where datagrams come from. One Source per receive worker: UDP sockets
// (udp_source.hpp, the default) or an AF_PACKET ring (ring_source.hpp).
#pragma once
#include <array>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "base/enum_names.hpp"
#include "base/result.hpp"
#include "core/session.hpp"
#include "core/sink.hpp"
#include "decap/bytes.hpp"

namespace mirrortap {

// What a datagram's UDP payload starts with, by the socket it came in on.
enum class Encapsulation : uint8_t {
    vxlan,   // --listen: VXLAN header + inner frame
    geneve,  // --listen-geneve: GENEVE from a Gateway Load Balancer, the VXLAN packet inside
};

struct Datagram {
    Bytes payload;                  // the UDP payload: VXLAN header + inner frame, or GENEVE (encap)
    uint64_t timestamp_ns = 0;      // kernel receive time
    SourceAddress source{};         // outer source address (IPv4 mapped)
    bool truncated = false;         // larger than the receive buffer: not all of it is here
    Encapsulation encap = Encapsulation::vxlan;
};

// Why the ring source refused a frame the kernel's UDP receive path would
// have dropped before any socket saw it (collector/ring_source.hpp): a
// socket never receives these, so neither does the ring. Not loss (the
// socket source never sees them either): the `reason` of
// mirrortap_ring_refused_total, apart from mirrortap_socket_drops_total.
enum class OuterRefusal : uint8_t {
    bad_ip_header,       // IPv4 version or header length wrong, or the header not all there
    bad_ip_checksum,     // the IPv4 header checksum does not add up
    bad_length,          // the IP length exceeds the frame, or the UDP length the IP payload (or is below 8)
    bad_udp_checksum,    // a UDP checksum that does not add up; over IPv6, a zero one (RFC 8200)
    martian_source,      // loopback, multicast, broadcast, 0/8, our own address; others as rp_filter drops
    martian_destination, // loopback or 0/8 arriving on the interface
    not_for_this_host,   // listening on any address: a destination that is none of the host's
};
inline constexpr auto kOuterRefusalNames = enum_names<OuterRefusal>({
    {OuterRefusal::bad_ip_header, "bad_ip_header"},
    {OuterRefusal::bad_ip_checksum, "bad_ip_checksum"},
    {OuterRefusal::bad_length, "bad_length"},
    {OuterRefusal::bad_udp_checksum, "bad_udp_checksum"},
    {OuterRefusal::martian_source, "martian_source"},
    {OuterRefusal::martian_destination, "martian_destination"},
    {OuterRefusal::not_for_this_host, "not_for_this_host"},
});

struct SourceStats {
    uint64_t kernel_drops = 0;  // datagrams the kernel dropped before we read them (socket or ring full)
    uint64_t outer_fragments = 0;  // ring source: IPv6 fragments for the port, never reassembled (lost)
    // Ring source: frames refused by reason (the kernel refuses them before a socket's queue).
    std::array<uint64_t, kOuterRefusalNames.size()> refused{};
};

class Source {
public:
    virtual ~Source() = default;
    // Fills up to out.size() datagrams; waits at most timeout_ms for the first
    // (0: take only what is already queued).
    // The views stay valid until the next call. Returns how many were filled.
    virtual size_t next_batch(std::span<Datagram> out, int timeout_ms) = 0;
    virtual SourceStats stats() const = 0;
    // How long the drain at stop waits for what the kernel still holds back
    // (a ring's block it has not yet retired); a socket holds nothing back.
    virtual int drain_timeout_ms() const { return 0; }
    // Whether datagrams can still arrive (the exporter's thread asks); why when not.
    virtual Result<> health() const { return {}; }
};

}  // namespace mirrortap
