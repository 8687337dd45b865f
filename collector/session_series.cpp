#include "collector/session_series.hpp"

#include <algorithm>
#include <vector>

namespace mirrortap {

void SinkFigures::add(const SinkFigures& more) {
    written += more.written;
    buffered += more.buffered;
    for (size_t r = 0; r < dropped.size(); ++r) dropped[r] += more.dropped[r];
}

void SessionFigures::add(const SessionFigures& more) {
    packets += more.packets;
    bytes += more.bytes;
    sources += more.sources;
    feeds &= more.feeds;
    for (size_t k = 0; k < sinks.size(); ++k) sinks[k].add(more.sinks[k]);
}

namespace {

// A kind counts in one counter slot per reload generation in turn: its figures are their sum.
SinkFigures sink_figures(const std::array<SinkCounters, kMaxSinks>& slots, size_t kind) {
    SinkFigures f;
    for (uint32_t bank = 0; bank < kCounterBanks; ++bank) {
        const SinkCounters& k = slots[counter_slot(kind, bank)];
        f.written += k.written.get();
        f.buffered += k.buffered.get();
        for (size_t r = 0; r < kSinkDropReasonNames.size(); ++r) f.dropped[r] += k.dropped[r].get();
    }
    return f;
}

}  // namespace

SessionFigures figures_of(const Session& s, uint32_t running_kinds) {
    SessionFigures f;
    f.packets = s.packets.get();
    f.bytes = s.bytes.get();
    f.sources = s.source_count.load(std::memory_order_acquire);
    // Only the sinks this session feeds (per-session `sinks:`), so that
    // written + dropped + buffered = session packets holds for each series.
    f.feeds = s.sink_mask.load(std::memory_order_relaxed) & running_kinds;
    for (size_t kind = 0; kind < kSinkKindCount; ++kind)
        if ((f.feeds >> kind) & 1) f.sinks[kind] = sink_figures(s.sinks, kind);
    return f;
}

SessionFigures figures_of(const ExpiredSessions& e, uint32_t running_kinds) {
    SessionFigures f;
    f.packets = e.packets.get();
    f.bytes = e.bytes.get();
    f.sources = 0;  // a gauge of live sessions: the released have none
    f.feeds = 0;
    for (size_t kind = 0; kind < kSinkKindCount; ++kind) {
        if (!((running_kinds >> kind) & 1) || e.fed[kind].get() != f.packets) continue;
        f.feeds |= 1u << kind;
        f.sinks[kind] = sink_figures(e.sinks, kind);
    }
    return f;
}

size_t place_sessions(std::span<SeriesCandidate> sessions, uint32_t max_series) {
    size_t own = 0;
    std::vector<size_t> undecided, demotable;
    for (size_t i = 0; i < sessions.size(); ++i) {
        SeriesCandidate& s = sessions[i];
        if (s.place == SeriesPlace::undecided && s.named) s.place = SeriesPlace::own;
        if (s.place == SeriesPlace::own) {
            ++own;
            if (!s.named) demotable.push_back(i);
        } else if (s.place == SeriesPlace::undecided) {
            undecided.push_back(i);
        }
    }
    const size_t cap = max_series == 0 ? sessions.size() : max_series;
    if (own > cap) {
        std::stable_sort(demotable.begin(), demotable.end(),
                         [&](size_t a, size_t b) { return sessions[a].packets < sessions[b].packets; });
        for (size_t i = 0; i < demotable.size() && own > cap; ++i, --own)
            sessions[demotable[i]].place = SeriesPlace::other;
    }
    std::stable_sort(undecided.begin(), undecided.end(),
                     [&](size_t a, size_t b) { return sessions[a].packets > sessions[b].packets; });
    for (const size_t i : undecided) {
        sessions[i].place = own < cap ? SeriesPlace::own : SeriesPlace::other;
        own += sessions[i].place == SeriesPlace::own;
    }
    return size_t(std::count_if(sessions.begin(), sessions.end(),
                                [](const SeriesCandidate& s) { return s.place == SeriesPlace::other; }));
}

}  // namespace mirrortap
