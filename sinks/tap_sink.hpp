// The IDS feed as interfaces: decapsulated frames written to Linux TAP
// devices that Zeek or Suricata sniff, one device per IDS worker. A flow goes
// to one TAP, chosen by a symmetric hash, so both directions meet in one worker.
#pragma once
#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "config/config.hpp"
#include "core/sink.hpp"

namespace mirrortap {

inline constexpr size_t kVlanTagBytes = 4;
// Frames we can receive are at most a 9216-byte datagram less the VXLAN
// header; the TAP's MTU is raised so that IDS capture buffers sized from the
// MTU (Suricata's af-packet does this) never cut them.
inline constexpr uint32_t kTapMtu = 9216;

// Writes `frame` with an 802.1Q tag (TPID 0x8100, PCP 0, VID `vid`) pushed
// after the two MAC addresses, outermost before any tags already there.
// `out` holds frame.size() + 4 bytes; returns the bytes written.
size_t push_vlan_tag(Bytes frame, uint16_t vid, std::byte* out);

// Which of `count` outputs a flow goes to: both directions of a flow, and
// only that session's flow, give the same answer.
inline uint32_t flow_output(const FlowKey& flow, uint32_t vni, uint32_t count) {
    return count <= 1 ? 0 : FlowHash::symmetric(flow, vni) % count;
}

// The TAP devices, opened once for the whole process (creating a TAP needs
// CAP_NET_ADMIN, which --user gives up after start) and written by every
// worker. Each worker writes whole frames with one write(2) each, which the
// tun driver takes atomically, so one non-blocking fd per device is shared
// rather than one IFF_MULTI_QUEUE fd per worker: that also attaches to TAPs
// made beforehand with `ip tuntap add` (single-queue), and the write path has
// no per-queue lock for workers to contend on.
class TapDevices final : public SharedOutput {
public:
    ~TapDevices() override;
    // Creates (or attaches to) each named TAP, brings it up, with ARP and IPv6
    // off so the host never answers or adds frames of its own. Devices that
    // `running` already holds (a reload) are shared with it, not opened again,
    // which the tun driver would refuse. Fails with a one-line error.
    Result<> open(const std::vector<std::string>& names, const TapDevices* running = nullptr);
    // Takes an fd opened elsewhere (a supervisor's TAP, a test's socket):
    // frames go to it as to a TAP. Ours to close.
    void adopt(int fd, std::string name) {
        fds_.push_back(fd);
        names_.push_back(std::move(name));
    }
    const std::vector<int>& fds() const { return fds_; }
    const std::vector<std::string>& names() const { return names_; }

private:
    std::vector<int> fds_;
    std::vector<std::string> names_;
};

struct TapSinkOptions {
    std::shared_ptr<TapDevices> devices;
    bool session_vlan = false;
    uint32_t snaplen = 65535;
    uint32_t sink_slot = 1;
    std::vector<NamedSession> sessions;  // for their `vlan:` keys (Config::session_vlan)
};

// One per receive worker. All counting is done here, on the worker's thread.
class TapSink final : public Sink {
public:
    explicit TapSink(TapSinkOptions options);

    std::string_view name() const override { return "tap"; }
    uint32_t slot() const override { return opt_.sink_slot; }
    void write(std::span<const Packet> batch) override;
    void tick(uint64_t) override {}
    void rotate() override {}
    void close() override { closed_ = true; }
    // Forgets the session's VLAN: its id will serve another session.
    uint64_t expire(Session& s) override;
    SinkStats stats() const override { return {bytes_written_.get(), 0}; }
    Result<> health() const override;

private:
    uint16_t vlan_for(const Session& s);
    void note_error(size_t device, int err);

    TapSinkOptions opt_;
    std::vector<uint16_t> vlan_by_session_;  // by Session::id, grown on a session's first packet; 0 = not looked up yet
    std::unique_ptr<std::byte[]> scratch_;   // a tagged frame is built here, never allocated
    bool closed_ = false;
    RelaxedCounter bytes_written_;
    // Read by the exporter thread: the errno of the last failed write, 0 after a success.
    std::atomic<int> last_error_{0};
    std::atomic<size_t> last_error_device_{0};
};

}  // namespace mirrortap
