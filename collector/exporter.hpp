// /metrics, /healthz and /readyz over prometheus-cpp's HTTP exposer. Counts
// are read from the workers at scrape time; the hot path keeps no registry.
#pragma once
#include <memory>
#include <string>
#include <vector>

#include "collector/collector.hpp"
#include "collector/health.hpp"

namespace prometheus {
class Exposer;
}

namespace mirrortap {

// check_health for the collector's workers, now.
Health check_health(const Collector& collector, bool draining);

class Exporter {
public:
    explicit Exporter(const Collector& collector);
    ~Exporter();
    // Binds the listen address from the config; returns a one-line error, or "".
    std::string start();
    // From SIGTERM on, /readyz answers 503 so that the load balancer stops sending.
    void set_draining() { draining_ = true; }

private:
    class Metrics;
    const Collector& collector_;
    std::shared_ptr<Metrics> metrics_;
    std::unique_ptr<prometheus::Exposer> exposer_;
    std::atomic<bool> draining_{false};
    std::vector<std::string> accepted_auth_;
    friend struct HealthEndpoint;
};

}  // namespace mirrortap
