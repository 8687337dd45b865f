#include "sender/capture.hpp"

#include <arpa/inet.h>
#include <endian.h>
#include <linux/if_ether.h>
#include <net/if.h>
#include <net/if_arp.h>
#include <pcap/pcap.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <system_error>

#include "decap/frame.hpp"

#include "sender/values.hpp"
#include "support/text.hpp"

namespace mirrortap::sender {

uint32_t interface_mtu(const std::string& interface) {
    if (interface.find('/') != std::string::npos) return 0;
    std::ifstream in("/sys/class/net/" + interface + "/mtu");
    uint32_t mtu = 0;
    if (!(in >> mtu)) return 0;
    return mtu;
}

bool interface_mac(const std::string& interface, std::array<uint8_t, 6>& mac) {
    if (interface.find('/') != std::string::npos) return false;
    std::ifstream in("/sys/class/net/" + interface + "/address");
    std::string text;
    if (!(in >> text)) return false;
    const auto parsed = parse_mac(text);
    if (parsed) mac = *parsed;
    return parsed.has_value();
}

std::string own_traffic_filter(const OwnTarget& t) {
    char text[INET6_ADDRSTRLEN] = {};
    const bool v4 = t.family == FlowKind::ipv4;
    inet_ntop(v4 ? AF_INET : AF_INET6, t.address.data(), text, sizeof text);
    const std::string port = std::to_string(t.port);
    auto word = [&](size_t at) {
        char hex[16];
        std::snprintf(hex, sizeof hex, "0x%02x%02x%02x%02x", t.address[at], t.address[at + 1], t.address[at + 2],
                      t.address[at + 3]);
        return std::string(hex);
    };
    std::string f = "not (udp and dst port " + port + " and dst host " + text + ")";
    // Fragments towards the target: only the first has a UDP header (own_traffic.hpp).
    f += v4 ? " and not (ip and dst host " + std::string(text) + " and ip[6:2] & 0x3fff != 0)"
            : " and not (ip6 and dst host " + std::string(text) + " and ip6[6] == 44)";
    if (v4) {
        // ICMP error types 3, 11, 12; the quoted IP header at icmp[8], its
        // destination at icmp[24], the quoted UDP destination port at icmp[30]
        // (our datagrams carry no IP options).
        f += " and not (icmp and (icmp[0] == 3 or icmp[0] == 11 or icmp[0] == 12) and icmp[24:4] == " + word(0) +
             " and icmp[30:2] == " + port + ")";
    } else {
        // ICMPv6 error types 1-4 right after the fixed header (ip6[40]); the
        // quoted IPv6 header at ip6[48], its destination at ip6[72], the quoted
        // UDP destination port at ip6[90].
        f += " and not (icmp6 and ip6[40] >= 1 and ip6[40] <= 4 and ip6[72:4] == " + word(0) +
             " and ip6[76:4] == " + word(4) + " and ip6[80:4] == " + word(8) + " and ip6[84:4] == " + word(12) +
             " and ip6[90:2] == " + port + ")";
    }
    return f;
}

Result<std::vector<sock_filter>> compile_socket_filter(const std::string& expression, uint32_t snaplen, bool loopback) {
    pcap_t* dead = pcap_open_dead(DLT_EN10MB, int(snaplen));
    if (!dead) return fail("cannot compile a filter: pcap_open_dead failed");
    bpf_program program{};
    if (pcap_compile(dead, &program, expression.c_str(), 1, PCAP_NETMASK_UNKNOWN) != 0) {
        std::string why = "filter '" + expression + "': " + pcap_geterr(dead);
        pcap_close(dead);
        return fail(std::move(why));
    }
    // eth_type_trans's PACKET_OTHERHOST (a unicast frame for another MAC):
    // refused first, by the packet type the kernel gave the frame. The
    // loopback hands every packet to its taps twice, sent and received:
    // it is taken once, received (as libpcap takes it).
    std::vector<sock_filter> code = {{BPF_LD | BPF_W | BPF_ABS, 0, 0, uint32_t(SKF_AD_OFF + SKF_AD_PKTTYPE)}};
    if (loopback) {
        code.push_back({BPF_JMP | BPF_JEQ | BPF_K, 1, 0, PACKET_OTHERHOST});
        code.push_back({BPF_JMP | BPF_JEQ | BPF_K, 0, 1, PACKET_OUTGOING});
    } else {
        code.push_back({BPF_JMP | BPF_JEQ | BPF_K, 0, 1, PACKET_OTHERHOST});
    }
    code.push_back({BPF_RET | BPF_K, 0, 0, 0});
    for (u_int i = 0; i < program.bf_len; ++i) {
        const bpf_insn& in = program.bf_insns[i];
        code.push_back({in.code, in.jt, in.jf, in.k});
    }
    pcap_freecode(&program);
    pcap_close(dead);
    return code;
}

namespace {

// Whether the interface carries Ethernet frames: ARPHRD_ETHER, or the
// loopback's zeroed Ethernet header (libpcap's DLT_EN10MB for both).
// Its ARPHRD type; or why it is not one we capture on.
Result<unsigned> ethernet_type(const std::string& interface) {
    std::ifstream in("/sys/class/net/" + interface + "/type");
    unsigned type = 0;
    if (!(in >> type)) return fail(interface + ": cannot read its link type from /sys/class/net");
    if (type != ARPHRD_ETHER && type != ARPHRD_LOOPBACK)
        return fail(interface + ": not an Ethernet interface (ARPHRD " + std::to_string(type) +
                    "); mirror sessions carry Ethernet frames");
    return type;
}

uint64_t read_counter(const std::string& path) {
    std::ifstream in(path);
    uint64_t value = 0;
    in >> value;
    return value;
}

// Blocks of 1 MiB (the largest frame, snaplen and headers, always fits),
// 256 KiB for a small ring; at least 4. A block the kernel has started goes
// to us when full or after kBlockTimeoutMs: the most a quiet link's frame waits.
constexpr unsigned kBlockTimeoutMs = 1;

tpacket_req3 ring_request(uint64_t buffer_bytes) {
    const uint32_t block = buffer_bytes >= (16u << 20) ? (1u << 20) : (1u << 18);
    tpacket_req3 req{};
    req.tp_block_size = block;
    req.tp_block_nr = uint32_t(std::clamp<uint64_t>(buffer_bytes / block, 4, 1u << 14));
    req.tp_frame_size = 2048;  // TPACKET_V3 packs frames; this only sets tp_frame_nr
    req.tp_frame_nr = block / req.tp_frame_size * req.tp_block_nr;
    req.tp_retire_blk_tov = kBlockTimeoutMs;
    return req;
}

// linux/virtio_net.h's struct virtio_net_hdr (that header does not compile
// as C++, and older copies lack UDP_L4), little-endian as virtio 1.0 and
// af_packet on little-endian hosts write it.
struct VirtioNetHeader {
    uint8_t flags;
    uint8_t gso_type;
    uint16_t header_bytes, gso_size, csum_start, csum_offset;
};
static_assert(sizeof(VirtioNetHeader) == 10);
constexpr uint8_t kGsoTcpV4 = 1, kGsoTcpV6 = 4, kGsoUdpL4 = 5, kGsoEcn = 0x80, kNeedsChecksum = 1;

std::string errno_text(const std::string& what) {
    return what + ": " + std::error_code(errno, std::generic_category()).message();
}

}  // namespace

Result<std::unique_ptr<Capture>> Capture::open(const std::string& interface, const CaptureOptions& options) {
    const unsigned index = if_nametoindex(interface.c_str());
    if (index == 0) return fail("no such interface " + quote(interface));
    const auto type = ethernet_type(interface);
    if (!type) return fail(type.error());
    std::unique_ptr<Capture> c(new Capture);
    c->name_ = interface;
    c->loopback_ = *type == ARPHRD_LOOPBACK;
    c->snaplen_ = std::max<uint32_t>(options.snaplen, kEthernetHeaderBytes);
    // Protocol 0: the socket takes nothing until it is bound, after the
    // ring is mapped and the drop-all filter is on.
    c->fd_ = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (c->fd_ < 0)
        return fail(interface + ": " + errno_text("packet socket") + (errno == EPERM ? " (needs CAP_NET_RAW)" : ""));
    const int version = TPACKET_V3;
    if (setsockopt(c->fd_, SOL_PACKET, PACKET_VERSION, &version, sizeof version) != 0)
        return fail(interface + ": " + errno_text("PACKET_VERSION TPACKET_V3"));
    // Each frame gets the kernel's virtio-net header before it: an
    // aggregate's segment size, which the frame itself does not say (a UDP
    // GSO aggregate has one UDP header over all its datagrams). Before the
    // ring, or the kernel refuses it.
    const int vnet = 1;
    if (setsockopt(c->fd_, SOL_PACKET, PACKET_VNET_HDR, &vnet, sizeof vnet) != 0)
        return fail(interface + ": " + errno_text("PACKET_VNET_HDR"));
    tpacket_req3 req = ring_request(options.buffer_bytes);
    if (setsockopt(c->fd_, SOL_PACKET, PACKET_RX_RING, &req, sizeof req) != 0)
        return fail(interface + ": " + errno_text("a " + std::to_string((uint64_t(req.tp_block_size) * req.tp_block_nr) >> 20) +
                                                  " MiB capture ring (PACKET_RX_RING; --buffer-size sizes it)"));
    const size_t bytes = size_t(req.tp_block_size) * req.tp_block_nr;
    void* map = mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, c->fd_, 0);
    if (map == MAP_FAILED) return fail(interface + ": " + errno_text("cannot map the capture ring"));
    c->map_ = static_cast<std::byte*>(map);
    c->block_bytes_ = req.tp_block_size;
    c->block_count_ = req.tp_block_nr;
    sock_filter drop_all{BPF_RET | BPF_K, 0, 0, 0};
    const sock_fprog none{1, &drop_all};
    if (setsockopt(c->fd_, SOL_SOCKET, SO_ATTACH_FILTER, &none, sizeof none) != 0)
        return fail(interface + ": " + errno_text("SO_ATTACH_FILTER"));
    sockaddr_ll at{};
    at.sll_family = AF_PACKET;
    at.sll_protocol = htons(ETH_P_ALL);
    at.sll_ifindex = int(index);
    if (bind(c->fd_, reinterpret_cast<const sockaddr*>(&at), sizeof at) != 0)
        return fail(interface + ": " + errno_text("cannot bind the capture ring"));
    c->interface_drops_seen_ = c->interface_drops();
    c->tagged_.resize(c->snaplen_ + 4);
    return c;
}

