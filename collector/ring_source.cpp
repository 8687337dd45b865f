#include "collector/ring_source.hpp"
#include "collector/udp_source.hpp"

#include <arpa/inet.h>
#include <ifaddrs.h>
#include <linux/filter.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <net/if.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>

namespace mirrortap {

namespace {

// A block is retired to us when full or after this long, whichever is first:
// what a datagram may wait in a quiet ring before a worker sees it.
constexpr unsigned kBlockTimeoutMs = 8;
constexpr size_t kFrameBytes = 2048;  // TPACKET_V3 packs frames; this only sizes tp_frame_nr

// ---- classic BPF, with named jump targets ------------------------------------

// Loads relative to the network header (SKF_NET_OFF), so that the programs
// read the same bytes whether the kernel hands them the frame from its MAC
// header (a packet socket's filter) or from its IP header (the fanout's).
constexpr uint32_t net(uint32_t offset) { return uint32_t(SKF_NET_OFF) + offset; }
constexpr uint32_t ancillary(uint32_t what) { return uint32_t(SKF_AD_OFF) + what; }

class Program {
public:
    enum Label : uint8_t { none, accept, drop, ipv4, ipv6, udp6, fragment6, label_count };

    void op(uint16_t code, uint32_t k = 0) { code_.push_back({code, 0, 0, k}); jumps_.push_back({none, none}); }
    // if (A == k) goto yes else goto no (none: the next instruction)
    void jump_eq(uint32_t k, Label yes, Label no) { jump(BPF_JMP | BPF_JEQ | BPF_K, k, yes, no); }
    void jump_set(uint32_t k, Label yes, Label no) { jump(BPF_JMP | BPF_JSET | BPF_K, k, yes, no); }
    void here(Label l) { at_[l] = code_.size(); }
    // Resolves the labels; accept returns the whole frame, drop nothing.
    std::vector<sock_filter> done() {
        here(accept);
        op(BPF_RET | BPF_K, 0x40000);
        here(drop);
        op(BPF_RET | BPF_K, 0);
        for (size_t i = 0; i < code_.size(); ++i) {
            const auto offset = [&](Label l) { return l == none ? uint8_t(0) : uint8_t(at_[l] - i - 1); };
            code_[i].jt = offset(jumps_[i].first);
            code_[i].jf = offset(jumps_[i].second);
        }
        return code_;
    }

private:
    void jump(uint16_t code, uint32_t k, Label yes, Label no) {
        code_.push_back({code, 0, 0, k});
        jumps_.push_back({yes, no});
    }
    std::vector<sock_filter> code_;
    std::vector<std::pair<Label, Label>> jumps_;
    size_t at_[label_count] = {};
};

uint32_t word(const uint8_t* p) { return uint32_t(p[0]) << 24 | uint32_t(p[1]) << 16 | uint32_t(p[2]) << 8 | p[3]; }

// A = the 32-bit word at network header + offset; goto drop unless it equals `expected`.
void require_word(Program& p, uint32_t offset, uint32_t expected) {
    p.op(BPF_LD | BPF_W | BPF_ABS, net(offset));
    p.jump_eq(expected, Program::none, Program::drop);
}

// The ring's socket filter: UDP for this host (not frames the interface
// sees for others, nor ones we send) to the listen port and address, IPv4
// and, when the listen address takes it, IPv6; the first IPv6 fragment of
// such a datagram too, so that it is counted. Everything else never enters
// the ring.
std::vector<sock_filter> listen_port_filter(const Endpoint& listen, uint16_t port) {
    using P = Program;
    P p;
    const bool v4 = listen.family() == AF_INET;
    const auto& a4 = reinterpret_cast<const sockaddr_in&>(listen.addr).sin_addr;
    const auto& a6 = reinterpret_cast<const sockaddr_in6&>(listen.addr).sin6_addr;
    const bool any = v4 ? a4.s_addr == INADDR_ANY : IN6_IS_ADDR_UNSPECIFIED(&a6);
    const bool take_v4 = v4 || any;  // [::]:4789 takes IPv4 too, like the socket
    const bool take_v6 = !v4;
    p.op(BPF_LD | BPF_W | BPF_ABS, ancillary(SKF_AD_PKTTYPE));
    p.jump_eq(PACKET_HOST, P::none, P::drop);
    p.op(BPF_LD | BPF_W | BPF_ABS, ancillary(SKF_AD_PROTOCOL));
    p.jump_eq(ETH_P_IP, take_v4 ? P::ipv4 : P::drop, P::none);
    p.jump_eq(ETH_P_IPV6, take_v6 ? P::ipv6 : P::drop, P::drop);

    p.here(P::ipv4);
    p.op(BPF_LD | BPF_B | BPF_ABS, net(9));
    p.jump_eq(IPPROTO_UDP, P::none, P::drop);
    if (v4 && !any) require_word(p, 16, ntohl(a4.s_addr));
    p.op(BPF_LD | BPF_H | BPF_ABS, net(6));
    p.jump_set(0x1FFF, P::drop, P::none);           // a later fragment: no UDP header to read
    p.op(BPF_LD | BPF_B | BPF_ABS, net(0));
    p.op(BPF_ALU | BPF_AND | BPF_K, 0x0F);
    p.op(BPF_ALU | BPF_LSH | BPF_K, 2);
    p.op(BPF_MISC | BPF_TAX);                        // X = IPv4 header bytes
    p.op(BPF_LD | BPF_H | BPF_IND, net(2));          // UDP destination port
    p.jump_eq(port, P::accept, P::drop);

    p.here(P::ipv6);
    if (!v4 && !any) {
        const auto* b = a6.s6_addr;
        for (uint32_t i = 0; i < 4; ++i) require_word(p, 24 + 4 * i, word(b + 4 * i));
    }
    p.op(BPF_LD | BPF_B | BPF_ABS, net(6));         // next header
    p.jump_eq(IPPROTO_UDP, P::udp6, P::none);
    p.jump_eq(IPPROTO_FRAGMENT, P::fragment6, P::drop);
    p.here(P::udp6);
    p.op(BPF_LD | BPF_H | BPF_ABS, net(40 + 2));
    p.jump_eq(port, P::accept, P::drop);
    p.here(P::fragment6);
    p.op(BPF_LD | BPF_B | BPF_ABS, net(40));        // the fragment header's next header
    p.jump_eq(IPPROTO_UDP, P::none, P::drop);
    p.op(BPF_LD | BPF_H | BPF_ABS, net(40 + 2));    // offset << 3 | M
    p.jump_set(0xFFF8, P::drop, P::none);           // a later fragment: no UDP header to read
    p.op(BPF_LD | BPF_H | BPF_ABS, net(48 + 2));
    p.jump_eq(port, P::accept, P::drop);
    return p.done();
}

// The fanout's program: the VNI (the kernel takes it modulo the ring count,
// as SO_ATTACH_REUSEPORT_CBPF's VNI % count does for sockets). It runs for
// every frame on the interface; what is not ours goes to ring 0, whose own
// filter drops it (a load past the end returns 0).
std::vector<sock_filter> steer_by_vni() {
    using P = Program;
    P p;
    p.op(BPF_LD | BPF_W | BPF_ABS, ancillary(SKF_AD_PROTOCOL));
    p.jump_eq(ETH_P_IP, P::ipv4, P::none);
    p.jump_eq(ETH_P_IPV6, P::ipv6, P::drop);
    p.here(P::ipv4);
    p.op(BPF_LD | BPF_B | BPF_ABS, net(0));
    p.op(BPF_ALU | BPF_AND | BPF_K, 0x0F);
    p.op(BPF_ALU | BPF_LSH | BPF_K, 2);
    p.op(BPF_MISC | BPF_TAX);
    p.op(BPF_LD | BPF_W | BPF_IND, net(8 + 4));     // VNI << 8 | reserved (UDP 8, VXLAN flags 4)
    p.op(BPF_ALU | BPF_RSH | BPF_K, 8);
    p.op(BPF_RET | BPF_A);
    p.here(P::ipv6);
    p.op(BPF_LD | BPF_W | BPF_ABS, net(40 + 8 + 4));
    p.op(BPF_ALU | BPF_RSH | BPF_K, 8);
    p.op(BPF_RET | BPF_A);
    return p.done();  // drop: ring 0
}

bool attach(int fd, int level, int option, const std::vector<sock_filter>& code) {
    sock_fprog prog{uint16_t(code.size()), const_cast<sock_filter*>(code.data())};
    return setsockopt(fd, level, option, &prog, sizeof prog) == 0;
}

const std::vector<sock_filter> kDropAll = {{BPF_RET | BPF_K, 0, 0, 0}};

std::string failed(const std::string& what) { return what + ": " + std::strerror(errno); }

// A UDP socket on the listen address that takes nothing: see RingGroup.
Result<int> open_port_guard(const Endpoint& listen, uint16_t& port) {
    const auto opened = listen_socket(listen);
    if (!opened) return opened;
    const int fd = *opened;
    // Before bind: not one datagram is ever queued on it.
    const int one = 1;
    if (!attach(fd, SOL_SOCKET, SO_ATTACH_FILTER, kDropAll) ||
        setsockopt(fd, SOL_SOCKET, SO_LOCK_FILTER, &one, sizeof one) != 0) {
        std::string why = failed("cannot guard the listen port (SO_ATTACH_FILTER)");
        ::close(fd);
        return fail(std::move(why));
    }
    if (auto bound = bind_listen(fd, listen); !bound) return fail(std::move(bound).error());
    sockaddr_storage bound{};
    socklen_t len = sizeof bound;
    getsockname(fd, reinterpret_cast<sockaddr*>(&bound), &len);
    port = ntohs(bound.ss_family == AF_INET6 ? reinterpret_cast<sockaddr_in6&>(bound).sin6_port
                                             : reinterpret_cast<sockaddr_in&>(bound).sin_port);
    return fd;
}

// Blocks of 1 MiB (a 64 KiB datagram always fits), fewer for a small ring; at least 4.
tpacket_req3 ring_geometry(uint64_t ring_bytes) {
    const uint32_t block = ring_bytes >= (16u << 20) ? (1u << 20) : (1u << 18);
    const uint32_t blocks = uint32_t(std::max<uint64_t>(4, std::min<uint64_t>(ring_bytes / block, 1u << 16)));
    tpacket_req3 req{};
    req.tp_block_size = block;
    req.tp_block_nr = blocks;
    req.tp_frame_size = kFrameBytes;
    req.tp_frame_nr = uint32_t(block / kFrameBytes * blocks);
    req.tp_retire_blk_tov = kBlockTimeoutMs;
    return req;
}

// A packet socket with its ring mapped, bound to the interface, taking
// nothing yet (drop-all filter): the group is formed before any ring fills.
Result<> open_ring(int ifindex, uint64_t ring_bytes, Ring& ring) {
    ring.fd = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, 0);  // protocol 0: receives nothing until bound
    if (ring.fd < 0) {
        std::string why = failed("cannot open a packet socket for --capture-interface");
        if (errno == EPERM) why += " (needs CAP_NET_RAW: start as root, with --user to drop it)";
        return fail(std::move(why));
    }
    const int version = TPACKET_V3;
    if (setsockopt(ring.fd, SOL_PACKET, PACKET_VERSION, &version, sizeof version) != 0)
        return fail(failed("PACKET_VERSION TPACKET_V3"));
    tpacket_req3 req = ring_geometry(ring_bytes);
    if (setsockopt(ring.fd, SOL_PACKET, PACKET_RX_RING, &req, sizeof req) != 0)
        return fail(failed("cannot set up a " + std::to_string(uint64_t(req.tp_block_size) * req.tp_block_nr >> 20) +
                           " MiB receive ring (PACKET_RX_RING; --rcvbuf sizes it)"));
    const size_t bytes = size_t(req.tp_block_size) * req.tp_block_nr;
    void* map = mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, ring.fd, 0);
    if (map == MAP_FAILED) return fail(failed("cannot map the receive ring"));
    ring.map = static_cast<std::byte*>(map);
    ring.block_bytes = req.tp_block_size;
    ring.block_count = req.tp_block_nr;
    if (!attach(ring.fd, SOL_SOCKET, SO_ATTACH_FILTER, kDropAll)) return fail(failed("SO_ATTACH_FILTER"));
    sockaddr_ll at{};
    at.sll_family = AF_PACKET;
    at.sll_protocol = htons(ETH_P_ALL);
    at.sll_ifindex = ifindex;
    if (bind(ring.fd, reinterpret_cast<const sockaddr*>(&at), sizeof at) != 0)
        return fail(failed("cannot bind the receive ring to the capture interface"));
    return {};
}

