// The sender's filter and session engine, against a model of AWS's rules
// written here from AWS's documented rules and nothing else: rules in rule-number order,
// first match decides, no match = not mirrored; a CIDR of one family never
// matches the other; port ranges only ever match TCP and UDP with their ports
// seen; non-IP frames are never mirrored; sessions are tried in
// session-number order and the first whose filter accepts takes the packet;
// what AWS never mirrors (instance metadata, time, Windows activation, DHCP,
// DHCPv6, Amazon DNS: sessions here never list amazon-dns) never is.
// The input is read as structure: CIDR texts, rules, sessions and packets.
#include <arpa/inet.h>

#include <algorithm>
#include <cstring>
#include <numeric>
#include <string>
#include <vector>

#include "decap/frame.hpp"
#include "fuzz/fuzz_support.hpp"
#include "sender/filter.hpp"
#include "sender/session_engine.hpp"

using namespace mirrortap;
using namespace mirrortap::sender;
using fuzz::FuzzInput;

namespace {

// AWS's never-mirrored list as its documentation writes the addresses.
bool model_aws_never_mirrors(const InnerFrame& p) {
    static const std::vector<std::string> kAddresses = {"169.254.169.254", "169.254.169.123", "169.254.169.250",
                                                        "169.254.169.251", "169.254.169.253", "fd00:ec2::254",
                                                        "fd00:ec2::123",   "fd00:ec2::253"};
    const FlowKey& f = p.flow;
    auto listed = [&](const std::array<uint8_t, 16>& a) {
        char text[INET6_ADDRSTRLEN] = {};
        inet_ntop(f.kind == FlowKind::ipv4 ? AF_INET : AF_INET6, a.data(), text, sizeof text);
        return std::find(kAddresses.begin(), kAddresses.end(), text) != kAddresses.end();
    };
    if (f.kind == FlowKind::non_ip) return false;
    if (listed(f.src) || listed(f.dst)) return true;
    if (f.protocol != 17 || !p.has_ports) return false;
    const uint16_t low = f.kind == FlowKind::ipv4 ? 67 : 546;  // DHCP 67/68, DHCPv6 546/547
    return (f.src_port == low || f.src_port == low + 1) && (f.dst_port == low || f.dst_port == low + 1);
}

bool bit(const std::array<uint8_t, 16>& a, unsigned i) { return (a[i / 8] >> (7 - i % 8)) & 1; }

// The model reads a block bit by bit in its own family's width: an IPv4
// block (held IPv4-mapped, prefix past 96) against the packet's first four
// bytes, an IPv6 block against all sixteen; never across families.
bool model_in_prefix(const Cidr& c, FlowKind kind, const std::array<uint8_t, 16>& addr) {
    const bool v4 = c.is_v4();
    if (kind != (v4 ? FlowKind::ipv4 : FlowKind::ipv6)) return false;
    const unsigned offset = v4 ? 96 : 0;
    for (unsigned i = offset; i < c.prefix_bits; ++i)
        if (bit(c.addr, i) != bit(addr, i - offset)) return false;
    return true;
}

bool model_matches(const FilterRule& r, const InnerFrame& p) {
    const FlowKey& f = p.flow;
    if (f.kind == FlowKind::non_ip) return false;
    if (r.protocol && *r.protocol != f.protocol) return false;
    if (r.source_cidr && !model_in_prefix(*r.source_cidr, f.kind, f.src)) return false;
    if (r.destination_cidr && !model_in_prefix(*r.destination_cidr, f.kind, f.dst)) return false;
    if (r.source_ports || r.destination_ports) {
        if ((f.protocol != 6 && f.protocol != 17) || !p.has_ports) return false;
        if (r.source_ports && (f.src_port < r.source_ports->from_port || f.src_port > r.source_ports->to_port))
            return false;
        if (r.destination_ports &&
            (f.dst_port < r.destination_ports->from_port || f.dst_port > r.destination_ports->to_port))
            return false;
    }
    return true;
}

// Rules as written, in the order they were given; the model sorts them itself.
struct ModelFilter {
    std::array<std::vector<FilterRule>, kDirectionNames.size()> rules;

