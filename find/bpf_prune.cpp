#include "find/bpf_prune.hpp"

#include <arpa/inet.h>

#include <cstring>
#include <optional>

#include "decap/frame.hpp"
#include "support/parse.hpp"

namespace mirrortap::find {

namespace {

// A 32-bit value of which some bits are unknown (the eBPF verifier's
// "tnum"): `mask` has a 1 for every unknown bit, `value` has 0 there.
struct Bits {
    uint32_t value = 0;
    uint32_t mask = 0;
    static Bits known(uint32_t v) { return {v, 0}; }
    static Bits unknown() { return {0, ~0u}; }
    bool is_known() const { return mask == 0; }
    uint32_t min() const { return value; }
    uint32_t max() const { return value | mask; }
};

Bits bits_and(Bits a, Bits b) {
    const uint32_t v = a.value & b.value;
    return {v, (a.value | a.mask) & (b.value | b.mask) & ~v};
}
Bits bits_or(Bits a, Bits b) {
    const uint32_t v = a.value | b.value;
    return {v, (a.mask | b.mask) & ~v};
}
Bits bits_xor(Bits a, Bits b) {
    const uint32_t mu = a.mask | b.mask;
    return {(a.value ^ b.value) & ~mu, mu};
}
Bits bits_add(Bits a, Bits b) {
    const uint32_t sm = a.mask + b.mask, sv = a.value + b.value;
    const uint32_t mu = ((sm + sv) ^ sv) | a.mask | b.mask;
    return {sv & ~mu, mu};
}
Bits bits_sub(Bits a, Bits b) {
    const uint32_t dv = a.value - b.value;
    const uint32_t mu = ((dv + a.mask) ^ (dv - b.mask)) | a.mask | b.mask;
    return {dv & ~mu, mu};
}

enum class Truth { no, yes, unknown };

Truth compare(uint16_t op, Bits a, Bits b) {
    switch (op) {
        case BPF_JEQ:
            if ((a.value ^ b.value) & ~(a.mask | b.mask)) return Truth::no;
            return a.is_known() && b.is_known() ? Truth::yes : Truth::unknown;
        case BPF_JGT:
            if (a.min() > b.max()) return Truth::yes;
            if (a.max() <= b.min()) return Truth::no;
            return Truth::unknown;
        case BPF_JGE:
            if (a.min() >= b.max()) return Truth::yes;
            if (a.max() < b.min()) return Truth::no;
            return Truth::unknown;
        case BPF_JSET: {
            const Bits t = bits_and(a, b);
            if (t.value != 0) return Truth::yes;
            return t.mask == 0 ? Truth::no : Truth::unknown;
        }
        default: return Truth::unknown;
    }
}

struct RunState {
    uint32_t pc = 0;
    Bits a, x;
    Bits mem[BPF_MEMWORDS];
};

struct Outcomes {
    bool accept = false;
    bool reject = false;
};

// A load of `size` bytes at `offset`: bytes past the synthetic frame may be
// absent in a real packet (libpcap then rejects) or hold anything.
struct Load {
    Bits value;
    bool may_be_absent = false;
};

Load load(const PartialFrame& f, uint64_t offset, uint32_t size) {
    if (offset + size > f.bytes.size()) return {Bits::unknown(), true};
    Bits out;
    for (uint32_t i = 0; i < size; ++i) {
        out.value = (out.value << 8) | (f.bytes[offset + i] & f.known[offset + i]);
        out.mask = (out.mask << 8) | uint8_t(~f.known[offset + i]);
    }
    return {out, false};
}

uint32_t size_of(uint16_t code) {
    switch (BPF_SIZE(code)) {
        case BPF_W: return 4;
        case BPF_H: return 2;
        default: return 1;
    }
}

Bits alu(uint16_t op, Bits a, Bits b, bool& divides_by_zero) {
    divides_by_zero = false;
    switch (op) {
        case BPF_ADD: return bits_add(a, b);
        case BPF_SUB: return bits_sub(a, b);
        case BPF_AND: return bits_and(a, b);
        case BPF_OR: return bits_or(a, b);
        case BPF_XOR: return bits_xor(a, b);
        case BPF_LSH:
            if (b.is_known() && b.value < 32) return {a.value << b.value, a.mask << b.value};
            return Bits::unknown();
        case BPF_RSH:
            if (b.is_known() && b.value < 32) return {a.value >> b.value, a.mask >> b.value};
            return Bits::unknown();
        case BPF_NEG: return a.is_known() ? Bits::known(0u - a.value) : Bits::unknown();
        case BPF_MUL: return a.is_known() && b.is_known() ? Bits::known(a.value * b.value) : Bits::unknown();
        case BPF_DIV:
        case BPF_MOD:
            if (b.is_known() && b.value == 0) {
                divides_by_zero = true;
                return Bits::unknown();
            }
            if (a.is_known() && b.is_known())
                return Bits::known(op == BPF_DIV ? a.value / b.value : a.value % b.value);
            return Bits::unknown();
        default: divides_by_zero = true; return Bits::unknown();
    }
}

void put_known(PartialFrame& f, const uint8_t* data, size_t n) {
    f.bytes.insert(f.bytes.end(), data, data + n);
    f.known.insert(f.known.end(), n, 0xff);
}
void put_unknown(PartialFrame& f, size_t n) {
    f.bytes.insert(f.bytes.end(), n, 0);
    f.known.insert(f.known.end(), n, 0);
}
void put_partial(PartialFrame& f, uint8_t value, uint8_t known) {
    f.bytes.push_back(value & known);
    f.known.push_back(known);
}
void put_u16(PartialFrame& f, uint16_t v) {
    const uint8_t b[2] = {uint8_t(v >> 8), uint8_t(v)};
    put_known(f, b, 2);
}

// A VLAN tag: the TPID given (the index does not say which of the three
// the decapsulator takes for a tag it was), the 12-bit id from the key;
// priority and DEI are not in the key.
void put_vlan_tag(PartialFrame& f, uint16_t tpid, uint16_t vid) {
    put_u16(f, tpid);
    put_partial(f, uint8_t(vid >> 8), 0x0f);
    put_partial(f, uint8_t(vid), 0xff);
}

constexpr uint16_t kTpids[] = {kEtherTypeVlan, kEtherTypeQinQ, kEtherTypeQinQOld};

bool has_ports(uint8_t protocol) { return protocol == 6 || protocol == 17 || protocol == 132; }

}  // namespace

PartialFrame synthetic_frame(const IndexedFlow& flow, const std::vector<uint16_t>& tpids) {
    PartialFrame f;
    if (!flow.ether_type) return {};
    const bool ip = flow.ip_version.has_value();
    if (ip) {
        put_unknown(f, 12);  // the MACs of an IP flow are not part of its key
    } else {
        const auto dst = parse_mac(flow.dst);
        const auto src = parse_mac(flow.src);
        if (!dst || !src) return {};
        put_known(f, dst->data(), 6);
        put_known(f, src->data(), 6);
    }
    if (tpids.size() != flow.vlans.size()) return {};
    for (size_t i = 0; i < flow.vlans.size(); ++i) put_vlan_tag(f, tpids[i], flow.vlans[i]);
    put_u16(f, *flow.ether_type);
    if (!ip) return f;
    if (!flow.protocol) return {};
    const uint8_t protocol = *flow.protocol;
    if (*flow.ip_version == 4) {
        in_addr src{}, dst{};
        if (flow.ether_type != kEtherTypeIpv4 || inet_pton(AF_INET, flow.src.c_str(), &src) != 1 ||
            inet_pton(AF_INET, flow.dst.c_str(), &dst) != 1)
            return {};
        put_partial(f, 0x45, 0xff);  // version 4, IHL 5 (assumed: the key has no options)
        put_unknown(f, 5);           // TOS, total length, identification
        // Not a fragment: MF and the offset are 0; reserved and DF are not in the key.
        put_partial(f, 0x00, 0x3f);
        put_partial(f, 0x00, 0xff);
        put_unknown(f, 1);  // TTL
        put_known(f, &protocol, 1);
        put_unknown(f, 2);  // checksum
        put_known(f, reinterpret_cast<const uint8_t*>(&src), 4);
        put_known(f, reinterpret_cast<const uint8_t*>(&dst), 4);
    } else if (*flow.ip_version == 6) {
        in6_addr src{}, dst{};
        if (flow.ether_type != kEtherTypeIpv6 || inet_pton(AF_INET6, flow.src.c_str(), &src) != 1 ||
            inet_pton(AF_INET6, flow.dst.c_str(), &dst) != 1)
            return {};
        put_partial(f, 0x60, 0xf0);  // version 6; the traffic class is not in the key
        put_unknown(f, 5);           // traffic class, flow label, payload length
        put_known(f, &protocol, 1);  // next header (no extension headers: judge_flow checked)
        put_unknown(f, 1);           // hop limit
        put_known(f, src.s6_addr, 16);
        put_known(f, dst.s6_addr, 16);
    } else {
        return {};
    }
    if (has_ports(protocol) && flow.src_port && flow.dst_port) {
        put_u16(f, *flow.src_port);
        put_u16(f, *flow.dst_port);
    }
    return f;
}

FlowVerdict judge_frame(const bpf_program& program, const PartialFrame& frame, uint32_t max_steps) {
    const bpf_insn* code = program.bf_insns;
    const uint32_t n = program.bf_len;
    Outcomes out;
    std::vector<RunState> pending(1);
    uint32_t steps = 0;
    while (!pending.empty()) {
        RunState s = pending.back();
        pending.pop_back();
        for (;;) {
            if (++steps > max_steps || s.pc >= n) return FlowVerdict::may_match;
            const bpf_insn& i = code[s.pc++];
            const uint16_t cls = BPF_CLASS(i.code);
            if (cls == BPF_RET) {
                const Bits r = BPF_RVAL(i.code) == BPF_A ? s.a : Bits::known(i.k);
                if (r.value != 0) out.accept = true;
                else if (r.mask == 0) out.reject = true;
                else out.accept = out.reject = true;
                break;
            }
            if (cls == BPF_LD || cls == BPF_LDX) {
                Bits v;
                bool may_be_absent = false;
                const uint16_t mode = BPF_MODE(i.code);
                if (mode == BPF_IMM) {
                    v = Bits::known(i.k);
                } else if (mode == BPF_MEM) {
                    if (i.k >= BPF_MEMWORDS) return FlowVerdict::may_match;
                    v = s.mem[i.k];
                } else if (mode == BPF_LEN) {
                    v = Bits::unknown();  // the packet length is not in the key
                } else if (mode == BPF_ABS || (mode == BPF_IND && cls == BPF_LD)) {
                    const Bits base = mode == BPF_IND ? s.x : Bits::known(0);
                    if (!base.is_known()) {
                        v = Bits::unknown();
                        may_be_absent = true;
                    } else {
                        const Load l = load(frame, uint64_t(base.value) + i.k, size_of(i.code));
                        v = l.value;
                        may_be_absent = l.may_be_absent;
                    }
                } else if (mode == BPF_MSH && cls == BPF_LDX) {
                    const Load l = load(frame, i.k, 1);
                    v = {(l.value.value & 0xf) << 2, (l.value.mask & 0xf) << 2};
                    may_be_absent = l.may_be_absent;
                } else {
                    return FlowVerdict::may_match;
                }
                if (may_be_absent) out.reject = true;  // a packet too short for this load is rejected
                (cls == BPF_LD ? s.a : s.x) = v;
                continue;
            }
            if (cls == BPF_ST || cls == BPF_STX) {
                if (i.k >= BPF_MEMWORDS) return FlowVerdict::may_match;
                s.mem[i.k] = cls == BPF_ST ? s.a : s.x;
                continue;
            }
            if (cls == BPF_ALU) {
                bool divides_by_zero = false;
                s.a = alu(BPF_OP(i.code), s.a, BPF_SRC(i.code) == BPF_X ? s.x : Bits::known(i.k), divides_by_zero);
                if (divides_by_zero) {
                    out.reject = true;  // libpcap's interpreter rejects the packet
                    break;
                }
                continue;
            }
            if (cls == BPF_JMP) {
                if (BPF_OP(i.code) == BPF_JA) {
                    s.pc += i.k;
                    continue;
                }
                const Truth t = compare(BPF_OP(i.code), s.a, BPF_SRC(i.code) == BPF_X ? s.x : Bits::known(i.k));
                if (t == Truth::unknown) {
                    RunState other = s;
                    other.pc += i.jf;
                    pending.push_back(other);
                    s.pc += i.jt;
                } else {
                    s.pc += t == Truth::yes ? i.jt : i.jf;
                }
                continue;
            }
            if (cls == BPF_MISC) {
                if (BPF_MISCOP(i.code) == BPF_TAX) s.x = s.a;
                else s.a = s.x;
                continue;
            }
            return FlowVerdict::may_match;
        }
        if (out.accept && out.reject) return FlowVerdict::may_match;
    }
    if (out.accept && !out.reject) return FlowVerdict::match;
    if (out.reject && !out.accept) return FlowVerdict::no_match;
    return FlowVerdict::may_match;
}

FlowVerdict judge_flow(const bpf_program& program, const IndexedFlow& flow) {
    if (flow.fragments || flow.ip6_ext || flow.vlans.size() > 4) return FlowVerdict::may_match;
    // One run per TPID a tag may have had (3 per tag): the verdict holds only
    // when every one of them agrees.
    std::vector<uint16_t> tpids(flow.vlans.size(), kTpids[0]);
    std::vector<size_t> choice(flow.vlans.size(), 0);
    std::optional<FlowVerdict> verdict;
    while (true) {
        for (size_t i = 0; i < choice.size(); ++i) tpids[i] = kTpids[choice[i]];
        const PartialFrame frame = synthetic_frame(flow, tpids);
        if (frame.bytes.empty()) return FlowVerdict::may_match;
        const FlowVerdict v = judge_frame(program, frame);
        if (v == FlowVerdict::may_match || (verdict && *verdict != v)) return FlowVerdict::may_match;
        verdict = v;
        size_t i = 0;
        while (i < choice.size() && ++choice[i] == std::size(kTpids)) choice[i++] = 0;
        if (i == choice.size()) break;
    }
    return *verdict;
}

CompiledFilter::~CompiledFilter() {
    if (compiled_) pcap_freecode(&program_);
}

Result<> CompiledFilter::compile(const std::string& expression) {
    pcap_t* dead = pcap_open_dead_with_tstamp_precision(DLT_EN10MB, 262144, PCAP_TSTAMP_PRECISION_NANO);
    if (!dead) return fail("libpcap could not make a compiler");
    if (compiled_) {
        pcap_freecode(&program_);
        compiled_ = false;
    }
    const bool ok = pcap_compile(dead, &program_, expression.c_str(), 1, PCAP_NETMASK_UNKNOWN) == 0;
    const std::string why = ok ? "" : pcap_geterr(dead);
    pcap_close(dead);
    compiled_ = ok;
    if (!ok) return fail(why);
    return {};
}

}  // namespace mirrortap::find
