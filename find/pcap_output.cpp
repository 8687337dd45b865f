#include "find/pcap_output.hpp"

#include <cerrno>
#include <cstring>

namespace mirrortap::find {

namespace {
struct FileHeader {
    uint32_t magic = 0xA1B23C4D;
    uint16_t major = 2, minor = 4;
    int32_t thiszone = 0;
    uint32_t sigfigs = 0;
    uint32_t snaplen = 262144;
    uint32_t linktype = 1;  // Ethernet
};
struct RecordHeader {
    uint32_t sec, nsec, caplen, len;
};
}  // namespace

bool PcapOutput::open(const std::string& path, std::string& why) {
    if (path.empty()) {
        out_ = stdout;
    } else {
        out_ = std::fopen(path.c_str(), "wbe");
        if (!out_) {
            why = "cannot write " + path + ": " + std::strerror(errno);
            return false;
        }
        owned_ = true;
    }
    static_assert(sizeof(FileHeader) == 24);
    const FileHeader h;
    if (std::fwrite(&h, sizeof h, 1, out_) != 1 || !flush()) {
        why = error_;
        return false;
    }
    return true;
}

bool PcapOutput::fail() {
    reader_gone_ = errno == EPIPE;
    error_ = std::strerror(errno);
    return false;
}

bool PcapOutput::write(const Packet& p) {
    const RecordHeader r{uint32_t(p.ts_ns / 1'000'000'000ull), uint32_t(p.ts_ns % 1'000'000'000ull), p.caplen, p.len};
    if (std::fwrite(&r, sizeof r, 1, out_) != 1 || std::fwrite(p.data, 1, p.caplen, out_) != p.caplen) return fail();
    ++packets_;
    return true;
}

bool PcapOutput::flush() { return std::fflush(out_) == 0 || fail(); }

bool PcapOutput::close() {
    bool ok = flush();
    if (owned_ && std::fclose(out_) != 0) ok = fail();
    out_ = nullptr;
    return ok;
}

}  // namespace mirrortap::find
