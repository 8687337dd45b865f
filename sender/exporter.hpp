// /metrics and /healthz for the sender over the HTTP server of support/, serialized with
// prometheus-cpp. Counts are read from SenderStats at scrape time; the hot
// path keeps no registry.
#pragma once
#include <memory>
#include <string>

#include "base/result.hpp"
#include "sender/stats.hpp"
#include "support/parse.hpp"
#include "support/http_server.hpp"

namespace mirrortap::sender {

class Exporter {
public:
    explicit Exporter(const SenderStats& stats);
    ~Exporter();
    // Binds ADDR:PORT; or a one-line error.
    Result<> start(const Endpoint& listen);

private:
    class Metrics;
    // 200 "ok", or 503 naming each target unreachable past the grace period.
    HttpResponse healthz() const;
    const SenderStats& stats_;
    std::shared_ptr<Metrics> metrics_;
    std::unique_ptr<HttpServer> server_;  // last: stopped before what it reads
};

}  // namespace mirrortap::sender
