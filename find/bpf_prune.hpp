// Which flows of an index can hold packets a BPF expression matches, decided
// by libpcap's own compiled program: the program is run over a synthetic
// frame built from the flow's key (VLAN ids, EtherType, IP version, protocol,
// addresses, ports) by a small cBPF interpreter that knows, bit by bit, which
// bytes the key fixes. A load of anything else (payload, TTL, lengths, flags,
// the MACs of an IP flow) or of the packet length gives an unknown value, and
// a branch on an unknown value is followed both ways. If every path ends in
// "reject", no packet of the flow can match; if every path ends in "accept",
// every one does; otherwise the flow is read and libpcap decides per packet.
#pragma once
#include <pcap/pcap.h>

#include <cstdint>
#include <string>
#include <vector>

#include "base/result.hpp"
#include "find/flow_index.hpp"

namespace mirrortap::find {

enum class FlowVerdict {
    no_match,   // no packet of the flow can match: skip its bytes
    match,      // every packet matches (the key alone decides)
    may_match,  // some bytes the key does not fix decide: read and filter
};

// A frame of which some bits are known: known[i] has a 1 for each bit of
// bytes[i] the flow key fixes.
struct PartialFrame {
    std::vector<uint8_t> bytes;
    std::vector<uint8_t> known;
};

// The frame every packet of `flow` starts with, as far as its key says, with
// `tpids` as the TPIDs of its VLAN tags (one each; the index does not keep
// them). IPv4 headers are taken to be 20 bytes (IHL 5): the index has no
// field for options. Empty when the key is not enough to build one.
PartialFrame synthetic_frame(const IndexedFlow& flow, const std::vector<uint16_t>& tpids);

// Runs `program` over `frame`. Unknown bytes and lengths fork the run; at
// most max_steps instructions over all forks, past which: may_match.
FlowVerdict judge_frame(const bpf_program& program, const PartialFrame& frame, uint32_t max_steps = 100000);

// The verdict for a flow: may_match straight away for fragments and IPv6
// extension headers (their layout is not in the key); with VLAN tags, the
// verdict every TPID the tags may have had agrees on.
FlowVerdict judge_flow(const bpf_program& program, const IndexedFlow& flow);

// An expression compiled for Ethernet frames (DLT_EN10MB) as libpcap does;
// or libpcap's message when it refuses the expression.
class CompiledFilter {
public:
    CompiledFilter() = default;
    CompiledFilter(const CompiledFilter&) = delete;
    CompiledFilter& operator=(const CompiledFilter&) = delete;
    ~CompiledFilter();
    Result<> compile(const std::string& expression);
    const bpf_program& program() const { return program_; }
    bool matches(const pcap_pkthdr& header, const uint8_t* data) const {
        return pcap_offline_filter(&program_, &header, data) != 0;
    }

private:
    bpf_program program_{};
    bool compiled_ = false;
};

}  // namespace mirrortap::find
