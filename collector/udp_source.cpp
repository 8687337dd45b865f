#include "collector/udp_source.hpp"
#include "support/clock.hpp"

#include <linux/filter.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <ctime>

namespace mirrortap {

namespace {

// Classic BPF run by the kernel for each datagram to pick the socket in the
// reuseport group; it sees the UDP payload. VNI modulo the group size keeps a
// session on one worker, so its packets are written in arrival order.
Result<> steer_by_vni(int fd, size_t count) {
    sock_filter code[] = {
        {BPF_LD | BPF_W | BPF_ABS, 0, 0, 4},               // A = VNI << 8 | reserved
        {BPF_ALU | BPF_RSH | BPF_K, 0, 0, 8},              // A = VNI
        {BPF_ALU | BPF_MOD | BPF_K, 0, 0, uint32_t(count)},
        {BPF_RET | BPF_A, 0, 0, 0},
    };
    sock_fprog prog{uint16_t(std::size(code)), code};
    if (setsockopt(fd, SOL_SOCKET, SO_ATTACH_REUSEPORT_CBPF, &prog, sizeof prog) == 0) return {};
    return fail(std::string("cannot steer sessions to workers (SO_ATTACH_REUSEPORT_CBPF): ") + std::strerror(errno));
}

// The same choice for GENEVE datagrams, whose VXLAN VNI sits behind the
// GENEVE options (6-bit length in 4-byte words) and the inner IP header
// (IPv4: IHL words; IPv6: 40 bytes): VNI modulo the group size again, so a
// VNI goes to the same worker index as over VXLAN. What is too short or not
// IP goes to socket 0 (a load past the end ends the program with 0), where
// the decoder refuses it. Options let no flow cookie or endpoint id steer:
// the VNI is the session, and a session must stay in one worker.
Result<> steer_geneve_by_vni(int fd, size_t count) {
    const uint32_t n = uint32_t(count);
    sock_filter code[] = {
        {BPF_LD | BPF_B | BPF_ABS, 0, 0, 0},          //  0: A = version << 6 | opt len
        {BPF_ALU | BPF_AND | BPF_K, 0, 0, 0x3F},      //  1
        {BPF_ALU | BPF_LSH | BPF_K, 0, 0, 2},         //  2
        {BPF_ALU | BPF_ADD | BPF_K, 0, 0, 8},         //  3: A = where the inner IP header starts
        {BPF_MISC | BPF_TAX, 0, 0, 0},                //  4: X = A
        {BPF_LD | BPF_B | BPF_IND, 0, 0, 0},          //  5: A = IP version << 4 | IHL
        {BPF_ALU | BPF_RSH | BPF_K, 0, 0, 4},         //  6
        {BPF_JMP | BPF_JEQ | BPF_K, 1, 0, 4},         //  7: IPv4 -> 9
        {BPF_JMP | BPF_JEQ | BPF_K, 9, 13, 6},        //  8: IPv6 -> 18, else -> 22
        {BPF_LD | BPF_B | BPF_IND, 0, 0, 0},          //  9: A = version << 4 | IHL
        {BPF_ALU | BPF_AND | BPF_K, 0, 0, 0x0F},      // 10
        {BPF_ALU | BPF_LSH | BPF_K, 0, 0, 2},         // 11: A = IPv4 header bytes
        {BPF_ALU | BPF_ADD | BPF_X, 0, 0, 0},         // 12: A = where the inner UDP header starts
        {BPF_MISC | BPF_TAX, 0, 0, 0},                // 13
        {BPF_LD | BPF_W | BPF_IND, 0, 0, 8 + 4},      // 14: A = VNI << 8 | reserved (UDP 8, VXLAN 4)
        {BPF_ALU | BPF_RSH | BPF_K, 0, 0, 8},         // 15
        {BPF_ALU | BPF_MOD | BPF_K, 0, 0, n},         // 16
        {BPF_RET | BPF_A, 0, 0, 0},                   // 17
        {BPF_LD | BPF_W | BPF_IND, 0, 0, 40 + 8 + 4}, // 18: IPv6: the same word past 40 bytes
        {BPF_ALU | BPF_RSH | BPF_K, 0, 0, 8},         // 19
        {BPF_ALU | BPF_MOD | BPF_K, 0, 0, n},         // 20
        {BPF_RET | BPF_A, 0, 0, 0},                   // 21
        {BPF_RET | BPF_K, 0, 0, 0},                   // 22: not IP: socket 0
    };
    sock_fprog prog{uint16_t(std::size(code)), code};
    if (setsockopt(fd, SOL_SOCKET, SO_ATTACH_REUSEPORT_CBPF, &prog, sizeof prog) == 0) return {};
    return fail(std::string("cannot steer GENEVE sessions to workers (SO_ATTACH_REUSEPORT_CBPF): ") +
                std::strerror(errno));
}

Result<int> open_one(const Endpoint& listen, uint64_t rcvbuf_bytes) {
    const auto opened = listen_socket(listen);
    if (!opened) return opened;
    const int fd = *opened;
    const int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one);
    setsockopt(fd, SOL_SOCKET, SO_TIMESTAMPNS, &one, sizeof one);
    setsockopt(fd, SOL_SOCKET, SO_RXQ_OVFL, &one, sizeof one);
    // FORCE ignores net.core.rmem_max when we are privileged; fall back otherwise.
    const int bytes = int(std::min<uint64_t>(rcvbuf_bytes, INT32_MAX / 2));
    if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &bytes, sizeof bytes) != 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &bytes, sizeof bytes);
    if (auto bound = bind_listen(fd, listen); !bound) return fail(std::move(bound).error());
    return fd;
}

