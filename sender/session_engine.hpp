// Mirror sessions with AWS semantics: sessions are tried in session_number
// order, and a packet goes to the first whose filter accepts it — once.
// Pure: no I/O, no allocation per packet.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "sender/aws_services.hpp"
#include "sender/filter.hpp"

namespace mirrortap::sender {

inline constexpr uint16_t kMinSessionNumber = 1;
inline constexpr uint16_t kMaxSessionNumber = 32766;
// AWS's quotas (VPC Traffic Mirroring, "Traffic Mirroring quotas"), not adjustable.
inline constexpr size_t kMaxSessionsPerInterface = 3;
inline constexpr size_t kMaxRulesPerDirection = 10;
inline constexpr size_t kMaxInterfaces = 64;  // one bit each in Session::interfaces

struct Session {
    uint16_t session_number = 1;   // 1..32766, lower = higher priority
    uint32_t vni = 0;              // virtual_network_id, 24 bits
    std::optional<uint32_t> packet_length;  // bytes of each frame kept; absent = whole frame
    Filter filter;
    std::string description;
    // The source interfaces, as bits of RunConfig's interface list (bit i =
    // capture_interfaces()[i]); 0 = every interface (tests, --explain).
    uint64_t interfaces = 0;
    // Where its packets go: an index into session_targets() (0 = the first).
    uint16_t target = 0;

    // "session-<n>" unless described; used as the metric label.
    std::string name() const;
    bool operator==(const Session&) const = default;
};

// Why a packet was not mirrored; each value is a metric `verdict` label.
enum class NotMirrored : uint8_t {
    rejected,  // some session's filter matched a reject rule, none accepted
    no_match,  // no rule of any session matched (AWS's implicit reject)
    non_ip,    // not IPv4/IPv6: AWS filters never select it
    aws_service,  // AWS never mirrors it (aws_services.hpp), or Amazon DNS no filter asked for
};
inline constexpr auto kNotMirroredNames = enum_names<NotMirrored>({
    {NotMirrored::rejected, "rejected"},
    {NotMirrored::no_match, "no_match"},
    {NotMirrored::non_ip, "non_ip"},
    {NotMirrored::aws_service, "aws_service"},
});

struct Classification {
    int session_index = -1;            // into SessionEngine::sessions(); -1 = not mirrored
    const FilterRule* rule = nullptr;  // the accepting rule, or the first reject seen
    int rule_session_index = -1;       // the session `rule` belongs to
    NotMirrored not_mirrored = NotMirrored::no_match;
    AwsService service = AwsService::none;  // which, when not_mirrored is aws_service
    bool mirrored() const { return session_index >= 0; }
};

class SessionEngine {
public:
    SessionEngine() = default;
    explicit SessionEngine(std::vector<Session> sessions);  // sorts by session_number

    // `interface`: the capture's bit (Session::interfaces); only the
    // sessions of that source interface are tried.
    Classification classify(Direction dir, const InnerFrame& packet, uint64_t interface = ~uint64_t(0)) const;
    const std::vector<Session>& sessions() const { return sessions_; }
    // Some session's filter lists the amazon-dns network service.
    bool any_amazon_dns() const { return any_amazon_dns_; }
    // The VPC's own Amazon DNS addresses (vpc_cidr), besides 169.254.169.253.
    void set_vpc_resolvers(VpcResolvers r) { resolvers_ = std::move(r); }
    const VpcResolvers& vpc_resolvers() const { return resolvers_; }

private:
    std::vector<Session> sessions_;
    bool any_amazon_dns_ = false;
    VpcResolvers resolvers_;
};

// Bytes of a frame that go on the wire: the session's packet length, then the
// path MTU (AWS truncates a mirrored packet that would not fit the target's
// MTU once encapsulated rather than fragmenting it).
struct Truncation {
    uint32_t length = 0;
    bool by_packet_length = false;
    bool by_mtu = false;
};

// What AWS keeps free around the inner Ethernet frame. AWS documents that at
// a target MTU of 9001 mirrored packets up to 8947 bytes are not truncated:
// 54 bytes around the inner IP packet with an IPv4 target (74 with IPv6).
// Outer IP + UDP + VXLAN + the inner Ethernet header add up to 50 (70); the
// 4 bytes more are AWS's, and kept so that we cut where AWS cuts.
inline constexpr uint32_t kAwsUnexplainedBytes = 4;
inline constexpr uint32_t kOuterOverheadIpv4Bytes = 20 + 8 + 8 + kAwsUnexplainedBytes;
inline constexpr uint32_t kOuterOverheadIpv6Bytes = 40 + 8 + 8 + kAwsUnexplainedBytes;

// Largest inner frame that fits a path MTU once encapsulated.
inline uint32_t max_inner_frame_bytes(uint32_t path_mtu, bool outer_ipv6) {
    const uint32_t overhead = outer_ipv6 ? kOuterOverheadIpv6Bytes : kOuterOverheadIpv4Bytes;
    return path_mtu > overhead ? path_mtu - overhead : 0;
}

Truncation truncate_frame(uint32_t frame_bytes, std::optional<uint32_t> packet_length,
                          uint32_t max_inner_bytes);

}  // namespace mirrortap::sender
