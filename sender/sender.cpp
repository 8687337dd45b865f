#include "sender/sender.hpp"

#include <arpa/inet.h>
#include <netdb.h>
#include <unistd.h>

#include <algorithm>
#include <boost/asio/post.hpp>
#include <cstring>
#include <system_error>
#include <ctime>
#include <iostream>

#include "decap/frame.hpp"
#include "sender/encap.hpp"
#include "sender/path_probe.hpp"
#include "sender/segment.hpp"
#include "support/clock.hpp"
#include "support/text.hpp"

namespace mirrortap::sender {

namespace {

void log(const std::string& line) { std::cerr << "mirrortap-sender: " << line << std::endl; }

OwnTarget own_target(const sockaddr_storage& addr, uint16_t port) {
    OwnTarget t;
    t.port = port;
    if (addr.ss_family == AF_INET) {
        t.family = FlowKind::ipv4;
        std::memcpy(t.address.data(), &reinterpret_cast<const sockaddr_in&>(addr).sin_addr, 4);
    } else if (addr.ss_family == AF_INET6) {
        t.family = FlowKind::ipv6;
        std::memcpy(t.address.data(), &reinterpret_cast<const sockaddr_in6&>(addr).sin6_addr, 16);
    }
    return t;
}

bool same_address(const sockaddr_storage& a, const sockaddr_storage& b) {
    if (a.ss_family != b.ss_family) return false;
    if (a.ss_family == AF_INET)
        return reinterpret_cast<const sockaddr_in&>(a).sin_addr.s_addr ==
               reinterpret_cast<const sockaddr_in&>(b).sin_addr.s_addr;
    if (a.ss_family == AF_INET6)
        return std::memcmp(&reinterpret_cast<const sockaddr_in6&>(a).sin6_addr,
                           &reinterpret_cast<const sockaddr_in6&>(b).sin6_addr, 16) == 0;
    return false;
}

// The largest inner frame any MTU we accept allows (9216 - 40), plus our
// UDP and VXLAN headers: the size of one send slot.
constexpr uint32_t kMaxDatagramBytes = 8 + 8 + 9216;

}  // namespace

Result<sockaddr_storage> resolve_target(const std::string& host) {
    addrinfo hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_DGRAM;
    addrinfo* res = nullptr;
    const int rc = getaddrinfo(host.c_str(), nullptr, &hints, &res);
    if (rc != 0) return fail("cannot resolve " + quote(host) + ": " + gai_strerror(rc));
    sockaddr_storage out{};
    std::memcpy(&out, res->ai_addr, res->ai_addrlen);
    freeaddrinfo(res);
    return out;
}

const sockaddr_storage& pick_address(const std::vector<sockaddr_storage>& answer, const sockaddr_storage& current) {
    for (const sockaddr_storage& a : answer)
        if (same_address(a, current)) return a;
    return answer.front();
}

struct Sender::Source {
    Sender* owner;
    std::unique_ptr<Capture> capture;
    boost::asio::posix::stream_descriptor fd;
    boost::asio::steady_timer pause;
    bool closed = false;
    uint64_t interface_bit = 0;  // this interface's bit in Session::interfaces
    // The interface's primary addresses: the outer source of its mirrors.
    OuterSource source_v4, source_v6;
    uint32_t link_mtu = 0;  // the interface's MTU: the size of its segments on the wire
    Source(Sender* o, std::unique_ptr<Capture> c, boost::asio::io_context& io)
        : owner(o), capture(std::move(c)), fd(io), pause(io) {}
    // The capture with a copy of its descriptor for Asio to wait on; or why
    // there is no copy (out of descriptors). Asio's own refusal of the copy
    // is an exception.
    static Result<std::shared_ptr<Source>> open(Sender* o, std::unique_ptr<Capture> c, boost::asio::io_context& io) {
        const int copy = ::dup(c->fd());
        if (copy < 0) {
            const std::error_code error(errno, std::generic_category());
            return fail(c->name() + ": dup: " + error.message());
        }
        auto s = std::make_shared<Source>(o, std::move(c), io);
        s->fd.assign(copy);  // on a throw the stream_descriptor is empty: close it here
        return s;
    }
    void close() {
        closed = true;
        boost::system::error_code ec;
        pause.cancel();
        fd.cancel(ec);
        fd.close(ec);
    }
};

// What a config needs, built beside the running objects.
struct Sender::Staged {
    RunConfig run;
    struct TargetPlan {
        Endpoint endpoint;
        sockaddr_storage addr{};
        std::unique_ptr<Transmitter> tx;  // null: the running one for this endpoint serves
    };
    std::vector<TargetPlan> targets;  // session_targets() order
    struct Interface {
        std::shared_ptr<Source> running;         // kept: the capture already running on it
        std::unique_ptr<CompiledFilter> filter;  // the kept capture's new filter, when it changes
        std::shared_ptr<Source> opened;          // or new: opened and filtered, not armed yet
        uint64_t bit = 0;
    };
    std::vector<Interface> interfaces;  // in capture_interfaces() order
};

Sender::Sender(boost::asio::io_context& io, SenderStats& stats)
    : io_(io), stats_(stats), resolve_timer_(io), stats_timer_(io), resolver_(io) {}

Sender::~Sender() { stop(); }

std::shared_ptr<Sender::Source> Sender::running_source(const std::string& interface) const {
    for (const auto& s : sources_)
        if (s->capture->name() == interface) return s;
    return nullptr;
}

const Sender::Target* Sender::running_target(const Endpoint& e) const {
    for (const Target& t : targets_)
        if (t.endpoint.host == e.host && t.endpoint.port == e.port) return &t;
    return nullptr;
}

std::string Sender::interface_names() const {
    std::string names;
    for (auto& s : sources_)
        names += (names.empty() ? "" : ",") + s->capture->name();
    return names;
}

std::string Sender::target_names() const {
    std::string names;
    for (const Target& t : targets_)
        names += (names.empty() ? "" : ", ") + address_text(t.addr) + ":" + std::to_string(t.endpoint.port);
    return names;
}

Result<Sender::Staged> Sender::stage(RunConfig run, std::vector<sockaddr_storage> addresses) {
    Staged staged;
    const SenderConfig& c = run.config;
    const std::vector<Endpoint> endpoints = session_targets(c);
    if (endpoints.size() != addresses.size()) return fail("internal: one address per target expected");
    const bool amazon_dns = std::any_of(run.sessions.begin(), run.sessions.end(),
                                        [](const Session& s) { return s.filter.amazon_dns; });
    // Our own VXLAN to every target stays out of every capture.
    std::string bpf;
    for (size_t i = 0; i < endpoints.size(); ++i)
        bpf += own_traffic_filter(own_target(addresses[i], endpoints[i].port)) + " and ";
    bpf += aws_services_filter(amazon_dns, vpc_resolvers(c.vpc_cidrs));
    for (size_t i = 0; i < endpoints.size(); ++i) {
        Staged::TargetPlan& plan = staged.targets.emplace_back();
        plan.endpoint = endpoints[i];
        plan.addr = addresses[i];
        const Target* running = running_target(endpoints[i]);
        if (running && running->tx->suits(addresses[i].ss_family, c.batch_size, c.send_buffer_bytes)) continue;
        auto tx = Transmitter::open(stats_, addresses[i].ss_family, c.batch_size, kMaxDatagramBytes,
                                    c.send_buffer_bytes);
        if (!tx) return fail(std::move(tx).error());
        plan.tx = std::move(*tx);
        plan.tx->set_target(addresses[i]);
    }
    // One ring per interface for both directions: the interface's order is
    // the ring's (capture.hpp); the kernel says which way each frame went.
    const CaptureOptions options{c.capture_buffer_bytes, 65535};
    const std::vector<std::string> names = capture_interfaces(c);
    for (size_t index = 0; index < names.size(); ++index) {
        const std::string& name = names[index];
        Staged::Interface& i = staged.interfaces.emplace_back();
        i.bit = uint64_t(1) << index;
        if ((i.running = running_source(name))) {
            // Its ring keeps what it holds; only the filter may change (a new target).
            if (i.running->capture->filter() != bpf) {
                auto filter = i.running->capture->compile(bpf);
                if (!filter) return fail(std::move(filter).error());
                i.filter = std::move(*filter);
            }
            continue;
        }
        auto capture = Capture::open(name, options);
        if (!capture) return fail(std::move(capture).error());
        if (auto filtered = (*capture)->set_filter(bpf); !filtered) return fail(std::move(filtered).error());
        try {
            auto source = Source::open(this, std::move(*capture), io_);
            if (!source) return fail(std::move(source).error());
            i.opened = std::move(*source);
        } catch (const std::exception& e) {
            return fail(e.what());
        }
    }
    staged.run = std::move(run);
    return staged;
}

void Sender::commit(Staged& staged) {
    // What a capture that goes already holds was captured under the running
    // config: it leaves under it, before anything changes.
    for (auto& s : sources_) {
        const bool kept = std::any_of(staged.interfaces.begin(), staged.interfaces.end(),
                                      [&](const Staged::Interface& i) { return i.running == s; });
        if (kept) continue;
        drain(*s);
        s->capture->update_stats();
        s->close();
    }
    for (Target& t : targets_) t.tx->flush();
    std::vector<Target> targets;
    for (Staged::TargetPlan& plan : staged.targets) {
        Target& t = targets.emplace_back();
        t.endpoint = plan.endpoint;
        t.addr = plan.addr;
        t.own = own_target(plan.addr, plan.endpoint.port);
        Target* old = nullptr;
        for (Target& o : targets_)
            if (o.endpoint.host == plan.endpoint.host && o.endpoint.port == plan.endpoint.port) old = &o;
        if (old) t.failing_since_ns = old->failing_since_ns;  // a reload does not restart the grace period
        if (plan.tx) {
            t.tx = std::move(plan.tx);
        } else {
            t.tx = std::move(old->tx);
            t.tx->set_target(plan.addr);
        }
        {
            std::lock_guard lock(stats_.lock);
            t.health = stats_.target(printable(plan.endpoint.host) + ":" + std::to_string(plan.endpoint.port));
        }
        refresh_path_mtu(t, staged.run.config.mtu);
    }
    // A target no session sends to any more is nobody's concern: not red.
    for (const Target& o : targets_)
        if (std::none_of(targets.begin(), targets.end(), [&](const Target& t) { return t.health == o.health; })) {
            std::lock_guard lock(stats_.lock);
            o.health->up.set(1);
            o.health->problem.clear();
        }
    targets_ = std::move(targets);

    std::vector<std::shared_ptr<Source>> sources;
    for (Staged::Interface& i : staged.interfaces) {
        std::shared_ptr<Source> s = i.running ? i.running : i.opened;
        if (i.running) {
            // Compiled for this very handle, so only a kernel out of memory
            // could refuse it; the capture then keeps its old filter and the
            // per-frame own-traffic check keeps our VXLAN out all the same.
            if (i.filter)
                if (auto installed = i.running->capture->install(*i.filter); !installed)
                    log(installed.error() + "; the per-frame check keeps our own traffic out");
        } else {
            std::lock_guard lock(stats_.lock);
            i.opened->capture->attach_stats(stats_.interface(i.opened->capture->name()));
        }
        s->interface_bit = i.bit;
        s->source_v4 = interface_primary_address(s->capture->name(), AF_INET);
        s->source_v6 = interface_primary_address(s->capture->name(), AF_INET6);
        s->link_mtu = interface_mtu(s->capture->name());
        sources.push_back(std::move(s));
    }
    sources_ = std::move(sources);
    for (Staged::Interface& i : staged.interfaces)
        if (i.opened) arm(i.opened);

    apply_sessions(staged.run.sessions, vpc_resolvers(staged.run.config.vpc_cidrs));
    limiter_ = RateLimiter(staged.run.config.max_rate.packets_per_second, staged.run.config.max_rate.bits_per_second);
    run_ = std::move(staged.run);
    resolve_timer_.cancel();
    schedule_resolve();
}

void Sender::refresh_path_mtu(Target& t, uint32_t configured) {
    const uint32_t route = route_mtu(t.addr);
    const uint32_t mtu = route != 0 ? std::min(configured, route) : configured;
    if (mtu == t.path_mtu) return;
    if (t.path_mtu != 0 || mtu != configured)
        log("path MTU to " + address_text(t.addr) + ": " + std::to_string(mtu) +
            (mtu < configured ? " (the route's; --mtu says " + std::to_string(configured) + ")" : ""));
    t.path_mtu = mtu;
    t.max_inner_bytes = max_inner_frame_bytes(mtu, t.addr.ss_family == AF_INET6);
}

void Sender::apply_sessions(std::vector<Session> sessions, VpcResolvers resolvers) {
    for (Target& t : targets_) t.tx->flush();
    engine_ = SessionEngine(std::move(sessions));
    engine_.set_vpc_resolvers(std::move(resolvers));
    slots_.clear();
    stats_.configured_sessions.set(engine_.sessions().size());
    std::lock_guard lock(stats_.lock);
    for (const Session& s : engine_.sessions()) {
        SessionSlot slot{stats_.session(s.name(), s.vni), {}};
        for (Direction d : {Direction::ingress, Direction::egress})
            for (const FilterRule& r : s.filter.rules(d))
                slot.rules[size_t(d)].push_back(slot.stats->rule(d, r.rule_number, r.action));
        slots_.push_back(std::move(slot));
    }
}

// Each target's address: the running one for a target that stays, else resolved now.
Result<std::vector<sockaddr_storage>> Sender::addresses_for(const SenderConfig& c) {
    std::vector<sockaddr_storage> out;
    for (const Endpoint& e : session_targets(c)) {
        if (const Target* running = running_target(e)) {
            out.push_back(running->addr);
            continue;
        }
        auto addr = resolve_target(e.host);
        if (!addr) {
            stats_.resolutions_failed.add();
            return fail("target: " + addr.error());
        }
        stats_.resolutions_ok.add();
        out.push_back(*addr);
    }
    return out;
}

Result<> Sender::start(RunConfig run) {
    stopped_ = false;
    auto addresses = addresses_for(run.config);
    if (!addresses) return fail(std::move(addresses).error());
    auto staged = stage(std::move(run), std::move(*addresses));
    if (!staged) return fail(std::move(staged).error());
    commit(*staged);
    schedule_stats();
    uint32_t max_inner = 0;
    for (const Target& t : targets_) max_inner = std::max(max_inner, t.max_inner_bytes);
    log("capturing on " + interface_names() + ", mirroring to " + target_names() + ", " +
        std::to_string(engine_.sessions().size()) + " session(s), inner frames up to " + std::to_string(max_inner) +
        " bytes");
    return {};
}

Result<> Sender::reload(RunConfig run) {
    // The running addresses of targets that stay (a name that moves is the
    // resolve timer's, which stages and commits the same way); new ones resolved.
    auto addresses = addresses_for(run.config);
    if (!addresses) return fail(std::move(addresses).error());
    auto staged = stage(std::move(run), std::move(*addresses));
    if (!staged) return fail(std::move(staged).error());
    commit(*staged);
    log("reloaded: capturing on " + interface_names() + ", " + std::to_string(engine_.sessions().size()) +
        " session(s), mirroring to " + target_names());
    return {};
}

void Sender::stop() {
    if (stopped_) return;
    stopped_ = true;
    resolve_timer_.cancel();
    stats_timer_.cancel();
    resolver_.cancel();
    for (auto& s : sources_) {
        s->capture->update_stats();
        s->close();
    }
    for (Target& t : targets_) {
        t.tx->flush();
        t.tx->read_errors();
    }
}

void Sender::arm(const std::shared_ptr<Source>& s) {
    s->fd.async_wait(boost::asio::posix::stream_descriptor::wait_read,
                     [this, s](const boost::system::error_code& ec) {
                         if (ec || s->closed || stopped_) return;
                         const uint64_t frames = drain(*s);
                         if (s->closed) return;
                         // A quiet ring: let frames gather rather than wake for
                         // each. A busy one: straight back to it.
                         if (frames >= run_.config.batch_size || run_.config.poll_interval_usec == 0) {
                             arm(s);
                             return;
                         }
                         s->pause.expires_after(std::chrono::microseconds(run_.config.poll_interval_usec));
                         s->pause.async_wait([this, s](const boost::system::error_code& pec) {
                             if (!pec && !s->closed && !stopped_) arm(s);
                         });
                     });
}

uint64_t Sender::drain(Source& s) {
    now_ns_ = monotonic_ns();
    // Bounded: one ring's worth of blocks; under a flood the other
    // interfaces and the timers get their turn after it.
    const uint64_t frames = s.capture->drain([&](const CapturedFrame& f) { handle_frame(s, f); });
    // The ring is empty: send what this wake-up gathered.
    for (Target& t : targets_) t.tx->flush();
    return frames;
}

// The hot path: no allocation, lock, log line or system call per frame
// (sendmmsg runs once per batch in Transmitter::flush).
void Sender::handle_frame(Source& s, const CapturedFrame& captured) {
    InterfaceStats* is = s.capture->stats();
    is->captured_packets.add();
    is->captured_bytes.add(captured.wire_bytes);
    if (captured.frame.size() < kEthernetHeaderBytes) {
        stats_.filtered[size_t(FilteredVerdict::non_ip)].add();
        return;
    }
    const Bytes frame = captured.frame;
    const InnerFrame inner = parse_inner_frame(frame);
    const Direction dir = captured.direction;

    // The BPF filter already keeps our VXLAN (and ICMP errors quoting it)
    // out; this catches the moment between a new target and the new filter.
    const FlowKey& f = inner.flow;
    for (const Target& t : targets_) {
        if (is_own_traffic(frame, inner, t.own)) {
            stats_.filtered[size_t(FilteredVerdict::own_traffic)].add();
            return;
        }
    }

    const Classification c = engine_.classify(dir, inner, s.interface_bit);
    if (c.rule) {
        const Filter& filter = engine_.sessions()[size_t(c.rule_session_index)].filter;
        const size_t index = size_t(c.rule - filter.rules(dir).data());
        slots_[size_t(c.rule_session_index)].rules[size_t(dir)][index]->decisions.add();
    }
    if (!c.mirrored()) {
        static_assert(size_t(NotMirrored::rejected) == size_t(FilteredVerdict::rejected));
        static_assert(size_t(NotMirrored::no_match) == size_t(FilteredVerdict::no_match));
        static_assert(size_t(NotMirrored::non_ip) == size_t(FilteredVerdict::non_ip));
        static_assert(size_t(NotMirrored::aws_service) == size_t(FilteredVerdict::aws_service));
        stats_.filtered[size_t(c.not_mirrored)].add();
        return;
    }
    const Session& session = engine_.sessions()[size_t(c.session_index)];
    if (session.target >= targets_.size()) {
        stats_.dropped[size_t(DropReason::no_target)].add();
        return;
    }
    // What the wire carried: a TSO/GSO/GRO super-frame leaves as the
    // segments the link would have had, each mirrored as one packet; by the
    // kernel's segment size when it gave one, else by the link's MTU. A UDP
    // GSO/GRO aggregate leaves as its datagrams.
    const auto emit = [&](Bytes segment) { mirror(s, c.session_index, f, segment, ChecksumFix{}); };
    size_t segments = 0;
    // A tunnel's aggregate (a VXLAN or GENEVE device over this interface)
    // is segmented by its inner header: cut into the tunnel's packets.
    const bool tunnel = captured.aggregate != CapturedFrame::Aggregate::none && captured.checksum_start != 0 &&
                        captured.checksum_start != l4_offset(frame, inner);
    const bool tcp = captured.aggregate == CapturedFrame::Aggregate::tcp ||
                     (s.link_mtu != 0 && is_tcp_superframe(frame, inner, s.link_mtu));
    if (tunnel)
        segments = split_tunnel(frame, inner, captured.checksum_start, captured.aggregate == CapturedFrame::Aggregate::tcp,
                                captured.segment_bytes, scratch_.data(), emit);
    else if (captured.aggregate == CapturedFrame::Aggregate::udp)
        segments = split_udp(frame, inner, captured.segment_bytes, scratch_.data(), emit);
    else if (tcp)
        segments = split_tcp(frame, inner, s.link_mtu, captured.segment_bytes, scratch_.data(), emit);
    if (segments > 0) {
        stats_.resegmented.add(segments - 1);
        return;
    }
    // Checksum offload leaves a partial checksum (egress; and ingress over a
    // virtual link, which passes it on): the wire carries the real one. The
    // kernel says where (a tunnel's inner one too); without its word, a
    // checksum with the partial one's value is taken for one.
    const ChecksumFix fix = captured.checksum_start != 0
                                ? offloaded_checksum_fix(frame, inner, captured.checksum_start, captured.checksum_offset)
                                : l4_checksum_fix(frame, inner);
    mirror(s, c.session_index, f, frame, fix);
}

void Sender::mirror(Source& s, int session_index, const FlowKey& f, Bytes frame, ChecksumFix fix) {
    const Session& session = engine_.sessions()[size_t(session_index)];
    Target& target = targets_[session.target];
    Transmitter& tx = *target.tx;
    const Truncation t = truncate_frame(uint32_t(frame.size()), session.packet_length, target.max_inner_bytes);
    if (t.by_packet_length) stats_.truncated_packet_length.add();
    if (t.by_mtu) stats_.truncated_mtu.add();
    const uint64_t wire_bytes = tx.outer_ip_header_bytes() + kUdpHeaderBytes + kVxlanHeaderBytes + t.length;
    if (!limiter_.allow(wire_bytes, now_ns_)) {
        stats_.dropped[size_t(DropReason::rate_limit)].add();
        return;
    }
    std::byte* out = tx.slot();
    if (!out) {
        tx.flush();
        out = tx.slot();
    }
    const size_t n = encapsulate_udp_vxlan(out, outer_source_port(f), target.endpoint.port, session.vni, frame,
                                           t.length);
    if (fix.field != 0 && fix.field + 2 <= t.length)
        store_be16(out + kUdpHeaderBytes + kVxlanHeaderBytes + fix.field, fix.value);
    tx.commit(n, slots_[size_t(session_index)].stats, t.length,
              tx.family() == AF_INET6 ? &s.source_v6 : &s.source_v4);
    if (tx.full()) tx.flush();
}

void Sender::schedule_stats() {
    stats_timer_.expires_after(std::chrono::seconds(1));
    stats_timer_.async_wait([this](const boost::system::error_code& ec) {
        if (ec || stopped_) return;
        for (auto& s : sources_) {
            s->capture->update_stats();
            s->link_mtu = interface_mtu(s->capture->name());  // followed as it changes
        }
        check_targets();
        schedule_stats();
    });
}

void Sender::check_targets() {
    const uint64_t now = monotonic_ns();
    const uint64_t grace = uint64_t(run_.config.unreachable_grace_seconds) * 1'000'000'000;
    for (Target& t : targets_) {
        t.tx->flush();
        refresh_path_mtu(t, run_.config.mtu);
        std::array<bool, kPathFailureNames.size()> seen{};
        seen[size_t(PathFailure::icmp_unreachable)] = t.tx->read_errors() + t.tx->take_unreachable_sends() > 0;
        // When netlink itself fails nothing is known: neither is seen.
        const Result<PathState> path = probe_path(t.addr);
        seen[size_t(PathFailure::no_route)] = path && !path->route;
        seen[size_t(PathFailure::no_neighbour)] = path && path->neighbour_failed;
        std::string problem;
        for (size_t f = 0; f < kPathFailureNames.size(); ++f) {
            if (!seen[f]) continue;
            t.health->failures[f].add();
            problem += problem.empty() ? "" : ", ";
            switch (PathFailure(f)) {
                case PathFailure::icmp_unreachable: problem += "ICMP destination unreachable"; break;
                case PathFailure::no_neighbour: problem += "no ARP/ND answer from " + path->next_hop; break;
                case PathFailure::no_route: problem += "no route"; break;
            }
        }
        // Quiet for a second: reachable again. Otherwise down once the
        // grace period has passed since it was first seen failing.
        if (problem.empty()) {
            t.failing_since_ns = 0;
        } else if (t.failing_since_ns == 0) {
            t.failing_since_ns = now;
            log("target " + address_text(t.addr) + ":" + std::to_string(t.endpoint.port) + ": " + problem);
        }
        const bool down = t.failing_since_ns != 0 && now - t.failing_since_ns >= grace;
        if (down != (t.health->up.get() == 0)) {
            log("target " + address_text(t.addr) + ":" + std::to_string(t.endpoint.port) +
                (down ? " is unreachable (" + problem + ") for " + std::to_string(run_.config.unreachable_grace_seconds) +
                            " s: /healthz is red"
                      : " is reachable again"));
        }
        std::lock_guard lock(stats_.lock);
        t.health->up.set(down ? 0 : 1);
        t.health->problem = down ? problem : "";
    }
}

void Sender::schedule_resolve() {
    resolve_timer_.expires_after(std::chrono::seconds(run_.config.resolve_interval_seconds));
    resolve_timer_.async_wait([this](const boost::system::error_code& ec) {
        if (ec || stopped_) return;
        resolve_next(0);
    });
}

void Sender::resolve_next(size_t index) {
    // Literal addresses need no lookup.
    while (index < targets_.size() && !targets_[index].endpoint.is_name()) ++index;
    if (index >= targets_.size()) {
        schedule_resolve();
        return;
    }
    const std::string host = targets_[index].endpoint.host;
    // getaddrinfo runs on Asio's resolver thread, never on the capture loop.
    resolver_.async_resolve(
        host, "", boost::asio::ip::udp::resolver::numeric_service,
        [this, index, host](const boost::system::error_code& rec,
                            boost::asio::ip::udp::resolver::results_type results) {
            if (stopped_ || rec == boost::asio::error::operation_aborted) return;
            // A reload may have changed the targets meanwhile: start over.
            if (index >= targets_.size() || targets_[index].endpoint.host != host) {
                schedule_resolve();
                return;
            }
            const sockaddr_storage current = targets_[index].addr;
            if (rec || results.empty()) {
                stats_.resolutions_failed.add();
                log("re-resolving " + quote(host) + " failed: " + rec.message() + "; still sending to " +
                    address_text(current));
                resolve_next(index + 1);
                return;
            }
            stats_.resolutions_ok.add();
            std::vector<sockaddr_storage> answer;
            for (const auto& r : results) {
                sockaddr_storage a{};
                std::memcpy(&a, r.endpoint().data(), r.endpoint().size());
                answer.push_back(a);
            }
            const sockaddr_storage addr = pick_address(answer, current);
            if (!same_address(addr, current)) {
                std::vector<sockaddr_storage> addresses;
                for (const Target& t : targets_) addresses.push_back(t.addr);
                addresses[index] = addr;
                auto staged = stage(run_, std::move(addresses));
                if (!staged) {
                    log("new target address " + address_text(addr) + ": " + staged.error() + "; still sending to " +
                        address_text(current));
                } else {
                    commit(*staged);  // schedules the next round itself
                    log("target " + quote(host) + " moved from " + address_text(current) + " to " + address_text(addr));
                    return;
                }
            }
            resolve_next(index + 1);
        });
}

}  // namespace mirrortap::sender