SourceAddress to_source_address(const sockaddr_storage& ss) {
    SourceAddress a{};
    if (ss.ss_family == AF_INET) {
        const auto& v4 = reinterpret_cast<const sockaddr_in&>(ss);
        a[10] = a[11] = 0xFF;
        std::memcpy(a.data() + 12, &v4.sin_addr, 4);
    } else if (ss.ss_family == AF_INET6) {
        const auto& v6 = reinterpret_cast<const sockaddr_in6&>(ss);
        std::memcpy(a.data(), &v6.sin6_addr, 16);
    }
    return a;
}

}  // namespace

Result<int> listen_socket(const Endpoint& listen) {
    const int fd = socket(listen.family(), SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return fail(std::string("socket: ") + std::strerror(errno));
    if (listen.family() == AF_INET6) {
        const int zero = 0;  // [::]:4789 takes IPv4 too, as users expect
        setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof zero);
    }
    return fd;
}

Result<> bind_listen(int fd, const Endpoint& listen) {
    if (bind(fd, reinterpret_cast<const sockaddr*>(&listen.addr), listen.len) == 0) return {};
    const int err = errno;
    std::string why = "cannot listen on " + listen.text + ": " + std::strerror(err);
    if (err == EADDRINUSE) why += " (another program has this port; pick one with --listen)";
    ::close(fd);
    return fail(std::move(why));
}

Result<SocketGroup> SocketGroup::open(const Endpoint& listen, size_t count, uint64_t rcvbuf_bytes,
                                      Encapsulation encap) {
    SocketGroup g;
    Result<> opened;
    for (size_t i = 0; i < count && opened; ++i) {
        const auto fd = open_one(listen, rcvbuf_bytes);
        if (!fd) {
            opened = fail(fd.error());
            break;
        }
        g.fds.push_back(*fd);
        int granted = 0;
        socklen_t len = sizeof granted;
        if (getsockopt(*fd, SOL_SOCKET, SO_RCVBUF, &granted, &len) == 0)
            g.rcvbuf_granted_bytes = uint64_t(granted) / 2;
    }
    if (opened && count > 1)
        opened = encap == Encapsulation::geneve ? steer_geneve_by_vni(g.fds.front(), count)
                                                : steer_by_vni(g.fds.front(), count);
    if (!opened) {
        for (int fd : g.fds) ::close(fd);
        return fail(std::move(opened).error());
    }
    return g;
}

struct UdpSource::Slot {
    alignas(64) std::byte data[kDatagramBytes];
    sockaddr_storage from;
    iovec iov;
    alignas(cmsghdr) char control[CMSG_SPACE(sizeof(timespec)) + CMSG_SPACE(sizeof(uint32_t))];
};

UdpSource::UdpSource(int fd)
    : slots_(std::make_unique_for_overwrite<Slot[]>(kReceiveBatch)),
      headers_(std::make_unique<mmsghdr[]>(kReceiveBatch)) {
    sockets_[0].fd = fd;
}

UdpSource::UdpSource(int vxlan_fd, int geneve_fd) : UdpSource(vxlan_fd) {
    sockets_[1].fd = geneve_fd;
    sockets_[1].encap = Encapsulation::geneve;
    socket_count_ = 2;
}

