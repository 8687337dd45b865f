// The receive side as a whole: sockets, one thread per worker, their sinks.
#pragma once
#include <atomic>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "collector/worker.hpp"
#include "config/config.hpp"

namespace mirrortap {

class Collector {
public:
    explicit Collector(Config config);
    ~Collector();

    // Opens sockets and prepares sinks; returns a one-line error, or "".
    std::string open();
    void start();
    void request_rotate();
    // Stops receiving, drains what the kernel queued, flushes and closes every sink.
    void stop();

    const Config& config() const { return config_; }
    const std::vector<std::unique_ptr<Worker>>& workers() const { return workers_; }
    uint32_t session_count() const { return budget_.created.load(std::memory_order_relaxed); }

private:
    Config config_;
    SessionBudget budget_;
    std::vector<std::unique_ptr<Worker>> workers_;
    std::vector<std::thread> threads_;
    std::atomic<bool> stop_{false};
};

}  // namespace mirrortap
