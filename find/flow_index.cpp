#include "find/flow_index.hpp"

#include <zlib.h>

#include <charconv>
#include <cstring>
#include <functional>

namespace mirrortap::find {

std::optional<std::string> gunzip(std::string_view compressed, std::string& why, size_t max_bytes) {
    z_stream z{};
    // 16 + MAX_WBITS: gzip framing only (an index is never raw zlib).
    if (inflateInit2(&z, 16 + MAX_WBITS) != Z_OK) {
        why = "zlib could not start";
        return std::nullopt;
    }
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
            why = "more than " + std::to_string(max_bytes) + " bytes uncompressed";
            return std::nullopt;
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
    if (rc != Z_STREAM_END) {
        why = rc == Z_BUF_ERROR ? "gzip data cut short" : std::string("not gzip data (") + (z.msg ? z.msg : "zlib error") + ")";
        return std::nullopt;
    }
    return out;
}

namespace {

// A JSON reader for the index's lines: one flat object per line whose
// values are strings, unsigned integers, true/false/null or arrays of
// unsigned integers. (Boost.JSON arrived in Boost 1.75, after Debian 12's
// 1.74; Boost.PropertyTree would turn null and numbers into the same text.)
class LineReader {
public:
    explicit LineReader(std::string_view text) : s_(text) {}

    struct Value {
        enum Kind { null, boolean, number, string, array } kind = null;
        bool b = false;
        uint64_t n = 0;
        std::string text;
        std::vector<uint64_t> numbers;
    };

    // Calls field(name, value) for each member; false with why on bad JSON.
    bool object(const std::function<bool(std::string_view, const Value&)>& field, std::string& why) {
        skip_space();
        if (!eat('{')) return fail("expected '{'", why);
        skip_space();
        if (eat('}')) return end(why);
        while (true) {
            std::string name;
            Value v;
            skip_space();
            if (!string(name)) return fail("expected a member name", why);
            skip_space();
            if (!eat(':')) return fail("expected ':'", why);
            skip_space();
            if (!value(v)) return fail("bad value of " + name, why);
            if (!field(name, v)) {
                why = "bad " + name;
                return false;
            }
            skip_space();
            if (eat(',')) continue;
            if (eat('}')) return end(why);
            return fail("expected ',' or '}'", why);
        }
    }

private:
    bool end(std::string& why) {
        skip_space();
        return pos_ == s_.size() || fail("text after the object", why);
    }
    bool fail(const std::string& what, std::string& why) {
        why = what + " at column " + std::to_string(pos_ + 1);
        return false;
    }
    void skip_space() {
        while (pos_ < s_.size() && (s_[pos_] == ' ' || s_[pos_] == '\t' || s_[pos_] == '\r')) ++pos_;
    }
    bool eat(char c) {
        if (pos_ < s_.size() && s_[pos_] == c) {
            ++pos_;
            return true;
        }
        return false;
    }
    bool word(std::string_view w) {
        if (s_.substr(pos_, w.size()) != w) return false;
        pos_ += w.size();
        return true;
    }
    bool number(uint64_t& n) {
        const char* b = s_.data() + pos_;
        const auto [p, ec] = std::from_chars(b, s_.data() + s_.size(), n);
        if (ec != std::errc() || p == b) return false;
        pos_ += size_t(p - b);
        // Fractions and exponents are not integers: refused.
        return pos_ == s_.size() || (s_[pos_] != '.' && s_[pos_] != 'e' && s_[pos_] != 'E');
    }
    bool string(std::string& out) {
        if (!eat('"')) return false;
        while (pos_ < s_.size()) {
            const char c = s_[pos_++];
            if (c == '"') return true;
            if (uint8_t(c) < 0x20) return false;
            if (c != '\\') {
                out += c;
                continue;
            }
            if (pos_ >= s_.size()) return false;
            const char e = s_[pos_++];
            switch (e) {
                case '"': case '\\': case '/': out += e; break;
                case 'b': out += '\b'; break;
                case 'f': out += '\f'; break;
                case 'n': out += '\n'; break;
                case 'r': out += '\r'; break;
                case 't': out += '\t'; break;
                case 'u': {
                    if (pos_ + 4 > s_.size()) return false;
                    unsigned cp = 0;
                    const auto [p, ec] = std::from_chars(s_.data() + pos_, s_.data() + pos_ + 4, cp, 16);
                    if (ec != std::errc() || p != s_.data() + pos_ + 4) return false;
                    pos_ += 4;
                    // UTF-8 of the code point (surrogates kept as they are: names never hold them).
                    if (cp < 0x80) out += char(cp);
                    else if (cp < 0x800) out += {char(0xC0 | (cp >> 6)), char(0x80 | (cp & 0x3F))};
                    else out += {char(0xE0 | (cp >> 12)), char(0x80 | ((cp >> 6) & 0x3F)), char(0x80 | (cp & 0x3F))};
                    break;
                }
                default: return false;
            }
        }
        return false;
    }
    bool value(Value& v) {
        if (pos_ >= s_.size()) return false;
        const char c = s_[pos_];
        if (c == '"') {
            v.kind = Value::string;
            return string(v.text);
        }
        if (c == '[') {
            ++pos_;
            v.kind = Value::array;
            skip_space();
            if (eat(']')) return true;
            while (true) {
                uint64_t n = 0;
                skip_space();
                if (!number(n)) return false;
                v.numbers.push_back(n);
                skip_space();
                if (eat(',')) continue;
                return eat(']');
            }
        }
        if (word("null")) return v.kind = Value::null, true;
        if (word("true")) return v.kind = Value::boolean, v.b = true, true;
        if (word("false")) return v.kind = Value::boolean, v.b = false, true;
        v.kind = Value::number;
        return number(v.n);
    }

