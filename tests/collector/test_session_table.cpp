// The session table: sessions made on first sight, named from the config,
// renamed by a reload in place, bounded by the budget, grown block by block,
// ended when idle and their slots reused.
#include <doctest/doctest.h>
#include <malloc.h>

#include <algorithm>
#include <thread>

#include "collector/session_table.hpp"
#include "support/parse.hpp"

using namespace mirrortap;

namespace {

SourceAddress v4(uint8_t a, uint8_t b, uint8_t c, uint8_t d) {
    return {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xFF, 0xFF, a, b, c, d};
}

Config with_sessions(std::vector<NamedSession> named, uint32_t max_sessions = 1024) {
    Config c;
    c.sessions = std::move(named);
    c.max_sessions = max_sessions;
    return c;
}

size_t heap_in_use() {
    const struct mallinfo2 m = mallinfo2();
    return m.uordblks + m.hblkhd;  // small blocks + mmap'd ones
}

}  // namespace

TEST_CASE("session table: a session is made on first sight, found again, and named from the config") {
    const Config config = with_sessions({{501, "web"}});
    SessionBudget budget(config.max_sessions);
    SessionTable table(config, budget);
    CHECK(table.size() == 0);
    Session* web = table.route(501, v4(192, 0, 2, 1));
    Session* other = table.route(777, v4(192, 0, 2, 1));
    REQUIRE(web);
    REQUIRE(other);
    CHECK(table.route(501, v4(192, 0, 2, 9)) == web);  // keyed by VNI alone: any source
    CHECK(table.size() == 2);
    CHECK(web->id == 0);
    CHECK(other->id == 1);
    CHECK(web->name() == "web");
    CHECK(other->name() == "vni-777");
    CHECK(&table.at(1) == other);
    CHECK(web->source_count.load() == 2);
    CHECK(budget.created.load() == 2);
}

TEST_CASE("session table: keyed by VNI and source, each source is its own session") {
    Config config = with_sessions({{501, "web"}});
    config.session_key = SessionKeyMode::vni_and_source;
    SessionBudget budget(config.max_sessions);
    SessionTable table(config, budget);
    Session* a = table.route(501, v4(192, 0, 2, 1));
    SourceAddress six{};
    six[0] = 0x20;
    six[1] = 0x01;
    six[15] = 1;
    Session* b = table.route(501, six);
    REQUIRE(a);
    REQUIRE(b);
    CHECK(a != b);
    CHECK(a->name() == "web-192.0.2.1");
    CHECK(b->name() == "web-2001__1");  // a directory name: no colons
}

TEST_CASE("session table: a reload renames sessions in place and changes the sinks they feed") {
    const Config first = with_sessions({{501, "web"}});
    const Config second = with_sessions({{501, "frontend", std::nullopt, 0b0010}, {502, "db"}});
    SessionBudget budget(first.max_sessions);
    SessionTable table(first, budget);
    Session* web = table.route(501, v4(10, 0, 0, 1));
    Session* unnamed = table.route(502, v4(10, 0, 0, 1));
    REQUIRE(web);
    REQUIRE(unnamed);
    CHECK(web->sink_mask.load() == kAllSinks);
    const std::string held = web->name();  // a reader's copy
    table.apply(second);
    CHECK(table.route(501, v4(10, 0, 0, 1)) == web);
    CHECK(web->name() == "frontend");
    CHECK(held == "web");
    CHECK(web->sink_mask.load() == 0b0010);
    CHECK(unnamed->name() == "db");
    // Sessions made after the reload take their names from it.
    Session* later = table.route(503, v4(10, 0, 0, 1));
    REQUIRE(later);
    CHECK(later->name() == "vni-503");
    CHECK(table.size() == 3);
}

