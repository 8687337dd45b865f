// Whether the collector works: /healthz, /readyz and mirrortap_healthy.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "collector/worker.hpp"

namespace mirrortap {

// A worker that has not passed its loop for this long is stalled.
inline constexpr uint64_t kWorkerStallNs = 2'000'000'000;

struct Health {
    bool live = true;   // /healthz: workers alive and every sink can write
    bool ready = true;  // /readyz: live, not draining for shutdown, not being scaled in
    std::string why;    // first reason when not
};

// A worker is alive while it runs and passed its loop within kWorkerStallNs of `now_ns` (monotonic).
bool worker_alive(const Worker& w, uint64_t now_ns);

// `terminating`: the Auto Scaling group is taking the instance away (collector/lifecycle.hpp).
Health check_health(const std::vector<std::unique_ptr<Worker>>& workers, bool draining, uint64_t now_ns,
                    bool terminating = false);

}  // namespace mirrortap
