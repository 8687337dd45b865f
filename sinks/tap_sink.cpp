#include "sinks/tap_sink.hpp"

#include <fcntl.h>
#include <linux/if_link.h>
#include <linux/if_tun.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "decap/frame.hpp"

namespace mirrortap {

namespace {

// Best effort: a sysctl that is missing (IPv6 compiled out) changes nothing we rely on.
void write_sysctl(const std::string& path, const char* value) {
    const int fd = ::open(path.c_str(), O_WRONLY | O_CLOEXEC);
    if (fd < 0) return;
    if (::write(fd, value, std::strlen(value)) < 0) { /* best effort, see above */ }
    ::close(fd);
}

// No IPv6 link-local address on the TAP, hence no DAD probe, router
// solicitation or MLD report of the host's own mixed into the feed. Unlike
// the disable_ipv6 sysctl this works where /proc/sys is read-only (systemd's
// ProtectKernelTunables). Best effort: a kernel without IPv6 needs nothing.
void no_ipv6_link_local(const std::string& name) {
    const unsigned index = if_nametoindex(name.c_str());
    const int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
    if (index == 0 || fd < 0) {
        if (fd >= 0) ::close(fd);
        return;
    }
    struct Request {
        nlmsghdr header;
        ifinfomsg link;
        rtattr af_spec;     // IFLA_AF_SPEC {
        rtattr inet6;       //   AF_INET6 {
        rtattr mode;        //     IFLA_INET6_ADDR_GEN_MODE: u8
        uint8_t value[4];   //   } }
    } req{};
    static_assert(sizeof(Request) == NLMSG_LENGTH(sizeof(ifinfomsg)) + 3 * sizeof(rtattr) + 4);
    req.header.nlmsg_len = sizeof req;
    req.header.nlmsg_type = RTM_SETLINK;
    req.header.nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK;
    req.link.ifi_family = AF_UNSPEC;
    req.link.ifi_index = int(index);
    req.af_spec = {uint16_t(3 * sizeof(rtattr) + 4), IFLA_AF_SPEC};
    req.inet6 = {uint16_t(2 * sizeof(rtattr) + 4), AF_INET6};
    req.mode = {uint16_t(sizeof(rtattr) + 1), IFLA_INET6_ADDR_GEN_MODE};
    req.value[0] = IN6_ADDR_GEN_MODE_NONE;
    if (::send(fd, &req, sizeof req, 0) == ssize_t(sizeof req)) {
        char ack[256];
        if (::recv(fd, ack, sizeof ack, 0) < 0) { /* best effort: the ack only says whether it took */ }
    }
    ::close(fd);
}

Result<> set_up(const std::string& name) {
    const int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (s < 0) return fail(std::string("socket: ") + std::strerror(errno));
    ifreq ifr{};
    std::memcpy(ifr.ifr_name, name.data(), name.size());
    Result<> result;
    if (ioctl(s, SIOCGIFMTU, &ifr) == 0 && uint32_t(ifr.ifr_mtu) < kTapMtu) {
        ifr.ifr_mtu = int(kTapMtu);
        ioctl(s, SIOCSIFMTU, &ifr);  // best effort: a smaller MTU only limits IDS snaplen
    }
    if (ioctl(s, SIOCGIFFLAGS, &ifr) != 0) {
        result = fail("cannot read flags of TAP " + name + ": " + std::strerror(errno));
    } else {
        // IFF_NOARP: mirrored ARP requests for the host's own addresses must
        // not be answered onto the feed. Up, so that capture on it works.
        ifr.ifr_flags = short(ifr.ifr_flags | IFF_UP | IFF_NOARP);
        if (ioctl(s, SIOCSIFFLAGS, &ifr) != 0)
            result = fail("cannot bring TAP " + name + " up: " + std::strerror(errno));
    }
    ::close(s);
    return result;
}

}  // namespace

size_t push_vlan_tag(Bytes frame, uint16_t vid, std::byte* out) {
    constexpr size_t kMacs = 12;
    std::memcpy(out, frame.data(), kMacs);
    store_be16(out + kMacs, kEtherTypeVlan);
    store_be16(out + kMacs + 2, uint16_t(vid & 0x0FFF));
    std::memcpy(out + kMacs + kVlanTagBytes, frame.data() + kMacs, frame.size() - kMacs);
    return frame.size() + kVlanTagBytes;
}

TapDevices::~TapDevices() {
    for (int fd : fds_) ::close(fd);
}

Result<> TapDevices::open(const std::vector<std::string>& names, const TapDevices* running) {
    for (const auto& name : names) {
        if (running) {
            auto it = std::find(running->names_.begin(), running->names_.end(), name);
            if (it != running->names_.end()) {
                const int fd = fcntl(running->fds_[size_t(it - running->names_.begin())], F_DUPFD_CLOEXEC, 0);
                if (fd < 0) return fail("cannot share TAP " + name + ": " + std::strerror(errno));
                fds_.push_back(fd);
                names_.push_back(name);
                continue;
            }
        }
        const int fd = ::open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
        if (fd < 0) return fail(std::string("cannot open /dev/net/tun: ") + std::strerror(errno));
        ifreq ifr{};
        ifr.ifr_flags = IFF_TAP | IFF_NO_PI;
        std::memcpy(ifr.ifr_name, name.data(), std::min(name.size(), size_t(IFNAMSIZ - 1)));
        if (ioctl(fd, TUNSETIFF, &ifr) != 0) {
            const int err = errno;
            ::close(fd);
            std::string why = "cannot create TAP " + name + ": " + std::strerror(err);
            if (err == EPERM) why += " (needs CAP_NET_ADMIN)";
            if (err == EBUSY) why += " (another program holds it)";
            if (err == EINVAL) why += " (an interface of that name exists and is not a single-queue TAP)";
            return fail(std::move(why));
        }
        fds_.push_back(fd);
        names_.push_back(name);
        // IPv6 quiet before the device goes up, so that it never sends a router
        // solicitation or DAD probe that a sniffer on the TAP would take for traffic.
        no_ipv6_link_local(name);
        write_sysctl("/proc/sys/net/ipv6/conf/" + name + "/disable_ipv6", "1");
        // Strict reverse-path filtering: mirrored IPv4 from sources not routed
        // over the TAP (all of them) never reaches the host's own sockets.
        write_sysctl("/proc/sys/net/ipv4/conf/" + name + "/rp_filter", "1");
        if (auto up = set_up(name); !up) return up;
    }
    return {};
}

TapSink::TapSink(TapSinkOptions options)
    : opt_(std::move(options)),
      scratch_(std::make_unique<std::byte[]>(std::max<size_t>(opt_.snaplen, kTapMtu) + kVlanTagBytes + 64)) {}

uint16_t TapSink::vlan_for(const Session& s) {
    if (s.id >= vlan_by_session_.size()) vlan_by_session_.resize(s.id + 1, 0);  // a session's first packet
    uint16_t& vid = vlan_by_session_[s.id];
    if (vid == 0) {  // first packet of the session: the cold path
        vid = vlan_for_vni(s.vni);
        for (const auto& named : opt_.sessions)
            if (named.vni == s.vni && named.vlan) vid = *named.vlan;
    }
    return vid;
}

void TapSink::note_error(size_t device, int err) {
    last_error_device_.store(device, std::memory_order_relaxed);
    last_error_.store(err, std::memory_order_relaxed);
}

void TapSink::write(std::span<const Packet> batch) {
    const auto& fds = opt_.devices->fds();
    const uint32_t count = uint32_t(fds.size());
    for (const Packet& p : batch) {
        SinkCounters& c = p.session->sinks[opt_.sink_slot];
        if (closed_ || count == 0) {
            c.drop(SinkDropReason::not_open);
            continue;
        }
        const uint32_t out = flow_output(p.flow, p.session->vni, count);
        Bytes frame = p.frame.first(std::min<size_t>(p.frame.size(), opt_.snaplen));
        const std::byte* data = frame.data();
        size_t length = frame.size();
        if (opt_.session_vlan) {
            length = push_vlan_tag(frame, vlan_for(*p.session), scratch_.get());
            data = scratch_.get();
        }
        // One write(2) per frame is what the TAP interface offers; the fd is
        // non-blocking, so a full device costs a drop, never a wait.
        const ssize_t n = ::write(fds[out], data, length);
        if (n == ssize_t(length)) {
            c.written.add();
            bytes_written_.add(length);
            if (last_error_.load(std::memory_order_relaxed) != 0) last_error_.store(0, std::memory_order_relaxed);
            continue;
        }
        const int err = n < 0 ? errno : EIO;
        switch (err) {
            case EAGAIN:
            case ENOBUFS:
            case ENOMEM: c.drop(SinkDropReason::queue_full); break;
            case EBADFD:
            case EIO: c.drop(SinkDropReason::not_open); note_error(out, err); break;  // device gone or down
            default: c.drop(SinkDropReason::write_error); note_error(out, err); break;
        }
    }
}

Result<> TapSink::health() const {
    const int err = last_error_.load(std::memory_order_relaxed);
    if (err == 0) return {};
    const size_t device = last_error_device_.load(std::memory_order_relaxed);
    const auto& names = opt_.devices->names();
    return fail("cannot write to TAP " + (device < names.size() ? names[device] : std::string("?")) + ": " +
                std::strerror(err));
}

uint64_t TapSink::expire(Session& s) {
    if (s.id < vlan_by_session_.size()) vlan_by_session_[s.id] = 0;  // looked up again when the id serves anew
    return 0;
}

}  // namespace mirrortap
