#include "find/flow_index.hpp"

#include <zlib.h>

#include <cstring>

#include "find/store.hpp"
#include "support/flow_index_format.hpp"
#include "support/json.hpp"

namespace mirrortap::find {

Result<std::string> gunzip(std::string_view compressed, size_t max_bytes) {
    z_stream z{};
    // 16 + MAX_WBITS: gzip framing only (an index is never raw zlib).
    if (inflateInit2(&z, 16 + MAX_WBITS) != Z_OK) return fail("zlib could not start");
    std::string out;
    char buffer[1 << 16];
    z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(compressed.data()));
    z.avail_in = uInt(compressed.size());
    int rc = Z_OK;
    while (true) {
        z.next_out = reinterpret_cast<Bytef*>(buffer);
        z.avail_out = sizeof buffer;
        rc = inflate(&z, Z_NO_FLUSH);
        if (rc != Z_OK && rc != Z_STREAM_END) break;
        out.append(buffer, sizeof buffer - z.avail_out);
        if (out.size() > max_bytes) {
            inflateEnd(&z);
            return fail("more than " + std::to_string(max_bytes) + " bytes uncompressed");
        }
        if (rc == Z_STREAM_END) {
            if (z.avail_in == 0) break;
            inflateReset(&z);  // another gzip member follows
            continue;
        }
        if (z.avail_in == 0 && z.avail_out != 0) {
            rc = Z_BUF_ERROR;  // input ended inside a member
            break;
        }
    }
    inflateEnd(&z);
    if (rc != Z_STREAM_END)
        return fail(rc == Z_BUF_ERROR ? "gzip data cut short"
                                      : std::string("not gzip data (") + (z.msg ? z.msg : "zlib error") + ")");
    return out;
}

namespace {

namespace key = flow_index::key;
using json::FlatValue;

bool as_u64(const FlatValue& v, uint64_t& out) {
    if (v.kind != FlatValue::unsigned_number) return false;
    out = v.n;
    return true;
}
template <class T>
bool as_small(const FlatValue& v, std::optional<T>& out, uint64_t max) {
    if (v.kind == FlatValue::null) return out.reset(), true;
    if (v.kind != FlatValue::unsigned_number || v.n > max) return false;
    out = T(v.n);
    return true;
}
bool as_text(const FlatValue& v, std::string& out) {
    if (v.kind == FlatValue::null) return out.clear(), true;
    if (v.kind != FlatValue::string) return false;
    out = v.text;
    return true;
}
bool as_bool(const FlatValue& v, bool& out) {
    if (v.kind != FlatValue::boolean) return false;
    out = v.b;
    return true;
}

struct LineFields {
    IndexedFile file;
    IndexedFlow flow;
    uint32_t seen = 0;  // bit per member of flow_index::kRequired
    uint64_t version = flow_index::kVersion;  // lines without the member are version 1
};
constexpr uint32_t kAllRequired = (1u << std::size(flow_index::kRequired)) - 1;

// Each member of a line, to where it goes.
bool read_member(LineFields& l, std::string_view name, const FlatValue& v) {
    IndexedFile& f = l.file;
    IndexedFlow& w = l.flow;
    for (uint32_t i = 0; i < std::size(flow_index::kRequired); ++i)
        if (name == flow_index::kRequired[i]) l.seen |= 1u << i;
    if (name == flow_index::kVersionKey) return as_u64(v, l.version);
    if (name == key::session) return as_text(v, f.session);
    if (name == key::collector) return as_text(v, f.collector);
    if (name == key::file) return as_text(v, f.file);
    if (name == key::vni) return as_small(v, f.vni, 0xFFFFFF);
    if (name == key::file_first_ns) return as_u64(v, f.first_ns);
    if (name == key::file_last_ns) return as_u64(v, f.last_ns);
    if (name == key::file_packets) return as_u64(v, f.packets);
    if (name == key::file_bytes) return as_u64(v, f.bytes);
    if (name == key::index_complete) return as_bool(v, f.index_complete);
    if (name == key::first_ns) return as_u64(v, w.first_ns);
    if (name == key::last_ns) return as_u64(v, w.last_ns);
    if (name == key::packets) return as_u64(v, w.packets);
    if (name == key::bytes) return as_u64(v, w.bytes);
    if (name == key::first_offset) return as_u64(v, w.first_offset);
    if (name == key::end_offset) return as_u64(v, w.end_offset);
    if (name == key::ether_type) return as_small(v, w.ether_type, 0xffff);
    if (name == key::vlans) {
        if (v.kind == FlatValue::null) return true;
        if (v.kind != FlatValue::array) return false;
        for (uint64_t id : v.numbers) {
            if (id > 4095) return false;
            w.vlans.push_back(uint16_t(id));
        }
        return true;
    }
    if (name == key::ip_version) return as_small(v, w.ip_version, 6);
    if (name == key::protocol) return as_small(v, w.protocol, 255);
    if (name == key::src) return as_text(v, w.src);
    if (name == key::dst) return as_text(v, w.dst);
    if (name == key::src_port) return as_small(v, w.src_port, 65535);
    if (name == key::dst_port) return as_small(v, w.dst_port, 65535);
    if (name == key::fragments) return as_bool(v, w.fragments);
    if (name == key::ip6_ext) return as_bool(v, w.ip6_ext);
    return true;  // members added later are not ours to refuse
}

}  // namespace

