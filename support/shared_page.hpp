// A page that is slow to make and read by many at once (a /metrics page of
// thousands of series): made on a thread of its own, never on the thread that
// answers health checks, and shared. Everyone who asks before a making starts
// gets that one immutable copy, and makings start at most once per
// `min_interval`: a hundred scrapes at once cost one page, and slow readers
// hold a pointer to it, not a copy each. A page is never older than the
// request it answers (its figures are read after the request arrived), so a
// client that changes something and asks again sees the change.
#pragma once
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace mirrortap {

class SharedPage {
public:
    using Page = std::shared_ptr<const std::string>;  // null when making it threw
    using Make = std::function<std::string()>;        // runs on the page's thread
    using Deliver = std::function<void(Page)>;        // runs on the page's thread

    // `thread_name`: as /proc/PID/task/*/comm shows it (at most 15 characters).
    SharedPage(Make make, std::chrono::milliseconds min_interval, const char* thread_name);
    ~SharedPage();  // joins the thread; requests still waiting are dropped, their `deliver` never called
    SharedPage(const SharedPage&) = delete;
    SharedPage& operator=(const SharedPage&) = delete;

    // Calls `deliver` once, on the page's thread, with the next page made:
    // at once when none was started within min_interval, else when the
    // interval has passed. Never waits itself.
    void get(Deliver deliver);
    // Makings so far; with the requests, it says how many shared each.
    uint64_t pages_made() const;

private:
    using Clock = std::chrono::steady_clock;
    void run();

    const Make make_;
    const std::chrono::milliseconds min_interval_;
    mutable std::mutex mutex_;
    std::condition_variable wake_;
    std::vector<Deliver> waiting_;  // for the next making
    uint64_t pages_made_ = 0;
    bool stopping_ = false;
    std::thread thread_;  // last: started once the rest exists
};

}  // namespace mirrortap
