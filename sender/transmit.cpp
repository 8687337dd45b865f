#include "sender/transmit.hpp"

#include <ifaddrs.h>
#include <linux/errqueue.h>
#include <linux/filter.h>
#include <netinet/in.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace mirrortap::sender {

namespace {
constexpr int kOn = 1;

// `value` as the one control message of `h`, in `room` (CMSG_SPACE of it at least).
template <typename T>
void put_control(msghdr& h, std::byte* room, int level, int type, const T& value) {
    h.msg_control = room;
    h.msg_controllen = CMSG_SPACE(sizeof(T));
    cmsghdr* c = CMSG_FIRSTHDR(&h);
    c->cmsg_level = level;
    c->cmsg_type = type;
    c->cmsg_len = CMSG_LEN(sizeof(T));
    std::memcpy(CMSG_DATA(c), &value, sizeof(T));
}

// What a send returns when an ICMP error is pending on the socket.
bool is_icmp_report(int e) {
    return e == ECONNREFUSED || e == EHOSTUNREACH || e == ENETUNREACH || e == EHOSTDOWN || e == EPROTO;
}
}  // namespace

uint64_t Transmitter::read_errors() {
    uint64_t unreachable = 0;
    if (fd_ < 0) return 0;
    // Bounded: the error queue holds at most a receive buffer's worth.
    for (int i = 0; i < 4096; ++i) {
        char control[512];
        std::byte data[64];
        iovec iov{data, sizeof data};
        msghdr h{};
        h.msg_iov = &iov;
        h.msg_iovlen = 1;
        h.msg_control = control;
        h.msg_controllen = sizeof control;
        if (::recvmsg(fd_, &h, MSG_ERRQUEUE | MSG_DONTWAIT) < 0) return unreachable;
        for (cmsghdr* c = CMSG_FIRSTHDR(&h); c; c = CMSG_NXTHDR(&h, c)) {
            const bool v4 = c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_RECVERR;
            const bool v6 = c->cmsg_level == IPPROTO_IPV6 && c->cmsg_type == IPV6_RECVERR;
            if (!v4 && !v6) continue;
            sock_extended_err e;
            std::memcpy(&e, CMSG_DATA(c), sizeof e);
            if ((e.ee_origin == SO_EE_ORIGIN_ICMP && e.ee_type == 3) ||
                (e.ee_origin == SO_EE_ORIGIN_ICMP6 && e.ee_type == 1)) {
                stats_.target_unreachable.add();
                ++unreachable;
            }
        }
    }
    return unreachable;
}

OuterSource interface_primary_address(const std::string& interface, int family) {
    OuterSource out;
    ifaddrs* list = nullptr;
    if (::getifaddrs(&list) != 0) return out;
    // The kernel lists an interface's addresses primary first; labelled
    // secondaries ("eth0:1") carry another name and are passed over.
    for (const ifaddrs* a = list; a && out.family == 0; a = a->ifa_next) {
        if (!a->ifa_addr || a->ifa_addr->sa_family != family || interface != a->ifa_name) continue;
        if (family == AF_INET) {
            out.v4 = reinterpret_cast<const sockaddr_in*>(a->ifa_addr)->sin_addr;
            out.family = AF_INET;
        } else {
            const in6_addr& v6 = reinterpret_cast<const sockaddr_in6*>(a->ifa_addr)->sin6_addr;
            if (IN6_IS_ADDR_LINKLOCAL(&v6)) continue;
            out.v6 = v6;
            out.family = AF_INET6;
        }
    }
    ::freeifaddrs(list);
    return out;
}


