// Reads pcap back through libpcap, the library tcpdump, Zeek and Suricata read
// our files with, so a test passes only if a real reader accepts the file; the
// writer's own structs would agree with the writer's mistakes.
#pragma once
#include <pcap/pcap.h>
#include <stdio.h>

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

namespace mirrortap::test {

// The classic format's fixed sizes (pcap file format, draft-ietf-opsawg-pcap),
// for tests that count bytes on disk or on a pipe.
inline constexpr size_t kPcapFileHeaderBytes = 24;
inline constexpr size_t kPcapRecordHeaderBytes = 16;

struct PcapRecord {
    uint64_t ts_ns = 0;
    uint32_t caplen = 0;
    uint32_t len = 0;
    std::vector<std::byte> data;
};

struct PcapRead {
    bool opened = false;
    std::string error;  // libpcap's message when it refused to open or read on
    int major = 0, minor = 0;
    bool swapped = false;
    int linktype = -1;
    int snaplen = -1;
    std::vector<PcapRecord> records;
    // pcap_next_ex ended at a clean end of file, not on a record cut short.
    bool whole = false;
};

namespace detail {

// Takes ownership of `p`. Nanosecond precision was requested at open, so
// ts.tv_usec carries nanoseconds; a microsecond file would read back as
// multiples of 1000, which the tests' odd timestamps tell apart.
inline PcapRead drain(pcap_t* p, const char* errbuf) {
    PcapRead r;
    if (!p) {
        r.error = errbuf;
        return r;
    }
    r.opened = true;
    r.major = pcap_major_version(p);
    r.minor = pcap_minor_version(p);
    r.swapped = pcap_is_swapped(p) == 1;
    r.linktype = pcap_datalink(p);
    r.snaplen = pcap_snapshot(p);
    pcap_pkthdr* h = nullptr;
    const u_char* bytes = nullptr;
    int rc;
    while ((rc = pcap_next_ex(p, &h, &bytes)) == 1) {
        PcapRecord rec;
        rec.ts_ns = uint64_t(h->ts.tv_sec) * 1'000'000'000ull + uint64_t(h->ts.tv_usec);
        rec.caplen = h->caplen;
        rec.len = h->len;
        rec.data.assign(reinterpret_cast<const std::byte*>(bytes), reinterpret_cast<const std::byte*>(bytes) + h->caplen);
        r.records.push_back(std::move(rec));
    }
    r.whole = rc == PCAP_ERROR_BREAK;
    if (!r.whole) r.error = pcap_geterr(p);
    pcap_close(p);
    return r;
}

}  // namespace detail

inline PcapRead read_pcap(const std::filesystem::path& path) {
    char errbuf[PCAP_ERRBUF_SIZE] = {};
    return detail::drain(pcap_open_offline_with_tstamp_precision(path.c_str(), PCAP_TSTAMP_PRECISION_NANO, errbuf),
                         errbuf);
}

// A live stream's bytes as a reader on the pipe received them.
inline PcapRead read_pcap(const std::vector<std::byte>& stream) {
    char errbuf[PCAP_ERRBUF_SIZE] = {};
    // fmemopen refuses a zero-length buffer; an empty stream is simply unreadable.
    FILE* f = stream.empty() ? nullptr : fmemopen(const_cast<std::byte*>(stream.data()), stream.size(), "rb");
    if (!f) {
        PcapRead r;
        r.error = "empty stream";
        return r;
    }
    pcap_t* p = pcap_fopen_offline_with_tstamp_precision(f, PCAP_TSTAMP_PRECISION_NANO, errbuf);
    if (!p) fclose(f);  // on success pcap_close closes it
    return detail::drain(p, errbuf);
}

}  // namespace mirrortap::test
