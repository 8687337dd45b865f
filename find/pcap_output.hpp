// The one pcap mirrortap-find writes: nanosecond timestamps (magic
// a1b23c4d), Ethernet, records in the order given.
#pragma once
#include <cstdint>
#include <cstdio>
#include <string>

#include "base/result.hpp"

namespace mirrortap::find {

struct Packet {
    uint64_t ts_ns = 0;
    uint32_t caplen = 0;
    uint32_t len = 0;
    const uint8_t* data = nullptr;
};

class PcapOutput {
public:
    // stdout when path is ""; or why it cannot be opened.
    Result<> open(const std::string& path);
    // Why not once a write failed (a closed pipe: the reader is gone).
    Result<> write(const Packet& p);
    Result<> flush();
    Result<> close();
    uint64_t packets() const { return packets_; }
    bool reader_gone() const { return reader_gone_; }

private:
    // errno's reason; a closed pipe is noted as the reader gone.
    Result<> failed();
    std::FILE* out_ = nullptr;
    bool owned_ = false;
    uint64_t packets_ = 0;
    bool reader_gone_ = false;
};

}  // namespace mirrortap::find
