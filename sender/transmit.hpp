// Sends VXLAN datagrams to the target in sendmmsg batches.
//
// The outer UDP source port follows the inner flow (RFC 7348 §5; an NLB
// hashes on it), so one UDP socket bound to one port will not do: a raw
// socket carries our own UDP header and the kernel adds the IP header,
// routes, and (for an IPv6 target) computes the checksum. CAP_NET_RAW, which
// the capture needs anyway, is all it takes.
#pragma once
#include <netinet/in.h>
#include <sys/socket.h>

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "base/result.hpp"
#include "decap/bytes.hpp"
#include "sender/stats.hpp"

namespace mirrortap::sender {

// The kernel's MTU on the route to `target` (0 when there is no route).
uint32_t route_mtu(const sockaddr_storage& target);

// The outer source address of a datagram. AWS sends a mirror from the source
// network interface's primary address; here the source interface's first
// address of the target's family (IPv6: the first that is not link-local).
// family 0: the interface has none, the kernel picks as for any packet.
struct OuterSource {
    int family = 0;
    in_addr v4{};
    in6_addr v6{};
};
OuterSource interface_primary_address(const std::string& interface, int family);

class Transmitter {
public:
    // A raw socket for `family` with its send buffer, and room for
    // `batch_size` datagrams; or why the socket cannot be had.
    static Result<std::unique_ptr<Transmitter>> open(SenderStats& stats, int family, uint32_t batch_size,
                                                     uint32_t max_datagram_bytes, uint64_t send_buffer_bytes);
    ~Transmitter();
    Transmitter(const Transmitter&) = delete;
    Transmitter& operator=(const Transmitter&) = delete;

    // Whether this one serves a config that wants these (else a new one is opened).
    bool suits(int family, uint32_t batch_size, uint64_t send_buffer_bytes) const {
        return family == family_ && batch_size == batch_ && send_buffer_bytes == send_buffer_bytes_;
    }
    // Address only: the port is in our UDP header. Flushes first.
    void set_target(const sockaddr_storage& addr);
    int family() const { return family_; }
    size_t outer_ip_header_bytes() const { return family_ == AF_INET6 ? 40 : 20; }

    // Room for one datagram (UDP header onwards), or nullptr when the batch is
    // full (flush first). `commit` then adds it to the batch.
    std::byte* slot() { return count_ < batch_ ? buffers_.data() + size_t(count_) * slot_bytes_ : nullptr; }
    // `source` (kept by the caller while the batch lasts) sets the outer
    // source address; null or family 0: the kernel's choice.
    void commit(size_t datagram_bytes, SessionStats* session, uint32_t inner_bytes, const OuterSource* source);
    bool full() const { return count_ >= batch_; }
    bool empty() const { return count_ == 0; }
    uint32_t max_datagram_bytes() const { return slot_bytes_; }

    // Hands the batch to the kernel; whatever it refuses is counted as dropped.
    void flush();
    // Counts the ICMP unreachable errors queued about our datagrams (cold:
    // once a second); returns how many it read.
    uint64_t read_errors();
    // Sends the kernel refused with "host/network unreachable" since the last call.
    uint64_t take_unreachable_sends() { return std::exchange(unreachable_sends_, 0); }

private:
    Transmitter(SenderStats& stats, uint32_t batch_size, uint32_t max_datagram_bytes);
    struct Pending {
        SessionStats* session;
        uint32_t inner_bytes;
        const OuterSource* source;
    };
    // Room for one IP_PKTINFO or IPV6_PKTINFO control message.
    struct alignas(cmsghdr) Control {
        std::byte bytes[CMSG_SPACE(sizeof(in6_pktinfo))];
    };
    SenderStats& stats_;
    int fd_ = -1;
    int family_ = 0;
    uint64_t send_buffer_bytes_ = 0;
    sockaddr_storage target_{};
    socklen_t target_len_ = 0;
    uint32_t batch_;
    uint32_t slot_bytes_;
    uint32_t count_ = 0;
    std::vector<std::byte> buffers_;
    std::vector<iovec> iov_;
    std::vector<mmsghdr> msgs_;
    std::vector<Pending> pending_;
    std::vector<Control> controls_;
    uint64_t unreachable_sends_ = 0;
};

}  // namespace mirrortap::sender
