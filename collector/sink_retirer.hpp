// Closes and destroys, off the receive workers, the sinks a reload replaced:
// a stream sink's close may wait seconds for its reader to take what it still
// holds, a pcap sink's writes out what it buffered. The worker meanwhile goes
// on with the new sinks, which count in the other counter slot of their kind
// (sinks/sink_registry.hpp), so both may count at once.
#pragma once
#include <chrono>
#include <condition_variable>
#include <deque>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "config/config.hpp"
#include "core/sink.hpp"

namespace mirrortap {

class SinkRetirer {
public:
    SinkRetirer() = default;
    ~SinkRetirer();  // stop()
    // Starts the thread; its owner calls it once root is dropped (collector/main.cpp).
    void start();

    // From a worker, once it has stopped writing to `sinks`: close and drain
    // them (a pcap sink's files finished by the writer), destroy them, then
    // drop `config` (the generation they ran with). Cold path.
    void retire(std::vector<std::unique_ptr<Sink>> sinks, std::shared_ptr<const Config> config);
    // Waits up to `timeout` until everything handed over so far is closed and gone.
    bool wait_idle(std::chrono::milliseconds timeout);
    // Closes everything handed over so far, then ends the thread.
    void stop();

private:
    struct Retired {
        std::vector<std::unique_ptr<Sink>> sinks;
        std::shared_ptr<const Config> config;
    };
    void run();

    std::mutex mutex_;
    std::condition_variable changed_;
    std::deque<Retired> waiting_;
    bool closing_ = false;  // the thread holds one Retired it is closing
    bool stopping_ = false;
    std::thread thread_;
};

}  // namespace mirrortap