UdpSource::~UdpSource() {
    for (size_t i = 0; i < socket_count_; ++i)
        if (sockets_[i].fd >= 0) ::close(sockets_[i].fd);
}

SourceStats UdpSource::stats() const {
    uint64_t drops = 0;
    for (size_t i = 0; i < socket_count_; ++i) drops += sockets_[i].kernel_drops.get();
    return {drops};
}

size_t UdpSource::next_batch(std::span<Datagram> out, int timeout_ms) {
    if (socket_count_ == 2) return next_batch_of_two(out, timeout_ms);
    // A zero timeout means "only what is queued now" (SO_RCVTIMEO 0 would wait forever).
    const int flags = timeout_ms == 0 ? MSG_DONTWAIT : MSG_WAITFORONE;
    if (timeout_ms > 0 && timeout_ms != timeout_ms_) {
        timeval tv{timeout_ms / 1000, (timeout_ms % 1000) * 1000};
        setsockopt(sockets_[0].fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
        timeout_ms_ = timeout_ms;
    }
    // Blocks (up to the timeout) for the first datagram, then takes whatever
    // else is queued without waiting: one system call per batch.
    return receive(sockets_[0], out, 0, flags);
}

// Two sockets: take what each has queued, without waiting, the first in turn
// so that a busy one cannot starve the other; only when both were empty wait
// on both (poll) and take again. Under load that is two calls per batch.
size_t UdpSource::next_batch_of_two(std::span<Datagram> out, int timeout_ms) {
    const auto take = [&] {
        Socket& first = sockets_[turn_];
        Socket& second = sockets_[1 - turn_];
        turn_ = 1 - turn_;
        const size_t n = receive(first, out, 0, MSG_DONTWAIT);
        return n + receive(second, out, n, MSG_DONTWAIT);
    };
    const size_t n = take();
    if (n > 0 || timeout_ms == 0) return n;
    pollfd fds[2] = {{sockets_[0].fd, POLLIN, 0}, {sockets_[1].fd, POLLIN, 0}};
    if (poll(fds, 2, timeout_ms) <= 0) return 0;
    return take();
}

size_t UdpSource::receive(Socket& socket, std::span<Datagram> out, size_t first, int flags) {
    const size_t end = std::min(out.size(), kReceiveBatch);
    if (first >= end) return 0;
    const size_t want = end - first;
    for (size_t i = first; i < end; ++i) {
        Slot& s = slots_[i];
        s.iov = {s.data, sizeof s.data};
        msghdr& h = headers_[i].msg_hdr;
        h = {};
        h.msg_name = &s.from;
        h.msg_namelen = sizeof s.from;
        h.msg_iov = &s.iov;
        h.msg_iovlen = 1;
        h.msg_control = s.control;
        h.msg_controllen = sizeof s.control;
    }
    const int n = recvmmsg(socket.fd, headers_.get() + first, unsigned(want), flags, nullptr);
    if (n <= 0) return 0;
    uint64_t fallback_ns = 0;
    for (size_t i = first; i < first + size_t(n); ++i) {
        Slot& s = slots_[i];
        const msghdr& h = headers_[i].msg_hdr;
        Datagram& d = out[i];
        d.payload = Bytes(s.data, std::min<size_t>(headers_[i].msg_len, sizeof s.data));
        d.truncated = (h.msg_flags & MSG_TRUNC) != 0;
        d.source = to_source_address(s.from);
        d.encap = socket.encap;
        d.timestamp_ns = 0;
        for (cmsghdr* c = CMSG_FIRSTHDR(&h); c; c = CMSG_NXTHDR(const_cast<msghdr*>(&h), c)) {
            if (c->cmsg_level != SOL_SOCKET) continue;
            if (c->cmsg_type == SO_TIMESTAMPNS) {
                timespec ts;
                std::memcpy(&ts, CMSG_DATA(c), sizeof ts);
                d.timestamp_ns = uint64_t(ts.tv_sec) * 1'000'000'000ull + uint64_t(ts.tv_nsec);
            } else if (c->cmsg_type == SO_RXQ_OVFL) {
                uint32_t drops;
                std::memcpy(&drops, CMSG_DATA(c), sizeof drops);
                socket.kernel_drops.set(drops);  // the kernel's running total for this socket
            }
        }
        if (d.timestamp_ns == 0) {
            if (fallback_ns == 0) fallback_ns = realtime_ns();
            d.timestamp_ns = fallback_ns;
        }
    }
    return size_t(n);
}

}  // namespace mirrortap
