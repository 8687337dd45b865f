#include "sinks/flow_index.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <string_view>
#include <vector>

#include "support/flow_index_format.hpp"
#include "support/json.hpp"

namespace mirrortap {

namespace {

namespace key = flow_index::key;

// An address as text: inet_ntop for IP, "02:00:00:00:00:aa" for a MAC.
std::string address_text(const IndexFlowKey& k, const std::array<uint8_t, 16>& a) {
    char buf[INET6_ADDRSTRLEN];
    if (k.kind == FlowKind::ipv4) inet_ntop(AF_INET, a.data(), buf, sizeof buf);
    else if (k.kind == FlowKind::ipv6) inet_ntop(AF_INET6, a.data(), buf, sizeof buf);
    else snprintf(buf, sizeof buf, "%02x:%02x:%02x:%02x:%02x:%02x", a[0], a[1], a[2], a[3], a[4], a[5]);
    return buf;
}

// The flow's own fields, from "first_ns" to the end of the line; null where the frames did not reach.
void append_flow(std::string& out, const IndexFlowKey& k, const IndexFlowStats& s) {
    const bool ethernet = k.reached & IndexFlowKey::reached_ethernet;
    const bool protocol = k.reached & IndexFlowKey::reached_protocol;
    const bool ports = k.reached & IndexFlowKey::reached_ports;
    json::LineWriter line(out);
    line.number(key::first_ns, s.first_ns)
        .number(key::last_ns, s.last_ns)
        .number(key::packets, s.packets)
        .number(key::bytes, s.bytes)
        .number(key::first_offset, s.first_offset)
        .number(key::end_offset, s.end_offset)
        .number_or_null(key::ether_type, ethernet, k.ether_type)
        .numbers(key::vlans, k.vlans.data(), k.vlan_count)
        .number_or_null(key::ip_version, k.kind != FlowKind::non_ip, k.kind == FlowKind::ipv4 ? 4 : 6)
        .number_or_null(key::protocol, protocol, k.protocol);
    if (ethernet) line.text(key::src, address_text(k, k.src)).text(key::dst, address_text(k, k.dst));
    else line.null(key::src).null(key::dst);
    line.number_or_null(key::src_port, ports, k.src_port)
        .number_or_null(key::dst_port, ports, k.dst_port)
        .boolean(key::fragments, s.fragments)
        .boolean(key::ip6_ext, s.ipv6_extensions)
        .end();
}

// Streams text through zlib's gzip wrapper into a file descriptor.
class GzipFile {
public:
    explicit GzipFile(int fd) : fd_(fd) {
        // windowBits 15 + 16: a gzip header and trailer, what gunzip, DuckDB
        // and Athena read. Level 6 (zlib's default): an index is small next
        // to its pcap, and this runs once per file.
        ok_ = deflateInit2(&z_, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) == Z_OK;
        if (!ok_) error_ = ENOMEM;
    }
    ~GzipFile() {
        if (ok_) deflateEnd(&z_);
    }
    GzipFile(const GzipFile&) = delete;
    GzipFile& operator=(const GzipFile&) = delete;

    void write(std::string_view text) { pump(text, Z_NO_FLUSH); }
    // 0, or the errno that stopped the stream anywhere along the way.
    int finish() {
        pump({}, Z_FINISH);
        return error_;
    }

private:
    void pump(std::string_view text, int flush) {
        if (error_) return;
        z_.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(text.data()));
        z_.avail_in = uInt(text.size());
        int rc = Z_OK;
        do {
            z_.next_out = out_;
            z_.avail_out = sizeof out_;
            rc = deflate(&z_, flush);
            if (rc == Z_STREAM_ERROR) {
                error_ = EIO;
                return;
            }
            if (!write_out(sizeof out_ - z_.avail_out)) return;
        } while (z_.avail_out == 0 || (flush == Z_FINISH && rc != Z_STREAM_END));
    }
    bool write_out(size_t n) {
        const unsigned char* p = out_;
        while (n > 0) {
            const ssize_t w = ::write(fd_, p, n);
            if (w < 0 && errno == EINTR) continue;
            if (w <= 0) {
                error_ = w < 0 ? errno : ENOSPC;
                return false;
            }
            p += w;
            n -= size_t(w);
        }
        return true;
    }

    int fd_;
    z_stream z_{};
    bool ok_ = false;
    int error_ = 0;
    unsigned char out_[64 * 1024];
};

}  // namespace

FlowIndexTotals& flow_index_totals() {
    static FlowIndexTotals totals;
    return totals;
}

IndexFlowKey IndexFlowKey::of(const InnerFrame& f) {
    IndexFlowKey k;
    if (!f.has_ethernet()) return k;  // nothing reached: one key for every runt
    k.reached = reached_ethernet;
    k.ether_type = f.ether_type;
    k.vlan_count = f.vlan_count;
    std::copy_n(f.vlan_ids, f.vlan_count, k.vlans.begin());
    k.kind = f.flow.kind;
    k.src = f.flow.src;
    k.dst = f.flow.dst;
    if (f.has_protocol) {
        k.reached |= reached_protocol;
        k.protocol = f.flow.protocol;
    }
    if (f.has_ports) {
        k.reached |= reached_ports;
        k.src_port = f.flow.src_port;
        k.dst_port = f.flow.dst_port;
    }
    return k;
}

size_t IndexFlowKeyHash::operator()(const IndexFlowKey& k) const {
    return std::hash<std::string_view>{}(std::string_view(reinterpret_cast<const char*>(&k), sizeof k));
}

