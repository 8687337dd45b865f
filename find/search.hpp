// A search over finished captures: the index decides which files and which
// byte ranges can hold matching packets, those ranges are read (pread, or
// ranged GETs from S3), libpcap filters every packet, and the packets of
// every file are merged by timestamp into one pcap.
#pragma once
#include <chrono>
#include <cstdio>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "find/bpf_prune.hpp"
#include "find/flow_index.hpp"
#include "find/pcap_output.hpp"
#include "find/store.hpp"

namespace mirrortap::find {

struct SearchOptions {
    Selection selection;
    bool progress = false;  // a progress bar on the log (a terminal)
    bool partial_ok = false;  // what could not be read is warned about, exit 0
    // The server's bounds on one query (the CLI has none): a query whose
    // plan would read more capture bytes than this is refused before it
    // reads any (0: no bound), and one still running at the deadline stops.
    uint64_t max_read_bytes = 0;
    std::optional<std::chrono::steady_clock::time_point> deadline;
    // A stream someone watches (the server's pcap answer, read by Wireshark):
    // the file header goes out once the plan is made, and what is written is
    // flushed when a packet comes this long after the last flush, rather than
    // only when the output's buffer fills.
    std::optional<std::chrono::steady_clock::duration> flush_every;
};

// How a search ended: the server answers each differently (200, 404, 413...);
// the CLI turns them into its exit status.
// Not printed: each comes with its sentence (SearchReport::why).
enum class SearchEnd { done, not_listed, unknown_session, too_large, timed_out, reader_gone, write_failed };

struct SearchReport {
    SearchEnd end = SearchEnd::done;
    std::string why;          // one line, for an end other than done
    uint64_t shortfalls = 0;  // things selected that could not be read whole (each said on the log)
};

// run_search's work, its ending told rather than turned into an exit status.
SearchReport search(std::vector<std::unique_ptr<Store>>& stores, const SearchOptions& options,
                    const CompiledFilter& filter, PcapOutput& out, std::FILE* log);

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

// One flow of the indexes (one direction, one session of one collector),
// summed over the files of the window that hold it.
struct FlowRow {
    std::string session, collector;
    IndexedFlow flow;       // first/last_ns, packets, bytes summed over files; offsets of its first file
    FlowVerdict verdict;    // match, or may_match: bytes the key does not fix decide
};
struct FlowsReport {
    SearchEnd end = SearchEnd::done;
    std::string why;
    std::vector<FlowRow> flows;   // the top `limit` by bytes, largest first
    uint64_t matching_flows = 0;  // before the limit
    uint64_t files = 0;           // captures of the selection
    // Captures whose flows are not in the answer: no index yet (the file
    // being written), or an index that is missing, unusable or incomplete.
    uint64_t unindexed_files = 0;
    uint64_t shortfalls = 0;
};
// The flows of the selection the filter may match, from the flow indexes
// only (no capture byte is read): the listing and index reads of search().
FlowsReport top_flows(std::vector<std::unique_ptr<Store>>& stores, const SearchOptions& options,
                      const CompiledFilter& filter, size_t limit, std::FILE* log);

}  // namespace mirrortap::find