    // The description (a unique tag) of the deciding rule, or "" for none.
    const FilterRule* decide(Direction d, const InnerFrame& p) const {
        const auto& list = rules[size_t(d)];
        std::vector<size_t> order(list.size());
        std::iota(order.begin(), order.end(), 0);
        std::stable_sort(order.begin(), order.end(),
                         [&](size_t a, size_t b) { return list[a].rule_number < list[b].rule_number; });
        for (size_t i : order)
            if (model_matches(list[i], p)) return &list[i];
        return nullptr;
    }
};

// The network address a prefix should keep: host bits cleared.
std::array<uint8_t, 16> masked(std::array<uint8_t, 16> a, unsigned prefix_length) {
    for (unsigned i = prefix_length; i < 128; ++i) a[i / 8] &= uint8_t(~(0x80 >> (i % 8)));
    return a;
}

// An IPv6 address inside ::ffff:0:0/96, which filters refuse as a block.
bool v4_mapped(const std::array<uint8_t, 16>& a) {
    static constexpr uint8_t kPrefix[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xFF, 0xFF};
    return std::equal(a.begin(), a.begin() + 12, kPrefix);
}

std::optional<Cidr> make_cidr(FuzzInput& in, std::vector<Cidr>& seen) {
    std::optional<Cidr> c;
    std::string why;
    const auto parse = [&why](std::string_view text) -> std::optional<Cidr> {
        auto parsed = parse_filter_cidr(text);
        why = parsed ? "" : parsed.error();
        if (!parsed) return std::nullopt;
        return *parsed;
    };
    const size_t how = in.below(4);
    if (how == 1 || how == 2) {
        const bool v6 = how == 2;
        const unsigned width = v6 ? 128 : 32;
        std::array<uint8_t, 16> addr{};
        in.fill(addr.data(), v6 ? 16 : 4);
        const bool with_prefix = in.flag();
        const unsigned prefix = with_prefix ? in.below(width + 8) : width;
        char buf[INET6_ADDRSTRLEN] = {};
        inet_ntop(v6 ? AF_INET6 : AF_INET, addr.data(), buf, sizeof buf);
        std::string text = buf;
        if (with_prefix) text += "/" + std::to_string(prefix);
        c = parse(text);
        const bool mapped = v6 && prefix >= 96 && v4_mapped(masked(addr, prefix));
        FUZZ_CHECK(bool(c) == (prefix <= width && !mapped));
        FUZZ_CHECK(bool(c) == why.empty());
        if (c) {
            // The same block in the 128-bit form: IPv4 behind the mapped prefix.
            std::array<uint8_t, 16> wide = addr;
            if (!v6) wide = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xFF, 0xFF, addr[0], addr[1], addr[2], addr[3]};
            FUZZ_CHECK(c->is_v4() == !v6);
            FUZZ_CHECK(c->prefix_bits == prefix + (v6 ? 0 : 96));
            FUZZ_CHECK(c->addr == masked(wide, c->prefix_bits));
            FUZZ_CHECK(block_holds(*c, v6 ? FlowKind::ipv6 : FlowKind::ipv4, addr));
            FUZZ_CHECK(!block_holds(*c, v6 ? FlowKind::ipv4 : FlowKind::ipv6, addr));
        }
    } else if (how == 3) {
        c = parse(in.text(64));
    }
    if (c) {
        // What to_string prints (and filter_to_yaml writes) parses back the same.
        const auto again = parse_filter_cidr(c->to_string());
        FUZZ_CHECK(again && *again == *c);
        seen.push_back(*c);
    }
    return c;
}

std::optional<PortRange> make_ports(FuzzInput& in) {
    if (!in.flag()) return std::nullopt;
    PortRange r;
    r.from_port = in.u16();
    r.to_port = in.u16();
    return r;
}

FilterRule make_rule(FuzzInput& in, std::vector<Cidr>& seen, std::string tag) {
    FilterRule r;
    r.rule_number = uint16_t(in.byte() % 64);  // a small range, so that numbers repeat and interleave
    r.action = in.flag() ? RuleAction::accept : RuleAction::reject;
    if (in.flag()) {
        static constexpr uint8_t kCommon[] = {6, 17, 1, 58, 132};
        const size_t pick = in.below(6);
        r.protocol = pick < 5 ? kCommon[pick] : in.byte();
    }
    r.source_cidr = make_cidr(in, seen);
    r.destination_cidr = make_cidr(in, seen);
    r.source_ports = make_ports(in);
    r.destination_ports = make_ports(in);
    r.description = std::move(tag);
    return r;
}