TEST_CASE("session table: names swapped by reloads stay whole for a reader on another thread") {
    const Config a = with_sessions({{501, "alpha"}});
    const Config b = with_sessions({{501, "a-much-longer-name-than-alpha-that-does-not-fit-inline"}});
    SessionBudget budget(a.max_sessions);
    SessionTable table(a, budget);
    Session* s = table.route(501, v4(10, 0, 0, 1));
    REQUIRE(s);
    std::atomic<bool> done{false};
    size_t torn = 0, reads = 0;
    std::thread reader([&] {
        while (!done.load() || reads < 1000) {  // bounded: the writer below ends
            const std::string n = s->name();
            torn += n != a.sessions[0].name && n != b.sessions[0].name;
            ++reads;
        }
    });
    for (int i = 0; i < 20000; ++i) table.apply(i % 2 ? a : b);
    done.store(true);
    reader.join();
    CHECK(torn == 0);
    CHECK(reads >= 1000);
}

TEST_CASE("session table: the budget bounds every table together, and past it route says no") {
    const Config config = with_sessions({}, 3);
    SessionBudget budget(config.max_sessions);
    SessionTable one(config, budget), two(config, budget);
    CHECK(one.route(1, v4(10, 0, 0, 1)));
    CHECK(two.route(2, v4(10, 0, 0, 1)));
    CHECK(one.route(3, v4(10, 0, 0, 1)));
    CHECK(two.route(4, v4(10, 0, 0, 1)) == nullptr);  // the caller counts session_limit
    CHECK(one.route(5, v4(10, 0, 0, 1)) == nullptr);
    CHECK(one.route(1, v4(10, 0, 0, 1)));  // known sessions still route
    CHECK(one.size() == 2);
    CHECK(two.size() == 1);
    CHECK(budget.created.load() == 3);
}

TEST_CASE("session table: sessions beyond one block keep their addresses as the table grows") {
    const uint32_t count = 3 * SessionTable::kBlockSessions + 5;
    const Config config = with_sessions({}, count);
    SessionBudget budget(config.max_sessions);
    SessionTable table(config, budget);
    std::vector<Session*> seen;
    for (uint32_t vni = 0; vni < count; ++vni) {
        seen.push_back(table.route(vni, v4(10, 0, 0, 1)));
        REQUIRE(seen.back());
    }
    CHECK(table.route(count, v4(10, 0, 0, 1)) == nullptr);  // max_sessions holds per table too
    REQUIRE(table.size() == count);
    size_t moved = 0, misnumbered = 0;
    for (uint32_t i = 0; i < count; ++i) {
        moved += &table.at(i) != seen[i] || table.route(i, v4(10, 0, 0, 1)) != seen[i];
        misnumbered += seen[i]->id != i || seen[i]->vni != i;
    }
    CHECK(moved == 0);
    CHECK(misnumbered == 0);
}

TEST_CASE("session table: memory follows the sessions that exist, not max_sessions") {
    const Config config = with_sessions({}, 1u << 20);
    SessionBudget budget(config.max_sessions);
    const size_t before = heap_in_use();
    SessionTable table(config, budget);
    const size_t empty = heap_in_use() - before;
    CHECK(empty < (1u << 20));  // a million sessions up front were ~780 MiB
    for (uint32_t vni = 0; vni < 100; ++vni) REQUIRE(table.route(vni, v4(10, 0, 0, 1)));
    const size_t hundred = heap_in_use() - before;
    CHECK(hundred - empty < 100 * (2 * sizeof(Session) + 256));  // two blocks and the index
}

namespace {
constexpr uint64_t kSecondNs = 1'000'000'000;

// Ends every idle session the table finds at `now`, looking at all of them.
std::vector<Session*> end_idle(SessionTable& table, uint64_t now, uint64_t idle = kSecondNs) {
    std::vector<Session*> ended;
    table.end_idle(now, idle, 1u << 20, 1u << 20, ended);
    return ended;
}
}  // namespace

