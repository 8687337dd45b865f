#include "collector/collector.hpp"

#include "collector/privileges.hpp"
#include "collector/udp_source.hpp"
#include "sinks/sink_set.hpp"

namespace mirrortap {

Collector::Collector(Config config) : config_(std::move(config)), budget_(config_.max_sessions) {
    if (config_.workers == 0) config_.workers = std::max(1u, std::thread::hardware_concurrency());
}

Collector::~Collector() { stop(); }

std::string Collector::open() {
    if (auto why = prepare_sinks(config_); !why.empty()) return why;
    std::string why;
    const int gid = group_id(config_.pcap.group, why);
    if (!why.empty()) return "pcap.group: " + why;
    SocketGroup group = SocketGroup::open(config_.listen, config_.workers, config_.rcvbuf_bytes);
    if (!group.error.empty()) return group.error;
    for (int fd : group.fds)
        workers_.push_back(std::make_unique<Worker>(config_, budget_, std::make_unique<UdpSource>(fd),
                                                    make_sinks(config_, gid)));
    return "";
}

void Collector::start() {
    for (auto& w : workers_) threads_.emplace_back([this, worker = w.get()] { worker->run(stop_); });
}

void Collector::request_rotate() {
    for (auto& w : workers_) w->request_rotate();
}

void Collector::stop() {
    stop_.store(true);
    for (auto& t : threads_)
        if (t.joinable()) t.join();
    threads_.clear();
}

}  // namespace mirrortap
