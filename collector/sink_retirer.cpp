#include "collector/sink_retirer.hpp"

namespace mirrortap {

void SinkRetirer::start() {
    if (!thread_.joinable()) thread_ = std::thread([this] { run(); });
}

SinkRetirer::~SinkRetirer() { stop(); }

void SinkRetirer::retire(std::vector<std::unique_ptr<Sink>> sinks, std::shared_ptr<const Config> config) {
    {
        std::lock_guard lock(mutex_);
        waiting_.push_back({std::move(sinks), std::move(config)});
    }
    changed_.notify_all();
}

bool SinkRetirer::wait_idle(std::chrono::milliseconds timeout) {
    std::unique_lock lock(mutex_);
    return changed_.wait_for(lock, timeout, [this] { return waiting_.empty() && !closing_; });
}

void SinkRetirer::stop() {
    {
        std::lock_guard lock(mutex_);
        stopping_ = true;
    }
    changed_.notify_all();
    if (thread_.joinable()) thread_.join();
}

void SinkRetirer::run() {
    std::unique_lock lock(mutex_);
    for (;;) {
        changed_.wait(lock, [this] { return stopping_ || !waiting_.empty(); });
        if (waiting_.empty()) return;  // stopping, and everything handed over is closed
        Retired next = std::move(waiting_.front());
        waiting_.pop_front();
        closing_ = true;
        lock.unlock();
        for (auto& sink : next.sinks) sink->close();
        // Until a replaced sink's own thread has finished it (the pcap writer
        // its files), it is not gone: the next reload waits for it (Collector::
        // settled), so that a storm of reloads holds at most one old
        // generation, not as many as the writer lags behind.
        for (auto& sink : next.sinks) sink->drain();
        next = {};  // destroyed here, with the config they ran with
        lock.lock();
        closing_ = false;
        changed_.notify_all();
    }
}

}  // namespace mirrortap
