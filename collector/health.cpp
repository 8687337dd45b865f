#include "collector/health.hpp"

namespace mirrortap {

bool worker_alive(const Worker& w, uint64_t now_ns) {
    return !w.finished() && now_ns - w.counters().heartbeat_ns.get() < kWorkerStallNs;
}

Health check_health(const std::vector<std::unique_ptr<Worker>>& workers, bool draining, uint64_t now_ns,
                    bool terminating) {
    Health h;
    for (const auto& w : workers) {
        if (!worker_alive(*w, now_ns)) {
            h.live = false;
            h.why = "a receive worker is not running";
            break;
        }
        if (auto source = w->source_health(); !source) {
            h.live = false;
            h.why = "receive source: " + source.error();
            break;
        }
        w->each_sink([&h](const Sink& sink) {
            if (!h.live) return;
            if (auto health = sink.health(); !health) {
                h.live = false;
                h.why = std::string(sink.name()) + " sink: " + health.error();
            }
        });
    }
    h.ready = h.live && !draining && !terminating;
    if (h.live && draining) h.why = "draining for shutdown";
    else if (h.live && terminating)
        h.why = "instance terminating (Auto Scaling scale-in): finishing files before the lifecycle action completes";
    return h;
}

}  // namespace mirrortap
