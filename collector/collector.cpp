#include "collector/collector.hpp"

#include <pthread.h>
#include <signal.h>
#include <sys/resource.h>
#include <unistd.h>

#include <chrono>

#include "collector/ring_source.hpp"
#include "collector/udp_source.hpp"
#include "config/settings.hpp"
#include "sinks/pcap_writer.hpp"

namespace mirrortap {

uint32_t open_files_share(uint32_t workers) {
    constexpr uint64_t kMost = 1u << 20;
    rlimit limit{};
    if (getrlimit(RLIMIT_NOFILE, &limit) != 0 || limit.rlim_cur == RLIM_INFINITY) return uint32_t(kMost);
    const uint64_t usable = limit.rlim_cur > kOtherDescriptors ? limit.rlim_cur - kOtherDescriptors : 0;
    return uint32_t(std::clamp<uint64_t>(usable / std::max(1u, workers), 16, kMost));
}

namespace {

std::shared_ptr<const Config> with_workers_resolved(Config config) {
    if (config.workers == 0) config.workers = std::max(1u, std::thread::hardware_concurrency());
    if (config.pcap.max_open_files == 0) config.pcap.max_open_files = open_files_share(config.workers);
    return std::make_shared<const Config>(std::move(config));
}

}  // namespace

Collector::Collector(Config config, std::shared_ptr<FinishedCaptureListener> finished_captures)
    : current_(with_workers_resolved(std::move(config))),
      budget_(this->config()->max_sessions),
      services_{std::make_shared<PcapWriter>(), std::move(finished_captures)} {}

Collector::~Collector() {
    stop();
    if (port_guard_ >= 0) ::close(port_guard_);
}

Result<> Collector::open() {
    const auto config = this->config();
    auto outputs = prepare_sinks(*config, outputs_);
    if (!outputs) return fail(std::move(outputs).error());
    outputs_ = std::move(*outputs);
    if (!config->capture_interface.empty()) return open_rings(config);
    auto opened = SocketGroup::open(config->listen, config->workers, config->rcvbuf_bytes);
    if (!opened) return fail(std::move(opened).error());
    SocketGroup group = std::move(*opened);
    rcvbuf_granted_bytes_ = group.rcvbuf_granted_bytes;
    // GENEVE: a second group, steered to the same worker index by the same VNI.
    SocketGroup geneve;
    if (config->listen_geneve) {
        auto opened_geneve =
            SocketGroup::open(*config->listen_geneve, config->workers, config->rcvbuf_bytes, Encapsulation::geneve);
        if (!opened_geneve) {
            for (int fd : group.fds) ::close(fd);
            return fail(std::move(opened_geneve).error());
        }
        geneve = std::move(*opened_geneve);
    }
    for (uint32_t i = 0; i < group.fds.size(); ++i) {
        auto sinks = make_sinks(*config, outputs_, services_, generation_, i);
        if (!sinks) return fail(std::move(sinks).error());
        auto source = geneve.fds.empty() ? std::make_unique<UdpSource>(group.fds[i])
                                         : std::make_unique<UdpSource>(group.fds[i], geneve.fds[i]);
        workers_.push_back(std::make_unique<Worker>(config, budget_, std::move(source), std::move(*sinks), retirer_));
    }
    return {};
}

// --capture-interface: a ring per worker instead of a socket. The port
// guard stays open as long as the collector (see RingGroup).
Result<> Collector::open_rings(const std::shared_ptr<const Config>& config) {
    auto opened = RingGroup::open(config->capture_interface, config->listen, config->workers, config->rcvbuf_bytes);
    if (!opened) return fail(std::move(opened).error());
    RingGroup group = std::move(*opened);
    port_guard_ = group.port_guard;
    group.port_guard = -1;
    rcvbuf_granted_bytes_ = config->rcvbuf_bytes;  // a ring is what was asked, or open failed
    for (uint32_t i = 0; i < group.rings.size(); ++i) {
        auto sinks = make_sinks(*config, outputs_, services_, generation_, i);
        if (!sinks) {
            group.rings.erase(group.rings.begin(), group.rings.begin() + i);  // the workers own the others
            group.close();
            return fail(std::move(sinks).error());
        }
        auto source = std::make_unique<RingSource>(group.rings[i]);
        workers_.push_back(std::make_unique<Worker>(config, budget_, std::move(source), std::move(*sinks), retirer_));
    }
    return {};
}

void Collector::start() {
    // Every thread of the collector starts here, after main dropped root:
    // a thread keeps the credentials it had when root was dropped unless the
    // drop reaches it, and none then exist to be missed.
    // Signal handlers (SIGHUP, SIGTERM) run on the main thread, never in the
    // receive loop: the threads are born with every signal blocked (a thread
    // inherits its creator's mask), so none can land on one before it runs.
    sigset_t all, before;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, &before);
    services_.pcap_writer->start();
    retirer_.start();
    for (const auto& output : outputs_)
        if (output) output->start();
    for (size_t i = 0; i < workers_.size(); ++i) {
        threads_.emplace_back([this, worker = workers_[i].get()] { worker->run(stop_); });
        // "mt-recv-N": how top -H, /proc/PID/task/*/comm and strace tell the
        // receive workers apart. Named here, so the name is there once start() returns.
        const std::string name = "mt-recv-" + std::to_string(i);
        pthread_setname_np(threads_.back().native_handle(), name.substr(0, 15).c_str());
    }
    pthread_sigmask(SIG_SETMASK, &before, nullptr);
}