uint32_t route_mtu(const sockaddr_storage& target) {
    // A connected UDP socket: the kernel picks the route (and any path MTU
    // it learned from "fragmentation needed") without a packet being sent.
    const int fd = ::socket(target.ss_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return 0;
    sockaddr_storage to = target;
    if (to.ss_family == AF_INET) reinterpret_cast<sockaddr_in&>(to).sin_port = htons(9);
    else reinterpret_cast<sockaddr_in6&>(to).sin6_port = htons(9);
    const socklen_t len = to.ss_family == AF_INET ? sizeof(sockaddr_in) : sizeof(sockaddr_in6);
    int mtu = 0;
    socklen_t mtu_len = sizeof mtu;
    const bool ok = ::connect(fd, reinterpret_cast<const sockaddr*>(&to), len) == 0 &&
                    (to.ss_family == AF_INET ? getsockopt(fd, IPPROTO_IP, IP_MTU, &mtu, &mtu_len)
                                             : getsockopt(fd, IPPROTO_IPV6, IPV6_MTU, &mtu, &mtu_len)) == 0;
    ::close(fd);
    return ok && mtu > 0 ? uint32_t(mtu) : 0;
}

Transmitter::Transmitter(SenderStats& stats, uint32_t batch_size, uint32_t max_datagram_bytes)
    : stats_(stats), batch_(batch_size), slot_bytes_(max_datagram_bytes),
      buffers_(size_t(batch_size) * max_datagram_bytes), iov_(batch_size), msgs_(batch_size), pending_(batch_size),
      controls_(batch_size) {}

Transmitter::~Transmitter() {
    if (fd_ >= 0) ::close(fd_);
}

Result<std::unique_ptr<Transmitter>> Transmitter::open(SenderStats& stats, int family, uint32_t batch_size,
                                                       uint32_t max_datagram_bytes, uint64_t send_buffer_bytes) {
    std::unique_ptr<Transmitter> t(new Transmitter(stats, batch_size, max_datagram_bytes));
    t->fd_ = ::socket(family, SOCK_RAW | SOCK_CLOEXEC, IPPROTO_UDP);
    if (t->fd_ < 0) return fail(std::string("raw UDP socket: ") + std::strerror(errno) + " (needs CAP_NET_RAW)");
    t->family_ = family;
    t->send_buffer_bytes_ = send_buffer_bytes;
    // A raw UDP socket also receives a copy of every UDP datagram the host
    // gets. We never read: a filter that accepts nothing keeps the kernel
    // from queueing them.
    sock_filter drop_all{BPF_RET | BPF_K, 0, 0, 0};
    sock_fprog prog{1, &drop_all};
    setsockopt(t->fd_, SOL_SOCKET, SO_ATTACH_FILTER, &prog, sizeof prog);
    const int sndbuf = int(std::min<uint64_t>(send_buffer_bytes, INT32_MAX / 2));
    setsockopt(t->fd_, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof sndbuf);
    // Never fragment: a fragment has no UDP header, so nothing (neither our
    // own-traffic check nor a collector's NLB) could tell it is ours, and a
    // sender capturing on the mirror path would mirror it again. Frames are
    // cut to the path MTU instead (Sender), as AWS does; what is still too
    // long fails with EMSGSIZE and is counted.
    const int dont = family == AF_INET6 ? IPV6_PMTUDISC_DO : IP_PMTUDISC_DO;
    const bool df = family == AF_INET6
                        ? setsockopt(t->fd_, IPPROTO_IPV6, IPV6_MTU_DISCOVER, &dont, sizeof dont) == 0 &&
                              setsockopt(t->fd_, IPPROTO_IPV6, IPV6_DONTFRAG, &kOn, sizeof kOn) == 0
                        : setsockopt(t->fd_, IPPROTO_IP, IP_MTU_DISCOVER, &dont, sizeof dont) == 0;
    if (!df) return fail(std::string("don't-fragment on the raw socket: ") + std::strerror(errno));
    // ICMP errors about our datagrams (a collector that is down answers "port
    // unreachable") queue on the socket's error queue; read_errors counts them.
    const bool recverr = family == AF_INET6 ? setsockopt(t->fd_, IPPROTO_IPV6, IPV6_RECVERR, &kOn, sizeof kOn) == 0
                                            : setsockopt(t->fd_, IPPROTO_IP, IP_RECVERR, &kOn, sizeof kOn) == 0;
    if (!recverr) return fail(std::string("IP_RECVERR: ") + std::strerror(errno));
    if (family == AF_INET6) {
        // UDP over IPv6 needs a checksum; have the kernel compute it (offset 6
        // in our UDP header).
        int offset = 6;
        if (setsockopt(t->fd_, IPPROTO_IPV6, IPV6_CHECKSUM, &offset, sizeof offset) != 0)
            return fail(std::string("IPV6_CHECKSUM: ") + std::strerror(errno));
    }
    return t;
}

void Transmitter::set_target(const sockaddr_storage& addr) {
    flush();
    target_ = addr;
    // The port lives in our UDP header. Raw IPv6 sockets insist that
    // sin6_port is 0 or the protocol; IPv4 ignores it.
    if (addr.ss_family == AF_INET) {
        reinterpret_cast<sockaddr_in&>(target_).sin_port = 0;
        target_len_ = sizeof(sockaddr_in);
    } else {
        reinterpret_cast<sockaddr_in6&>(target_).sin6_port = 0;
        target_len_ = sizeof(sockaddr_in6);
    }
}

void Transmitter::commit(size_t datagram_bytes, SessionStats* session, uint32_t inner_bytes,
                         const OuterSource* source) {
    iov_[count_] = {buffers_.data() + size_t(count_) * slot_bytes_, datagram_bytes};
    pending_[count_] = {session, inner_bytes, source && source->family == family_ ? source : nullptr};
    ++count_;
}

void Transmitter::flush() {
    if (count_ == 0) return;
    if (fd_ < 0 || target_len_ == 0) {
        stats_.dropped[size_t(DropReason::no_target)].add(count_);
        count_ = 0;
        return;
    }
    for (uint32_t i = 0; i < count_; ++i) {
        msghdr& h = msgs_[i].msg_hdr;
        h = {};
        h.msg_name = &target_;
        h.msg_namelen = target_len_;
        h.msg_iov = &iov_[i];
        h.msg_iovlen = 1;
        if (const OuterSource* src = pending_[i].source) {
            // The source address per datagram (IP_PKTINFO's ipi_spec_dst,
            // IPV6_PKTINFO's address): one socket serves every interface.
            if (family_ == AF_INET6) {
                in6_pktinfo info{};
                info.ipi6_addr = src->v6;
                put_control(h, controls_[i].bytes, IPPROTO_IPV6, IPV6_PKTINFO, info);
            } else {
                in_pktinfo info{};
                info.ipi_spec_dst = src->v4;
                put_control(h, controls_[i].bytes, IPPROTO_IP, IP_PKTINFO, info);
            }
        }
    }
    uint32_t done = 0, retries = 0;
    // Bounded: each pass sends at least one datagram or drops one, or is one
    // of at most count_ retries.
    while (done < count_) {
        const int n = ::sendmmsg(fd_, msgs_.data() + done, count_ - done, MSG_DONTWAIT);
        stats_.sendmmsg_calls.add();
        if (n > 0) {
            for (uint32_t i = done; i < done + uint32_t(n); ++i) {
                stats_.sent_datagrams.add();
                stats_.sent_bytes.add(iov_[i].iov_len + outer_ip_header_bytes());
                pending_[i].session->mirrored_packets.add();
                pending_[i].session->mirrored_bytes.add(pending_[i].inner_bytes);
            }
            done += uint32_t(n);
            continue;
        }
        // An ICMP error that arrived since the last send is reported once, by
        // this call, instead of sending: it is counted by read_errors; send
        // the datagram again (at most once per datagram in the batch).
        if (errno == EHOSTUNREACH || errno == ENETUNREACH) ++unreachable_sends_;
        if (errno == EINTR || (is_icmp_report(errno) && retries++ < count_)) continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK || errno == ENOBUFS) {
            // The socket is full: what is left of this batch would only wait
            // behind it, and capture must not wait. Drop and count.
            stats_.dropped[size_t(DropReason::socket_full)].add(count_ - done);
            break;
        }
        // Unreachable, too long, refused by a firewall...: this datagram only.
        stats_.dropped[size_t(DropReason::send_error)].add();
        ++done;
    }
    count_ = 0;
}

}  // namespace mirrortap::sender
