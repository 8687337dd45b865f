// Where sinks are built from config: one line per kind of sink.
#pragma once
#include <memory>
#include <string>
#include <vector>

#include "config/config.hpp"
#include "core/sink.hpp"

namespace mirrortap {

// Each kind of sink counts in its own slot of Session::sinks (kMaxSinks).
// The order is that of kSinkNames, which per-session `sinks:` lists name.
enum class SinkSlot : uint32_t { pcap = 0, tap = 1, stream = 2, forward = 3 };

class TapDevices;
class StreamWriter;

// Outputs that the sinks of every worker share, opened once (TAPs need
// CAP_NET_ADMIN, held only at start) and kept across reloads while the
// config still names them.
struct SharedOutputs {
    std::shared_ptr<TapDevices> taps;
    std::shared_ptr<StreamWriter> stream;
    std::string stream_text;  // what `stream` was opened for
};

// Checks, before any packet arrives, that every configured sink can start
// (e.g. the pcap directory is writable). Returns a one-line reason, or "".
// Opens or reuses in `shared` the outputs that `config` names.
std::string prepare_sinks(const Config& config, SharedOutputs& shared);

// The sinks of one receive worker, in index order (Session::sinks slots).
// pcap_group_id: group for new pcap files and directories, -1 to leave it.
std::vector<std::unique_ptr<Sink>> make_sinks(const Config& config, int pcap_group_id, SharedOutputs& shared);

}  // namespace mirrortap
