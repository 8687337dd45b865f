// Every metric the sender exports: name, type and help, spelled once.
#pragma once
#include <prometheus/metric_type.h>

namespace mirrortap::sender::metrics {

struct Def {
    const char* name;
    prometheus::MetricType type;
    const char* help;
};

using T = prometheus::MetricType;

inline constexpr Def build_info{"mirrortap_sender_build_info", T::Gauge,
    "Always 1; the version label says which build runs."};
inline constexpr Def captured_packets{"mirrortap_sender_captured_packets_total", T::Counter,
    "Frames read from the capture ring, by interface. Each ends filtered, dropped or mirrored."};
inline constexpr Def captured_bytes{"mirrortap_sender_captured_bytes_total", T::Counter,
    "Bytes of the frames read from the capture ring (their length on the wire), by interface."};
inline constexpr Def pcap_dropped{"mirrortap_sender_pcap_dropped_packets_total", T::Counter,
    "Frames lost before the sender saw them: reason kernel (the capture ring was full) or "
    "interface (the interface's rx_dropped and rx_missed_errors)."};
inline constexpr Def mirrored_packets{"mirrortap_sender_mirrored_packets_total", T::Counter,
    "Frames sent to the target, by the session that took them."};
inline constexpr Def mirrored_bytes{"mirrortap_sender_mirrored_bytes_total", T::Counter,
    "Bytes of inner frames sent to the target, after truncation, by session."};
inline constexpr Def filtered_packets{"mirrortap_sender_filtered_packets_total", T::Counter,
    "Frames not mirrored by filter verdict: rejected (a reject rule matched, no session "
    "accepted), no_match (no rule matched), non_ip, aws_service (AWS never mirrors it: instance metadata, time, "
    "Windows activation, DHCP, DHCPv6, Amazon DNS unless a filter lists amazon-dns), own_traffic (the sender's "
    "own VXLAN)."};
inline constexpr Def rule_decisions{"mirrortap_sender_rule_decisions_total", T::Counter,
    "Frames decided by a filter rule: the accept rule of the session that mirrored them, or the "
    "first reject rule met when none did."};
inline constexpr Def truncated_packets{"mirrortap_sender_truncated_packets_total", T::Counter,
    "Frames cut before sending, by reason: packet_length (the session's) or mtu (the path's)."};
inline constexpr Def dropped_packets{"mirrortap_sender_dropped_packets_total", T::Counter,
    "Frames a session accepted that were not sent, by reason: rate_limit, socket_full, "
    "send_error, no_target."};
inline constexpr Def sent_datagrams{"mirrortap_sender_sent_datagrams_total", T::Counter,
    "VXLAN datagrams the kernel accepted."};
inline constexpr Def sent_bytes{"mirrortap_sender_sent_bytes_total", T::Counter,
    "Bytes of the outer IP packets the kernel accepted, headers included."};
inline constexpr Def target_unreachable{"mirrortap_sender_target_unreachable_total", T::Counter,
    "ICMP destination unreachable (port, host, network...) received about datagrams sent to the target: "
    "nothing listens there, or no route."};
inline constexpr Def target_path_failures{"mirrortap_sender_target_path_failures_total", T::Counter,
    "Seconds in which a target looked unreachable, by target and reason: icmp_unreachable (ICMP destination "
    "unreachable, or a send refused with it), no_neighbour (no ARP/ND answer from the next hop), no_route."};
inline constexpr Def target_up{"mirrortap_sender_target_up", T::Gauge,
    "1 while the target is reachable or within the grace period (unreachable_grace); 0 after: /healthz is red."};
inline constexpr Def resegmented_packets{"mirrortap_sender_resegmented_packets_total", T::Counter,
    "Packets made beyond the captured frames by cutting TCP super-frames (TSO/GSO/GRO) back into the wire's "
    "segments: a frame cut into N counts N - 1. Captured + resegmented = mirrored + filtered + dropped."};
inline constexpr Def sendmmsg_calls{"mirrortap_sender_sendmmsg_calls_total", T::Counter,
    "sendmmsg system calls; sent_datagrams over this is the mean batch."};
inline constexpr Def sessions{"mirrortap_sender_sessions", T::Gauge, "Mirror sessions configured."};
inline constexpr Def resolutions{"mirrortap_sender_target_resolutions_total", T::Counter,
    "Lookups of the target's address, by result (ok, failed)."};
inline constexpr Def reloads{"mirrortap_sender_config_reloads_total", T::Counter,
    "SIGHUP reloads, by result (ok, failed: the old config stays)."};

}  // namespace mirrortap::sender::metrics