void close_ring(Ring& ring) {
    if (ring.map) munmap(ring.map, ring.block_bytes * ring.block_count);
    if (ring.fd >= 0) ::close(ring.fd);
    ring.fd = -1;
    ring.map = nullptr;
}

// Joins every ring into one new fanout group steered by VNI.
Result<> form_group(std::vector<Ring>& rings) {
    constexpr int kFlags = PACKET_FANOUT_FLAG_DEFRAG;
    // The first ring asks the kernel for a group id nobody uses; the others join it.
    int arg = (PACKET_FANOUT_CBPF | kFlags | PACKET_FANOUT_FLAG_UNIQUEID) << 16;
    if (setsockopt(rings[0].fd, SOL_PACKET, PACKET_FANOUT, &arg, sizeof arg) != 0)
        return fail(failed("cannot form the fanout group of receive rings (PACKET_FANOUT)"));
    int got = 0;
    socklen_t len = sizeof got;
    if (getsockopt(rings[0].fd, SOL_PACKET, PACKET_FANOUT, &got, &len) != 0) return fail(failed("PACKET_FANOUT"));
    if (!attach(rings[0].fd, SOL_PACKET, PACKET_FANOUT_DATA, steer_by_vni()))
        return fail(failed("cannot steer sessions to workers (PACKET_FANOUT_DATA)"));
    arg = (got & 0xFFFF) | (PACKET_FANOUT_CBPF | kFlags) << 16;
    for (size_t i = 1; i < rings.size(); ++i)
        if (setsockopt(rings[i].fd, SOL_PACKET, PACKET_FANOUT, &arg, sizeof arg) != 0)
            return fail(failed("cannot join the fanout group of receive rings (PACKET_FANOUT)"));
    return {};
}

