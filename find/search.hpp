// A search over finished captures: the index decides which files and which
// byte ranges can hold matching packets, those ranges are read (pread, or
// ranged GETs from S3), libpcap filters every packet, and the packets of
// every file are merged by timestamp into one pcap.
#pragma once
#include <cstdio>
#include <memory>
#include <vector>

#include "find/bpf_prune.hpp"
#include "find/pcap_output.hpp"
#include "find/store.hpp"

namespace mirrortap::find {

struct SearchOptions {
    Selection selection;
    bool progress = false;  // a progress bar on the log (a terminal)
    bool partial_ok = false;  // what could not be read is warned about, exit 0
};

// 0 when every selected capture was read; 1 when a store could not be
// listed, a session is unknown (the message says which exist), or anything
// selected could not be read whole (a failed or short read, a corrupt or
// truncated file, an unusable index) unless options.partial_ok.
int run_search(std::vector<std::unique_ptr<Store>>& stores, const SearchOptions& options, const CompiledFilter& filter,
               PcapOutput& out, std::FILE* log);

// The byte ranges of one file worth reading: every flow the filter may
// match in the window, merged where they touch or lie closer than `gap`.
struct ByteRange {
    uint64_t first = 0, end = 0;
};
std::vector<ByteRange> merge_ranges(std::vector<ByteRange> ranges, uint64_t gap);

}  // namespace mirrortap::find
