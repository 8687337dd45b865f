// The manifest chain of one collector (issue 23 item 2; docs/evidence.md §3):
// at each interval and at a drain, one JSON document listing every capture
// stored since the previous one (key, size, SHA-256, session, VNI, first and
// last timestamps, packets) and the packets counted as dropped meanwhile, and
// naming the previous manifest by key and SHA-256, so that a missing or
// altered manifest breaks the chain where anyone can see it.
//
// This file is the documents only (what a manifest and the chain's state on
// disk say, and the parsing of that state back); the uploader decides when a
// manifest is cut and ships it, and the capture directory's side (sinks/,
// wired in collector/) keeps the state file.
#pragma once
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/result.hpp"
#include "support/manifest_format.hpp"

namespace mirrortap {

inline constexpr int kManifestVersion = manifest_format::kVersion;
// The chain's state, in the capture directory (beside the session directories).
inline constexpr const char* kChainStateName = ".mirrortap-chain";

// One stored capture as a manifest lists it (support/, where find reads it too).
using manifest_format::ManifestFile;

// A manifest made (its sequence taken, the state moved past it) and not yet stored.
struct UnsentManifest {
    std::string key;
    std::string body;
};

// What survives a restart, kept in kChainStateName and rewritten (atomically)
// before a capture's local file is removed and whenever a manifest is made.
struct ChainState {
    std::string collector;
    std::string chain;           // UTC start of the process that began it, 20261207T163317.123456789Z
    uint64_t sequence = 0;       // of the last manifest made; 0 before the first
    std::string previous_key;    // that manifest's key and SHA-256 ("" before the first)
    std::string previous_sha256;
    uint64_t interval_start_ns = 0;    // the next manifest's interval begins here
    std::vector<ManifestFile> files;   // stored since the last manifest was made
    std::vector<UnsentManifest> unsent;  // made, not yet stored, oldest first
};

// A new chain for `collector`, begun by a process that started at `start_ns`.
ChainState new_chain(std::string collector, uint64_t start_ns);

std::string chain_state_text(const ChainState& state);
// Refused (why) when the text is not a chain state of this version.
Result<ChainState> parse_chain_state(std::string_view text);

// PREFIX/manifests/collector=ID/chain=CHAIN/SEQUENCE.json, the sequence
// zero-padded to 10 digits so that a listing comes in chain order.
std::string manifest_key(std::string_view prefix, std::string_view collector, std::string_view chain,
                         uint64_t sequence);

// A capture finished on the collector's disk and not yet stored when a
// manifest is cut: named (no SHA-256 yet: it is taken as it is uploaded), so
// that one the store never gets is on record; a later manifest lists it
// under `files` once stored.
struct WaitingCapture {
    std::string session;
    std::string file;
    uint64_t size = 0, packets = 0, first_ns = 0, last_ns = 0;
};
// A manifest names at most this many waiting captures (the oldest), and counts
// all: while the store is down every interval's manifest names the backlog
// again, and the unsent ones wait in the chain's state (about 25 KB each at
// most, so a day of 1-minute manifests stays far below its 256 MiB cap).
inline constexpr size_t kMaxWaitingListed = 100;

// Why and when a manifest is cut, and what this process counted as dropped
// since `dropped_since_ns` (its previous manifest, or its start).
struct ManifestCut {
    uint64_t end_ns = 0;
    std::string_view cause;        // "interval" or "drain"
    uint64_t process_start_ns = 0;
    uint64_t dropped_since_ns = 0;
    std::vector<std::pair<std::string, uint64_t>> dropped;  // "pcap:queue_full" -> packets
    std::vector<WaitingCapture> waiting;  // at most kMaxWaitingListed, oldest first
    uint64_t waiting_count = 0;           // all of them
};

// Makes the next manifest of `state` from its files: appended to
// state.unsent, the state moved on (sequence, previous, interval, files emptied).
void cut_manifest(ChainState& state, std::string_view prefix, const ManifestCut& cut);

// UTC with nanoseconds: 2026-12-01T06:17:18.123456789Z (also the objects' metadata).
std::string utc_ns(uint64_t ns);

}  // namespace mirrortap
