#include "sender/capture.hpp"

#include <arpa/inet.h>
#include <net/if.h>

#include <algorithm>
#include <cstdio>
#include <fstream>

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

std::string with_direction_filter(const std::string& expression, Direction direction, const std::string& mac_text) {
    if (direction == Direction::egress || mac_text.empty()) return expression;
    // eth_type_trans's rule for PACKET_OTHERHOST.
    return "(" + expression + ") and not (ether[0] & 1 == 0 and not ether dst " + mac_text + ")";
}

Result<std::unique_ptr<Capture>> Capture::open(const std::string& interface, Direction direction,
                                               const CaptureOptions& options) {
    if (if_nametoindex(interface.c_str()) == 0) return fail("no such interface " + quote(interface));
    char errbuf[PCAP_ERRBUF_SIZE] = {};
    pcap_t* p = pcap_create(interface.c_str(), errbuf);
    if (!p) return fail(interface + ": " + errbuf);
    std::unique_ptr<Capture> c(new Capture);
    c->handle_ = p;
    c->name_ = interface;
    c->direction_ = direction;
    std::array<uint8_t, 6> mac{};
    if (interface_mac(interface, mac) && std::any_of(mac.begin(), mac.end(), [](uint8_t b) { return b != 0; })) {
        char text[18];
        std::snprintf(text, sizeof text, "%02x:%02x:%02x:%02x:%02x:%02x", mac[0], mac[1], mac[2], mac[3], mac[4], mac[5]);
        c->mac_text_ = text;
    }
    pcap_set_snaplen(p, int(options.snaplen));
    // Not promiscuous: AWS mirrors what the ENI sends and receives, not what
    // merely passes by.
    pcap_set_promisc(p, 0);
    // Every frame as soon as it arrives; batching happens on the send side.
    pcap_set_immediate_mode(p, 1);
    pcap_set_buffer_size(p, int(std::min<uint64_t>(options.buffer_bytes, INT32_MAX)));
    const int rc = pcap_activate(p);
    if (rc < 0)
        return fail(interface + ": " + pcap_geterr(p) + (rc == PCAP_ERROR_PERM_DENIED ? " (needs CAP_NET_RAW)" : ""));
    if (pcap_datalink(p) != DLT_EN10MB)
        return fail(interface + ": not an Ethernet interface (link type " +
                    std::string(pcap_datalink_val_to_name(pcap_datalink(p)) ?: "?") +
                    "); mirror sessions carry Ethernet frames");
    if (pcap_setdirection(p, direction == Direction::egress ? PCAP_D_OUT : PCAP_D_IN) != 0)
        return fail(interface + ": " + pcap_geterr(p));
    if (pcap_setnonblock(p, 1, errbuf) != 0) return fail(interface + ": " + errbuf);
    return c;
}

Capture::~Capture() {
    if (handle_) pcap_close(handle_);
}

Result<std::unique_ptr<CompiledFilter>> Capture::compile(const std::string& expression) {
    auto f = std::make_unique<CompiledFilter>();
    f->expression = expression;
    const std::string full = with_direction_filter(expression, direction_, mac_text_);
    if (pcap_compile(handle_, &f->program, full.c_str(), 1, PCAP_NETMASK_UNKNOWN) != 0)
        return fail(name_ + ": filter '" + full + "': " + pcap_geterr(handle_));
    return f;
}

Result<> Capture::install(const CompiledFilter& filter) {
    // pcap_setfilter copies the program; `filter` may go after this.
    if (pcap_setfilter(handle_, const_cast<bpf_program*>(&filter.program)) != 0)
        return fail(name_ + ": " + pcap_geterr(handle_));
    filter_ = filter.expression;
    return {};
}

Result<> Capture::set_filter(const std::string& expression) {
    const auto compiled = compile(expression);
    if (!compiled) return fail(compiled.error());
    return install(**compiled);
}

void Capture::update_stats() {
    pcap_stat s{};
    if (!stats_ || pcap_stats(handle_, &s) != 0) return;
    // Deltas: the interface's two captures add to one counter, and a capture
    // opened again on a reload starts libpcap's counts at zero.
    stats_->pcap_dropped.add(s.ps_drop - drops_seen_);
    stats_->pcap_ifdropped.add(s.ps_ifdrop - ifdrops_seen_);
    drops_seen_ = s.ps_drop;
    ifdrops_seen_ = s.ps_ifdrop;
}

}  // namespace mirrortap::sender
