// The receive worker fed real VXLAN datagrams over loopback: batch routing,
// per-session order, per-session sink selection, a reload in mid-stream, and
// idle sessions ending while other threads read them.
#include <doctest/doctest.h>

#include <numeric>

#include "collector/sink_retirer.hpp"
#include "collector/worker.hpp"
#include "sinks/pcap_rotator.hpp"
#include "sinks/pcap_writer.hpp"
#include "sinks/sink_registry.hpp"
#include "tests/collector/recording_sink.hpp"
#include "tests/support/temp_dir.hpp"

using namespace mirrortap;
using namespace mirrortap::test;

namespace {

// The worker's thread for the life of this object; stopping drains and closes.
struct Running {
    Worker& worker;
    std::atomic<bool> stop{false};
    std::thread thread;
    explicit Running(Worker& w) : worker(w), thread([this] { worker.run(stop); }) {}
    ~Running() {
        stop.store(true);
        thread.join();
    }
};

std::vector<uint32_t> first_n(uint32_t n) {
    std::vector<uint32_t> v(n);
    std::iota(v.begin(), v.end(), 0u);
    return v;
}

std::vector<uint32_t> joined(std::vector<uint32_t> a, const std::vector<uint32_t>& b) {
    a.insert(a.end(), b.begin(), b.end());
    return a;
}

const Session* session_of(const Worker& w, uint32_t vni) {
    for (uint32_t i = 0; i < w.sessions().size(); ++i)
        if (w.sessions().at(i).vni == vni) return &w.sessions().at(i);
    return nullptr;
}

std::shared_ptr<const Config> config_naming(uint32_t vni, const std::string& name, uint32_t sinks = kAllSinks) {
    Config c;
    c.sessions.push_back(NamedSession{vni, name, std::nullopt, sinks});
    return std::make_shared<const Config>(std::move(c));
}

}  // namespace

TEST_CASE("worker: a GENEVE refusal is counted under the name decap gives its error") {
    for (const auto& g : kGeneveErrorNames) {
        if (g.value == GeneveError::vxlan) continue;  // counted as the VXLAN packet's own refusal, below
        CAPTURE(g.name);
        const GeneveResult r = fail(GeneveRefusal{g.value, {}});
        CHECK(kRefusalNames(refusal_for(r)) == g.name);
    }
    for (const auto& d : kDecapErrorNames) CHECK(kRefusalNames(refusal_for(d.value)) == d.name);
    const GeneveResult inner = fail(GeneveRefusal{GeneveError::vxlan, DecapError::no_vni_flag});
    CHECK(refusal_for(inner) == Refusal::no_vni_flag);
}

TEST_CASE("worker: each session's packets reach the sinks it feeds, in the order they were sent") {
    // VNI 7 feeds only pcap; 8 and 9 feed every sink. Sent interleaved, so
    // each received batch mixes the three.
    auto config = config_naming(7, "seven", 1u << sink_kind("pcap"));
    SessionBudget budget(config->max_sessions);
    SinkRetirer retirer;
    retirer.start();
    LoopbackFeed feed;
    auto files = std::make_shared<Recording>(), stream = std::make_shared<Recording>();
    std::vector<std::unique_ptr<Sink>> sinks;
    sinks.push_back(std::make_unique<RecordingSink>("pcap", 0, files));
    sinks.push_back(std::make_unique<RecordingSink>("stream", 0, stream));
    Worker worker(config, budget, std::move(feed.source), std::move(sinks), retirer);
    constexpr uint32_t kEach = 600;
    {
        Running run(worker);
        for (uint32_t i = 0; i < kEach; ++i)
            for (uint32_t vni : {7u, 8u, 9u}) feed.send(vni, i);
        REQUIRE(eventually([&] { return files->count.load() == 3 * kEach; }));
    }
    CHECK(worker.source_stats().kernel_drops == 0);
    CHECK(worker.counters().received_packets.get() == 3 * kEach);
    for (uint32_t vni : {7u, 8u, 9u}) CHECK(files->seqs(vni) == first_n(kEach));
    CHECK(stream->seqs(7).empty());
    CHECK(stream->seqs(8) == first_n(kEach));
    CHECK(stream->seqs(9) == first_n(kEach));
    CHECK(files->closed.load());  // at stop, by the worker itself
    REQUIRE(worker.sessions().size() == 3);
    const Session* seven = session_of(worker, 7);
    REQUIRE(seven);
    CHECK(seven->name() == "seven");
    CHECK(seven->packets.get() == kEach);
    CHECK(seven->sinks[counter_slot(sink_kind("pcap"), 0)].written.get() == kEach);
    CHECK(seven->sinks[counter_slot(sink_kind("stream"), 0)].written.get() == 0);
    CHECK(session_of(worker, 8)->name() == "vni-8");
}

