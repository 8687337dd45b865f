#include "collector/collector.hpp"

#include <pthread.h>
#include <signal.h>

#include <chrono>

#include "collector/privileges.hpp"
#include "collector/udp_source.hpp"
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
    for (size_t i = 0; i < workers_.size(); ++i)
        threads_.emplace_back([this, i, worker = workers_[i].get()] {
            // "mt-recv-N": how top -H, /proc/PID/task/*/comm and strace tell the receive workers apart.
            const std::string name = "mt-recv-" + std::to_string(i);
            pthread_setname_np(pthread_self(), name.substr(0, 15).c_str());
            // Signal handlers (SIGHUP, SIGTERM) run on the main thread, never in the receive loop.
            sigset_t all;
            sigfillset(&all);
            pthread_sigmask(SIG_BLOCK, &all, nullptr);
            worker->run(stop_);
        });
}

void Collector::request_rotate() {
    for (auto& w : workers_) w->request_rotate();
}

namespace {

// Settings bound when the process starts: a reload keeps the running value.
template <typename T>
void keep(const char* what, T& next, const T& running, bool changed, std::vector<std::string>& notes) {
    if (!changed) return;
    notes.push_back(std::string(what) + " changes only with a restart; keeping the running value");
    next = running;
}

}  // namespace

std::string Collector::reload(Config next, std::vector<std::string>& notes) {
    const Config& now = config();
    if (next.workers == 0) next.workers = now.workers;
    keep("listen", next.listen, now.listen, next.listen.text != now.listen.text, notes);
    keep("workers", next.workers, now.workers, next.workers != now.workers, notes);
    keep("rcvbuf", next.rcvbuf_bytes, now.rcvbuf_bytes, next.rcvbuf_bytes != now.rcvbuf_bytes, notes);
    keep("session_key", next.session_key, now.session_key, next.session_key != now.session_key, notes);
    keep("max_sessions", next.max_sessions, now.max_sessions, next.max_sessions != now.max_sessions, notes);
    const auto endpoint_text = [](const std::optional<Endpoint>& e) { return e ? e->text : std::string(); };
    keep("metrics_listen", next.metrics_listen, now.metrics_listen,
         endpoint_text(next.metrics_listen) != endpoint_text(now.metrics_listen), notes);
    keep("metrics_auth", next.metrics_auth, now.metrics_auth,
         next.metrics_auth.username != now.metrics_auth.username ||
             next.metrics_auth.password != now.metrics_auth.password ||
             next.metrics_auth.bearer_token != now.metrics_auth.bearer_token,
         notes);
    keep("user", next.user, now.user, next.user != now.user, notes);

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
