// One receive worker: its socket, its sessions, its own instance of each sink.
// Nothing here is shared with other workers, so the hot path takes no lock.
#pragma once
#include <array>
#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string_view>
#include <vector>

#include "base/enum_names.hpp"
#include "support/counter.hpp"
#include "collector/session_table.hpp"
#include "collector/sink_retirer.hpp"
#include "collector/source.hpp"
#include "decap/geneve.hpp"
#include "decap/vxlan.hpp"
#include "core/sink.hpp"

namespace mirrortap {

// Why a datagram never reached a session. Each becomes a `reason` label of
// mirrortap_decap_errors_total.
enum class Refusal : uint8_t {
    too_short,
    no_vni_flag,
    inner_too_short,
    datagram_truncated,  // larger than the receive buffer (kDatagramBytes)
    session_limit,       // max_sessions reached; new VNIs are not tracked
    source_not_allowed,  // outer source outside allowed_sources
    vni_not_allowed,     // VNI outside allowed_vnis
    // GENEVE (--listen-geneve): one per GeneveError but `vxlan`, named as
    // decap's kGeneveErrorNames names it (refusal_for maps them).
    geneve_too_short,
    geneve_bad_version,
    geneve_oam,
    geneve_options_too_long,
    geneve_bad_option,
    geneve_critical_option,
    geneve_inner_not_ip,
    geneve_inner_truncated,
    geneve_inner_fragment,
    geneve_inner_not_udp_4789,
};
inline constexpr auto kRefusalNames = enum_names<Refusal>({
    {Refusal::too_short, "too_short"},
    {Refusal::no_vni_flag, "no_vni_flag"},
    {Refusal::inner_too_short, "inner_too_short"},
    {Refusal::datagram_truncated, "datagram_truncated"},
    {Refusal::session_limit, "session_limit"},
    {Refusal::source_not_allowed, "source_not_allowed"},
    {Refusal::vni_not_allowed, "vni_not_allowed"},
    {Refusal::geneve_too_short, "geneve_too_short"},
    {Refusal::geneve_bad_version, "geneve_bad_version"},
    {Refusal::geneve_oam, "geneve_oam"},
    {Refusal::geneve_options_too_long, "geneve_options_too_long"},
    {Refusal::geneve_bad_option, "geneve_bad_option"},
    {Refusal::geneve_critical_option, "geneve_critical_option"},
    {Refusal::geneve_inner_not_ip, "geneve_inner_not_ip"},
    {Refusal::geneve_inner_truncated, "geneve_inner_truncated"},
    {Refusal::geneve_inner_fragment, "geneve_inner_fragment"},
    {Refusal::geneve_inner_not_udp_4789, "geneve_inner_not_udp_4789"},
});
// The refusal a decap error is counted as: the one of the same name, since
// decap's names are the metric's labels. Derived from the two tables when it
// compiles (a decap error with no refusal of its name does not build), so no
// third list is kept in step; GENEVE's `vxlan` is never a label (its inner
// DecapError is) and stays unmapped.
template <class Error, size_t N>
constexpr std::array<Refusal, N> refusals_named_as(const EnumNames<Error, N>& errors) {
    std::array<Refusal, N> out{};
    for (const auto& row : errors)
        if (row.name != "vxlan") out[size_t(row.value)] = *kRefusalNames.parse(row.name);
    return out;
}
inline constexpr auto kGeneveRefusals = refusals_named_as(kGeneveErrorNames);
inline constexpr auto kDecapRefusals = refusals_named_as(kDecapErrorNames);
Refusal refusal_for(DecapError e);
// A GENEVE refusal, or the VXLAN one of the packet inside.
Refusal refusal_for(const GeneveResult& r);

// Batch processing time buckets, in seconds (Prometheus histogram `le`):
// 1-2-5 steps from 1 us to 1 s, fine enough to read a p99.9 off them.
inline constexpr std::array<double, 19> kBatchSecondsBuckets = {
    1e-6, 2e-6, 5e-6, 1e-5, 2e-5, 5e-5, 1e-4, 2e-4, 5e-4, 1e-3, 2e-3, 5e-3, 1e-2, 2e-2, 5e-2, 0.1, 0.2, 0.5, 1};

struct WorkerCounters {
    RelaxedCounter received_packets;
    RelaxedCounter received_bytes;
    std::array<RelaxedCounter, kRefusalNames.size()> refused;
    std::array<RelaxedCounter, kBatchSecondsBuckets.size() + 1> batch_buckets;  // last is +Inf
    RelaxedCounter batch_count;
    RelaxedCounter batch_ns_sum;
    RelaxedCounter heartbeat_ns;  // monotonic time of the last loop pass: liveness
};

// A session the worker ended, waiting for its sinks to let go of it.
struct EndingSession {
    Session* session;
    std::array<uint64_t, kMaxSinks> tickets{};  // by position in the worker's sinks
};

class Worker {
public:
    // `retirer` closes the sinks a reload replaces; it outlives the worker's run().
    Worker(std::shared_ptr<const Config> config, SessionBudget& budget, std::unique_ptr<Source> source,
           std::vector<std::unique_ptr<Sink>> sinks, SinkRetirer& retirer);

