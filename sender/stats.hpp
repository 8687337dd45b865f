// The sender's counters. One thread (the capture loop) writes them; the
// metrics exporter reads them at scrape time. Single-writer relaxed atomics:
// a plain load and store on x86, no locked instruction on the hot path.
#pragma once
#include <array>
#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "sender/filter.hpp"
#include "sender/session_engine.hpp"

namespace mirrortap::sender {

struct Count {
    std::atomic<uint64_t> v{0};
    void add(uint64_t n = 1) { v.store(v.load(std::memory_order_relaxed) + n, std::memory_order_relaxed); }
    void set(uint64_t n) { v.store(n, std::memory_order_relaxed); }
    uint64_t get() const { return v.load(std::memory_order_relaxed); }
};

// Each value is a `reason` label of mirrortap_sender_dropped_packets_total.
enum class DropReason : uint8_t {
    rate_limit,   // over --max-rate
    socket_full,  // the kernel would not queue the datagram (EAGAIN, ENOBUFS)
    send_error,   // any other send failure (no route, message too long...)
    no_target,    // the target has not resolved yet
};
inline constexpr auto kDropReasonNames = enum_names<DropReason>({
    {DropReason::rate_limit, "rate_limit"},
    {DropReason::socket_full, "socket_full"},
    {DropReason::send_error, "send_error"},
    {DropReason::no_target, "no_target"},
});

// Each value is a `verdict` label of mirrortap_sender_filtered_packets_total.
enum class FilteredVerdict : uint8_t { rejected, no_match, non_ip, aws_service, own_traffic };
inline constexpr auto kFilteredVerdictNames = enum_names<FilteredVerdict>({
    {FilteredVerdict::rejected, "rejected"},
    {FilteredVerdict::no_match, "no_match"},
    {FilteredVerdict::non_ip, "non_ip"},
    {FilteredVerdict::aws_service, "aws_service"},
    {FilteredVerdict::own_traffic, "own_traffic"},
});

struct InterfaceStats {
    std::string name;
    Count captured_packets;
    Count captured_bytes;   // bytes on the wire (pcap's len)
    Count pcap_dropped;     // the capture ring was full (PACKET_STATISTICS tp_drops)
    Count pcap_ifdropped;   // dropped by the interface or driver (rx_dropped, rx_missed_errors)
};

struct RuleStats {
    Direction direction;
    uint16_t rule_number;
    RuleAction action;
    Count decisions;  // packets this rule decided (accepted into, or rejected from, its session)
};

struct SessionStats {
    std::string name;
    uint32_t vni = 0;
    Count mirrored_packets;
    Count mirrored_bytes;  // inner frame bytes sent, after truncation
    // Every rule this session has had, kept across reloads so counters only grow.
    std::vector<std::unique_ptr<RuleStats>> rules;

    // Find or create; call with SenderStats::lock held.
    RuleStats* rule(Direction d, uint16_t number, RuleAction action) {
        for (auto& r : rules)
            if (r->direction == d && r->rule_number == number && r->action == action) return r.get();
        rules.push_back(std::make_unique<RuleStats>());
        RuleStats* r = rules.back().get();
        r->direction = d;
        r->rule_number = number;
        r->action = action;
        return r;
    }
};

// Why a target looks unreachable; each value is a `reason` label of
// mirrortap_sender_target_path_failures_total.
enum class PathFailure : uint8_t {
    icmp_unreachable,  // ICMP destination unreachable about our datagrams, or a send refused with it
    no_neighbour,      // the next hop does not answer ARP / neighbour discovery (FAILED, INCOMPLETE)
    no_route,          // the kernel has no route to the target
};
inline constexpr auto kPathFailureNames = enum_names<PathFailure>({
    {PathFailure::icmp_unreachable, "icmp_unreachable"},
    {PathFailure::no_neighbour, "no_neighbour"},
    {PathFailure::no_route, "no_route"},
});

// One target's health, as the once-a-second check sees it (cold path).
struct TargetHealth {
    std::string name;  // "host:port" as configured
    // Seconds in which each failure was seen.
    std::array<Count, kPathFailureNames.size()> failures;
    Count up;  // 1, or 0 once it has failed for longer than the grace period
    // What /healthz says while it is down; under SenderStats::lock.
    std::string problem;
};

struct SenderStats {
    std::array<Count, kFilteredVerdictNames.size()> filtered;
    std::array<Count, kDropReasonNames.size()> dropped;
    Count truncated_packet_length;
    Count truncated_mtu;
    Count sent_datagrams;
    Count sent_bytes;  // outer IP packets, headers included
    Count resolutions_ok;
    Count resolutions_failed;
    Count reloads_ok;
    Count reloads_failed;
    Count sendmmsg_calls;
    Count target_unreachable;  // ICMP "destination unreachable" about our datagrams
    // Packets a super-frame made beyond itself (N segments: N - 1), so that
    // captured + resegmented = mirrored + filtered + dropped.
    Count resegmented;
    Count configured_sessions;

    // Replaced on reload; the exporter takes the lock, the hot path never does
    // (it holds raw pointers that stay valid because old entries are kept).
    mutable std::mutex lock;
    std::vector<std::shared_ptr<InterfaceStats>> interfaces;
    std::vector<std::shared_ptr<SessionStats>> sessions;
    std::vector<std::shared_ptr<TargetHealth>> targets;  // every target this run has had

    // Find or create; call with `lock` held.
    InterfaceStats* interface(const std::string& name) {
        for (auto& i : interfaces)
            if (i->name == name) return i.get();
        interfaces.push_back(std::make_shared<InterfaceStats>());
        interfaces.back()->name = name;
        return interfaces.back().get();
    }
    TargetHealth* target(const std::string& name) {
        for (auto& t : targets)
            if (t->name == name) return t.get();
        targets.push_back(std::make_shared<TargetHealth>());
        targets.back()->name = name;
        targets.back()->up.set(1);
        return targets.back().get();
    }
    SessionStats* session(const std::string& name, uint32_t vni) {
        for (auto& s : sessions)
            if (s->name == name && s->vni == vni) return s.get();
        sessions.push_back(std::make_shared<SessionStats>());
        sessions.back()->name = name;
        sessions.back()->vni = vni;
        return sessions.back().get();
    }
};

}  // namespace mirrortap::sender
