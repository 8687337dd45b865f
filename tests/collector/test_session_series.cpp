// Which sessions /metrics shows on their own (metrics.max_session_series), and
// what the sum of the others shows.
#include <doctest/doctest.h>

#include <vector>

#include "collector/session_series.hpp"

using namespace mirrortap;

namespace {

std::vector<SeriesCandidate> sessions_of(const std::vector<uint64_t>& packets) {
    std::vector<SeriesCandidate> out;
    for (const uint64_t p : packets) out.push_back({p, false, SeriesPlace::undecided});
    return out;
}

std::vector<SeriesPlace> places(const std::vector<SeriesCandidate>& s) {
    std::vector<SeriesPlace> out;
    for (const auto& c : s) out.push_back(c.place);
    return out;
}

constexpr SeriesPlace own = SeriesPlace::own, other = SeriesPlace::other;

}  // namespace

TEST_CASE("session series: without a cap every session has its own") {
    auto s = sessions_of({5, 1, 9});
    CHECK(place_sessions(s, 0) == 0);
    CHECK(places(s) == std::vector{own, own, own});
}

TEST_CASE("session series: named sessions and then the loudest take the places, the rest are other") {
    auto s = sessions_of({1, 10, 3, 9, 2, 8, 7});
    s[0].named = true;  // quiet, but named in the config
    CHECK(place_sessions(s, 3) == 4);
    CHECK(places(s) == std::vector{own, own, other, own, other, other, other});
}

TEST_CASE("session series: a place is kept for the session's life, so other never gives back counts") {
    auto s = sessions_of({1, 2});
    CHECK(place_sessions(s, 1) == 1);
    CHECK(places(s) == std::vector{other, own});
    // The folded one grows loud and a loud newcomer arrives: neither takes the place.
    s[0].packets = 1000;
    s.push_back({500, false, SeriesPlace::undecided});
    CHECK(place_sessions(s, 1) == 2);
    CHECK(places(s) == std::vector{other, own, other});
    // The place is free once its session ended (it leaves the list): the next newcomer takes it.
    s.erase(s.begin() + 1);
    s.push_back({1, false, SeriesPlace::undecided});
    CHECK(place_sessions(s, 1) == 2);
    CHECK(places(s) == std::vector{other, other, own});
}

TEST_CASE("session series: a lowered cap moves the quietest unnamed to other, the named stay past it") {
    auto s = sessions_of({50, 10, 40, 30});
    s[1].named = true;
    CHECK(place_sessions(s, 0) == 0);
    CHECK(place_sessions(s, 2) == 2);
    CHECK(places(s) == std::vector{own, own, other, other});
    CHECK(place_sessions(s, 1) == 3);  // the named one alone is over the cap already
    CHECK(places(s) == std::vector{other, own, other, other});
}

TEST_CASE("session series: a sum has sink series only for the kinds every part feeds") {
    Session a, b;
    a.packets.set(7);
    a.sinks[counter_slot(0, 0)].written.set(5);
    a.sinks[counter_slot(0, 1)].written.set(1);
    a.sinks[counter_slot(0, 0)].buffered.set(1);
    b.packets.set(3);
    b.sink_mask.store(1u << 0, std::memory_order_relaxed);  // pcap only
    b.sinks[counter_slot(0, 0)].dropped[0].set(3);
    const uint32_t running = (1u << 0) | (1u << 1);  // pcap and tap run
    SessionFigures sum;
    sum.add(figures_of(a, running));
    CHECK(sum.feeds == running);
    sum.add(figures_of(b, running));
    CHECK(sum.feeds == 1u << 0);
    CHECK(sum.packets == 10);
    const SinkFigures& pcap = sum.sinks[0];
    uint64_t dropped = 0;
    for (auto d : pcap.dropped) dropped += d;
    CHECK(pcap.written + pcap.buffered + dropped == sum.packets);
}

TEST_CASE("session series: released sessions show a sink only when every one of them fed it") {
    ExpiredSessions e;
    e.packets.set(10);
    e.fed[0].set(10);  // pcap: all of them
    e.fed[1].set(4);   // tap: some
    e.sinks[counter_slot(0, 1)].written.set(10);
    const SessionFigures f = figures_of(e, (1u << 0) | (1u << 1));
    CHECK(f.feeds == 1u << 0);
    CHECK(f.sinks[0].written == 10);
}