Capture::~Capture() {
    if (map_) munmap(map_, block_bytes_ * block_count_);
    if (fd_ >= 0) ::close(fd_);
}

Result<std::unique_ptr<CompiledFilter>> Capture::compile(const std::string& expression) const {
    auto program = compile_socket_filter(expression, snaplen_, loopback_);
    if (!program) return fail(name_ + ": " + program.error());
    auto f = std::make_unique<CompiledFilter>();
    f->expression = expression;
    f->program = std::move(*program);
    return f;
}

Result<> Capture::install(const CompiledFilter& filter) {
    // The kernel copies the program and swaps it in at once: no frame
    // passes between the old filter and the new.
    const sock_fprog program{uint16_t(filter.program.size()), const_cast<sock_filter*>(filter.program.data())};
    if (setsockopt(fd_, SOL_SOCKET, SO_ATTACH_FILTER, &program, sizeof program) != 0)
        return fail(name_ + ": " + errno_text("SO_ATTACH_FILTER"));
    filter_ = filter.expression;
    return {};
}

Result<> Capture::set_filter(const std::string& expression) {
    const auto compiled = compile(expression);
    if (!compiled) return fail(compiled.error());
    return install(**compiled);
}

uint64_t Capture::interface_drops() const {
    const std::string dir = "/sys/class/net/" + name_ + "/statistics/";
    return read_counter(dir + "rx_dropped") + read_counter(dir + "rx_missed_errors");
}

