// The flow index of one pcap file (docs/flow-index.md): per inner flow and
// direction, its first and last timestamp, packets, bytes and the byte range
// of the file that holds its records. Filled by the pcap writer thread as it
// appends records (the records are in memory then: no second pass over the
// file), written beside the pcap as gzipped JSON lines when the file is finished.
//
// Writer thread only. A new flow may grow two vectors: the writer is not a
// receive worker, and the cap bounds the memory one file's index may take.
#pragma once
#include <array>
#include <atomic>
#include <cstdint>
#include <string>
#include <vector>

#include "decap/bytes.hpp"
#include "decap/frame.hpp"

namespace mirrortap {

// Index files of the whole process, for /metrics. Process-wide rather than per
// sink: a reload replaces the pcap sinks, and these counters must not go back.
// Moved once per finished file, by any pcap writer thread.
struct FlowIndexTotals {
    std::atomic<uint64_t> written{0};     // indexes beside finished pcaps
    std::atomic<uint64_t> failed{0};      // pcaps finished without one: writing it failed
    std::atomic<uint64_t> incomplete{0};  // written with index_complete false (the flow cap)
};
FlowIndexTotals& flow_index_totals();

// What the flow key is made of (docs/flow-index.md, "Flow key"): VLANs,
// EtherType, IP version, protocol, addresses (MACs for non-IP) and ports,
// with what the frame did not reach left out. Plain bytes, compared and
// hashed whole: every field is set from zero, and the layout has no padding.
struct IndexFlowKey {
    enum Reached : uint8_t { reached_ethernet = 1, reached_protocol = 2, reached_ports = 4 };
    uint8_t reached = 0;
    uint8_t vlan_count = 0;
    FlowKind kind = FlowKind::non_ip;
    uint8_t protocol = 0;
    uint16_t ether_type = 0;
    std::array<uint16_t, kMaxVlanTags> vlans{};
    uint16_t src_port = 0;
    uint16_t dst_port = 0;
    std::array<uint8_t, 16> src{};  // IP address, or the MAC for non-IP
    std::array<uint8_t, 16> dst{};

    static IndexFlowKey of(const InnerFrame& frame);
    bool operator==(const IndexFlowKey&) const = default;
};
static_assert(sizeof(IndexFlowKey) == 6 + 2 * kMaxVlanTags + 4 + 32, "no padding: keys are hashed as bytes");

struct IndexFlowKeyHash {
    size_t operator()(const IndexFlowKey& k) const;
};

struct IndexFlowStats {
    uint64_t first_ns = ~0ull;
    uint64_t last_ns = 0;
    uint64_t packets = 0;
    uint64_t bytes = 0;         // original (wire) lengths
    uint64_t first_offset = ~0ull;  // of the first record's header
    uint64_t end_offset = 0;        // just past the last record
    bool fragments = false;
    bool ipv6_extensions = false;
};

// What every line repeats about the file.
struct IndexedFile {
    std::string session;
    uint32_t vni = 0;
    std::string collector;
    std::string file;  // the pcap's name, no directory
};

class FlowIndex {
public:
    // At most `max_flows` lines per file; past it, records of new flows are
    // left out and the index says it is incomplete.
    explicit FlowIndex(uint32_t max_flows) : max_flows_(max_flows) {}

    // A new file starts.
    void clear();
    // One record, as it goes into the file at `offset` (its header's first byte).
    void add(uint64_t offset, uint64_t timestamp_ns, uint32_t wire_length, Bytes frame);

    bool complete() const { return !capped_; }
    size_t flows() const { return entries_.size(); }
    uint64_t packets() const { return packets_; }
    uint64_t first_ns() const { return packets_ ? first_ns_ : 0; }
    uint64_t last_ns() const { return last_ns_; }

    // Gzipped JSON lines, one per flow in the order of their first record,
    // into a new file `name` in `dir_fd` (O_EXCL, O_NOFOLLOW, `mode`; a stale
    // one of that name is removed first). `file_bytes`: the pcap's size.
    // 0, or the errno that stopped it (the partial file is removed then).
    int write(int dir_fd, const char* name, uint32_t mode, int group_id, const IndexedFile& file,
              uint64_t file_bytes) const;
    // The same lines, uncompressed (tests, and what write() compresses).
    std::string json_lines(const IndexedFile& file, uint64_t file_bytes) const;

private:
    template <typename Sink>
    void each_line(const IndexedFile& file, uint64_t file_bytes, Sink&& sink) const;

    struct Entry {
        IndexFlowKey key;
        IndexFlowStats stats;
    };
    // The entry of `key`, added (when there is room under the cap) if new; nullptr past the cap.
    Entry* find_or_add(const IndexFlowKey& key);
    void grow_slots();
    // Entry `entry` into the first free slot from its hash on (there is one: at most half are used).
    void place(uint64_t hash, size_t entry);

    uint32_t max_flows_;
    // The flows in the order of their first record, found through an open
    // addressing table (linear probing, at most half full) of slots: the hash's
    // high 32 bits and the entry's index + 1 (0: empty). At 10,000 sessions a
    // packet's lookup was a quarter of the writer's time in a node-based map
    // (a bucket, the node before, the node: three cache misses); here a slot
    // and its entry.
    std::vector<Entry> entries_;
    std::vector<uint64_t> slots_;
    bool capped_ = false;
    uint64_t packets_ = 0;
    uint64_t first_ns_ = ~0ull;
    uint64_t last_ns_ = 0;
};

}  // namespace mirrortap
