#include "collector/worker.hpp"

#include "sinks/sink_registry.hpp"
#include "support/clock.hpp"

#include <algorithm>
#include <chrono>
#include <ctime>

namespace mirrortap {

namespace {

constexpr int kReceiveTimeoutMs = 100;  // how soon an idle worker notices stop/rotate
constexpr uint64_t kTickIntervalNs = 100'000'000;
constexpr size_t kMaxDrainBatches = 4096;
// A batch that came back less than half full means the socket is nearly empty:
// let it fill for a moment instead of paying a wake-up and a system call for
// every few datagrams (what a TPACKET_V3 block timeout does for tcpdump). At
// 1 Mpps this leaves ~200 datagrams queued, far below any receive buffer.
constexpr uint64_t kCoalesceNs = 200'000;
// Sessions the idle scan looks at per tick (10 a second): a whole table of
// max_sessions 1024 every tenth of a second, a million in under two minutes.
constexpr uint32_t kIdleScanPerTick = 1024;

}  // namespace

Refusal refusal_for(const GeneveResult& r) {
    if (r.error().reason == GeneveError::vxlan) return refusal_for(r.error().vxlan);
    return kGeneveRefusals[size_t(r.error().reason)];
}

Refusal refusal_for(DecapError e) { return kDecapRefusals[size_t(e)]; }

Worker::Worker(std::shared_ptr<const Config> config, SessionBudget& budget, std::unique_ptr<Source> source,
               std::vector<std::unique_ptr<Sink>> sinks, SinkRetirer& retirer)
    : config_(std::move(config)),
      allow_(&config_->allow),
      sessions_(*config_, budget),
      source_(std::move(source)),
      sinks_(std::move(sinks)),
      retirer_(retirer) {
    ending_.reserve(kMaxEndingSessions);
    scratch_.reserve(kMaxEndingSessions);
    // Alive from birth: health must not read a worker that has yet to pass its loop as stalled.
    counters_.heartbeat_ns.set(monotonic_ns());
}

size_t Worker::route_batch(std::span<const Datagram> in, std::span<Packet> out) {
    size_t routed = 0;
    for (const Datagram& d : in) {
        counters_.received_packets.add();
        counters_.received_bytes.add(d.payload.size());
        // Strangers are turned away before their bytes are parsed.
        if (!allow_->source_allowed(d.source)) {
            refuse(Refusal::source_not_allowed);
            continue;
        }
        if (d.truncated) {
            refuse(Refusal::datagram_truncated);
            continue;
        }
        Decapped v;
        SourceAddress source;
        if (!unwrap(d, v, source)) continue;
        Session* s = sessions_.route(v.header.vni, source);
        if (!s) {
            refuse(Refusal::session_limit);
            continue;
        }
        s->packets.add();
        s->bytes.add(v.frame.size());
        out[routed++] = Packet{s, d.timestamp_ns, v.frame, v.inner.original_length, v.inner.flow};
    }
    return routed;
}

bool Worker::unwrap(const Datagram& d, Decapped& vxlan, SourceAddress& mirror_source) {
    if (d.encap == Encapsulation::geneve) {
        // The VNI sits behind the GENEVE options and the inner IP header: the
        // whole packet is parsed before the VNI can be refused.
        const GeneveResult g = decap_geneve(d.payload);
        if (!g.ok()) return refuse(refusal_for(g)), false;
        if (!allow_->vni_allowed(g->vxlan.header.vni)) return refuse(Refusal::vni_not_allowed), false;
        vxlan = g->vxlan;
        mirror_source = g->mirror_source;  // GWLB's node sent the datagram; the mirror source sent what is inside
        return true;
    }
    if (const int64_t vni = peek_vni(d.payload); vni >= 0 && !allow_->vni_allowed(uint32_t(vni)))
        return refuse(Refusal::vni_not_allowed), false;
    const DecapResult r = decap_vxlan(d.payload);
    if (!r.ok()) return refuse(refusal_for(r.error())), false;
    vxlan = *r;
    mirror_source = d.source;
    return true;
}

void Worker::deliver(std::span<const Packet> batch) {
    // Only this worker writes sink_mask: relaxed loads are plain loads.
    const auto mask = [](const Packet& p) { return p.session->sink_mask.load(std::memory_order_relaxed); };
    uint32_t every = ~0u, some = 0;
    for (const Packet& p : batch) {
        every &= mask(p);
        some |= mask(p);
    }
    for (auto& sink : sinks_) {
        const uint32_t bit = 1u << kind_of_slot(sink->slot());
        if (every & bit) {
            sink->write(batch);  // the usual case: every session of the batch feeds this sink
        } else if (some & bit) {
            size_t n = 0;
            for (const Packet& p : batch)
                if (mask(p) & bit) selected_[n++] = p;
            sink->write({selected_.data(), n});
        }
    }
}

void Worker::record_batch_time(uint64_t ns) {
    const double seconds = double(ns) * 1e-9;
    size_t bucket = 0;
    while (bucket < kBatchSecondsBuckets.size() && seconds > kBatchSecondsBuckets[bucket]) ++bucket;
    counters_.batch_buckets[bucket].add();
    counters_.batch_count.add();
    counters_.batch_ns_sum.add(ns);
}

void Worker::request_reload(std::shared_ptr<const Config> config, uint64_t generation,
                            std::vector<std::unique_ptr<Sink>> sinks) {
    std::lock_guard lock(reload_mutex_);
    pending_config_ = std::move(config);
    pending_generation_ = generation;
    pending_sinks_ = std::move(sinks);
    reload_requested_.store(true, std::memory_order_release);
}

void Worker::apply_pending_reload() {
    std::vector<std::unique_ptr<Sink>> sinks;
    std::shared_ptr<const Config> config;
    uint64_t generation;
    {
        std::lock_guard lock(reload_mutex_);
        reload_requested_.store(false, std::memory_order_relaxed);
        config = std::move(pending_config_);
        generation = pending_generation_;
        sinks = std::move(pending_sinks_);
    }
    // Between two batches: every packet received so far is in the old sinks,
    // which finish it (written or counted) on the retirer's thread, or here
    // for the kinds whose successor must not write before they are closed;
    // the socket holds what comes next, for the new sinks.
    for (auto& sink : sinks_)
        if (sink_kinds()[kind_of_slot(sink->slot())].close_before_successor) sink->close();
    allow_ = &config->allow;
    sessions_.apply(*config);
    config_.swap(config);
    {
        std::lock_guard lock(sinks_mutex_);
        sinks_.swap(sinks);
    }
    // Sessions still ending: the new sinks get their tickets too (a pcap
    // sink's expiry then follows the old sink's last blocks). No session is
    // released before the retirer has closed the replaced sinks: until then
    // they may still count into any session (a stream sink closing counts
    // what its reader never took).
    ending_wait_retirer_ = true;
    for (EndingSession& e : ending_)
        for (size_t i = 0; i < sinks_.size(); ++i) e.tickets[i] = sinks_[i]->expire(*e.session);
    // Sessions whose VNI the new allowlist refuses end from the next tick on, freeing their slots.
    end_refused_ = true;
    // Handed over before the generation is published: whoever sees the worker
    // switched and then waits for the retirer to be idle finds them closed.
    retirer_.retire(std::move(sinks), std::move(config));
    applied_generation_.store(generation, std::memory_order_release);
}

void Worker::end_sessions(std::span<Session* const> sessions) {
    for (Session* s : sessions) {
        EndingSession e{s, {}};
        for (size_t i = 0; i < sinks_.size(); ++i) e.tickets[i] = sinks_[i]->expire(*s);
        ending_.push_back(e);
    }
}

bool Worker::all_released(const EndingSession& e) {
    for (size_t i = 0; i < sinks_.size(); ++i)
        if (!sinks_[i]->released(e.tickets[i])) return false;
    return true;
}

void Worker::expire_sessions(uint64_t now_ns) {
    if (!ending_.empty()) {
        if (ending_wait_retirer_ && retirer_.wait_idle(std::chrono::milliseconds(0))) ending_wait_retirer_ = false;
        if (!ending_wait_retirer_) {
            scratch_.clear();
            for (const EndingSession& e : ending_)
                if (all_released(e)) scratch_.push_back(e.session);
            if (!scratch_.empty() && sessions_.release(scratch_))
                std::erase_if(ending_, [this](const EndingSession& e) {
                    return std::find(scratch_.begin(), scratch_.end(), e.session) != scratch_.end();
                });
        }
    }
    if (end_refused_ && ending_.size() < kMaxEndingSessions) {
        scratch_.clear();
        const size_t limit = kMaxEndingSessions - ending_.size();
        sessions_.end_refused(*allow_, limit, scratch_);
        end_refused_ = scratch_.size() == limit;  // maybe more: go on at the next tick
        end_sessions(scratch_);
    }
    const uint64_t idle_ns = uint64_t(config_->session_idle_seconds) * 1'000'000'000ull;
    if (idle_ns == 0 || ending_.size() >= kMaxEndingSessions) return;
    scratch_.clear();
    sessions_.end_idle(now_ns, idle_ns, kIdleScanPerTick, kMaxEndingSessions - ending_.size(), scratch_);
    end_sessions(scratch_);
}

void Worker::run(const std::atomic<bool>& stop) {
    // Batch storage lives for the whole run: nothing is allocated per packet.
    std::array<Datagram, kReceiveBatch> datagrams;
    std::array<Packet, kReceiveBatch> packets;
    uint64_t last_tick = 0;
    while (!stop.load(std::memory_order_relaxed)) {
        const size_t n = source_->next_batch(datagrams, kReceiveTimeoutMs);
        const uint64_t started = monotonic_ns();
        if (n > 0) {
            const size_t routed = route_batch({datagrams.data(), n}, packets);
            if (routed > 0)
                deliver({packets.data(), routed});
        }
        counters_.heartbeat_ns.set(started);
        if (started - last_tick >= kTickIntervalNs) {
            last_tick = started;
            const uint64_t wall = realtime_ns();
            expire_sessions(started);
            for (auto& sink : sinks_) sink->tick(wall);
        }
        if (rotate_requested_.exchange(false, std::memory_order_relaxed)) {
            for (auto& sink : sinks_) sink->rotate();
            rotations_done_.fetch_add(1, std::memory_order_release);
        }
        if (reload_requested_.load(std::memory_order_relaxed)) apply_pending_reload();
        if (n > 0) {
            // Everything between two receive calls counts, housekeeping too:
            // while it runs the socket only fills.
            record_batch_time(monotonic_ns() - started);
            if (n < kReceiveBatch / 2) {
                const timespec pause{0, long(kCoalesceNs)};
                nanosleep(&pause, nullptr);
            }
        }
    }
    // Datagrams the kernel already accepted are ours to account for: take what
    // is queued, without waiting, then close. Bounded, in case senders go on.
    // A ring may hold the last datagrams back for a block timeout: wait that long, no more.
    for (size_t batch = 0; batch < kMaxDrainBatches; ++batch) {
        const size_t n = source_->next_batch(datagrams, source_->drain_timeout_ms());
        if (n == 0) break;
        const size_t routed = route_batch({datagrams.data(), n}, packets);
        if (routed > 0)
            deliver({packets.data(), routed});
    }
    for (auto& sink : sinks_) sink->close();
    // Receiving is over: now wait for sinks that finish on threads of their
    // own, before anyone frees the sessions they count into.
    for (auto& sink : sinks_) sink->drain();
    finished_.store(true, std::memory_order_release);
}

}  // namespace mirrortap
