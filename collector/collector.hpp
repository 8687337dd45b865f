// The receive side as a whole: sockets, one thread per worker, their sinks.
#pragma once
#include <atomic>
#include <chrono>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "base/result.hpp"
#include "collector/sink_retirer.hpp"
#include "collector/worker.hpp"
#include "config/config.hpp"
#include "sinks/sink_registry.hpp"

namespace mirrortap {

// Descriptors besides the pcap sinks' files: sockets and rings, TAPs, the
// metrics server's connections (at most 512), the uploader's, some to spare.
inline constexpr uint64_t kOtherDescriptors = 1024;
// pcap.max_open_files 0 ("auto"): each worker's share of RLIMIT_NOFILE's soft
// limit after kOtherDescriptors, at least 16.
uint32_t open_files_share(uint32_t workers);

class Collector {
public:
    // `finished_captures` is told of every pcap file finished (the uploader); nullptr for nobody.
    explicit Collector(Config config, std::shared_ptr<FinishedCaptureListener> finished_captures = nullptr);
    ~Collector();

    // Opens sockets and prepares sinks; fails with a one-line error.
    Result<> open();
    // Starts every thread: the pcap writer, the retirer, shared outputs' and
    // the receive workers. None runs before (open() starts none), so that
    // they are all born after root was dropped.
    void start();
    void request_rotate();
    // Finishes every open pcap file and waits, until `deadline`, for the
    // writer to have renamed them to .pcap (what SIGHUP does, waited for).
    // False when a worker or the writer did not get there in time. Packets
    // that arrive afterwards start new files. Not concurrent with stop().
    bool finish_open_files(std::chrono::steady_clock::time_point deadline);
    // Applies a new configuration without a restart: sessions, allowlists and
    // sinks. Settings bound at start (listen, workers, ...) keep their running
    // value, each with a note in `notes`. All or nothing: everything that can
    // fail (groups, directories, TAPs, the stream, every worker's sinks) is
    // tried aside first; when anything fails, nothing running has changed.
    // Fails with why it was refused. Not for concurrent callers.
    Result<> reload(Config next, std::vector<std::string>& notes);
    // Stops receiving, drains what the kernel queued, flushes and closes every sink.
    void stop();

    // The configuration now in force; the copy keeps it alive while used.
    // The running configuration; any thread. A plain mutex rather than
    // atomic<shared_ptr>: libstdc++ guards that with a lock bit
    // ThreadSanitizer cannot see, and it reported reload against scrape.
    std::shared_ptr<const Config> config() const {
        std::lock_guard lock(current_mutex_);
        return current_;
    }
    const std::vector<std::unique_ptr<Worker>>& workers() const { return workers_; }
    uint32_t session_count() const { return budget_.created.load(std::memory_order_relaxed); }
    // The receive buffer each socket got (open() reads it back from the kernel).
    uint64_t rcvbuf_granted_bytes() const { return rcvbuf_granted_bytes_; }

private:
    Result<> open_rings(const std::shared_ptr<const Config>& config);
    // True once every worker runs generation_ (or has ended), waiting until `deadline`.
    bool all_switched(std::chrono::steady_clock::time_point deadline) const;
    // True once every worker runs generation_ and the sinks they replaced are
    // closed, waiting up to `timeout`: only then may a reload build sinks for
    // the next generation, which count where those did (counter_slot).
    bool settled(std::chrono::milliseconds timeout);

    // Each worker holds the generation it runs; an older one is freed when
    // the last worker leaves it.
    mutable std::mutex current_mutex_;
    std::shared_ptr<const Config> current_;
    uint64_t generation_ = 0;  // of current_; the reloading thread's alone
    SessionBudget budget_;
    SharedOutputs outputs_;  // what the running sinks share, by kind
    // The pcap writer thread and the uploader's ear, for the sinks of every
    // generation; stop() ends the writer after the last sink is closed.
    SinkServices services_;
    std::vector<std::unique_ptr<Worker>> workers_;
    // After workers_: destroyed first, closing what is left while the sessions
    // those sinks count in still exist.
    SinkRetirer retirer_;
    std::vector<std::thread> threads_;
    std::atomic<bool> stop_{false};
    uint64_t rcvbuf_granted_bytes_ = 0;
    int port_guard_ = -1;  // --capture-interface: the listen port's drop-all UDP socket
};

}  // namespace mirrortap
