// The session table: sessions made on first sight, named from the config,
// renamed by a reload in place, bounded by the budget, grown block by block.
#include <doctest/doctest.h>
#include <malloc.h>

#include <thread>

#include "collector/session_table.hpp"

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
