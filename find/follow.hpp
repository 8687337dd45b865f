// --follow: the live view of a collector's pcap directory. For each session
// it reads the file being written (`current` names it) as it grows, and when
// the writer finishes it (renamed from .pcap.part to .pcap, everything
// already written) drains it and goes on with the next file by name (names
// sort by start time and sequence), so no packet is lost or repeated across
// rotations. Packets pass the filter and go out flushed, batch by batch.
#pragma once
#include <atomic>
#include <cstdio>
#include <string>
#include <vector>

#include "find/bpf_prune.hpp"
#include "find/pcap_output.hpp"

namespace mirrortap::find {

struct FollowOptions {
    std::vector<std::string> dirs;      // collectors' pcap directories
    std::vector<std::string> sessions;  // empty: every session, new ones too
};

// Runs until *stop or until the output's reader goes away; 0 then, 1 when a
// directory cannot be read at all.
int run_follow(const FollowOptions& options, const CompiledFilter& filter, PcapOutput& out, std::FILE* log,
               const std::atomic<bool>& stop);

}  // namespace mirrortap::find
