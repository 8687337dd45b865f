// The flow index beside each finished pcap (docs/flow-index.md, the format
// the pcap writer produces): gzip of JSON lines, one line per flow and
// direction. Read here so that mirrortap-find reads only the byte ranges of a
// pcap whose flows can match.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.hpp"

namespace mirrortap::find {

// One line of an index: a flow's records in one pcap file.
struct IndexedFlow {
    uint64_t first_ns = 0, last_ns = 0, packets = 0, bytes = 0;
    uint64_t first_offset = 0, end_offset = 0;  // [first record header, just past the last record)
    std::optional<uint16_t> ether_type;         // after the VLAN tags; none for a frame cut before it
    std::vector<uint16_t> vlans;                // outermost first
    std::optional<uint8_t> ip_version;          // 4 or 6; none for non-IP frames
    std::optional<uint8_t> protocol;
    std::string src, dst;                       // addresses (IP flows) or MACs (non-IP), as text; "" for null
    std::optional<uint16_t> src_port, dst_port;
    bool fragments = false;
    bool ip6_ext = false;
};

// What every line repeats about the file itself.
struct IndexedFile {
    std::string session, collector, file;
    std::optional<uint32_t> vni;  // null in the index: unknown
    uint64_t first_ns = 0, last_ns = 0, packets = 0, bytes = 0;
    bool index_complete = true;
};

struct FlowIndex {
    IndexedFile file;  // empty when the index has no lines
    std::vector<IndexedFlow> flows;
};

// gzip (RFC 1952, members concatenated) to bytes; or why not when the data
// is not gzip or is cut short. Stops at max_bytes of output.
Result<std::string> gunzip(std::string_view compressed, size_t max_bytes = size_t(1) << 31);

// The index's JSON lines (support/flow_index_format.hpp); or why not
// ("line 3: bad end_offset") when a line is not what the format says, is of a
// format version this reader does not know, or the lines disagree about their file.
Result<FlowIndex> parse_flow_index(std::string_view json_lines);

// Both steps, and a check that the index describes a pcap of `pcap_bytes`
// bytes (a stale index, or one of another file, is no index).
Result<FlowIndex> read_flow_index(std::string_view gz, uint64_t pcap_bytes);

}  // namespace mirrortap::find
