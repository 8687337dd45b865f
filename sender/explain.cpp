#include "sender/explain.hpp"

#include <arpa/inet.h>
#include <pcap/pcap.h>

#include <map>

#include "decap/frame.hpp"

namespace mirrortap::sender {

namespace {

std::string address(const FlowKey& f, const std::array<uint8_t, 16>& a) {
    char buf[INET6_ADDRSTRLEN] = {};
    inet_ntop(f.kind == FlowKind::ipv4 ? AF_INET : AF_INET6, a.data(), buf, sizeof buf);
    return buf;
}

std::string protocol_name(uint8_t p) {
    switch (p) {
        case kProtoTcp: return "tcp";
        case kProtoUdp: return "udp";
        case kProtoIcmp: return "icmp";
        case kProtoIcmpv6: return "icmp6";
        default: return "proto " + std::to_string(p);
    }
}

// tcpdump's way: 10.0.0.1.40000 > 10.0.0.2.443 tcp
std::string describe(const InnerFrame& in) {
    const FlowKey& f = in.flow;
    if (f.kind == FlowKind::non_ip) {
        char type[8];
        std::snprintf(type, sizeof type, "%04x", in.ether_type);
        return std::string("ethertype 0x") + type + (in.ether_type == 0x0806 ? " (arp)" : "");
    }
    std::string src = address(f, f.src), dst = address(f, f.dst);
    if (in.has_ports) {
        src += "." + std::to_string(f.src_port);
        dst += "." + std::to_string(f.dst_port);
    }
    return src + " > " + dst + " " + protocol_name(f.protocol);
}

std::string decision(const SessionEngine& engine, Direction dir, const InnerFrame& in, uint32_t caplen,
                     uint32_t max_inner_bytes, bool& mirrored) {
    const Classification c = engine.classify(dir, in);
    auto rule_text = [&](const Classification& k) {
        const Session& s = engine.sessions()[size_t(k.rule_session_index)];
        std::string t = "session " + std::to_string(s.session_number) + " " + std::string(kDirectionNames(dir)) +
                        " rule " + std::to_string(k.rule->rule_number) + " " + std::string(kRuleActionNames(k.rule->action));
        if (!k.rule->description.empty()) t += " \"" + k.rule->description + "\"";
        return t;
    };
    if (c.mirrored()) {
        mirrored = true;
        const Session& s = engine.sessions()[size_t(c.session_index)];
        const Truncation t = truncate_frame(caplen, s.packet_length, max_inner_bytes);
        std::string out = "mirrored by " + rule_text(c) + " (vni " + std::to_string(s.vni) + "), sends " +
                          std::to_string(t.length) + " bytes";
        if (t.by_packet_length) out += " (packet_length)";
        if (t.by_mtu) out += " (cut to the path MTU)";
        return out;
    }
    switch (c.not_mirrored) {
        case NotMirrored::rejected: return "not mirrored: " + rule_text(c);
        case NotMirrored::no_match: return "not mirrored: no rule matched";
        case NotMirrored::non_ip: return "not mirrored: not IP";
        case NotMirrored::aws_service: return "not mirrored: AWS never mirrors " + std::string(kAwsServiceNames(c.service)) +
                                              (c.service == AwsService::amazon_dns ? " unless a filter lists network_services: [amazon-dns]" : "");
    }
    return "not mirrored";
}

}  // namespace

std::string explain_frame(const SessionEngine& engine, const std::optional<Direction>& direction,
                          const uint8_t* frame, uint32_t caplen, uint32_t wire_length, uint32_t max_inner_bytes,
                          bool& mirrored) {
    mirrored = false;
    const InnerFrame in = parse_inner_frame({reinterpret_cast<const std::byte*>(frame), caplen});
    std::string head = describe(in) + " length " + std::to_string(wire_length) + ": ";
    if (direction)
        return std::string(kDirectionNames(*direction)) + " " + head +
               decision(engine, *direction, in, caplen, max_inner_bytes, mirrored);
    bool m1 = false, m2 = false;
    std::string out = head + "as egress " + decision(engine, Direction::egress, in, caplen, max_inner_bytes, m1) +
                      "; as ingress " + decision(engine, Direction::ingress, in, caplen, max_inner_bytes, m2);
    mirrored = m1 || m2;
    return out;
}

Result<ExplainTotals> explain_pcap(const std::string& path, const SessionEngine& engine, const ExplainOptions& options,
                                   std::ostream& out) {
    char errbuf[PCAP_ERRBUF_SIZE] = {};
    pcap_t* p = pcap_open_offline(path.c_str(), errbuf);
    if (!p) return fail(path + ": " + errbuf);
    if (pcap_datalink(p) != DLT_EN10MB) {
        pcap_close(p);
        return fail(path + ": not an Ethernet capture; capture with tcpdump -i IFACE (not -i any)");
    }
    ExplainTotals totals;
    pcap_pkthdr* h = nullptr;
    const u_char* data = nullptr;
    int rc;
    while ((rc = pcap_next_ex(p, &h, &data)) == 1) {
        ++totals.packets;
        std::optional<Direction> dir;
        if (options.local_mac && h->caplen >= 12)
            dir = std::equal(options.local_mac->begin(), options.local_mac->end(), data + 6) ? Direction::egress
                                                                                              : Direction::ingress;
        bool mirrored = false;
        if (h->caplen < kEthernetHeaderBytes) {
            out << totals.packets << " runt frame of " << h->caplen << " bytes: not mirrored\n";
            continue;
        }
        out << totals.packets << " "
            << explain_frame(engine, dir, data, h->caplen, h->len, options.max_inner_bytes, mirrored) << "\n";
        totals.mirrored += mirrored;
    }
    if (rc == PCAP_ERROR) {
        const std::string error = path + ": " + pcap_geterr(p);
        pcap_close(p);
        return fail(error);
    }
    pcap_close(p);
    return totals;
}

}  // namespace mirrortap::sender