std::array<uint8_t, 16> make_address(FuzzInput& in, FlowKind kind, const std::vector<Cidr>& seen) {
    std::array<uint8_t, 16> a{};
    if (!seen.empty() && in.flag()) {
        // Near a prefix some rule names, so that matches are common: its
        // network address with one bit flipped somewhere, or none.
        // In FlowKey's form: an IPv4 block's address in the first four bytes.
        const Cidr& near = seen[in.below(seen.size())];
        if (near.is_v4()) std::copy(near.addr.begin() + 12, near.addr.end(), a.begin());
        else a = near.addr;
        const unsigned flip = in.byte();
        if (flip < 128) a[flip / 8] ^= uint8_t(0x80 >> (flip % 8));
    } else {
        in.fill(a.data(), 16);
    }
    if (kind == FlowKind::ipv4) std::fill(a.begin() + 4, a.end(), 0);
    return a;
}

InnerFrame make_packet(FuzzInput& in, const std::vector<Cidr>& seen) {
    InnerFrame p;
    FlowKey& f = p.flow;
    f.kind = FlowKind(in.below(3));
    if (f.kind != FlowKind::non_ip) {
        static constexpr uint8_t kCommon[] = {6, 17, 1, 58, 132};
        const size_t pick = in.below(6);
        f.protocol = pick < 5 ? kCommon[pick] : in.byte();
    }
    f.src = make_address(in, f.kind, seen);
    f.dst = make_address(in, f.kind, seen);
    // As parse_inner_frame leaves them: ports only from a TCP/UDP/SCTP header it saw.
    if ((f.protocol == 6 || f.protocol == 17 || f.protocol == 132) && in.flag()) {
        p.has_ports = true;
        f.src_port = in.u16();
        f.dst_port = in.u16();
    }
    return p;
}

void check_filter(const Filter& filter, const ModelFilter& model, const InnerFrame& p) {
    for (Direction d : {Direction::ingress, Direction::egress}) {
        const FilterVerdict v = filter.evaluate(d, p);
        const FilterRule* expected = model.decide(d, p);
        FUZZ_CHECK(bool(v.rule) == bool(expected));
        if (expected) {
            FUZZ_CHECK(v.rule->description == expected->description);
            FUZZ_CHECK(v.accepted() == (expected->action == RuleAction::accept));
            FUZZ_CHECK(v.rule->matches(p));
        }
        if (p.flow.kind == FlowKind::non_ip) FUZZ_CHECK(!v.rule);
    }
}

struct ModelSession {
    uint16_t session_number;
    std::string tag;
    ModelFilter filter;
};

void check_engine(const SessionEngine& engine, const std::vector<ModelSession>& model, const InnerFrame& p) {
    std::vector<size_t> order(model.size());
    std::iota(order.begin(), order.end(), 0);
    std::stable_sort(order.begin(), order.end(),
                     [&](size_t a, size_t b) { return model[a].session_number < model[b].session_number; });
    FUZZ_CHECK(engine.sessions().size() == model.size());
    for (size_t i = 0; i < order.size(); ++i) FUZZ_CHECK(engine.sessions()[i].description == model[order[i]].tag);

    for (Direction d : {Direction::ingress, Direction::egress}) {
        const Classification c = engine.classify(d, p);
        if (model_aws_never_mirrors(p)) {
            FUZZ_CHECK(!c.mirrored() && c.not_mirrored == NotMirrored::aws_service);
            continue;
        }
        int mirrored_by = -1;
        const FilterRule* first_reject = nullptr;
        int first_reject_session = -1;
        for (size_t i = 0; i < order.size() && mirrored_by < 0; ++i) {
            const FilterRule* r = model[order[i]].filter.decide(d, p);
            if (r && r->action == RuleAction::accept) mirrored_by = int(i);
            else if (r && !first_reject) first_reject = r, first_reject_session = int(i);
        }
        FUZZ_CHECK(c.mirrored() == (mirrored_by >= 0));
        if (p.flow.kind == FlowKind::non_ip) {
            FUZZ_CHECK(!c.mirrored() && c.not_mirrored == NotMirrored::non_ip);
            continue;
        }
        if (mirrored_by >= 0) {
            // Once, by the first session in session-number order that accepts.
            FUZZ_CHECK(c.session_index == mirrored_by);
            FUZZ_CHECK(c.rule_session_index == mirrored_by);
            FUZZ_CHECK(c.rule && c.rule->action == RuleAction::accept);
            FUZZ_CHECK(c.rule->description == model[order[size_t(mirrored_by)]].filter.decide(d, p)->description);
        } else if (first_reject) {
            FUZZ_CHECK(c.not_mirrored == NotMirrored::rejected);
            FUZZ_CHECK(c.rule && c.rule->description == first_reject->description);
            FUZZ_CHECK(c.rule_session_index == first_reject_session);
        } else {
            FUZZ_CHECK(c.not_mirrored == NotMirrored::no_match);
            FUZZ_CHECK(!c.rule);
        }
    }
}

