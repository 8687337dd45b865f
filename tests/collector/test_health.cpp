// Health as /healthz reports it: workers that pass their loop, sinks that can deliver.
#include <doctest/doctest.h>
#include <fcntl.h>
#include <sys/stat.h>

#include "collector/health.hpp"
#include "collector/sink_retirer.hpp"
#include "sinks/stream_sink.hpp"
#include "tests/collector/recording_sink.hpp"
#include "tests/support/temp_dir.hpp"

using namespace mirrortap;
using namespace mirrortap::test;

namespace {

// One worker on loopback with the sinks given, running on its own thread
// until stopped (or the fixture ends).
struct OneWorker {
    std::shared_ptr<const Config> config = std::make_shared<const Config>();
    SessionBudget budget{config->max_sessions};
    SinkRetirer retirer;
    LoopbackFeed feed;
    std::vector<std::unique_ptr<Worker>> workers;
    std::atomic<bool> stopping{false};
    std::thread thread;

    explicit OneWorker(std::unique_ptr<Sink> sink) {
        std::vector<std::unique_ptr<Sink>> sinks;
        sinks.push_back(std::move(sink));
        workers.push_back(std::make_unique<Worker>(config, budget, std::move(feed.source), std::move(sinks), retirer));
    }
    ~OneWorker() { stop(); }
    Worker& worker() { return *workers.front(); }
    void start() { thread = std::thread([this] { worker().run(stopping); }); }
    void stop() {
        stopping.store(true);
        if (thread.joinable()) thread.join();
    }
    uint64_t heartbeat() { return worker().counters().heartbeat_ns.get(); }
};

}  // namespace

TEST_CASE("health: a stalled worker turns it red, and once the worker passes its loop again it is live") {
    auto recording = std::make_shared<Recording>();
    auto owned = std::make_unique<RecordingSink>("stream", 0, recording);
    RecordingSink& sink = *owned;
    OneWorker w(std::move(owned));
    w.start();
    REQUIRE(eventually([&] { return check_health(w.workers, false, monotonic_ns()).live; }));

    sink.hold.store(true);  // the next write() does not return
    w.feed.send(5, 1);
    REQUIRE(eventually([&] { return sink.held.load(); }));
    const uint64_t stuck_at = w.heartbeat();
    const Health h = check_health(w.workers, false, stuck_at + kWorkerStallNs);
    CHECK_FALSE(h.live);
    CHECK_FALSE(h.ready);
    CHECK(h.why == "a receive worker is not running");
    CHECK(w.heartbeat() == stuck_at);  // no loop pass while the sink holds it

    sink.hold.store(false);
    REQUIRE(eventually([&] { return w.heartbeat() > stuck_at; }));
    CHECK(check_health(w.workers, false, monotonic_ns()).live);
    CHECK(recording->count.load() == 1);
}

TEST_CASE("health: a finished worker is not alive, and a draining one is live but not ready") {
    OneWorker w(std::make_unique<RecordingSink>("pcap", 0, std::make_shared<Recording>()));
    w.start();
    Health h = check_health(w.workers, true, monotonic_ns());
    CHECK(h.live);
    CHECK_FALSE(h.ready);
    CHECK(h.why == "draining for shutdown");
    w.stop();
    h = check_health(w.workers, false, monotonic_ns());
    CHECK_FALSE(h.live);
    CHECK(h.why == "a receive worker is not running");
}

TEST_CASE("health: a sink that cannot deliver turns it red with the sink's reason, and back") {
    // A real stream sink on a FIFO that must be read (stream_required).
    TempDir tmp;
    const std::string fifo = (tmp.path / "feed").string();
    auto target = parse_stream_target(fifo);
    REQUIRE(target);
    auto writer = std::make_shared<StreamWriter>(StreamWriterOptions{*target, 65535});
    REQUIRE(writer->open());
    writer->start();
    OneWorker w(std::make_unique<StreamSink>(
        StreamSinkOptions{writer, 65535, counter_slot(sink_kind("stream"), 0), true}));
    w.start();
    Health h = check_health(w.workers, false, monotonic_ns());
    CHECK_FALSE(h.live);
    CHECK(h.why == "stream sink: nobody reads the stream at " + fifo);

    const int reader = ::open(fifo.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    REQUIRE(reader >= 0);
    CHECK(eventually([&] { return check_health(w.workers, false, monotonic_ns()).live; }));
    ::close(reader);
    CHECK(eventually([&] { return !check_health(w.workers, false, monotonic_ns()).live; }));
    w.stop();
}