uint16_t be16(const std::byte* p) { return load_be16(Bytes(p, 2), 0); }
uint32_t be32(const std::byte* p) { return uint32_t(be16(p)) << 16 | be16(p + 2); }

// The ones' complement sum of `bytes` (RFC 1071), added to `sum` and not yet folded.
uint64_t add_words(uint64_t sum, const std::byte* p, size_t bytes) {
    for (; bytes >= 2; p += 2, bytes -= 2) sum += be16(p);
    if (bytes) sum += uint32_t(uint8_t(p[0])) << 8;
    return sum;
}

uint16_t fold(uint64_t sum) {
    while (sum >> 16) sum = (sum & 0xFFFF) + (sum >> 16);
    return uint16_t(sum);
}

// A net.ipv4.conf sysctl of the interface and of "all" (the kernel ORs most;
// for rp_filter it takes the larger, which is the same for "on or off").
bool conf_flag(const std::string& interface, const char* name) {
    for (const std::string& scope : {std::string("all"), interface}) {
        std::ifstream in("/proc/sys/net/ipv4/conf/" + scope + "/" + name);
        if (int v = 0; in >> v && v != 0) return true;
    }
    return false;
}

MartianRules read_martian_rules(const std::string& interface, const Endpoint& listen) {
    MartianRules r;
    r.any_destination = listen.family() == AF_INET
                            ? reinterpret_cast<const sockaddr_in&>(listen.addr).sin_addr.s_addr == INADDR_ANY
                            : IN6_IS_ADDR_UNSPECIFIED(&reinterpret_cast<const sockaddr_in6&>(listen.addr).sin6_addr);
    r.loopback_interface = interface == "lo";
    r.route_localnet = conf_flag(interface, "route_localnet");
    r.accept_local = conf_flag(interface, "accept_local");
    r.rp_filter = conf_flag(interface, "rp_filter");
    ifaddrs* all = nullptr;
    if (getifaddrs(&all) != 0) return r;
    for (const ifaddrs* a = all; a; a = a->ifa_next) {
        if (a->ifa_addr && a->ifa_addr->sa_family == AF_INET6 && r.local6_count < r.local6.size())
            r.local6[r.local6_count++] = reinterpret_cast<const sockaddr_in6*>(a->ifa_addr)->sin6_addr;
        if (!a->ifa_addr || a->ifa_addr->sa_family != AF_INET) continue;
        const auto v4 = [](const sockaddr* s) { return ntohl(reinterpret_cast<const sockaddr_in*>(s)->sin_addr.s_addr); };
        const uint32_t address = v4(a->ifa_addr);
        if (r.local_count < r.local.size()) r.local[r.local_count++] = address;
        const auto add_broadcast = [&r](uint32_t b) {
            if (b != 0 && b != 0xFFFFFFFF && r.broadcast_count < r.broadcast.size()) r.broadcast[r.broadcast_count++] = b;
        };
        // The kernel makes the subnet's broadcast route (prefix | ~mask, below
        // /31) whether or not the address was given a broadcast (`brd`).
        if (a->ifa_netmask) {
            const uint32_t mask = v4(a->ifa_netmask);
            if (mask != 0xFFFFFFFF && mask != 0xFFFFFFFE) add_broadcast((address & mask) | ~mask);
        }
        if ((a->ifa_flags & IFF_BROADCAST) && a->ifa_broadaddr) add_broadcast(v4(a->ifa_broadaddr));
    }
    freeifaddrs(all);
    return r;
}

}  // namespace

