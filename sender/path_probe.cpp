#include "sender/path_probe.hpp"

#include <arpa/inet.h>
#include <linux/neighbour.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <netinet/in.h>
#include <sys/time.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <functional>

namespace mirrortap::sender {

namespace {

// One netlink request and its answer, message by message; false and `error`
// when the kernel answered with an error (`error_code` then holds it).
class Netlink {
public:
    Netlink() {
        fd_ = ::socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
        if (fd_ < 0) return;
        // Never wait long on the kernel: the answer is immediate or never.
        timeval tv{1, 0};
        setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    }
    ~Netlink() {
        if (fd_ >= 0) ::close(fd_);
    }
    bool ok() const { return fd_ >= 0; }

    // Sends `request`; calls `each` for every answer message until the
    // answer is done. Returns 0 or the kernel's errno.
    int ask(const nlmsghdr& request, const std::function<void(const nlmsghdr&)>& each) {
        if (::send(fd_, &request, request.nlmsg_len, 0) < 0) return errno;
        alignas(nlmsghdr) char buffer[32768];
        // Bounded: a dump of the neighbour table ends; at most 1000 reads.
        for (int reads = 0; reads < 1000; ++reads) {
            const ssize_t n = ::recv(fd_, buffer, sizeof buffer, 0);
            if (n < 0) return errno;
            int len = int(n);
            for (auto* h = reinterpret_cast<const nlmsghdr*>(buffer); NLMSG_OK(h, len); h = NLMSG_NEXT(h, len)) {
                if (h->nlmsg_type == NLMSG_DONE) return 0;
                if (h->nlmsg_type == NLMSG_ERROR) {
                    const auto* e = static_cast<const nlmsgerr*>(NLMSG_DATA(h));
                    return -e->error;  // 0: the acknowledgement
                }
                each(*h);
                if (!(h->nlmsg_flags & NLM_F_MULTI)) return 0;
            }
        }
        return 0;
    }

private:
    int fd_ = -1;
};

size_t address_bytes(int family) { return family == AF_INET ? 4 : 16; }

const void* address_of(const sockaddr_storage& a) {
    if (a.ss_family == AF_INET) return &reinterpret_cast<const sockaddr_in&>(a).sin_addr;
    return &reinterpret_cast<const sockaddr_in6&>(a).sin6_addr;
}

std::string text_of(int family, const void* address) {
    char text[INET6_ADDRSTRLEN] = "";
    ::inet_ntop(family, address, text, sizeof text);
    return text;
}

}  // namespace

Result<PathState> probe_path(const sockaddr_storage& target) {
    PathState out;
    const int family = target.ss_family;
    const size_t width = address_bytes(family);
    Netlink nl;
    if (!nl.ok()) return fail(std::string("netlink: ") + std::strerror(errno));

    // The route the kernel would take: like `ip route get TARGET`.
    struct {
        nlmsghdr h;
        rtmsg r;
        char attrs[64];
    } route{};
    route.h.nlmsg_type = RTM_GETROUTE;
    route.h.nlmsg_flags = NLM_F_REQUEST;
    route.r.rtm_family = uint8_t(family);
    route.r.rtm_dst_len = uint8_t(width * 8);
    auto* dst = reinterpret_cast<rtattr*>(route.attrs);
    dst->rta_type = RTA_DST;
    dst->rta_len = uint16_t(RTA_LENGTH(width));
    std::memcpy(RTA_DATA(dst), address_of(target), width);
    route.h.nlmsg_len = uint32_t(NLMSG_LENGTH(sizeof(rtmsg)) + RTA_ALIGN(dst->rta_len));

    unsigned char next_hop[16];
    std::memcpy(next_hop, address_of(target), width);
    int oif = 0;
    bool local = false;
    const int rc = nl.ask(route.h, [&](const nlmsghdr& h) {
        if (h.nlmsg_type != RTM_NEWROUTE) return;
        const auto* r = static_cast<const rtmsg*>(NLMSG_DATA(&h));
        if (r->rtm_type == RTN_UNREACHABLE || r->rtm_type == RTN_BLACKHOLE || r->rtm_type == RTN_PROHIBIT)
            out.route = false;
        local = r->rtm_type == RTN_LOCAL;
        int len = int(RTM_PAYLOAD(&h));
        for (auto* a = RTM_RTA(r); RTA_OK(a, len); a = RTA_NEXT(a, len)) {
            if (a->rta_type == RTA_OIF) std::memcpy(&oif, RTA_DATA(a), sizeof oif);
            if (a->rta_type == RTA_GATEWAY && RTA_PAYLOAD(a) == width) std::memcpy(next_hop, RTA_DATA(a), width);
        }
    });
    if (rc == ENETUNREACH || rc == EHOSTUNREACH || rc == EACCES || rc == EINVAL) out.route = false;
    else if (rc != 0) return fail(std::string("route lookup: ") + std::strerror(rc));
    out.next_hop = text_of(family, next_hop);
    if (!out.route || local || oif == 0) return out;

    // The next hop's entry in the neighbour table (ARP for IPv4, ND for IPv6).
    struct {
        nlmsghdr h;
        ndmsg n;
    } neigh{};
    neigh.h.nlmsg_type = RTM_GETNEIGH;
    neigh.h.nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
    neigh.h.nlmsg_len = NLMSG_LENGTH(sizeof(ndmsg));
    neigh.n.ndm_family = uint8_t(family);
    const int nrc = nl.ask(neigh.h, [&](const nlmsghdr& h) {
        if (h.nlmsg_type != RTM_NEWNEIGH) return;
        const auto* n = static_cast<const ndmsg*>(NLMSG_DATA(&h));
        if (n->ndm_ifindex != oif) return;
        int len = int(h.nlmsg_len - NLMSG_LENGTH(sizeof(ndmsg)));
        for (auto* a = reinterpret_cast<const rtattr*>(reinterpret_cast<const char*>(n) + NLMSG_ALIGN(sizeof(ndmsg)));
             RTA_OK(a, len); a = RTA_NEXT(a, len)) {
            if (a->rta_type == NDA_DST && RTA_PAYLOAD(a) == width && std::memcmp(RTA_DATA(a), next_hop, width) == 0)
                out.neighbour_failed = (n->ndm_state & (NUD_FAILED | NUD_INCOMPLETE)) != 0;
        }
    });
    if (nrc != 0) return fail(std::string("neighbour table: ") + std::strerror(nrc));
    return out;
}

}  // namespace mirrortap::sender
