#include "support/shared_page.hpp"

#include <pthread.h>

namespace mirrortap {

SharedPage::SharedPage(Make make, std::chrono::milliseconds min_interval, const char* thread_name)
    : make_(std::move(make)), min_interval_(min_interval), thread_([this] { run(); }) {
    pthread_setname_np(thread_.native_handle(), thread_name);
}

SharedPage::~SharedPage() {
    {
        std::lock_guard lock(mutex_);
        stopping_ = true;
    }
    wake_.notify_one();
    thread_.join();
}

void SharedPage::get(Deliver deliver) {
    {
        std::lock_guard lock(mutex_);
        waiting_.push_back(std::move(deliver));
    }
    wake_.notify_one();
}

uint64_t SharedPage::pages_made() const {
    std::lock_guard lock(mutex_);
    return pages_made_;
}

void SharedPage::run() {
    std::unique_lock lock(mutex_);
    // The first request is answered at once.
    Clock::time_point next_start = Clock::now() - min_interval_;
    for (;;) {
        wake_.wait(lock, [this] { return stopping_ || !waiting_.empty(); });
        // Whoever asks meanwhile joins this making.
        wake_.wait_until(lock, next_start, [this] { return stopping_; });
        if (stopping_) return;
        std::vector<Deliver> served;
        served.swap(waiting_);
        next_start = Clock::now() + min_interval_;
        lock.unlock();
        Page made;
        try {
            made = std::make_shared<const std::string>(make_());
        } catch (...) {
            // Those waiting hear of it as a null page; the next request tries anew.
        }
        lock.lock();
        ++pages_made_;
        lock.unlock();
        for (auto& deliver : served) deliver(made);
        served.clear();  // what the deliveries captured is freed here, not under the lock
        lock.lock();
    }
}

}  // namespace mirrortap
