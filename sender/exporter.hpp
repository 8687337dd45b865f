// /metrics for the sender over prometheus-cpp's exposer. Counts are read
// from SenderStats at scrape time; the hot path keeps no registry.
#pragma once
#include <memory>
#include <string>

#include "sender/stats.hpp"

namespace prometheus {
class Exposer;
}

namespace mirrortap::sender {

class Exporter {
public:
    explicit Exporter(const SenderStats& stats);
    ~Exporter();
    // Binds ADDR:PORT; "" or a one-line error.
    std::string start(const std::string& listen);

private:
    class Metrics;
    std::shared_ptr<Metrics> metrics_;
    std::unique_ptr<prometheus::Exposer> exposer_;
};

}  // namespace mirrortap::sender