Result<RingGroup> RingGroup::open(const std::string& interface, const Endpoint& listen, size_t count,
                                  uint64_t ring_bytes) {
    RingGroup g;
    const unsigned ifindex = if_nametoindex(interface.c_str());
    if (ifindex == 0) return fail("capture interface '" + interface + "': " + std::strerror(errno) + " (see ip link)");
    const auto guard = open_port_guard(listen, g.port);
    if (!guard) return fail(guard.error());
    g.port_guard = *guard;
    const MartianRules martians = read_martian_rules(interface, listen);
    Result<> opened;
    for (size_t i = 0; i < count && opened; ++i) {
        g.rings.emplace_back();
        g.rings.back().martians = martians;
        opened = open_ring(int(ifindex), ring_bytes, g.rings.back());
    }
    if (opened) opened = form_group(g.rings);
    // The group is whole: only now does any ring take packets.
    const auto filter = listen_port_filter(listen, g.port);
    for (size_t i = 0; i < g.rings.size() && opened; ++i)
        if (!attach(g.rings[i].fd, SOL_SOCKET, SO_ATTACH_FILTER, filter)) opened = fail(failed("SO_ATTACH_FILTER"));
    if (!opened) {
        g.close();
        return fail("--capture-interface " + interface + ": " + opened.error());
    }
    return g;
}

