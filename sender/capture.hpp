// One AF_PACKET TPACKET_V3 ring per interface, both directions in one ring:
// the kernel writes frames into it in the order its taps saw them (on
// egress at dev_queue_xmit_nit, on ingress at __netif_receive_skb), so the
// ring's order is the interface's order and the mirror leaves in it. Two
// rings, one per direction, would each keep their own order but not the
// order between them: an ACK could be mirrored before the data it
// acknowledges (issue 25; docs/sender.md says why one ring and not a merge).
// The direction is the kernel's (the frame's packet type: PACKET_OUTGOING is
// egress, the rest ingress), never guessed from MAC addresses. Frames for
// other hosts (PACKET_OTHERHOST, on a promiscuous interface or a bridge
// member) never enter the ring: the socket filter refuses them before the
// expression runs.
#pragma once
#include <linux/filter.h>
#include <linux/if_packet.h>

#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "base/result.hpp"
#include "decap/bytes.hpp"
#include "sender/filter.hpp"
#include "sender/own_traffic.hpp"
#include "sender/stats.hpp"

namespace mirrortap::sender {

struct CaptureOptions {
    uint64_t buffer_bytes = 64ull << 20;  // the ring, both directions
    uint32_t snaplen = 65535;
};

// A socket filter compiled for a capture, ready to install on it: libpcap's
// program for the expression behind our own first instructions.
struct CompiledFilter {
    std::string expression;  // as given, without the capture's own part
    std::vector<sock_filter> program;
};

// A libpcap expression over Ethernet frames as a socket filter that first
// refuses frames for other hosts (the packet type PACKET_OTHERHOST, an
// ancillary load the kernel answers) and, on a loopback, the sent copy of
// each packet (it is seen received too); or libpcap's refusal.
Result<std::vector<sock_filter>> compile_socket_filter(const std::string& expression, uint32_t snaplen, bool loopback);

// One frame as the interface saw it. `frame` points into the ring (or, for a
// frame whose VLAN tag the device took out, into the capture's copy with the
// tag put back) and holds until the handler returns.
struct CapturedFrame {
    Bytes frame;
    uint32_t wire_bytes = 0;  // its length on the wire (the ring may hold less)
    Direction direction = Direction::ingress;
    // An aggregate of segments (TSO/GSO on egress, GRO on ingress), as the
    // kernel describes it (the virtio-net header PACKET_VNET_HDR puts before
    // each frame): of which protocol, and the payload bytes of each segment
    // the wire carries (the MSS; UDP_SEGMENT's size). 0: not an aggregate.
    enum class Aggregate : uint8_t { none, tcp, udp };
    Aggregate aggregate = Aggregate::none;
    uint16_t segment_bytes = 0;
    // The checksum the kernel left for the device to complete (checksum
    // offload): summed from `checksum_start` (from the frame's first byte)
    // to the end, its field at checksum_start + checksum_offset holding the
    // pseudo header's sum; 0: none left. For an aggregate, checksum_start is
    // also the header the kernel segments by: a tunnel's names its inner one.
    uint16_t checksum_start = 0;
    uint16_t checksum_offset = 0;
};

class Capture {
public:
    // Bound and mapped, taking nothing until a filter is installed; or why
    // the interface cannot be captured on.
    static Result<std::unique_ptr<Capture>> open(const std::string& interface, const CaptureOptions& options);
    ~Capture();
    Capture(const Capture&) = delete;
    Capture& operator=(const Capture&) = delete;

    // Where its counts go (the interface's).
    void attach_stats(InterfaceStats* stats) { stats_ = stats; }

    // A reload tries the new filter first (compile: what can fail), and
    // installs it only once everything else is ready too.
    Result<std::unique_ptr<CompiledFilter>> compile(const std::string& expression) const;
    Result<> install(const CompiledFilter& filter);  // or a one-line error
    Result<> set_filter(const std::string& expression);  // both
    const std::string& filter() const { return filter_; }  // the installed expression
    // Adds the ring's drops and the interface's since the last call.
    void update_stats();

    // Hands each frame of the blocks the kernel has finished to `on_frame`
    // (const CapturedFrame&), in ring order, and gives each block back once
    // its frames are handled. Bounded: one ring's worth of blocks at most.
    // Returns the frames handled.
    template <class OnFrame>
    uint64_t drain(OnFrame&& on_frame);

    int fd() const { return fd_; }
    const std::string& name() const { return name_; }
    InterfaceStats* stats() const { return stats_; }

private:
    Capture() = default;
    // The finished block at next_block_, or null when the kernel still has it.
    const tpacket_block_desc* ready_block() const;
    void release_block();
    // A frame of the ring as the wire carried it (its VLAN tag put back).
    CapturedFrame view(const std::byte* header);
    uint64_t interface_drops() const;  // the interface's rx_dropped + rx_missed_errors

    int fd_ = -1;
    std::byte* map_ = nullptr;
    size_t block_bytes_ = 0, block_count_ = 0, next_block_ = 0;
    uint32_t snaplen_ = 65535;
    bool loopback_ = false;  // every packet twice, sent and received: taken once
    std::string name_;
    InterfaceStats* stats_ = nullptr;
    std::string filter_;
    uint64_t interface_drops_seen_ = 0;
    std::vector<std::byte> tagged_;  // a frame with its VLAN tag put back
};

// The interface's MTU from sysfs; 0 when it cannot be read.
uint32_t interface_mtu(const std::string& interface);

// The interface's MAC address from sysfs; false when it has none.
bool interface_mac(const std::string& interface, std::array<uint8_t, 6>& mac);

// The BPF expression that keeps the sender's own VXLAN out of its capture,
// and the ICMP errors that quote it (see own_traffic.hpp).
std::string own_traffic_filter(const OwnTarget& target);

template <class OnFrame>
uint64_t Capture::drain(OnFrame&& on_frame) {
    uint64_t frames = 0;
    for (size_t round = 0; round < block_count_; ++round) {
        const tpacket_block_desc* block = ready_block();
        if (!block) break;
        const uint32_t count = block->hdr.bh1.num_pkts;
        const std::byte* at = reinterpret_cast<const std::byte*>(block) + block->hdr.bh1.offset_to_first_pkt;
        for (uint32_t i = 0; i < count; ++i) {
            const CapturedFrame frame = view(at);
            on_frame(frame);
            at += reinterpret_cast<const tpacket3_hdr*>(at)->tp_next_offset;
        }
        frames += count;
        release_block();
    }
    return frames;
}

}  // namespace mirrortap::sender
