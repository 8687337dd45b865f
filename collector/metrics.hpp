// Every metric the collector exports: name, type and help, spelled once.
#pragma once
#include <prometheus/metric_type.h>

namespace mirrortap::metrics {

struct Def {
    const char* name;
    prometheus::MetricType type;
    const char* help;
};

using T = prometheus::MetricType;

inline constexpr Def build_info{"mirrortap_build_info", T::Gauge, "Always 1; the version label says which build runs."};
inline constexpr Def received_packets{"mirrortap_received_packets_total", T::Counter,
    "UDP datagrams read from the receive sockets (or the --capture-interface rings)."};
inline constexpr Def received_bytes{"mirrortap_received_bytes_total", T::Counter,
    "Bytes of UDP payload (VXLAN header and inner frame) read from the receive sockets."};
inline constexpr Def decap_errors{"mirrortap_decap_errors_total", T::Counter,
    "Datagrams refused before reaching a session, by reason. Never written."};
inline constexpr Def socket_drops{"mirrortap_socket_drops_total", T::Counter,
    "Datagrams lost before a worker read them, by reason: queue_full (a receive socket's buffer, SO_RXQ_OVFL, "
    "or a --capture-interface ring, PACKET_STATISTICS tp_drops, was full), outer_fragment (the ring: an IPv6 "
    "fragment for the listen port, never reassembled)."};
inline constexpr Def ring_refused{"mirrortap_ring_refused_total", T::Counter,
    "Frames the --capture-interface ring refused because the kernel's UDP receive path drops them before any "
    "socket (so the socket source never sees them either), by reason: bad_ip_header, bad_ip_checksum, bad_length "
    "(the IP length past the frame, the UDP length past the IP payload or below 8), bad_udp_checksum, "
    "martian_source, martian_destination, not_for_this_host (listening on any address, a destination that is none "
    "of the host's). Not counted as received."};
inline constexpr Def sessions{"mirrortap_sessions", T::Gauge,
    "Mirror sessions now held (live, or ended and finishing); what max_sessions bounds."};
inline constexpr Def sessions_folded{"mirrortap_sessions_folded", T::Gauge,
    "Live sessions summed into session=\"other\" rather than shown on their own (past metrics.max_session_series)."};
inline constexpr Def sessions_expired{"mirrortap_sessions_expired_total", T::Counter,
    "Sessions ended after session_idle_seconds without packets (or refused by a reload) and released."};
inline constexpr Def expired_session_packets{"mirrortap_expired_session_packets_total", T::Counter,
    "Inner frames routed to sessions since released (those in session=\"other\" stay there): with "
    "mirrortap_session_packets_total, all ever routed."};
inline constexpr Def expired_session_bytes{"mirrortap_expired_session_bytes_total", T::Counter,
    "Bytes of inner frames routed to sessions since released."};
inline constexpr Def expired_sink_packets{"mirrortap_expired_sink_packets_total", T::Counter,
    "Packets of released sessions that fed this sink: its expired written + dropped."};
inline constexpr Def expired_sink_written{"mirrortap_expired_sink_written_packets_total", T::Counter,
    "Packets a sink delivered for sessions since released."};
inline constexpr Def expired_sink_dropped{"mirrortap_expired_sink_dropped_packets_total", T::Counter,
    "Packets a sink could not deliver for sessions since released, by reason."};
inline constexpr Def session_packets{"mirrortap_session_packets_total", T::Counter,
    "Inner frames routed to a session; session=\"other\": to the sessions past metrics.max_session_series."};
inline constexpr Def session_bytes{"mirrortap_session_bytes_total", T::Counter,
    "Bytes of inner frames routed to a session, as received."};
inline constexpr Def session_sources{"mirrortap_session_sources", T::Gauge,
    "Distinct outer source addresses seen for a session (bounded)."};
inline constexpr Def sink_written{"mirrortap_sink_written_packets_total", T::Counter,
    "Packets a sink delivered (on disk, on the device, on the wire)."};
inline constexpr Def sink_dropped{"mirrortap_sink_dropped_packets_total", T::Counter,
    "Packets a sink could not deliver, by reason."};
inline constexpr Def sink_buffered{"mirrortap_sink_buffered_packets", T::Gauge,
    "Packets a sink accepted and has not yet delivered or dropped."};
inline constexpr Def pcap_files_rotated{"mirrortap_pcap_files_rotated_total", T::Counter,
    "Pcap files finished (renamed from .pcap.part to .pcap)."};
inline constexpr Def pcap_bytes_written{"mirrortap_pcap_bytes_written_total", T::Counter,
    "Bytes written to pcap files, headers included."};
inline constexpr Def pcap_index_files{"mirrortap_pcap_index_files_total", T::Counter,
    "Flow indexes written beside finished pcap files (<file>.flows.json.gz)."};
inline constexpr Def pcap_index_failures{"mirrortap_pcap_index_failures_total", T::Counter,
    "Finished pcap files whose flow index could not be written (the pcap is kept without one)."};
inline constexpr Def pcap_index_incomplete{"mirrortap_pcap_index_incomplete_total", T::Counter,
    "Flow indexes written with index_complete false: the file had more flows than pcap.index_max_flows."};
inline constexpr Def pcap_disk_free{"mirrortap_pcap_disk_free_bytes", T::Gauge,
    "Free bytes, for unprivileged users, on the filesystem of the pcap directory."};
inline constexpr Def batch_duration{"mirrortap_batch_duration_seconds", T::Histogram,
    "Time from a received batch to the next receive call: decapsulating it, handing it to every sink, "
    "and the sinks' housekeeping (tick, rotate, reload) that follows it."};
inline constexpr Def workers_alive{"mirrortap_workers_alive", T::Gauge,
    "Receive workers that passed through their loop within the last two seconds."};
inline constexpr Def upload_files{"mirrortap_upload_files_total", T::Counter,
    "Finished pcap files by what became of them on the way to S3: uploaded; failed (an attempt; the file stays queued); "
    "missing (gone before upload); unreadable (cannot be opened or named; left on disk); "
    "deleted_before_upload (retention at the disk floor)."};
inline constexpr Def upload_request_failures{"mirrortap_upload_request_failures_total", T::Counter,
    "Requests to S3 that failed, each attempt counted (those sent again included), by reason: checksum_mismatch "
    "(the body did not match its Content-MD5, SHA-256 or x-amz-checksum-sha256), throttled, server_error, "
    "connection, expired_token, refused."};
inline constexpr Def upload_bytes{"mirrortap_upload_bytes_total", T::Counter,
    "Bytes of objects stored in S3 (pcaps and flow indexes)."};
inline constexpr Def upload_backlog_files{"mirrortap_upload_backlog_files", T::Gauge,
    "Finished pcap files waiting for upload (queued or going up)."};
inline constexpr Def upload_backlog_bytes{"mirrortap_upload_backlog_bytes", T::Gauge,
    "Bytes of finished pcap files waiting for upload."};
inline constexpr Def upload_last_success{"mirrortap_upload_last_success_timestamp_seconds", T::Gauge,
    "Unix time of the last file stored in S3; 0 until the first."};
inline constexpr Def healthy{"mirrortap_healthy", T::Gauge, "1 while /healthz answers 200, else 0."};

}  // namespace mirrortap::metrics