void RingGroup::close() {
    for (Ring& r : rings) close_ring(r);
    rings.clear();
    if (port_guard >= 0) ::close(port_guard);
    port_guard = -1;
}

RingSource::RingSource(Ring ring) : ring_(ring) {}

RingSource::~RingSource() { close_ring(ring_); }

int RingSource::drain_timeout_ms() const { return int(2 * kBlockTimeoutMs); }

SourceStats RingSource::stats() const {
    tpacket_stats_v3 s{};
    socklen_t len = sizeof s;
    if (getsockopt(ring_.fd, SOL_PACKET, PACKET_STATISTICS, &s, &len) == 0)
        ring_drops_.fetch_add(s.tp_drops, std::memory_order_relaxed);
    SourceStats out{ring_drops_.load(std::memory_order_relaxed), fragments_.get(), {}};
    for (size_t r = 0; r < kOuterRefusalNames.size(); ++r) out.refused[r] = refused_[r].get();
    return out;
}

Result<> RingSource::health() const {
    const int error = link_error_.load(std::memory_order_relaxed);
    if (error == 0) return {};
    // A deleted interface never comes back to this socket (a new one has a new
    // index): only a restart receives again, which is what a red /healthz gets.
    return fail(std::string("the capture interface is down or gone (") + std::strerror(error) + "): nothing can arrive");
}

