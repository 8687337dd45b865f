// --explain: for each frame of a pcap file, which session and rule decided
// it and how many bytes would be sent. The same engine the sender runs.
#pragma once
#include <array>
#include <cstdint>
#include <optional>
#include <ostream>
#include <string>

#include "base/result.hpp"
#include "sender/session_engine.hpp"

namespace mirrortap::sender {

struct ExplainOptions {
    // Frames from this MAC are egress, others ingress. Without it a pcap file
    // says nothing about direction, and both are shown.
    std::optional<std::array<uint8_t, 6>> local_mac;
    uint32_t max_inner_bytes = 1460;
};

struct ExplainTotals {
    uint64_t packets = 0;
    uint64_t mirrored = 0;
};

// Each frame's explanation on `out`, and the totals; or a one-line error
// (unreadable file, not Ethernet).
Result<ExplainTotals> explain_pcap(const std::string& path, const SessionEngine& engine, const ExplainOptions& options,
                                   std::ostream& out);

// One frame's explanation, without a newline.
std::string explain_frame(const SessionEngine& engine, const std::optional<Direction>& direction,
                          const uint8_t* frame, uint32_t caplen, uint32_t wire_length, uint32_t max_inner_bytes,
                          bool& mirrored);

}  // namespace mirrortap::sender