void Collector::request_rotate() {
    for (auto& w : workers_) w->request_rotate();
}

bool Collector::finish_open_files(std::chrono::steady_clock::time_point deadline) {
    std::vector<uint64_t> before;
    for (const auto& w : workers_) before.push_back(w->rotations_done());
    request_rotate();
    // Each worker hands its sinks the rotation between two batches (at least every 100 ms).
    for (size_t i = 0; i < workers_.size(); ++i) {
        while (workers_[i]->rotations_done() == before[i] && !workers_[i]->finished()) {
            if (std::chrono::steady_clock::now() >= deadline) return false;
            std::this_thread::sleep_for(std::chrono::milliseconds(5));
        }
    }
    // The rotate marks are queued for the pcap writer: a whole pass after now has finished the files.
    if (config()->pcap.enabled) return services_.pcap_writer->sync_until(deadline);
    return true;
}

bool Collector::all_switched(std::chrono::steady_clock::time_point deadline) const {
    for (;;) {
        bool all = true;
        for (auto& w : workers_) all = all && (w->applied_generation() == generation_ || w->finished());
        if (all) return true;
        if (std::chrono::steady_clock::now() >= deadline) return false;
        std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
}

bool Collector::settled(std::chrono::milliseconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    if (!all_switched(deadline)) return false;
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    return retirer_.wait_idle(std::max(left, std::chrono::milliseconds(0)));
}

Result<> Collector::reload(Config next, std::vector<std::string>& notes) {
    const auto running = config();
    const Config& now = *running;
    if (next.workers == 0) next.workers = now.workers;
    // Settings bound at start (config/settings.cpp marks them) keep their running value.
    for (auto& note : keep_restart_only_settings(next, now)) notes.push_back(std::move(note));

    // Everything that can fail, tried aside: shared outputs (directories,
    // TAPs, the stream) and every worker's sinks. A failure drops what was
    // built; the running outputs and sinks never saw any of it.
    if (!settled(std::chrono::seconds(5)))
        return fail("the previous reload is still being applied (a worker has not switched, or the sinks it replaced "
                    "are still closing)");
    auto prepared = prepare_sinks(next, outputs_);
    if (!prepared) return fail(std::move(prepared).error());
    SharedOutputs outputs = std::move(*prepared);
    const uint64_t generation = generation_ + 1;
    std::vector<std::vector<std::unique_ptr<Sink>>> sinks(workers_.size());
    for (uint32_t i = 0; i < workers_.size(); ++i) {
        auto made = make_sinks(next, outputs, services_, generation, i);
        if (!made) return fail(std::move(made).error());
        sinks[i] = std::move(*made);
    }

    // Nothing below can fail.
    auto adopted = std::make_shared<const Config>(std::move(next));
    generation_ = generation;
    outputs_ = std::move(outputs);  // outputs no longer named go when their last sink does
    for (const auto& output : outputs_)
        if (output) output->start();  // new ones only: a running output's start does nothing
    {
        std::lock_guard lock(current_mutex_);
        current_ = adopted;
    }
    for (uint32_t i = 0; i < workers_.size(); ++i) workers_[i]->request_reload(adopted, generation, std::move(sinks[i]));
    // Wait (bounded: a worker passes its loop at least every 100 ms) so that
    // "reloaded" means every packet read from now on meets the new config.
    if (!all_switched(std::chrono::steady_clock::now() + std::chrono::seconds(5)))
        notes.push_back("a worker took over 5 s to switch; it will switch after its current batch");
    return {};
}

void Collector::stop() {
    stop_.store(true);
    for (auto& t : threads_)
        if (t.joinable()) t.join();
    threads_.clear();
    retirer_.stop();
    // Last: every sink, running or retired, has handed the writer its last
    // blocks and been drained, so the writer ends with nothing left to write.
    services_.pcap_writer->stop();
}

}  // namespace mirrortap
