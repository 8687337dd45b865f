// libpcap on one interface in one direction, immediate mode, big ring. The
// direction is the kernel's (pcap_setdirection: PACKET_OUTGOING is egress,
// the rest ingress), never guessed from MAC addresses. Frames for other hosts
// (what the kernel marks PACKET_OTHERHOST on a promiscuous interface or a
// bridge member) are refused by the ingress capture's filter, by the
// kernel's own rule: a unicast destination that is not the interface's MAC.
#pragma once
#include <pcap/pcap.h>

#include <array>
#include <cstdint>
#include <memory>
#include <string>

#include <vector>

#include "base/result.hpp"
#include "sender/filter.hpp"
#include "sender/own_traffic.hpp"
#include "sender/stats.hpp"

namespace mirrortap::sender {

struct CaptureOptions {
    uint64_t buffer_bytes = 64ull << 20;
    uint32_t snaplen = 65535;
};

// A BPF program compiled for one capture, ready to install on it.
struct CompiledFilter {
    std::string expression;  // as given, without the capture's own part
    bpf_program program{};
    CompiledFilter() = default;
    ~CompiledFilter() { pcap_freecode(&program); }
    CompiledFilter(const CompiledFilter&) = delete;
    CompiledFilter& operator=(const CompiledFilter&) = delete;
};

// What a capture adds to every filter: for ingress on an interface with a
// MAC, "not a unicast frame for another MAC" (PACKET_OTHERHOST); for egress
// nothing. (A filter reading the kernel's packet type itself would do, but
// libpcap runs the filter in user space on what the ring held before it was
// installed, where that type cannot be read, and would drop those frames.)
std::string with_direction_filter(const std::string& expression, Direction direction, const std::string& mac_text);

class Capture {
public:
    // Opened and activated (the ring is capturing from here on), not yet
    // counted anywhere; or why the interface cannot be captured on.
    static Result<std::unique_ptr<Capture>> open(const std::string& interface, Direction direction,
                                                 const CaptureOptions& options);
    ~Capture();
    Capture(const Capture&) = delete;
    Capture& operator=(const Capture&) = delete;

    // Where its counts go (the interface's, shared by its two directions).
    void attach_stats(InterfaceStats* stats) { stats_ = stats; }

    // A reload tries the new filter first (compile: what can fail), and
    // installs it only once everything else is ready too.
    Result<std::unique_ptr<CompiledFilter>> compile(const std::string& expression);
    Result<> install(const CompiledFilter& filter);  // or a one-line error
    Result<> set_filter(const std::string& expression);  // both
    const std::string& filter() const { return filter_; }  // the installed expression
    // Adds what libpcap's ps_drop and ps_ifdrop grew by since the last call.
    void update_stats();

    pcap_t* handle() const { return handle_; }
    int selectable_fd() const { return pcap_get_selectable_fd(handle_); }
    const std::string& name() const { return name_; }
    InterfaceStats* stats() const { return stats_; }
    Direction direction() const { return direction_; }

private:
    Capture() = default;
    pcap_t* handle_ = nullptr;
    std::string name_;
    Direction direction_ = Direction::ingress;
    std::string mac_text_;  // "aa:bb:cc:dd:ee:ff", or empty when the interface has none
    InterfaceStats* stats_ = nullptr;
    std::string filter_;
    uint32_t drops_seen_ = 0, ifdrops_seen_ = 0;  // libpcap's counts at the last update
};

// The interface's MTU from sysfs; 0 when it cannot be read.
uint32_t interface_mtu(const std::string& interface);

// The interface's MAC address from sysfs; false when it has none.
bool interface_mac(const std::string& interface, std::array<uint8_t, 6>& mac);

// The BPF expression that keeps the sender's own VXLAN out of its capture,
// and the ICMP errors that quote it (see own_traffic.hpp).
std::string own_traffic_filter(const OwnTarget& target);

}  // namespace mirrortap::sender