void Capture::update_stats() {
    if (!stats_) return;
    tpacket_stats_v3 s{};
    socklen_t len = sizeof s;
    // Reading the ring's statistics resets them: what is read is new.
    if (getsockopt(fd_, SOL_PACKET, PACKET_STATISTICS, &s, &len) == 0) stats_->pcap_dropped.add(s.tp_drops);
    const uint64_t drops = interface_drops();
    if (drops > interface_drops_seen_) stats_->pcap_ifdropped.add(drops - interface_drops_seen_);
    interface_drops_seen_ = drops;
}

const tpacket_block_desc* Capture::ready_block() const {
    const auto* block = reinterpret_cast<const tpacket_block_desc*>(map_ + next_block_ * block_bytes_);
    const uint32_t status = __atomic_load_n(&block->hdr.bh1.block_status, __ATOMIC_ACQUIRE);
    return (status & TP_STATUS_USER) ? block : nullptr;
}

void Capture::release_block() {
    auto* block = reinterpret_cast<tpacket_block_desc*>(map_ + next_block_ * block_bytes_);
    __atomic_store_n(&block->hdr.bh1.block_status, uint32_t(TP_STATUS_KERNEL), __ATOMIC_RELEASE);
    next_block_ = (next_block_ + 1) % block_count_;
}