TEST_CASE("session table: an idle session ends, its slot is freed and reused with its id, its counts kept in expired()") {
    const Config config = with_sessions({{501, "web"}}, 2);
    SessionBudget budget(config.max_sessions);
    SessionTable table(config, budget);
    Session* web = table.route(501, v4(10, 0, 0, 1));
    Session* busy = table.route(502, v4(10, 0, 0, 1));
    REQUIRE(web);
    REQUIRE(busy);
    web->packets.add(7);
    web->bytes.add(700);
    web->sinks[0].written.add(5);
    web->sinks[0].drop(SinkDropReason::queue_full, 2);
    CHECK(table.route(503, v4(10, 0, 0, 1)) == nullptr);  // the budget is spent

    CHECK(end_idle(table, 1 * kSecondNs).empty());  // first look: idle from now on
    busy->packets.add();                             // the other one keeps receiving
    const auto ended = end_idle(table, 2 * kSecondNs);
    REQUIRE(ended.size() == 1);
    CHECK(ended[0] == web);
    CHECK(table.in_use(web->id));  // ending: still readable until its sinks let go
    CHECK(budget.created.load() == 2);

    // Its VNI no longer finds it: the next packet would make a new session.
    REQUIRE(table.release(ended));
    CHECK_FALSE(table.in_use(web->id));
    CHECK(budget.created.load() == 1);
    CHECK(table.expired().sessions.get() == 1);
    CHECK(table.expired().packets.get() == 7);
    CHECK(table.expired().bytes.get() == 700);
    CHECK(table.expired().sinks[0].written.get() == 5);
    CHECK(table.expired().sinks[0].dropped[size_t(SinkDropReason::queue_full)].get() == 2);
    CHECK(table.expired().fed[0].get() == 7);

    // The freed slot serves the next new session: same memory, same id, counters from zero.
    Session* next = table.route(503, v4(10, 0, 0, 1));
    REQUIRE(next == web);
    CHECK(next->id == 0);
    CHECK(next->vni == 503);
    CHECK(next->name() == "vni-503");
    CHECK(next->packets.get() == 0);
    CHECK(next->sinks[0].written.get() == 0);
    CHECK(next->sinks[0].dropped[size_t(SinkDropReason::queue_full)].get() == 0);
    CHECK(table.in_use(next->id));
    CHECK(table.size() == 2);  // no slot beyond the two
    // And 501, back again, gets a slot only when one is free.
    CHECK(table.route(501, v4(10, 0, 0, 1)) == nullptr);
    CHECK(table.route(502, v4(10, 0, 0, 1)) == busy);
}

TEST_CASE("session table: a VNI back after its session ended gets a new session, never the ending one") {
    const Config config = with_sessions({}, 4);
    SessionBudget budget(config.max_sessions);
    SessionTable table(config, budget);
    Session* first = table.route(9, v4(10, 0, 0, 1));
    REQUIRE(first);
    first->packets.add();
    end_idle(table, 1 * kSecondNs);
    REQUIRE(end_idle(table, 3 * kSecondNs).size() == 1);
    Session* again = table.route(9, v4(10, 0, 0, 1));  // the one-entry cache must not hand back `first`
    REQUIRE(again);
    CHECK(again != first);
    CHECK(again->vni == 9);
    CHECK(budget.created.load() == 2);  // the ending one still counts until released
}

TEST_CASE("session table: thousands of sessions ending among live ones leave every live one found, by VNI and source") {
    Config config = with_sessions({}, 16384);
    config.session_key = SessionKeyMode::vni_and_source;
    SessionBudget budget(config.max_sessions);
    SessionTable table(config, budget);
    constexpr uint32_t kSessions = 6000;
    // Two sources a VNI, so that keys differ in the address as well as the VNI.
    const auto source_of = [](uint32_t i) { return v4(10, 0, uint8_t(i % 2), 1); };
    std::vector<Session*> made(kSessions);
    for (uint32_t i = 0; i < kSessions; ++i) REQUIRE((made[i] = table.route(i / 2, source_of(i))));
    std::vector<Session*> ended;
    table.end_idle(kSecondNs, kSecondNs, kSessions, kSessions, ended);  // first look
    for (uint32_t i = 0; i < kSessions; ++i)
        if (i % 3 != 0) made[i]->packets.add();  // every third idles
    table.end_idle(3 * kSecondNs, kSecondNs, kSessions, kSessions, ended);
    REQUIRE(ended.size() == kSessions / 3);
    std::vector<Session*> now_of(kSessions);
    for (uint32_t i = 0; i < kSessions; ++i) {
        INFO("session " << i);
        Session* now = now_of[i] = table.route(i / 2, source_of(i));
        REQUIRE(now);
        if (i % 3 != 0) CHECK(now == made[i]);  // still found after the ends around it
        else CHECK(now != made[i]);             // ended: a new session, never the ending one
        CHECK(now->vni == i / 2);
    }
    // The new ones are found again as well, in an order the one-entry cache does not help.
    for (uint32_t i = kSessions; i-- > 0;) CHECK(table.route(i / 2, source_of(i)) == now_of[i]);
    CHECK(budget.created.load() == kSessions + kSessions / 3);
}

