// The one pcap mirrortap-find writes: nanosecond timestamps (magic
// a1b23c4d), Ethernet, records in the order given.
#pragma once
#include <cstdint>
#include <cstdio>
#include <string>

namespace mirrortap::find {

struct Packet {
    uint64_t ts_ns = 0;
    uint32_t caplen = 0;
    uint32_t len = 0;
    const uint8_t* data = nullptr;
};

class PcapOutput {
public:
    // stdout when path is ""; false with why when it cannot be opened.
    bool open(const std::string& path, std::string& why);
    // False once a write failed (a closed pipe: the reader is gone).
    bool write(const Packet& p);
    bool flush();
    bool close();
    uint64_t packets() const { return packets_; }
    const std::string& error() const { return error_; }
    bool reader_gone() const { return reader_gone_; }

private:
    bool fail();
    std::FILE* out_ = nullptr;
    bool owned_ = false;
    uint64_t packets_ = 0;
    std::string error_;
    bool reader_gone_ = false;
};

}  // namespace mirrortap::find