TEST_CASE("worker: a reload in mid-stream switches sinks between two batches and loses nothing") {
    auto first = config_naming(7, "alpha");
    auto second = config_naming(7, "beta");
    SessionBudget budget(first->max_sessions);
    SinkRetirer retirer;
    retirer.start();
    LoopbackFeed feed;
    auto old_files = std::make_shared<Recording>(), old_stream = std::make_shared<Recording>();
    auto new_files = std::make_shared<Recording>(), new_stream = std::make_shared<Recording>();
    std::vector<std::unique_ptr<Sink>> sinks, next;
    sinks.push_back(std::make_unique<RecordingSink>("pcap", 0, old_files));
    sinks.push_back(std::make_unique<RecordingSink>("stream", 0, old_stream));
    next.push_back(std::make_unique<RecordingSink>("pcap", 1, new_files));
    next.push_back(std::make_unique<RecordingSink>("stream", 1, new_stream));
    Worker worker(first, budget, std::move(feed.source), std::move(sinks), retirer);
    constexpr uint32_t kEach = 3000;
    const auto total = [](const Recording& a, const Recording& b) { return a.count.load() + b.count.load(); };
    {
        Running run(worker);
        std::atomic<uint32_t> sent{0};
        // Paced, so that the reload lands while datagrams arrive; the last
        // third waits for the switch, so that the new sinks surely get some.
        std::thread sender([&] {
            for (uint32_t i = 0; i < kEach; ++i) {
                if (i == 2 * kEach / 3) eventually([&] { return worker.applied_generation() == 1; });
                for (uint32_t vni : {7u, 8u}) feed.send(vni, i);
                sent.store(i + 1);
                if (i % 50 == 49) std::this_thread::sleep_for(std::chrono::milliseconds(1));
            }
        });
        REQUIRE(eventually([&] { return sent.load() >= kEach / 3; }));
        worker.request_reload(second, 1, std::move(next));
        REQUIRE(eventually([&] { return worker.applied_generation() == 1; }));
        sender.join();
        REQUIRE(eventually([&] { return total(*old_stream, *new_stream) == 2 * kEach; }));
        REQUIRE(eventually([&] { return total(*old_files, *new_files) == 2 * kEach; }));
        // The replaced stream sink is closed by the retiring thread, not the worker.
        REQUIRE(eventually([&] { return old_stream->closed.load(); }));
        CHECK(old_stream->closed_on != old_stream->wrote_on);
        // A pcap sink is closed by the worker before its successor writes (sink_registry.cpp).
        CHECK(old_files->closed.load());
        CHECK(old_files->closed_on == old_files->wrote_on);
        CHECK_FALSE(new_stream->closed.load());
        CHECK(retirer.wait_idle(std::chrono::seconds(10)));
    }
    CHECK(worker.source_stats().kernel_drops == 0);
    for (uint32_t vni : {7u, 8u}) {
        CAPTURE(vni);
        CHECK_FALSE(new_stream->seqs(vni).empty());
        CHECK(joined(old_stream->seqs(vni), new_stream->seqs(vni)) == first_n(kEach));
        CHECK(joined(old_files->seqs(vni), new_files->seqs(vni)) == first_n(kEach));
        // The old sinks counted in bank 0 and the new ones in bank 1: together, every packet.
        const Session* s = session_of(worker, vni);
        REQUIRE(s);
        const size_t kind = sink_kind("stream");
        CHECK(s->sinks[counter_slot(kind, 0)].written.get() == old_stream->seqs(vni).size());
        CHECK(s->sinks[counter_slot(kind, 1)].written.get() == new_stream->seqs(vni).size());
    }
    const Session* seven = session_of(worker, 7);
    CHECK(seven->name() == "beta");  // renamed in place: sinks' pointers stay good
    size_t elsewhere = 0;  // entries of VNI 7 that point at another Session than the one renamed
    for (const auto* r : {old_stream.get(), new_stream.get()})
        for (const auto& e : r->entries) elsewhere += e.vni == 7 && e.session != seven;
    CHECK(elsewhere == 0);
}