TEST_CASE("session table: the idle scan is bounded per call and goes round the table") {
    const Config config = with_sessions({}, 100);
    SessionBudget budget(config.max_sessions);
    SessionTable table(config, budget);
    for (uint32_t vni = 0; vni < 100; ++vni) REQUIRE(table.route(vni, v4(10, 0, 0, 1)));
    std::vector<Session*> ended;
    for (int pass = 0; pass < 10; ++pass) table.end_idle(kSecondNs, kSecondNs, 10, 100, ended);  // first looks
    CHECK(ended.empty());
    table.end_idle(3 * kSecondNs, kSecondNs, 10, 100, ended);
    CHECK(ended.size() == 10);  // looked at 10
    table.end_idle(3 * kSecondNs, kSecondNs, 100, 5, ended);
    CHECK(ended.size() == 15);  // at most `limit` more
    table.end_idle(3 * kSecondNs, kSecondNs, 100, 100, ended);
    CHECK(ended.size() == 100);  // round the table: every one, once
    std::sort(ended.begin(), ended.end());
    CHECK(std::unique(ended.begin(), ended.end()) == ended.end());
}

TEST_CASE("session table: a reload's allowlist ends the sessions it refuses") {
    Config first = with_sessions({}, 8);
    SessionBudget budget(first.max_sessions);
    SessionTable table(first, budget);
    Session* kept = table.route(501, v4(10, 0, 0, 1));
    Session* refused = table.route(777, v4(10, 0, 0, 1));
    REQUIRE(kept);
    REQUIRE(refused);
    Config second = first;
    second.allow.vnis.push_back(*parse_vni_range("501"));
    table.apply(second);
    std::vector<Session*> ended;
    table.end_refused(second.allow, 8, ended);
    REQUIRE(ended.size() == 1);
    CHECK(ended[0] == refused);
    REQUIRE(table.release(ended));
    CHECK(table.route(501, v4(10, 0, 0, 1)) == kept);
}

TEST_CASE("session table: a reader holding the table sees every packet once, in a live session or in expired()") {
    const Config config = with_sessions({}, 4);
    SessionBudget budget(config.max_sessions);
    SessionTable table(config, budget);
    std::atomic<bool> done{false};
    std::atomic<uint64_t> sent{0};
    size_t wrong = 0, reads = 0;
    std::thread reader([&] {
        while (!done.load() || reads < 100) {  // bounded: the writer below ends
            // What the worker had counted before this read began is a floor.
            const uint64_t floor = sent.load(std::memory_order_acquire);
            uint64_t seen = 0;
            {
                const auto hold = table.hold();
                for (uint32_t i = 0; i < table.size(); ++i)
                    if (table.in_use(i)) seen += table.at(i).packets.get();
                seen += table.expired().packets.get();
            }
            wrong += seen < floor;
            ++reads;
        }
    });
    uint64_t now = kSecondNs;
    for (uint32_t round = 0; round < 2000; ++round) {
        Session* s = table.route(round % 16, v4(10, 0, 0, 1));
        if (s) {
            s->packets.add();
            sent.store(sent.load() + 1, std::memory_order_release);
        }
        now += kSecondNs;
        std::vector<Session*> ended;
        table.end_idle(now, kSecondNs, 4, 4, ended);
        while (!ended.empty() && !table.release(ended)) std::this_thread::yield();  // a reader may hold it
    }
    done.store(true);
    reader.join();
    CHECK(wrong == 0);
    CHECK(reads >= 100);
}
