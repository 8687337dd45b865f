#include "find/pcap_output.hpp"

#include <cerrno>
#include <cstring>

#include "find/store.hpp"
#include "support/text.hpp"

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

// pcapng (draft-ietf-opsawg-pcapng): blocks of type, total length, body
// padded to 32 bits, total length again; options as code, length, value padded.
constexpr uint32_t kSectionHeader = 0x0A0D0D0A, kInterfaceDescription = 1, kEnhancedPacket = 6;
constexpr uint16_t kOptEnd = 0, kShbUserAppl = 4, kIfName = 2, kIfDescription = 3, kIfTsresol = 9;

void append(std::string& out, const void* data, size_t size) { out.append(static_cast<const char*>(data), size); }
template <class T>
void append_value(std::string& out, T value) {
    append(out, &value, sizeof value);
}
void pad(std::string& out) { out.append((4 - out.size() % 4) % 4, '\0'); }
void option(std::string& out, uint16_t code, std::string_view value) {
    append_value(out, code);
    append_value(out, uint16_t(value.size()));
    out += value;
    pad(out);
}
std::string block(uint32_t type, std::string body) {
    pad(body);
    const uint32_t total = uint32_t(body.size() + 12);
    std::string out;
    append_value(out, type);
    append_value(out, total);
    out += body;
    append_value(out, total);
    return out;
}
// An option's value is at most 65535 bytes: names from a store are cut there.
std::string_view at_most_option(std::string_view text) { return text.substr(0, 65535 - 3); }
}  // namespace

Result<OutputFormat> parse_output_format(std::string_view text) {
    if (const auto format = kOutputFormatNames.parse(text)) return *format;
    return fail("expected pcap or pcapng, got " + quote(text));
}

Result<> PcapOutput::open(const std::string& path, OutputFormat format) {
    if (path.empty()) {
        out_ = stdout;
    } else {
        out_ = std::fopen(path.c_str(), "wbe");
        if (!out_) return fail("cannot write " + path + ": " + std::strerror(errno));
        owned_ = true;
    }
    if (auto started = start(format); !started) return started;
    // A reader of a pipe (wireshark -k -i -) sees the file header at once.
    return flush();
}

Result<> PcapOutput::attach(std::FILE* stream, OutputFormat format) {
    out_ = stream;
    owned_ = false;
    return start(format);
}

Result<> PcapOutput::start(OutputFormat format) {
    format_ = format;
    if (format_ == OutputFormat::pcapng) {
        std::string body;
        append_value(body, uint32_t(0x1A2B3C4D));  // byte-order magic
        append_value(body, uint16_t(1));
        append_value(body, uint16_t(0));
        append_value(body, int64_t(-1));  // section length: not given (written as a stream)
        option(body, kShbUserAppl, "mirrortap-find");
        option(body, kOptEnd, "");
        const std::string shb = block(kSectionHeader, std::move(body));
        return put(shb.data(), shb.size());
    }
    static_assert(sizeof(FileHeader) == 24);
    const FileHeader h;
    return put(&h, sizeof h);
}

Result<> PcapOutput::failed() {
    reader_gone_ = errno == EPIPE;
    return fail(std::strerror(errno));
}

Result<> PcapOutput::put(const void* data, size_t size) {
    if (std::fwrite(data, 1, size, out_) != size) return failed();
    return {};
}

Result<uint32_t> PcapOutput::interface_for(const Origin* origin) {
    const std::string session = origin ? origin->session : "unknown";
    const std::string collector = origin ? origin->collector : "unknown";
    const auto [it, added] = interfaces_.try_emplace({session, collector}, uint32_t(interfaces_.size()));
    if (!added) return it->second;
    std::string body;
    append_value(body, uint16_t(1));  // LINKTYPE_ETHERNET
    append_value(body, uint16_t(0));
    append_value(body, kMaxRecordBytes);
    option(body, kIfName, at_most_option(session + "@" + collector));
    const std::string vni = origin && origin->vni ? "VNI " + std::to_string(*origin->vni) : "VNI unknown";
    option(body, kIfDescription, at_most_option("session " + session + ", collector " + collector + ", " + vni));
    option(body, kIfTsresol, std::string_view("\x09", 1));  // 10^-9 s
    option(body, kOptEnd, "");
    const std::string idb = block(kInterfaceDescription, std::move(body));
    if (auto done = put(idb.data(), idb.size()); !done) return fail(done.error());
    return it->second;
}

Result<> PcapOutput::write(const Packet& p) {
    if (format_ == OutputFormat::pcapng) {
        const auto interface = interface_for(p.origin);
        if (!interface) return fail(interface.error());
        std::string body;
        append_value(body, *interface);
        append_value(body, uint32_t(p.ts_ns >> 32));
        append_value(body, uint32_t(p.ts_ns));
        append_value(body, p.caplen);
        append_value(body, p.len);
        append(body, p.data, p.caplen);
        const std::string epb = block(kEnhancedPacket, std::move(body));
        if (auto done = put(epb.data(), epb.size()); !done) return done;
        ++packets_;
        return {};
    }
    const RecordHeader r{uint32_t(p.ts_ns / 1'000'000'000ull), uint32_t(p.ts_ns % 1'000'000'000ull), p.caplen, p.len};
    if (auto done = put(&r, sizeof r); !done) return done;
    if (auto done = put(p.data, p.caplen); !done) return done;
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
