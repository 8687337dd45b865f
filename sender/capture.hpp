// libpcap on one interface, both directions, immediate mode, big ring.
#pragma once
#include <pcap/pcap.h>

#include <array>
#include <cstdint>
#include <memory>
#include <string>

#include "sender/own_traffic.hpp"
#include "sender/stats.hpp"

namespace mirrortap::sender {

struct CaptureOptions {
    uint64_t buffer_bytes = 64ull << 20;
    uint32_t snaplen = 65535;
};

class Capture {
public:
    // nullptr and `error` set when the interface cannot be captured on.
    static std::unique_ptr<Capture> open(const std::string& interface, const CaptureOptions& options,
                                         InterfaceStats* stats, std::string& error);
    ~Capture();
    Capture(const Capture&) = delete;
    Capture& operator=(const Capture&) = delete;

    // Replaces the BPF filter; "" or a one-line error.
    std::string set_filter(const std::string& expression);
    // Copies libpcap's ps_drop and ps_ifdrop into the stats.
    void update_stats();

    pcap_t* handle() const { return handle_; }
    int selectable_fd() const { return pcap_get_selectable_fd(handle_); }
    const std::string& name() const { return name_; }
    InterfaceStats* stats() const { return stats_; }
    // A frame whose source MAC is the interface's own is leaving it: egress.
    bool is_own_mac(const uint8_t* frame) const {
        return has_mac_ && std::equal(mac_.begin(), mac_.end(), frame + 6);
    }

private:
    Capture() = default;
    pcap_t* handle_ = nullptr;
    std::string name_;
    std::array<uint8_t, 6> mac_{};
    bool has_mac_ = false;
    InterfaceStats* stats_ = nullptr;
    uint64_t drops_base_ = 0, ifdrops_base_ = 0;
};

// The interface's MAC address from sysfs; false when it has none.
bool interface_mac(const std::string& interface, std::array<uint8_t, 6>& mac);

// The BPF expression that keeps the sender's own VXLAN out of its capture,
// and the ICMP errors that quote it (see own_traffic.hpp).
std::string own_traffic_filter(const OwnTarget& target);

}  // namespace mirrortap::sender
