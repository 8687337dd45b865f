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

// A BPF program compiled for one capture, ready to install on it.
struct CompiledFilter {
    std::string expression;
    bpf_program program{};
    CompiledFilter() = default;
    ~CompiledFilter() { pcap_freecode(&program); }
    CompiledFilter(const CompiledFilter&) = delete;
    CompiledFilter& operator=(const CompiledFilter&) = delete;
};

class Capture {
public:
    // Opened and activated (the ring is capturing from here on), not yet
    // counted anywhere; nullptr and `error` when the interface cannot be
    // captured on.
    static std::unique_ptr<Capture> open(const std::string& interface, const CaptureOptions& options,
                                         std::string& error);
    ~Capture();
    Capture(const Capture&) = delete;
    Capture& operator=(const Capture&) = delete;

    // Where its counts go; the drop counts continue from the stats' (a capture
    // opened again on a reload does not start them at zero).
    void attach_stats(InterfaceStats* stats);

    // A reload tries the new filter first (compile: what can fail), and
    // installs it only once everything else is ready too.
    std::unique_ptr<CompiledFilter> compile(const std::string& expression, std::string& error);
    std::string install(const CompiledFilter& filter);  // "" or a one-line error
    std::string set_filter(const std::string& expression);  // both
    const std::string& filter() const { return filter_; }  // the installed expression
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
    std::string filter_;
    uint64_t drops_base_ = 0, ifdrops_base_ = 0;
};

// The interface's MAC address from sysfs; false when it has none.
bool interface_mac(const std::string& interface, std::array<uint8_t, 6>& mac);

// The BPF expression that keeps the sender's own VXLAN out of its capture,
// and the ICMP errors that quote it (see own_traffic.hpp).
std::string own_traffic_filter(const OwnTarget& target);

}  // namespace mirrortap::sender
