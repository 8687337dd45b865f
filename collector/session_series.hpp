// Which sessions have series of their own on /metrics, and what each series
// shows. A fleet whose every ENI mirrors with its own VNI sends thousands of
// sessions; a dozen series per session would make pages of megabytes, which
// Prometheus's sample_limit refuses whole. So metrics.max_session_series caps
// them: sessions named in the config always keep their own series (the
// operator chose them, their number is the config's), the others take the
// places left, the loudest first, and the rest are summed into one series
// session="other" (vni=""). A place, once given, is kept for the session's
// life, and a session summed into other stays there after it ends
// (SessionTable::expired_in_other()): the counters of other never go down,
// which is what rate() needs. Totals reconcile exactly over all series.
#pragma once
#include <array>
#include <cstdint>
#include <span>
#include <string_view>

#include "collector/session_table.hpp"
#include "sinks/sink_registry.hpp"

namespace mirrortap {

// The `session` label of the sum; its `vni` label is empty.
inline constexpr std::string_view kOtherSessions = "other";

// One sink's figures in a series, both counter banks added.
struct SinkFigures {
    uint64_t written = 0;
    uint64_t buffered = 0;
    std::array<uint64_t, kSinkDropReasonNames.size()> dropped{};
    void add(const SinkFigures& more);
};

// What one session series shows.
struct SessionFigures {
    uint64_t packets = 0;
    uint64_t bytes = 0;
    uint64_t sources = 0;
    uint32_t feeds = ~0u;  // bit k: it has series for the sink of kind k
    std::array<SinkFigures, kSinkKindCount> sinks{};
    // Sums `more` in. Sink series stay only for the kinds both feed, so that
    // packets = written + dropped + buffered holds for every series shown.
    void add(const SessionFigures& more);
};

// A live session's figures, with sink series for the kinds in `running_kinds` it feeds.
SessionFigures figures_of(const Session& s, uint32_t running_kinds);
// Released sessions' figures, with sink series for the kinds in `running_kinds` every one of them fed.
SessionFigures figures_of(const ExpiredSessions& e, uint32_t running_kinds);

// One live session as place_sessions sees it.
struct SeriesCandidate {
    uint64_t packets = 0;
    bool named = false;                          // named in the config's `sessions:`
    SeriesPlace place = SeriesPlace::undecided;  // in: its place so far; out: its place now
};

// Gives each undecided session a place: a named one its own series; the
// others, loudest first, their own while fewer than `max_series` sessions
// have one, else other. When more than `max_series` have their own (a reload
// lowered it), the quietest that are not named move to other. 0: no cap, every
// undecided session gets its own. Returns how many are in other.
size_t place_sessions(std::span<SeriesCandidate> sessions, uint32_t max_series);

}  // namespace mirrortap
