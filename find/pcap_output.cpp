#include "find/pcap_output.hpp"

#include <cerrno>
#include <cstring>

#include "find/store.hpp"

namespace mirrortap::find {

namespace {
struct FileHeader {
    uint32_t magic = 0xA1B23C4D;
    uint16_t major = 2, minor = 4;
    int32_t thiszone = 0;
    uint32_t sigfigs = 0;
    uint32_t snaplen = kMaxRecordBytes;  // every record written is at most this long (the readers refuse longer)
    uint32_t linktype = 1;  // Ethernet
};
struct RecordHeader {
    uint32_t sec, nsec, caplen, len;
};
}  // namespace

Result<> PcapOutput::open(const std::string& path) {
    if (path.empty()) {
        out_ = stdout;
    } else {
        out_ = std::fopen(path.c_str(), "wbe");
        if (!out_) return fail("cannot write " + path + ": " + std::strerror(errno));
        owned_ = true;
    }
    static_assert(sizeof(FileHeader) == 24);
    const FileHeader h;
    if (std::fwrite(&h, sizeof h, 1, out_) != 1) return failed();
    return flush();
}

Result<> PcapOutput::failed() {
    reader_gone_ = errno == EPIPE;
    return fail(std::strerror(errno));
}

Result<> PcapOutput::write(const Packet& p) {
    const RecordHeader r{uint32_t(p.ts_ns / 1'000'000'000ull), uint32_t(p.ts_ns % 1'000'000'000ull), p.caplen, p.len};
    if (std::fwrite(&r, sizeof r, 1, out_) != 1 || std::fwrite(p.data, 1, p.caplen, out_) != p.caplen) return failed();
    ++packets_;
    return {};
}

Result<> PcapOutput::flush() {
    if (std::fflush(out_) != 0) return failed();
    return {};
}

Result<> PcapOutput::close() {
    Result<> done = flush();
    if (owned_ && std::fclose(out_) != 0) done = failed();
    out_ = nullptr;
    return done;
}

}  // namespace mirrortap::find
