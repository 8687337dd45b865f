// Every kind of sink the collector can run, in one table (sink_kinds(),
// defined in sink_registry.cpp): its name, whether a config turns it on, what
// the sinks of all workers share, and how one worker's sink is built. The
// collector builds and replaces sinks only through this table.
//
// Adding a sink:
//  1. sinks/<kind>_sink.{hpp,cpp}: a class implementing Sink (core/sink.hpp)
//     that counts every packet it is handed in Session::sinks[slot()].
//  2. One entry at the end of the table in sink_registry.cpp: the name,
//     `enabled`, `prepare` (checks and shared outputs; nullptr if none),
//     `make`, and `close_before_successor` if a replaced sink must be closed
//     before its successor writes. Its position is its kind: its counter
//     slots and its bit in per-session sink masks follow from it.
//  3. Its name at the same position in kSinkNames (config/config.hpp), which
//     per-session `sinks:` lists are parsed with (a unit test fails until the
//     two agree), and its keys in the config's settings table (config/), which
//     give it its YAML key, its flag and their checks.
#pragma once
#include <array>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.hpp"
#include "config/config.hpp"
#include "core/finished_capture.hpp"
#include "core/sink.hpp"

namespace mirrortap {

inline constexpr size_t kSinkKindCount = kSinkNames.size();

// Each kind counts in two slots of Session::sinks, by reload generation in
// turn: while the thread that retires the sinks a reload replaced closes them
// (they go on counting what they still hold), their successors on the worker
// count in the other slot. Every counter keeps a single writer (support/counter.hpp).
inline constexpr uint32_t kCounterBanks = 2;
static_assert(kSinkKindCount * kCounterBanks <= kMaxSinks);

// The counter slot of the sinks of `kind` built for config generation `generation`.
constexpr uint32_t counter_slot(size_t kind, uint64_t generation) {
    return uint32_t(kind + kSinkKindCount * (generation % kCounterBanks));
}
// The kind of sink that counts in `slot`: its position in the table and in
// kSinkNames, and its bit in Session::sink_mask.
constexpr size_t kind_of_slot(uint32_t slot) { return slot % kSinkKindCount; }
// The kind called `name`; kSinkKindCount when there is none.
constexpr size_t sink_kind(std::string_view name) {
    for (size_t k = 0; k < kSinkKindCount; ++k)
        if (kSinkNames[k] == name) return k;
    return kSinkKindCount;
}

// By kind: what its prepare step opened for the sinks of every worker (SharedOutput, core/sink.hpp).
using SharedOutputs = std::array<std::shared_ptr<SharedOutput>, kSinkKindCount>;

class PcapWriter;

// What the sinks of every generation share, owned by whoever runs them (the
// collector) for as long as any sink lives: no process-wide state.
struct SinkServices {
    // The pcap writer thread: every pcap sink's files, in the order they were handed over.
    std::shared_ptr<PcapWriter> pcap_writer;
    // Told of every finished capture (the uploader); nullptr for nobody.
    std::shared_ptr<FinishedCaptureListener> finished_captures;
};

// What a factory builds one worker's sink from.
struct SinkContext {
    const Config& config;
    const SinkServices& services;
    std::shared_ptr<SharedOutput> shared;  // what the kind's prepare step left; empty if nothing
    uint32_t slot;         // where the sink counts (counter_slot)
    uint32_t worker;       // the receive worker it serves, 0-based
};

struct SinkKind {
    std::string_view name;
    bool (*enabled)(const Config& config);
    // Checks that sinks of this kind can start with `config` and opens what
    // they share (empty if nothing), reusing `running` where the config still
    // names it. Leaves what `running` holds as it is: when any kind fails,
    // what the others opened is dropped and the running sinks go on. Fails
    // with a one-line reason.
    Result<std::shared_ptr<SharedOutput>> (*prepare)(const Config& config,
                                                     const std::shared_ptr<SharedOutput>& running);
    // One worker's sink, or why not. Builds only; nothing of the running sinks changes.
    Result<std::unique_ptr<Sink>> (*make)(const SinkContext& context);
    // A sink a reload replaced is closed on another thread while its successor
    // already writes, unless this is true: then the worker closes it itself,
    // between two batches, before the successor gets a packet (for sinks whose
    // close would disturb what the successor does, e.g. the same files).
    bool close_before_successor = false;
};

const std::array<SinkKind, kSinkKindCount>& sink_kinds();

// What the prepare step of every kind `config` turns on opened; `running`
// (the outputs of the sinks now running, empty at start) stays untouched.
// Fails with a one-line reason.
Result<SharedOutputs> prepare_sinks(const Config& config, const SharedOutputs& running);

// The sinks of receive worker `worker` for `config`, in kind order, counting
// in the slots of `generation`. Fails with a one-line reason.
Result<std::vector<std::unique_ptr<Sink>>> make_sinks(const Config& config, const SharedOutputs& shared,
                                                      const SinkServices& services, uint64_t generation,
                                                      uint32_t worker);

}  // namespace mirrortap