    std::string_view s_;
    size_t pos_ = 0;
};

using Value = LineReader::Value;

bool as_u64(const Value& v, uint64_t& out) {
    if (v.kind != Value::number) return false;
    out = v.n;
    return true;
}
template <class T>
bool as_small(const Value& v, std::optional<T>& out, uint64_t max) {
    if (v.kind == Value::null) return out.reset(), true;
    if (v.kind != Value::number || v.n > max) return false;
    out = T(v.n);
    return true;
}
bool as_text(const Value& v, std::string& out) {
    if (v.kind == Value::null) return out.clear(), true;
    if (v.kind != Value::string) return false;
    out = v.text;
    return true;
}
bool as_bool(const Value& v, bool& out) {
    if (v.kind != Value::boolean) return false;
    out = v.b;
    return true;
}

struct LineFields {
    IndexedFile file;
    IndexedFlow flow;
    uint32_t seen = 0;  // bit per required member
};

// The members every line must carry, each with where it goes.
bool read_member(LineFields& l, std::string_view name, const Value& v) {
    IndexedFile& f = l.file;
    IndexedFlow& w = l.flow;
    static constexpr std::string_view kRequired[] = {
        "session", "file", "file_bytes", "index_complete", "first_ns", "last_ns",
        "first_offset", "end_offset", "ether_type"};
    for (uint32_t i = 0; i < std::size(kRequired); ++i)
        if (name == kRequired[i]) l.seen |= 1u << i;
    if (name == "session") return as_text(v, f.session);
    if (name == "collector") return as_text(v, f.collector);
    if (name == "file") return as_text(v, f.file);
    if (name == "vni") return true;
    if (name == "file_first_ns") return as_u64(v, f.first_ns);
    if (name == "file_last_ns") return as_u64(v, f.last_ns);
    if (name == "file_packets") return as_u64(v, f.packets);
    if (name == "file_bytes") return as_u64(v, f.bytes);
    if (name == "index_complete") return as_bool(v, f.index_complete);
    if (name == "first_ns") return as_u64(v, w.first_ns);
    if (name == "last_ns") return as_u64(v, w.last_ns);
    if (name == "packets") return as_u64(v, w.packets);
    if (name == "bytes") return as_u64(v, w.bytes);
    if (name == "first_offset") return as_u64(v, w.first_offset);
    if (name == "end_offset") return as_u64(v, w.end_offset);
    if (name == "ether_type") return as_small(v, w.ether_type, 0xffff);
    if (name == "vlans") {
        if (v.kind == Value::null) return true;
        if (v.kind != Value::array) return false;
        for (uint64_t id : v.numbers) {
            if (id > 4095) return false;
            w.vlans.push_back(uint16_t(id));
        }
        return true;
    }
    if (name == "ip_version") return as_small(v, w.ip_version, 6);
    if (name == "protocol") return as_small(v, w.protocol, 255);
    if (name == "src") return as_text(v, w.src);
    if (name == "dst") return as_text(v, w.dst);
    if (name == "src_port") return as_small(v, w.src_port, 65535);
    if (name == "dst_port") return as_small(v, w.dst_port, 65535);
    if (name == "fragments") return as_bool(v, w.fragments);
    if (name == "ip6_ext") return as_bool(v, w.ip6_ext);
    return true;  // members added later are not ours to refuse
}

}  // namespace

std::optional<FlowIndex> parse_flow_index(std::string_view text, std::string& why) {
    FlowIndex index;
    size_t line_number = 0;
    while (!text.empty()) {
        const size_t nl = text.find('\n');
        std::string_view line = text.substr(0, nl);
        text.remove_prefix(nl == std::string_view::npos ? text.size() : nl + 1);
        ++line_number;
        if (line.find_first_not_of(" \t\r") == std::string_view::npos) continue;
        LineFields l;
        std::string what;
        LineReader reader(line);
        const bool ok = reader.object([&](std::string_view n, const Value& v) { return read_member(l, n, v); }, what);
        const std::string at = "line " + std::to_string(line_number) + ": ";
        if (!ok) {
            why = at + what;
            return std::nullopt;
        }
        if (l.seen != (1u << 9) - 1) {
            why = at + "a member the format requires is missing";
            return std::nullopt;
        }
        if (l.flow.end_offset <= l.flow.first_offset || l.flow.first_offset < 24 || l.flow.last_ns < l.flow.first_ns) {
            why = at + "offsets or times out of order";
            return std::nullopt;
        }
        if (index.flows.empty()) {
            index.file = l.file;
        } else if (l.file.file != index.file.file || l.file.session != index.file.session ||
                   l.file.bytes != index.file.bytes) {
            why = at + "describes another file than line 1";
            return std::nullopt;
        }
        index.file.index_complete = index.file.index_complete && l.file.index_complete;
        index.flows.push_back(std::move(l.flow));
    }
    return index;
}

std::optional<FlowIndex> read_flow_index(std::string_view gz, uint64_t pcap_bytes, std::string& why) {
    auto text = gunzip(gz, why);
    if (!text) return std::nullopt;
    auto index = parse_flow_index(*text, why);
    if (!index) return std::nullopt;
    if (index->flows.empty()) {
        if (pcap_bytes > 24) {
            why = "no flows for a pcap of " + std::to_string(pcap_bytes) + " bytes";
            return std::nullopt;
        }
        return index;
    }
    if (index->file.bytes != pcap_bytes) {
        why = "it describes " + std::to_string(index->file.bytes) + " bytes, the pcap has " + std::to_string(pcap_bytes);
        return std::nullopt;
    }
    for (const auto& f : index->flows) {
        if (f.end_offset > pcap_bytes) {
            why = "a flow ends at byte " + std::to_string(f.end_offset) + ", past the pcap's end";
            return std::nullopt;
        }
    }
    return index;
}

}  // namespace mirrortap::find