bool RingSource::block_ready(size_t index) const {
    auto* desc = reinterpret_cast<tpacket_block_desc*>(ring_.map + index * ring_.block_bytes);
    return (__atomic_load_n(&desc->hdr.bh1.block_status, __ATOMIC_ACQUIRE) & TP_STATUS_USER) != 0;
}

void RingSource::release_read_blocks() {
    for (; to_release_ > 0; --to_release_) {
        const size_t index = (next_block_ + ring_.block_count - to_release_) % ring_.block_count;
        auto* desc = reinterpret_cast<tpacket_block_desc*>(ring_.map + index * ring_.block_bytes);
        __atomic_store_n(&desc->hdr.bh1.block_status, TP_STATUS_KERNEL, __ATOMIC_RELEASE);
    }
}

size_t RingSource::next_batch(std::span<Datagram> out, int timeout_ms) {
    release_read_blocks();
    size_t n = 0;
    bool waited = false;
    while (n < out.size()) {
        if (frames_left_ == 0) {
            if (!block_ready(next_block_)) {
                if (n > 0 || waited || timeout_ms == 0) break;
                // Nothing retired yet: sleep until the kernel retires a block (one system call).
                pollfd p{ring_.fd, POLLIN, 0};
                waited = true;
                if (poll(&p, 1, timeout_ms) <= 0) break;
                if (p.revents & POLLERR) {
                    // The interface went down or away (ENETDOWN): take the error, or
                    // every later poll would return at once and the worker would spin.
                    int error = 0;
                    socklen_t len = sizeof error;
                    getsockopt(ring_.fd, SOL_SOCKET, SO_ERROR, &error, &len);
                    link_error_.store(error != 0 ? error : ENETDOWN, std::memory_order_relaxed);
                    break;
                }
                continue;
            }
            if (link_error_.load(std::memory_order_relaxed) != 0) link_error_.store(0, std::memory_order_relaxed);
            const auto* desc = reinterpret_cast<const tpacket_block_desc*>(ring_.map + next_block_ * ring_.block_bytes);
            frames_left_ = desc->hdr.bh1.num_pkts;
            frame_ = reinterpret_cast<const std::byte*>(desc) + desc->hdr.bh1.offset_to_first_pkt;
        }
        for (; frames_left_ > 0 && n < out.size(); --frames_left_) {
            const auto* h = reinterpret_cast<const tpacket3_hdr*>(frame_);
            if (parse(frame_, out[n])) ++n;
            frame_ += h->tp_next_offset;
        }
        if (frames_left_ == 0) {
            // Its datagrams are in `out` until the next call: released then.
            ++to_release_;
            next_block_ = (next_block_ + 1) % ring_.block_count;
        }
    }
    return n;
}

bool MartianRules::local4(uint32_t address) const {
    for (uint32_t i = 0; i < local_count; ++i)
        if (local[i] == address) return true;
    return false;
}

