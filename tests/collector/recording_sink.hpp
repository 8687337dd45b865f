// Test doubles of our own interfaces for the collector tests: a Sink that
// records what it is handed, and a feed of real VXLAN datagrams sent over a
// UDP socket on loopback to a receive socket opened as the collector opens it.
#pragma once
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "collector/udp_source.hpp"
#include "core/sink.hpp"
#include "sinks/sink_registry.hpp"
#include "support/clock.hpp"
#include "tests/support/frames.hpp"

namespace mirrortap::test {

// Polls `done` until it holds, for at most 10 s (a bound, not a speed
// requirement: it only ends a test that would otherwise hang).
template <typename F>
bool eventually(F&& done) {
    for (int i = 0; i < 10'000; ++i) {
        if (done()) return true;
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    return done();
}

// What a RecordingSink saw. Outlives the sink: a replaced sink is destroyed
// on the retiring thread.
struct Recording {
    struct Entry {
        uint32_t vni;
        uint32_t seq;
        const Session* session;
    };
    std::vector<Entry> entries;  // written by the worker thread; read after `count` says so
    std::atomic<size_t> count{0};
    std::atomic<bool> closed{false};
    std::thread::id wrote_on;   // the worker's thread
    std::thread::id closed_on;  // set before `closed`
    std::vector<uint32_t> seqs(uint32_t vni) const {
        std::vector<uint32_t> out;
        for (const auto& e : entries)
            if (e.vni == vni) out.push_back(e.seq);
        return out;
    }
};

class RecordingSink final : public Sink {
public:
    RecordingSink(std::string_view kind, uint64_t generation, std::shared_ptr<Recording> into)
        : name_(kind), slot_(counter_slot(sink_kind(kind), generation)), into_(std::move(into)) {}

    std::string_view name() const override { return name_; }
    uint32_t slot() const override { return slot_; }
    void write(std::span<const Packet> batch) override {
        if (hold.load()) {
            held.store(true);
            eventually([this] { return !hold.load(); });  // a stalled sink, bounded
        }
        into_->wrote_on = std::this_thread::get_id();
        for (const Packet& p : batch) {
            into_->entries.push_back({p.session->vni, seq_of(p.frame), p.session});
            p.session->sinks[slot_].written.add();
        }
        into_->count.store(into_->entries.size(), std::memory_order_release);
    }
    void tick(uint64_t) override {}
    void rotate() override {}
    void close() override {
        if (into_->closed.load()) return;  // like every sink: the first close counts
        into_->closed_on = std::this_thread::get_id();
        into_->closed.store(true, std::memory_order_release);
    }
    SinkStats stats() const override { return {}; }
    Result<> health() const override {
        if (!broken.load()) return {};
        return fail("told to be broken");
    }

    std::atomic<bool> hold{false};  // write() waits while set
    std::atomic<bool> held{false};  // write() has waited
    std::atomic<bool> broken{false};

private:
    std::string name_;
    uint32_t slot_;
    std::shared_ptr<Recording> into_;
};

// A receive socket opened as the collector opens its own (SocketGroup), and a
// socket that sends VXLAN datagrams to it over loopback.
struct LoopbackFeed {
    std::unique_ptr<UdpSource> source;
    int sender = -1;
    sockaddr_in to{};

    LoopbackFeed() {
        const auto listen = parse_endpoint("127.0.0.1:0");
        auto group = SocketGroup::open(*listen, 1, 8u << 20);
        if (!group) throw std::runtime_error(group.error());
        socklen_t len = sizeof to;
        getsockname(group->fds[0], reinterpret_cast<sockaddr*>(&to), &len);
        source = std::make_unique<UdpSource>(group->fds[0]);
        sender = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    }
    ~LoopbackFeed() { ::close(sender); }

    void send(uint32_t vni, uint32_t seq) {
        const Buf d = vxlan(vni, numbered_frame(seq));
        // Loopback delivers or fails the call: a full receive buffer would show as a kernel drop.
        if (::sendto(sender, d.data(), d.size(), 0, reinterpret_cast<const sockaddr*>(&to), sizeof to) !=
            ssize_t(d.size()))
            throw std::runtime_error("sendto failed");
    }
};

}  // namespace mirrortap::test