TEST_CASE("worker: idle sessions end, their pcap files are finished, and their slots serve new VNIs while scrapes read") {
    // max_sessions 4 and three waves of 4 new VNIs: each wave needs the slots
    // the one before it freed. A reader holds the table as the exporter does,
    // and the pcap writer thread holds the sessions' blocks: under TSan this
    // checks that no slot is reused while either still uses it.
    test::TempDir dir;
    Config c;
    c.max_sessions = 4;
    c.session_idle_seconds = 1;
    c.pcap.dir = dir.path.string();
    c.pcap.rotate_seconds = 0;
    auto config = std::make_shared<const Config>(c);
    SessionBudget budget(config->max_sessions);
    SinkRetirer retirer;
    retirer.start();
    LoopbackFeed feed;
    std::vector<std::unique_ptr<Sink>> sinks;
    sinks.push_back(std::make_unique<PcapRotator>(
        PcapRotatorOptions{config->pcap, config->snaplen, config->max_sessions, counter_slot(sink_kind("pcap"), 0)}));
    Worker worker(config, budget, std::move(feed.source), std::move(sinks), retirer);
    constexpr uint32_t kWaves = 3, kPerVni = 50;
    const auto expired = [&] { return worker.sessions().expired().sessions.get(); };
    std::atomic<bool> done{false};
    uint64_t inconsistent = 0;
    {
        Running run(worker);
        std::thread scraper([&] {
            while (!done.load()) {
                uint64_t packets = 0, written = 0;
                {
                    const auto hold = worker.sessions().hold();
                    const SessionTable& t = worker.sessions();
                    // Written before packets, packets before received: each read
                    // later than the one it must not exceed.
                    for (uint32_t i = 0; i < t.size(); ++i)
                        if (t.in_use(i)) {
                            written += t.at(i).sinks[counter_slot(sink_kind("pcap"), 0)].written.get();
                            packets += t.at(i).packets.get();
                            (void)t.at(i).name();
                        }
                    written += t.expired().sinks[counter_slot(sink_kind("pcap"), 0)].written.get();
                    packets += t.expired().packets.get();
                }
                inconsistent += written > packets || packets > worker.counters().received_packets.get();
                std::this_thread::sleep_for(std::chrono::milliseconds(1));
            }
        });
        for (uint32_t wave = 0; wave < kWaves; ++wave) {
            for (uint32_t i = 0; i < kPerVni; ++i)
                for (uint32_t v = 0; v < 4; ++v) feed.send(100 + 4 * wave + v, i);
            REQUIRE(eventually([&] { return worker.counters().received_packets.get() == (wave + 1) * 4 * kPerVni; }));
            // Idle 1 s, then ended and released: all four slots free again.
            REQUIRE(eventually([&] { return expired() == (wave + 1) * 4; }));
        }
        done.store(true);
        scraper.join();
    }
    CHECK(inconsistent == 0);
    CHECK(worker.counters().refused[size_t(Refusal::session_limit)].get() == 0);
    CHECK(worker.sessions().size() == 4);  // the same four slots, reused
    CHECK(budget.created.load() == 0);
    const ExpiredSessions& e = worker.sessions().expired();
    CHECK(e.packets.get() == kWaves * 4 * kPerVni);
    CHECK(e.sinks[counter_slot(sink_kind("pcap"), 0)].written.get() == kWaves * 4 * kPerVni);
    CHECK(e.sinks[counter_slot(sink_kind("pcap"), 0)].buffered.get() == 0);
    // Every session's file finished while the collector ran: renamed, no `current`.
    for (uint32_t vni = 100; vni < 100 + 4 * kWaves; ++vni) {
        CAPTURE(vni);
        const auto session_dir = dir.path / ("vni-" + std::to_string(vni));
        size_t finished = 0, indexes = 0, other = 0;
        for (const auto& f : std::filesystem::directory_iterator(session_dir)) {
            const std::string name = f.path().filename().string();
            (f.path().extension() == ".pcap" ? finished : name.ends_with(".pcap.flows.json.gz") ? indexes : other)++;
        }
        CHECK(finished == 1);
        CHECK(indexes == 1);  // its flow index beside it
        CHECK(other == 0);
    }
}

TEST_CASE("retirer: a replaced pcap sink is gone only once the writer has finished its files") {
    // A writer not yet started stands for a disk that lags: the sink a reload
    // replaced must not count as retired before its records are in a file,
    // or a storm of reloads piles up old generations behind the writer.
    TempDir tmp;
    auto writer = std::make_shared<PcapWriter>();
    PcapRotatorOptions options;
    options.pcap.dir = tmp.path.string();
    options.max_sessions = 4;
    options.writer = writer;
    Session session;
    session.id = 0;
    session.vni = 7;
    session.set_name(std::make_shared<const std::string>("s7"));
    const Buf frame = udp4_frame({10, 0, 0, 1}, {10, 0, 0, 2}, 1000, 2000, 200);
    std::vector<std::unique_ptr<Sink>> replaced;
    replaced.push_back(std::make_unique<PcapRotator>(options));
    const std::vector<Packet> batch = {Packet{&session, 1'700'000'000'000'000'000ull, view(frame),
                                              uint32_t(frame.size()), {}}};
    replaced[0]->write(batch);
    SinkRetirer retirer;
    retirer.start();
    retirer.retire(std::move(replaced), std::make_shared<const Config>());
    CHECK_FALSE(retirer.wait_idle(std::chrono::milliseconds(200)));
    CHECK(session.sinks[0].written.get() == 0);
    writer->start();
    REQUIRE(retirer.wait_idle(std::chrono::seconds(30)));
    CHECK(session.sinks[0].written.get() == 1);
    size_t finished = 0;
    for (const auto& e : std::filesystem::directory_iterator(tmp.path / "s7"))
        finished += e.path().extension() == ".pcap";
    CHECK(finished == 1);
}