void FlowIndex::clear() {
    entries_.clear();
    std::fill(slots_.begin(), slots_.end(), 0);
    capped_ = false;
    packets_ = 0;
    first_ns_ = ~0ull;
    last_ns_ = 0;
}

void FlowIndex::add(uint64_t offset, uint64_t timestamp_ns, uint32_t wire_length, Bytes frame) {
    ++packets_;
    // Records of one file may come from several workers: not quite in time order.
    first_ns_ = std::min(first_ns_, timestamp_ns);
    last_ns_ = std::max(last_ns_, timestamp_ns);
    const InnerFrame parsed = parse_inner_frame(frame);
    const IndexFlowKey key = IndexFlowKey::of(parsed);
    Entry* entry = find_or_add(key);
    if (!entry) {
        capped_ = true;
        return;
    }
    IndexFlowStats& s = entry->stats;
    s.first_ns = std::min(s.first_ns, timestamp_ns);
    s.last_ns = std::max(s.last_ns, timestamp_ns);
    ++s.packets;
    s.bytes += wire_length;
    s.first_offset = std::min(s.first_offset, offset);
    s.end_offset = std::max(s.end_offset, offset + 16 + frame.size());
    s.fragments |= parsed.fragment;
    s.ipv6_extensions |= parsed.ipv6_extensions;
}

namespace {
// A slot: the hash's high 32 bits (compared before the entry is touched) and the entry's index + 1.
constexpr uint64_t kTagBits = ~uint64_t(0xFFFFFFFF);
uint64_t slot_of(uint64_t hash, size_t entry) { return (hash & kTagBits) | uint64_t(entry + 1); }
size_t entry_of(uint64_t slot) { return size_t(slot & ~kTagBits) - 1; }
}  // namespace

FlowIndex::Entry* FlowIndex::find_or_add(const IndexFlowKey& key) {
    const uint64_t hash = IndexFlowKeyHash{}(key);
    if (!slots_.empty()) {
        const size_t mask = slots_.size() - 1;
        for (size_t i = hash & mask; slots_[i] != 0; i = (i + 1) & mask) {
            if ((slots_[i] & kTagBits) == (hash & kTagBits) && entries_[entry_of(slots_[i])].key == key)
                return &entries_[entry_of(slots_[i])];
        }
    }
    if (entries_.size() >= max_flows_) return nullptr;
    if ((entries_.size() + 1) * 2 > slots_.size()) grow_slots();
    entries_.push_back(Entry{key, IndexFlowStats{}});
    place(hash, entries_.size() - 1);
    return &entries_.back();
}

void FlowIndex::grow_slots() {
    slots_.assign(std::max<size_t>(16, slots_.size() * 2), 0);
    for (size_t n = 0; n < entries_.size(); ++n) place(IndexFlowKeyHash{}(entries_[n].key), n);
}

void FlowIndex::place(uint64_t hash, size_t entry) {
    const size_t mask = slots_.size() - 1;
    size_t i = hash & mask;
    while (slots_[i] != 0) i = (i + 1) & mask;
    slots_[i] = slot_of(hash, entry);
}

template <typename Sink>
void FlowIndex::each_line(const IndexedFile& file, uint64_t file_bytes, Sink&& sink) const {
    // What every line starts with, made once.
    std::string head;
    json::LineWriter(head)
        .text(key::session, file.session)
        .number(key::vni, file.vni)
        .text(key::collector, file.collector)
        .text(key::file, file.file)
        .number(key::file_first_ns, first_ns())
        .number(key::file_last_ns, last_ns())
        .number(key::file_packets, packets_)
        .number(key::file_bytes, file_bytes)
        .boolean(key::index_complete, complete());

    // In file order: a reader walking the lines reads the file forwards.
    // Entries are in the order of their first record already; sorted by
    // offset all the same, which costs nothing then and holds if that changes.
    std::vector<const Entry*> order;
    order.reserve(entries_.size());
    for (const auto& entry : entries_) order.push_back(&entry);
    std::stable_sort(order.begin(), order.end(),
                     [](auto* a, auto* b) { return a->stats.first_offset < b->stats.first_offset; });
    std::string line;
    for (const auto* entry : order) {
        line = head;
        append_flow(line, entry->key, entry->stats);
        sink(std::string_view(line));
    }
}

std::string FlowIndex::json_lines(const IndexedFile& file, uint64_t file_bytes) const {
    std::string out;
    each_line(file, file_bytes, [&](std::string_view line) { out += line; });
    return out;
}

int FlowIndex::write(int dir_fd, const char* name, uint32_t mode, int group_id, const IndexedFile& file,
                     uint64_t file_bytes) const {
    unlinkat(dir_fd, name, 0);  // left by a crash; never a directory, never followed
    const int fd = openat(dir_fd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode_t(mode));
    if (fd < 0) return errno;
    fchmod(fd, mode_t(mode));  // the umask may have taken bits the user asked for
    if (group_id >= 0 && fchown(fd, uid_t(-1), gid_t(group_id)) != 0) { /* keep it; the mode still holds */ }
    int err = 0;
    {
        GzipFile gz(fd);
        each_line(file, file_bytes, [&](std::string_view line) { gz.write(line); });
        err = gz.finish();
    }
    if (::close(fd) != 0 && err == 0) err = errno;
    if (err != 0) unlinkat(dir_fd, name, 0);
    return err;
}

}  // namespace mirrortap