Result<FlowIndex> parse_flow_index(std::string_view text) {
    FlowIndex index;
    size_t line_number = 0;
    while (!text.empty()) {
        const size_t nl = text.find('\n');
        std::string_view line = text.substr(0, nl);
        text.remove_prefix(nl == std::string_view::npos ? text.size() : nl + 1);
        ++line_number;
        if (line.find_first_not_of(" \t\r") == std::string_view::npos) continue;
        LineFields l;
        const auto read =
            json::read_flat_object(line, [&](std::string_view n, const FlatValue& v) { return read_member(l, n, v); });
        const std::string at = "line " + std::to_string(line_number) + ": ";
        if (!read) return fail(at + read.error());
        if (l.version != flow_index::kVersion)
            return fail(at + "format version " + std::to_string(l.version) + ", this mirrortap-find reads version " +
                        std::to_string(flow_index::kVersion) + " (a newer collector wrote it)");
        if (l.seen != kAllRequired) return fail(at + "a member the format requires is missing");
        if (l.flow.end_offset <= l.flow.first_offset || l.flow.first_offset < flow_index::kPcapHeaderBytes || l.flow.last_ns < l.flow.first_ns)
            return fail(at + "offsets or times out of order");
        if (index.flows.empty()) {
            index.file = l.file;
        } else if (l.file.file != index.file.file || l.file.session != index.file.session ||
                   l.file.bytes != index.file.bytes) {
            return fail(at + "describes another file than line 1");
        }
        index.file.index_complete = index.file.index_complete && l.file.index_complete;
        index.flows.push_back(std::move(l.flow));
    }
    return index;
}

Result<FlowIndex> read_flow_index(std::string_view gz, uint64_t pcap_bytes) {
    // The cap holds while inflating: a bomb stops at it, not after.
    auto text = gunzip(gz, kMaxIndexTextBytes);
    if (!text) return fail(std::move(text).error());
    auto index = parse_flow_index(*text);
    if (!index) return index;
    if (index->flows.empty()) {
        if (pcap_bytes > flow_index::kPcapHeaderBytes)
            return fail("no flows for a pcap of " + std::to_string(pcap_bytes) + " bytes");
        return index;
    }
    if (index->file.bytes != pcap_bytes)
        return fail("it describes " + std::to_string(index->file.bytes) + " bytes, the pcap has " +
                    std::to_string(pcap_bytes));
    for (const auto& f : index->flows)
        if (f.end_offset > pcap_bytes)
            return fail("a flow ends at byte " + std::to_string(f.end_offset) + ", past the pcap's end");
    return index;
}

}  // namespace mirrortap::find
