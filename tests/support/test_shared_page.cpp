// The metrics page's maker: one making shared by everyone who asked before it
// started, on its own thread, never older than the request it answers.
#include <doctest/doctest.h>

#include <atomic>
#include <condition_variable>
#include <mutex>
#include <set>
#include <stdexcept>

#include "support/shared_page.hpp"

using namespace mirrortap;
using namespace std::chrono_literals;

namespace {

// Deliveries as they arrive, for the test's thread to wait on.
struct Received {
    std::mutex mutex;
    std::condition_variable changed;
    std::vector<SharedPage::Page> pages;

    SharedPage::Deliver deliver() {
        return [this](SharedPage::Page p) {
            std::lock_guard lock(mutex);
            pages.push_back(std::move(p));
            changed.notify_all();
        };
    }
    // Until `n` pages came (bounded: a hang fails rather than blocks the run).
    bool wait_for(size_t n) {
        std::unique_lock lock(mutex);
        return changed.wait_for(lock, 30s, [&] { return pages.size() >= n; });
    }
};

// A making held until let go, so that requests can be made while it runs.
struct Gate {
    std::mutex mutex;
    std::condition_variable changed;
    bool entered = false, open = false;
    void pass() {
        std::unique_lock lock(mutex);
        entered = true;
        changed.notify_all();
        changed.wait(lock, [&] { return open; });
    }
    bool wait_entered() {
        std::unique_lock lock(mutex);
        return changed.wait_for(lock, 30s, [&] { return entered; });
    }
    void let_go() {
        std::lock_guard lock(mutex);
        open = true;
        changed.notify_all();
    }
};

}  // namespace

TEST_CASE("shared page: requests made while a page is made share the next one") {
    Gate gate;
    std::atomic<int> made{0};
    Received got;
    SharedPage page(
        [&] {
            const int n = ++made;
            if (n == 1) gate.pass();
            return "page " + std::to_string(n);
        },
        0ms, "test-page");
    page.get(got.deliver());
    REQUIRE(gate.wait_entered());
    for (int i = 0; i < 50; ++i) page.get(got.deliver());
    gate.let_go();
    REQUIRE(got.wait_for(51));
    CHECK(*got.pages[0] == "page 1");
    // The fifty asked after the first making had read its figures: one more making, one copy.
    std::set<const std::string*> copies;
    for (size_t i = 1; i < got.pages.size(); ++i) {
        CHECK(*got.pages[i] == "page 2");
        copies.insert(got.pages[i].get());
    }
    CHECK(copies.size() == 1);
    CHECK(page.pages_made() == 2);
}

TEST_CASE("shared page: a request never gets figures read before it arrived") {
    std::atomic<int> figure{0};
    Received got;
    SharedPage page([&] { return std::to_string(figure.load()); }, 1ms, "test-page");
    for (int i = 1; i <= 5; ++i) {
        figure = i;
        page.get(got.deliver());
        REQUIRE(got.wait_for(size_t(i)));
        CHECK(*got.pages.back() == std::to_string(i));
    }
}

TEST_CASE("shared page: within the interval a request waits, and stopping drops it undelivered") {
    Received got;
    std::atomic<int> made{0};
    {
        SharedPage page([&] { return std::to_string(++made); }, std::chrono::hours(1), "test-page");
        page.get(got.deliver());
        REQUIRE(got.wait_for(1));
        page.get(got.deliver());  // an hour early: waits, and is dropped when the page goes
    }
    CHECK(got.pages.size() == 1);
    CHECK(made == 1);
}

TEST_CASE("shared page: a making that throws gives a null page, and the next request tries again") {
    std::atomic<int> made{0};
    Received got;
    SharedPage page(
        [&]() -> std::string {
            if (++made == 1) throw std::runtime_error("no figures");
            return "fine";
        },
        0ms, "test-page");
    page.get(got.deliver());
    REQUIRE(got.wait_for(1));
    CHECK(got.pages[0] == nullptr);
    page.get(got.deliver());
    REQUIRE(got.wait_for(2));
    REQUIRE(got.pages[1] != nullptr);
    CHECK(*got.pages[1] == "fine");
}