CapturedFrame Capture::view(const std::byte* header) {
    const auto* h = reinterpret_cast<const tpacket3_hdr*>(header);
    const auto* link = reinterpret_cast<const sockaddr_ll*>(header + TPACKET_ALIGN(sizeof(tpacket3_hdr)));
    CapturedFrame f;
    f.direction = link->sll_pkttype == PACKET_OUTGOING ? Direction::egress : Direction::ingress;
    f.frame = Bytes{header + h->tp_mac, h->tp_snaplen};
    f.wire_bytes = h->tp_len;
    VirtioNetHeader vnet;  // right before the frame
    std::memcpy(&vnet, header + h->tp_mac - sizeof vnet, sizeof vnet);
    switch (vnet.gso_type & ~kGsoEcn) {
        case kGsoTcpV4:
        case kGsoTcpV6: f.aggregate = CapturedFrame::Aggregate::tcp; break;
        case kGsoUdpL4: f.aggregate = CapturedFrame::Aggregate::udp; break;
        default: break;
    }
    if (f.aggregate != CapturedFrame::Aggregate::none) f.segment_bytes = le16toh(vnet.gso_size);
    if (vnet.flags & kNeedsChecksum) {
        f.checksum_start = le16toh(vnet.csum_start);
        f.checksum_offset = le16toh(vnet.csum_offset);
    }
    // The device took the 802.1Q tag out (VLAN offload): the wire carried
    // it after the MAC addresses, and it goes back there, as libpcap puts
    // it back too: a copy into the capture's buffer (no allocation).
    if ((h->tp_status & TP_STATUS_VLAN_VALID) && h->tp_snaplen >= 12) {
        const uint16_t tpid = (h->tp_status & TP_STATUS_VLAN_TPID_VALID) ? h->hv1.tp_vlan_tpid : 0x8100;
        const size_t held = std::min<size_t>(h->tp_snaplen, tagged_.size() - 4);
        std::memcpy(tagged_.data(), f.frame.data(), 12);
        const uint16_t tci = h->hv1.tp_vlan_tci;
        const std::byte tag[4] = {std::byte(tpid >> 8), std::byte(tpid), std::byte(tci >> 8), std::byte(tci)};
        std::memcpy(tagged_.data() + 12, tag, 4);
        std::memcpy(tagged_.data() + 16, f.frame.data() + 12, held - 12);
        f.frame = Bytes{tagged_.data(), held + 4};
        f.wire_bytes += 4;
        // The kernel counts the header it names without the tag (af_packet passes no vlan_hlen).
        if (f.checksum_start != 0) f.checksum_start += 4;
    }
    return f;
}

}  // namespace mirrortap::sender