    // Runs until `stop` is set, then closes every sink.
    void run(const std::atomic<bool>& stop);
    void request_rotate() { rotate_requested_.store(true, std::memory_order_relaxed); }
    // Rotations the worker has handed to its sinks: one more than before a
    // request_rotate() once the sinks have been told (their files finish on
    // the sinks' own threads).
    uint64_t rotations_done() const { return rotations_done_.load(std::memory_order_acquire); }
    // Hands over config generation `generation` and the sinks built from it.
    // The worker switches between two batches and hands the sinks it ran
    // until then, with their config, to the retirer, which closes them.
    void request_reload(std::shared_ptr<const Config> config, uint64_t generation,
                        std::vector<std::unique_ptr<Sink>> sinks);
    // The config generation the worker runs now (0 from the start; changes between two batches).
    uint64_t applied_generation() const { return applied_generation_.load(std::memory_order_acquire); }

    const WorkerCounters& counters() const { return counters_; }
    const SessionTable& sessions() const { return sessions_; }
    // For other threads (exporter, health): the sinks, held still while `f` runs.
    template <typename F>
    void each_sink(F&& f) const {
        std::lock_guard lock(sinks_mutex_);
        for (const auto& s : sinks_) f(*s);
    }
    SourceStats source_stats() const { return source_->stats(); }
    Result<> source_health() const { return source_->health(); }
    bool finished() const { return finished_.load(std::memory_order_acquire); }

private:
    size_t route_batch(std::span<const Datagram> in, std::span<Packet> out);
    // The VXLAN packet a datagram carries (directly, or inside GENEVE) and the
    // source its session is keyed by; false once the refusal is counted.
    bool unwrap(const Datagram& d, Decapped& vxlan, SourceAddress& mirror_source);
    // Hands a batch to each sink, keeping only the sessions that feed it.
    void deliver(std::span<const Packet> batch);
    void refuse(Refusal r) { counters_.refused[size_t(r)].add(); }
    void record_batch_time(uint64_t ns);
    void apply_pending_reload();
    // At tick time: ends sessions idle for session_idle_seconds, and releases
    // those every sink has let go of. Bounded work per call.
    void expire_sessions(uint64_t now_ns);
    // Tells every sink that these sessions ended; they wait in ending_ until released.
    void end_sessions(std::span<Session* const> sessions);
    bool all_released(const EndingSession& e);

    std::shared_ptr<const Config> config_;  // the worker's alone; sessions_ and allow_ point into it
    const Allowlist* allow_;
    SessionTable sessions_;
    std::unique_ptr<Source> source_;
    std::vector<std::unique_ptr<Sink>> sinks_;
    std::array<Packet, kReceiveBatch> selected_;  // a batch cut down to one sink's sessions
    WorkerCounters counters_;
    std::atomic<bool> rotate_requested_{false};
    std::atomic<uint64_t> rotations_done_{0};
    // Only this worker writes sinks_; it locks only to swap them, so that other
    // threads reading under the lock never see a sink being destroyed.
    mutable std::mutex sinks_mutex_;
    std::atomic<bool> reload_requested_{false};
    std::mutex reload_mutex_;
    std::shared_ptr<const Config> pending_config_;
    uint64_t pending_generation_ = 0;
    std::vector<std::unique_ptr<Sink>> pending_sinks_;
    std::atomic<uint64_t> applied_generation_{0};
    SinkRetirer& retirer_;
    std::atomic<bool> finished_{false};
    // Sessions ended and not yet released, with each sink's ticket (by position in sinks_).
    std::vector<EndingSession> ending_;
    std::vector<Session*> scratch_;  // sessions ended or released by one call, reused
    // A reload retired sinks that may still count into sessions: release
    // nothing until the retirer has closed them.
    bool ending_wait_retirer_ = false;
    bool end_refused_ = false;  // a reload changed the allowlist: end the sessions it refuses
};

}  // namespace mirrortap
