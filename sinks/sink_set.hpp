// Where sinks are built from config: one line per kind of sink.
#pragma once
#include <memory>
#include <string>
#include <vector>

#include "config/config.hpp"
#include "sinks/sink.hpp"

namespace mirrortap {

// Each kind of sink counts in its own slot of Session::sinks (kMaxSinks).
enum class SinkSlot : uint32_t { pcap = 0, tap = 1, stream = 2, forward = 3 };

// Checks, before any packet arrives, that every configured sink can start
// (e.g. the pcap directory is writable). Returns a one-line reason, or "".
std::string prepare_sinks(const Config& config);

// The sinks of one receive worker, in index order (Session::sinks slots).
// pcap_group_id: group for new pcap files and directories, -1 to leave it.
std::vector<std::unique_ptr<Sink>> make_sinks(const Config& config, int pcap_group_id = -1);

}  // namespace mirrortap
