// The receive side as a whole: sockets, one thread per worker, their sinks.
#pragma once
#include <atomic>
#include <deque>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "collector/worker.hpp"
#include "config/config.hpp"
#include "sinks/sink_set.hpp"

namespace mirrortap {

class Collector {
public:
    explicit Collector(Config config);
    ~Collector();

    // Opens sockets and prepares sinks; returns a one-line error, or "".
    std::string open();
    void start();
    void request_rotate();
    // Applies a new configuration without a restart: sessions, allowlists and
    // sinks. Settings bound at start (listen, workers, ...) keep their running
    // value, each with a note in `notes`. Returns "" or why it was refused.
    std::string reload(Config next, std::vector<std::string>& notes);
    // Stops receiving, drains what the kernel queued, flushes and closes every sink.
    void stop();

    const Config& config() const { return *current_.load(std::memory_order_acquire); }
    const std::vector<std::unique_ptr<Worker>>& workers() const { return workers_; }
    uint32_t session_count() const { return budget_.created.load(std::memory_order_relaxed); }

private:
    Config config_;  // the first generation
    // Every later generation, kept until exit: workers and the exporter hold
    // plain pointers to the one they use.
    std::deque<std::unique_ptr<const Config>> generations_;
    std::atomic<const Config*> current_{&config_};
    SessionBudget budget_;
    SharedOutputs outputs_;  // TAPs and the stream writer, shared by every worker's sinks
    std::vector<std::unique_ptr<Worker>> workers_;
    std::vector<std::thread> threads_;
    std::atomic<bool> stop_{false};
};

}  // namespace mirrortap