bool MartianRules::is_local6(const in6_addr& address) const {
    for (uint32_t i = 0; i < local6_count; ++i)
        if (std::memcmp(&local6[i], &address, sizeof address) == 0) return true;
    return false;
}

// ip_route_input_slow's and fib_validate_source's refusals of an IPv4 source.
bool RingSource::martian_source4(uint32_t source) const {
    const MartianRules& m = ring_.martians;
    const uint8_t first = uint8_t(source >> 24);
    // Multicast, the limited broadcast, 0/8. (240/4 is not martian to Linux.)
    if ((first >= 224 && first < 240) || source == 0xFFFFFFFF || first == 0) return true;
    if (first == 127) return !m.loopback_interface && !m.route_localnet;
    if (!m.accept_local && m.local4(source)) return true;
    // With rp_filter the source's route is looked up: a broadcast one is martian.
    if (m.rp_filter)
        for (uint32_t i = 0; i < m.broadcast_count; ++i)
            if (m.broadcast[i] == source) return true;
    return false;
}

bool RingSource::parse(const std::byte* frame, Datagram& d) {
    const auto* h = reinterpret_cast<const tpacket3_hdr*>(frame);
    const std::byte* ip = frame + h->tp_net;
    const size_t from_net = h->tp_net >= h->tp_mac ? h->tp_net - h->tp_mac : 0;
    // What the ring holds from the IP header on (tp_snaplen counts from tp_mac),
    // and what arrived (tp_len): the kernel's lengths are checked against the latter.
    const size_t held = h->tp_snaplen - std::min<size_t>(h->tp_snaplen, from_net);
    const size_t arrived = h->tp_len - std::min<size_t>(h->tp_len, from_net);
    // The checksum was verified by the device (VALID), or the frame was made
    // on this host and never summed (NOTREADY): the kernel trusts both.
    const bool checksum_known = (h->tp_status & (TP_STATUS_CSUM_VALID | TP_STATUS_CSUMNOTREADY)) != 0;
    d.timestamp_ns = uint64_t(h->tp_sec) * 1'000'000'000ull + h->tp_nsec;
    d.encap = Encapsulation::vxlan;
    d.source = {};
    // The frame's protocol (the link layer's, in the sockaddr_ll after the
    // header) decides, as it decides which of ip_rcv and ipv6_rcv gets it; a
    // version field that disagrees is a bad header to either.
    const auto* link = reinterpret_cast<const sockaddr_ll*>(frame + TPACKET_ALIGN(sizeof(tpacket3_hdr)));
    const uint8_t version = ntohs(link->sll_protocol) == ETH_P_IPV6 ? 6 : 4;
    if (held == 0 || uint8_t(ip[0]) >> 4 != version) return refuse(OuterRefusal::bad_ip_header);
    size_t header = 0;    // IP header bytes before the UDP header
    size_t ip_bytes = 0;  // the IP datagram's length by its header
    uint64_t pseudo = 0;  // the UDP checksum's pseudo-header sum, addresses and protocol
    if (version == 4) {
        // ip_rcv_core: the version and header length, the header checksum, then the total length.
        header = (uint8_t(ip[0]) & 0x0F) * 4u;
        if (header < 20 || held < header) return refuse(OuterRefusal::bad_ip_header);
        if (fold(add_words(0, ip, header)) != 0xFFFF) return refuse(OuterRefusal::bad_ip_checksum);
        ip_bytes = be16(ip + 2);
        if (ip_bytes > arrived) return refuse(OuterRefusal::bad_length);
        if (ip_bytes < header) return refuse(OuterRefusal::bad_ip_header);
        // The filter let through only first fragments; the fanout reassembled the rest.
        if ((be16(ip + 6) & 0x3FFF) != 0) return fragments_.add(), false;
        const uint32_t source = be32(ip + 12), destination = be32(ip + 16);
        // ip_route_input_slow, in its order: martian sources, then destinations.
        if (martian_source4(source)) return refuse(OuterRefusal::martian_source);
        const uint8_t to = uint8_t(destination >> 24);
        if (to == 0 || (to == 127 && !ring_.martians.loopback_interface && !ring_.martians.route_localnet))
            return refuse(OuterRefusal::martian_destination);
        // Local delivery only: a broadcast (the limited one or a subnet's) or one of ours.
        if (ring_.martians.any_destination && destination != 0xFFFFFFFF && !ring_.martians.local4(destination)) {
            bool broadcast = false;
            for (uint32_t i = 0; i < ring_.martians.broadcast_count; ++i)
                broadcast |= ring_.martians.broadcast[i] == destination;
            if (!broadcast) return refuse(OuterRefusal::not_for_this_host);
        }
        d.source[10] = d.source[11] = 0xFF;
        std::memcpy(d.source.data() + 12, ip + 12, 4);
        pseudo = add_words(IPPROTO_UDP, ip + 12, 8);
    } else {
        if (held < 40) return refuse(OuterRefusal::bad_ip_header);
        header = 40;
        ip_bytes = 40 + size_t(be16(ip + 4));
        if (ip_bytes > arrived) return refuse(OuterRefusal::bad_length);
        if (uint8_t(ip[6]) == IPPROTO_FRAGMENT) return fragments_.add(), false;
        // ip6_rcv_core: a multicast source and loopback on a real interface
        // are dropped. (An IPv4-mapped source is not: Linux delivers it.)
        in6_addr source, destination;  // copied: the ring gives no alignment for in6_addr
        std::memcpy(&source, ip + 8, sizeof source);
        std::memcpy(&destination, ip + 24, sizeof destination);
        const bool on_lo = ring_.martians.loopback_interface;
        if (IN6_IS_ADDR_MULTICAST(&source) || (!on_lo && IN6_IS_ADDR_LOOPBACK(&source)))
            return refuse(OuterRefusal::martian_source);
        if (!on_lo && IN6_IS_ADDR_LOOPBACK(&destination)) return refuse(OuterRefusal::martian_destination);
        if (ring_.martians.any_destination && !ring_.martians.is_local6(destination))
            return refuse(OuterRefusal::not_for_this_host);
        std::memcpy(d.source.data(), ip + 8, 16);
        pseudo = add_words(IPPROTO_UDP, ip + 8, 32);
    }
    // __udp4_lib_rcv / __udp6_lib_rcv: a UDP length of at least 8 that fits
    // in the IP payload (the rest, Ethernet padding or not, is trimmed).
    if (ip_bytes < header + 8) return refuse(OuterRefusal::bad_length);
    const std::byte* udp = ip + header;
    // Only a frame cut by the ring (larger than its block) can miss its UDP
    // header here: received and refused as truncated, never read past.
    if (held < header + 8) {
        d.payload = {};
        d.truncated = true;
        return true;
    }
    const size_t length = be16(udp + 4);
    if (length < 8 || length > ip_bytes - header) return refuse(OuterRefusal::bad_length);
    const size_t have = std::min(held - header, length);
    const uint16_t checksum = be16(udp + 6);
    // IPv4 allows no checksum (0); IPv6 does not (RFC 8200 8.1), and the
    // kernel drops a zero one unless the socket asked (UDP_NO_CHECK6_RX).
    if (checksum == 0 && version == 6) return refuse(OuterRefusal::bad_udp_checksum);
    // The one pass over the payload the ring adds, only where no device or
    // local sender vouched for it; a socket's receive pays it in the kernel.
    if (checksum != 0 && !checksum_known && have == length &&
        fold(add_words(pseudo + length, udp, length)) != 0xFFFF)
        return refuse(OuterRefusal::bad_udp_checksum);
    d.payload = Bytes(udp + 8, have - 8);
    d.truncated = have < length;
    return true;
}

}  // namespace mirrortap
