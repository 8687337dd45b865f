// The one capture mirrortap-find writes, records in the order given: a
// classic pcap (nanosecond timestamps, magic a1b23c4d, Ethernet), or with
// -F pcapng a pcapng section whose interfaces say where each packet came
// from: one per session and collector (name session@collector, the VNI in
// its description), nanosecond resolution (if_tsresol 9).
#pragma once
#include <cstdint>
#include <cstdio>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include "base/enum_names.hpp"
#include "base/result.hpp"

namespace mirrortap::find {

enum class OutputFormat { pcap, pcapng };
inline constexpr auto kOutputFormatNames = enum_names<OutputFormat>({
    {OutputFormat::pcap, "pcap"},
    {OutputFormat::pcapng, "pcapng"},
});
Result<OutputFormat> parse_output_format(std::string_view text);

// Where a packet was captured: a session of a collector (its id, or the
// directory it was read from when no index names it), and the session's VNI
// when an index gives it.
struct Origin {
    std::string session, collector;
    std::optional<uint32_t> vni;
};

struct Packet {
    uint64_t ts_ns = 0;
    uint32_t caplen = 0;
    uint32_t len = 0;
    const uint8_t* data = nullptr;
    const Origin* origin = nullptr;  // pcapng: the packet's interface; nullptr: "unknown"
};

class PcapOutput {
public:
    // stdout when path is ""; or why it cannot be opened.
    Result<> open(const std::string& path, OutputFormat format = OutputFormat::pcap);
    // To a stream the caller owns and closes (the server's HTTP response),
    // the file header buffered, not flushed: nothing reaches the client
    // before the search has found its sources, so a refusal can still be an
    // HTTP error instead of a cut stream.
    Result<> attach(std::FILE* stream, OutputFormat format);
    // Why not once a write failed (a closed pipe: the reader is gone).
    Result<> write(const Packet& p);
    Result<> flush();
    Result<> close();
    uint64_t packets() const { return packets_; }
    bool reader_gone() const { return reader_gone_; }

private:
    Result<> start(OutputFormat format);  // the file header
    // errno's reason; a closed pipe is noted as the reader gone.
    Result<> failed();
    Result<> put(const void* data, size_t size);
    // pcapng: the interface of an origin, its description block written before its first packet.
    Result<uint32_t> interface_for(const Origin* origin);
    std::FILE* out_ = nullptr;
    bool owned_ = false;
    OutputFormat format_ = OutputFormat::pcap;
    std::map<std::pair<std::string, std::string>, uint32_t> interfaces_;
    uint64_t packets_ = 0;
    bool reader_gone_ = false;
};

}  // namespace mirrortap::find
