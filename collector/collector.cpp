#include "collector/collector.hpp"

#include <chrono>

#include "collector/privileges.hpp"
#include "collector/udp_source.hpp"
#include "config/settings.hpp"
#include "sinks/sink_set.hpp"

namespace mirrortap {

Collector::Collector(Config config) : config_(std::move(config)), budget_(config_.max_sessions) {
    if (config_.workers == 0) config_.workers = std::max(1u, std::thread::hardware_concurrency());
}

Collector::~Collector() { stop(); }

std::string Collector::open() {
    if (auto why = prepare_sinks(config_, outputs_); !why.empty()) return why;
    std::string why;
    const int gid = group_id(config_.pcap.group, why);
    if (!why.empty()) return "pcap.group: " + why;
    SocketGroup group = SocketGroup::open(config_.listen, config_.workers, config_.rcvbuf_bytes);
    if (!group.error.empty()) return group.error;
    for (int fd : group.fds)
        workers_.push_back(std::make_unique<Worker>(config_, budget_, std::make_unique<UdpSource>(fd),
                                                    make_sinks(config_, gid, outputs_)));
    return "";
}

void Collector::start() {
    for (auto& w : workers_) threads_.emplace_back([this, worker = w.get()] { worker->run(stop_); });
}

void Collector::request_rotate() {
    for (auto& w : workers_) w->request_rotate();
}

std::string Collector::reload(Config next, std::vector<std::string>& notes) {
    const Config& now = config();
    if (next.workers == 0) next.workers = now.workers;
    // Settings bound at start (config/settings.cpp marks them) keep their running value.
    for (auto& note : keep_restart_only_settings(next, now)) notes.push_back(std::move(note));

    if (auto why = prepare_sinks(next, outputs_); !why.empty()) return why;
    std::string why;
    const int gid = group_id(next.pcap.group, why);
    if (!why.empty()) return "pcap.group: " + why;

    generations_.push_back(std::make_unique<const Config>(std::move(next)));
    const Config& adopted = *generations_.back();
    current_.store(&adopted, std::memory_order_release);
    for (auto& w : workers_) w->request_reload(adopted, make_sinks(adopted, gid, outputs_));
    // Wait (bounded: a worker passes its loop at least every 100 ms) so that
    // "reloaded" means every packet read from now on meets the new config.
    for (int waited_ms = 0; waited_ms < 5000; waited_ms += 5) {
        bool all = true;
        for (auto& w : workers_) all = all && (w->applied_config() == &adopted || w->finished());
        if (all) return "";
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    notes.push_back("a worker took over 5 s to switch; it will switch after its current batch");
    return "";
}

void Collector::stop() {
    stop_.store(true);
    for (auto& t : threads_)
        if (t.joinable()) t.join();
    threads_.clear();
}

}  // namespace mirrortap
