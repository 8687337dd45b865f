// Classic pcap with nanosecond timestamps: what tcpdump, Wireshark, Zeek and
// Suricata all read. Fields are in host byte order; readers detect it by the magic.
#pragma once
#include <cstdint>
#include <cstring>

namespace mirrortap {

inline constexpr uint32_t kPcapMagicNanoseconds = 0xA1B23C4D;
inline constexpr uint32_t kLinkTypeEthernet = 1;

struct PcapFileHeader {
    uint32_t magic = kPcapMagicNanoseconds;
    uint16_t version_major = 2;
    uint16_t version_minor = 4;
    int32_t thiszone = 0;
    uint32_t sigfigs = 0;
    uint32_t snaplen = 65535;
    uint32_t linktype = kLinkTypeEthernet;
};
static_assert(sizeof(PcapFileHeader) == 24);

struct PcapRecordHeader {
    uint32_t ts_sec;
    uint32_t ts_nsec;
    uint32_t caplen;
    uint32_t len;  // original length on the wire
};
static_assert(sizeof(PcapRecordHeader) == 16);

inline PcapRecordHeader make_record_header(uint64_t timestamp_ns, uint32_t caplen, uint32_t original_length) {
    return {uint32_t(timestamp_ns / 1000000000ull), uint32_t(timestamp_ns % 1000000000ull), caplen,
            original_length < caplen ? caplen : original_length};
}

}  // namespace mirrortap
