// mirrortap-find's pruner against libpcap itself: a flow key from the input,
// an expression from a fixed list, and a concrete frame of that flow written
// from the key as a sender would (independently of the pruner's synthetic
// frame; every field the key does not give taken from the input). Whenever the
// pruner says "no match", libpcap must reject that frame; whenever it says
// "match", libpcap must accept it. The rest of the input is read as a flow
// index, which must never crash the reader.
#include <arpa/inet.h>

#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "find/bpf_prune.hpp"
#include "find/flow_index.hpp"
#include "fuzz/fuzz_support.hpp"

using namespace mirrortap;
using namespace mirrortap::find;

namespace {

const char* const kExpressions[] = {
    "", "host 10.0.0.1", "net 10.0.0.0/30", "src host 10.0.0.2 and dst host 10.0.0.1", "port 53", "tcp port 443",
    "udp and not port 53", "portrange 50-90", "icmp", "ip proto 132", "host 2001:db8::1", "ip6 and tcp",
    "net 2001:db8::/127 and udp port 80", "vlan 5", "vlan and host 10.0.0.1", "vlan 5 and vlan 6 and port 80",
    "arp", "ether host 02:00:00:00:00:01", "ether broadcast", "not ip and not ip6", "len > 100", "greater 80",
    "tcp[13] & 2 != 0", "ip[8] < 64", "ip[6] & 0x40 != 0", "udp[8:2] = 0x1234", "ip6[40] = 1",
    "host 10.0.0.1 or len < 60", "(tcp or udp) and (port 80 or port 443) and net 10.0.0.0/31", "ip multicast",
    "ether[12:2] = 0x8100", "vlan 5 or arp", "ip and ip[0] & 0xf > 5", "sctp", "ip dst 10.0.0.3", "icmp6"};
constexpr size_t kExpressionCount = sizeof kExpressions / sizeof kExpressions[0];

const CompiledFilter& filter(size_t i) {
    static std::vector<std::unique_ptr<CompiledFilter>> compiled;
    if (compiled.empty()) {
        for (const char* e : kExpressions) {
            compiled.push_back(std::make_unique<CompiledFilter>());
            FUZZ_CHECK(compiled.back()->compile(e));
        }
    }
    return *compiled[i];
}

std::string ip4(fuzz::FuzzInput& in) { return "10.0.0." + std::to_string(in.below(4)); }
std::string ip6(fuzz::FuzzInput& in) { return "2001:db8::" + std::to_string(in.below(4)); }
std::string mac(fuzz::FuzzInput& in) {
    static const char* const macs[] = {"02:00:00:00:00:01", "02:00:00:00:00:02", "ff:ff:ff:ff:ff:ff",
                                       "01:00:5e:00:00:01"};
    return macs[in.below(4)];
}
std::optional<uint16_t> port(fuzz::FuzzInput& in) {
    static const uint16_t ports[] = {53, 80, 443, 50};
    const size_t c = in.below(6);
    if (c == 5) return std::nullopt;
    return c < 4 ? ports[c] : in.u16();
}

IndexedFlow flow_from(fuzz::FuzzInput& in) {
    IndexedFlow f;
    for (size_t n = in.below(3); n > 0; --n) f.vlans.push_back(uint16_t(in.below(8)));
    const size_t kind = in.below(3);
    static const uint8_t protocols[] = {6, 17, 1, 132, 58};
    if (kind < 2) {
        f.ip_version = kind == 0 ? 4 : 6;
        f.ether_type = kind == 0 ? 0x0800 : 0x86DD;
        f.protocol = in.flag() ? protocols[in.below(5)] : in.byte();
        f.src = kind == 0 ? ip4(in) : ip6(in);
        f.dst = kind == 0 ? ip4(in) : ip6(in);
        f.src_port = port(in);
        f.dst_port = port(in);
    } else {
        static const uint16_t types[] = {0x0806, 0x88CC, 0x0800, 0x86DD};
        f.ether_type = in.flag() ? types[in.below(4)] : in.u16();
        f.src = mac(in);
        f.dst = mac(in);
    }
    return f;
}

void put16(std::vector<uint8_t>& f, uint16_t v) {
    f.push_back(uint8_t(v >> 8));
    f.push_back(uint8_t(v));
}
void put_random(std::vector<uint8_t>& f, fuzz::FuzzInput& in, size_t n) {
    for (size_t i = 0; i < n; ++i) f.push_back(in.byte());
}
bool put_mac(std::vector<uint8_t>& f, const std::string& text) {
    unsigned v[6];
    if (std::sscanf(text.c_str(), "%x:%x:%x:%x:%x:%x", &v[0], &v[1], &v[2], &v[3], &v[4], &v[5]) != 6) return false;
    for (unsigned b : v) f.push_back(uint8_t(b));
    return true;
}

// A frame of the flow written from its key the way a sender would, not from
// the pruner's synthetic frame: what the key does not say comes from the input.
std::vector<uint8_t> concrete_frame(const IndexedFlow& flow, const std::vector<uint16_t>& tpids,
                                    fuzz::FuzzInput& in) {
    std::vector<uint8_t> f;
    if (flow.ip_version) put_random(f, in, 12);
    else if (!put_mac(f, flow.dst) || !put_mac(f, flow.src)) return {};
    for (size_t i = 0; i < flow.vlans.size(); ++i) {
        put16(f, tpids[i]);
        put16(f, uint16_t((in.byte() & 0xF0) << 8 | flow.vlans[i]));  // priority and DEI from the input
    }
    put16(f, *flow.ether_type);
    const bool ports = flow.src_port && flow.dst_port && flow.protocol &&
                       (*flow.protocol == 6 || *flow.protocol == 17 || *flow.protocol == 132);
    if (flow.ip_version == 4) {
        in_addr src{}, dst{};
        inet_pton(AF_INET, flow.src.c_str(), &src);
        inet_pton(AF_INET, flow.dst.c_str(), &dst);
        f.push_back(0x45);
        put_random(f, in, 5);                   // TOS, total length, identification
        f.push_back(uint8_t(in.byte() & 0xC0));  // reserved and DF; not a fragment
        f.push_back(0);
        put_random(f, in, 1);  // TTL
        f.push_back(*flow.protocol);
        put_random(f, in, 2);
        const auto* s = reinterpret_cast<const uint8_t*>(&src);
        const auto* d = reinterpret_cast<const uint8_t*>(&dst);
        f.insert(f.end(), s, s + 4);
        f.insert(f.end(), d, d + 4);
    } else if (flow.ip_version == 6) {
        in6_addr src{}, dst{};
        inet_pton(AF_INET6, flow.src.c_str(), &src);
        inet_pton(AF_INET6, flow.dst.c_str(), &dst);
        f.push_back(uint8_t(0x60 | (in.byte() & 0x0F)));
        put_random(f, in, 5);
        f.push_back(*flow.protocol);
        put_random(f, in, 1);
        f.insert(f.end(), src.s6_addr, src.s6_addr + 16);
        f.insert(f.end(), dst.s6_addr, dst.s6_addr + 16);
    }
    if (flow.ip_version && ports) {
        put16(f, *flow.src_port);
        put16(f, *flow.dst_port);
    }
    for (size_t n = in.below(80); n > 0; --n) f.push_back(in.byte());
    return f;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    fuzz::FuzzInput in(data, size);
    const IndexedFlow flow = flow_from(in);
    const size_t which = in.below(kExpressionCount);
    std::vector<uint16_t> tpids;
    static const uint16_t kTpids[] = {0x8100, 0x88A8, 0x9100};
    for (size_t i = 0; i < flow.vlans.size(); ++i) tpids.push_back(kTpids[in.below(3)]);
    const std::vector<uint8_t> frame = concrete_frame(flow, tpids, in);
    if (!frame.empty()) {
        const pcap_pkthdr header{{0, 0}, uint32_t(frame.size()), uint32_t(frame.size())};
        const bool accepted = filter(which).matches(header, frame.data());
        const FlowVerdict verdict = judge_flow(filter(which).program(), flow);
        if (verdict == FlowVerdict::no_match) FUZZ_CHECK(!accepted);
        if (verdict == FlowVerdict::match) FUZZ_CHECK(accepted);
    }
    const auto rest = in.rest();
    (void)parse_flow_index(std::string_view(reinterpret_cast<const char*>(rest.data()), rest.size()));
    (void)gunzip(std::string_view(reinterpret_cast<const char*>(rest.data()), rest.size()), 1 << 20);
    return 0;
}