void check_truncation(FuzzInput& in) {
    const uint32_t frame_bytes = in.u16();
    std::optional<uint32_t> packet_length;
    if (in.flag()) packet_length = in.u16();
    const bool outer_ipv6 = in.flag();
    const uint32_t mtu = in.u16();
    const uint32_t max_inner = max_inner_frame_bytes(mtu, outer_ipv6);
    const uint32_t overhead = outer_ipv6 ? kOuterOverheadIpv6Bytes : kOuterOverheadIpv4Bytes;
    FUZZ_CHECK(max_inner == (mtu > overhead ? mtu - overhead : 0));

    const Truncation t = truncate_frame(frame_bytes, packet_length, max_inner);
    const uint32_t by_session = packet_length ? std::min(frame_bytes, *packet_length) : frame_bytes;
    FUZZ_CHECK(t.length == std::min(by_session, max_inner));
    FUZZ_CHECK(t.by_mtu == (max_inner < by_session));
    FUZZ_CHECK(t.by_packet_length == (!t.by_mtu && by_session < frame_bytes));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    FuzzInput in(data, size);
    std::vector<Cidr> seen;

    std::vector<ModelSession> model(1 + in.below(4));
    std::vector<Session> sessions;
    for (size_t s = 0; s < model.size(); ++s) {
        ModelSession& m = model[s];
        m.session_number = uint16_t(1 + in.below(8));
        m.tag = "s" + std::to_string(s);
        for (Direction d : {Direction::ingress, Direction::egress}) {
            const size_t n = in.below(7);
            for (size_t i = 0; i < n; ++i)
                m.filter.rules[size_t(d)].push_back(
                    make_rule(in, seen, m.tag + "/" + std::string(kDirectionNames(d)) + "/" + std::to_string(i)));
        }
        Session session;
        session.session_number = m.session_number;
        session.description = m.tag;
        session.filter = Filter(m.filter.rules[0], m.filter.rules[1]);
        // The filter's own order is rule-number order, ties as given.
        for (Direction d : {Direction::ingress, Direction::egress}) {
            const auto& rules = session.filter.rules(d);
            FUZZ_CHECK(rules.size() == m.filter.rules[size_t(d)].size());
            for (size_t i = 1; i < rules.size(); ++i) FUZZ_CHECK(rules[i - 1].rule_number <= rules[i].rule_number);
        }
        sessions.push_back(std::move(session));
    }
    const SessionEngine engine(sessions);

    check_truncation(in);

    const size_t packets = in.below(6);
    for (size_t i = 0; i < packets; ++i) {
        const InnerFrame p = make_packet(in, seen);
        for (size_t s = 0; s < model.size(); ++s) check_filter(sessions[s].filter, model[s].filter, p);
        check_engine(engine, model, p);
    }
    // Whatever is left is a real frame, as capture hands it over.
    const auto rest = in.rest();
    const InnerFrame frame = parse_inner_frame(Bytes(reinterpret_cast<const std::byte*>(rest.data()), rest.size()));
    for (size_t s = 0; s < model.size(); ++s) check_filter(sessions[s].filter, model[s].filter, frame);
    check_engine(engine, model, frame);
    return 0;
}
