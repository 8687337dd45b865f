// The flow index's format (docs/flow-index.md), defined once for the pcap
// writer that makes it (sinks/flow_index.cpp) and mirrortap-find that reads
// it (find/flow_index.cpp). Here, in support/, because it is the one room
// both may include (docs/design.md, layering table).
#pragma once
#include <cstdint>
#include <string_view>

namespace mirrortap::flow_index {

// Beside <name>.pcap, and under the store's flows/ tree.
inline constexpr std::string_view kSuffix = ".flows.json.gz";

// The format this build writes and reads. Version 1 is written without a
// member that says so (the lines DuckDB and Athena tables were made for); a
// format a version-1 reader would misread writes kVersionKey first, and such
// a reader refuses the lines rather than guess (find/flow_index.cpp).
inline constexpr uint32_t kVersion = 1;
inline constexpr std::string_view kVersionKey = "version";

// Every line's members, in the order they are written (docs/flow-index.md,
// "What"). What every line repeats about its file first, then the flow.
namespace key {
inline constexpr std::string_view session = "session";
inline constexpr std::string_view vni = "vni";
inline constexpr std::string_view collector = "collector";
inline constexpr std::string_view file = "file";
inline constexpr std::string_view file_first_ns = "file_first_ns";
inline constexpr std::string_view file_last_ns = "file_last_ns";
inline constexpr std::string_view file_packets = "file_packets";
inline constexpr std::string_view file_bytes = "file_bytes";
inline constexpr std::string_view index_complete = "index_complete";
inline constexpr std::string_view first_ns = "first_ns";
inline constexpr std::string_view last_ns = "last_ns";
inline constexpr std::string_view packets = "packets";
inline constexpr std::string_view bytes = "bytes";
inline constexpr std::string_view first_offset = "first_offset";
inline constexpr std::string_view end_offset = "end_offset";
inline constexpr std::string_view ether_type = "ether_type";
inline constexpr std::string_view vlans = "vlans";
inline constexpr std::string_view ip_version = "ip_version";
inline constexpr std::string_view protocol = "protocol";
inline constexpr std::string_view src = "src";
inline constexpr std::string_view dst = "dst";
inline constexpr std::string_view src_port = "src_port";
inline constexpr std::string_view dst_port = "dst_port";
inline constexpr std::string_view fragments = "fragments";
inline constexpr std::string_view ip6_ext = "ip6_ext";
}  // namespace key

// The members a reader cannot do without: which file, its size (to tell a
// stale index), whether it is complete, and the flow's times and byte range.
inline constexpr std::string_view kRequired[] = {key::session,  key::file,         key::file_bytes,
                                                 key::index_complete, key::first_ns, key::last_ns,
                                                 key::first_offset, key::end_offset, key::ether_type};

// The pcap's own header: no flow begins before it.
inline constexpr uint64_t kPcapHeaderBytes = 24;

}  // namespace mirrortap::flow_index
