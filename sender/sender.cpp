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

std::string resolve_target(const std::string& host, sockaddr_storage& out) {
    addrinfo hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_DGRAM;
    addrinfo* res = nullptr;
    const int rc = getaddrinfo(host.c_str(), nullptr, &hints, &res);
    if (rc != 0) return "cannot resolve " + quote(host) + ": " + gai_strerror(rc);
    std::memset(&out, 0, sizeof out);
    std::memcpy(&out, res->ai_addr, res->ai_addrlen);
    freeaddrinfo(res);
    return "";
}

struct Sender::Source {
    Sender* owner;
    std::unique_ptr<Capture> capture;
    boost::asio::posix::stream_descriptor fd;
    boost::asio::steady_timer pause;
    bool closed = false;
    Source(Sender* o, std::unique_ptr<Capture> c, boost::asio::io_context& io)
        : owner(o), capture(std::move(c)), fd(io), pause(io) {
        const int copy = ::dup(capture->selectable_fd());
        if (copy < 0) throw std::system_error(errno, std::generic_category(), capture->name() + ": dup");
        fd.assign(copy);  // on a throw the stream_descriptor is empty: close it here
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
    sockaddr_storage target{};
    std::unique_ptr<Transmitter> tx;  // null: the running one serves (same family, batch and buffer)
    struct Interface {
        std::shared_ptr<Source> running;         // kept: the capture already running on it
        std::unique_ptr<CompiledFilter> filter;  // the kept capture's new filter, when it changes
        std::shared_ptr<Source> opened;          // or new: opened and filtered, not armed yet
    };
    std::vector<Interface> interfaces;  // in config order
};

Sender::Sender(boost::asio::io_context& io, SenderStats& stats)
    : io_(io), stats_(stats), resolve_timer_(io), stats_timer_(io), resolver_(io) {}

Sender::~Sender() { stop(); }

std::shared_ptr<Sender::Source> Sender::running_source(const std::string& interface, Direction direction) const {
    for (const auto& s : sources_)
        if (s->capture->name() == interface && s->capture->direction() == direction) return s;
    return nullptr;
}

std::string Sender::interface_names() const {
    std::string names;
    for (auto& s : sources_)
        if (s->capture->direction() == Direction::ingress) names += (names.empty() ? "" : ",") + s->capture->name();
    return names;
}

std::string Sender::stage(RunConfig run, const sockaddr_storage& target, Staged& staged) {
    const SenderConfig& c = run.config;
    const bool amazon_dns = std::any_of(run.sessions.begin(), run.sessions.end(),
                                        [](const Session& s) { return s.filter.amazon_dns; });
    const std::string bpf = own_traffic_filter(own_target(target, c.target.port)) + " and " +
                            aws_services_filter(amazon_dns, vpc_resolvers(c.vpc_cidrs));
    if (!tx_ || !tx_->suits(target.ss_family, c.batch_size, c.send_buffer_bytes)) {
        std::string error;
        staged.tx = Transmitter::open(stats_, target.ss_family, c.batch_size, kMaxDatagramBytes, c.send_buffer_bytes,
                                      error);
        if (!staged.tx) return error;
        staged.tx->set_target(target);
    }
    // Two captures per interface, one per direction: the kernel says which
    // way a frame went. Each gets half the ring the setting asks for.
    const CaptureOptions options{c.capture_buffer_bytes / 2, 65535};
    for (const std::string& name : c.interfaces)
    for (const Direction direction : {Direction::ingress, Direction::egress}) {
        Staged::Interface& i = staged.interfaces.emplace_back();
        std::string error;
        if ((i.running = running_source(name, direction))) {
            // Its ring keeps what it holds; only the filter may change (a new target).
            if (i.running->capture->filter() != bpf && !(i.filter = i.running->capture->compile(bpf, error)))
                return error;
            continue;
        }
        auto capture = Capture::open(name, direction, options, error);
        if (!capture) return error;
        if (std::string e = capture->set_filter(bpf); !e.empty()) return e;
        try {
            i.opened = std::make_shared<Source>(this, std::move(capture), io_);
        } catch (const std::exception& e) {
            return e.what();
        }
    }
    staged.run = std::move(run);
    staged.target = target;
    return "";
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
    if (tx_) tx_->flush();
    if (staged.tx) tx_ = std::move(staged.tx);
    else tx_->set_target(staged.target);
    target_ = staged.target;
    own_ = own_target(staged.target, staged.run.config.target.port);
    have_target_ = true;
    path_mtu_ = 0;
    refresh_path_mtu(staged.run.config.mtu);

    std::vector<std::shared_ptr<Source>> sources;
    for (Staged::Interface& i : staged.interfaces) {
        if (i.running) {
            // Compiled for this very handle, so only a kernel out of memory
            // could refuse it; the capture then keeps its old filter and the
            // per-frame own-traffic check keeps our VXLAN out all the same.
            if (i.filter)
                if (std::string e = i.running->capture->install(*i.filter); !e.empty())
                    log(e + "; the per-frame check keeps our own traffic out");
            sources.push_back(i.running);
            continue;
        }
        {
            std::lock_guard lock(stats_.lock);
            i.opened->capture->attach_stats(stats_.interface(i.opened->capture->name()));
        }
        sources.push_back(i.opened);
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

void Sender::refresh_path_mtu(uint32_t configured) {
    const uint32_t route = route_mtu(target_);
    const uint32_t mtu = route != 0 ? std::min(configured, route) : configured;
    if (mtu == path_mtu_) return;
    if (path_mtu_ != 0 || mtu != configured)
        log("path MTU to " + address_text(target_) + ": " + std::to_string(mtu) +
            (mtu < configured ? " (the route's; --mtu says " + std::to_string(configured) + ")" : ""));
    path_mtu_ = mtu;
    max_inner_bytes_ = max_inner_frame_bytes(mtu, target_.ss_family == AF_INET6);
}

void Sender::apply_sessions(std::vector<Session> sessions, VpcResolvers resolvers) {
    if (tx_) tx_->flush();
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

std::string Sender::start(RunConfig run) {
    stopped_ = false;
    sockaddr_storage addr{};
    if (std::string e = resolve_target(run.config.target.host, addr); !e.empty()) {
        stats_.resolutions_failed.add();
        return "target: " + e;
    }
    stats_.resolutions_ok.add();
    Staged staged;
    if (std::string e = stage(std::move(run), addr, staged); !e.empty()) return e;
    commit(staged);
    schedule_stats();
    log("capturing on " + interface_names() + ", mirroring to " + address_text(target_) + ":" +
        std::to_string(run_.config.target.port) + ", " + std::to_string(engine_.sessions().size()) +
        " session(s), inner frames up to " + std::to_string(max_inner_bytes_) + " bytes");
    return "";
}

std::string Sender::reload(RunConfig run) {
    // The running address, unless the name changed: a name that moves is the
    // resolve timer's (it stages and commits the same way).
    sockaddr_storage addr = target_;
    if (run.config.target.host != run_.config.target.host) {
        if (std::string e = resolve_target(run.config.target.host, addr); !e.empty()) {
            stats_.resolutions_failed.add();
            return "target: " + e;
        }
        stats_.resolutions_ok.add();
    }
    Staged staged;
    if (std::string e = stage(std::move(run), addr, staged); !e.empty()) return e;
    commit(staged);
    log("reloaded: capturing on " + interface_names() + ", " + std::to_string(engine_.sessions().size()) +
        " session(s), mirroring to " + address_text(target_) + ":" + std::to_string(run_.config.target.port));
    return "";
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
    if (tx_) {
        tx_->flush();
        tx_->read_errors();
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

void Sender::on_frame(u_char* user, const pcap_pkthdr* h, const u_char* bytes) {
    auto* s = reinterpret_cast<Source*>(user);
    s->owner->handle_frame(*s, h, bytes);
}

uint64_t Sender::drain(Source& s) {
    now_ns_ = monotonic_ns();
    uint64_t frames = 0;
    // Bounded: each call empties what the ring holds now; under a flood the
    // other interfaces and the timers get their turn after 64 rounds.
    for (int round = 0; round < 64; ++round) {
        const int n = pcap_dispatch(s.capture->handle(), -1, &Sender::on_frame, reinterpret_cast<u_char*>(&s));
        if (n == PCAP_ERROR) {
            log(s.capture->name() + ": " + pcap_geterr(s.capture->handle()));
            break;
        }
        if (n <= 0) break;
        frames += uint64_t(n);
    }
    // The ring is empty: send what this wake-up gathered.
    tx_->flush();
    return frames;
}

// The hot path: no allocation, lock, log line or system call per frame
// (sendmmsg runs once per batch in Transmitter::flush).
void Sender::handle_frame(Source& s, const pcap_pkthdr* h, const u_char* bytes) {
    InterfaceStats* is = s.capture->stats();
    is->captured_packets.add();
    is->captured_bytes.add(h->len);
    if (h->caplen < kEthernetHeaderBytes) {
        stats_.filtered[size_t(FilteredVerdict::non_ip)].add();
        return;
    }
    const Bytes frame{reinterpret_cast<const std::byte*>(bytes), h->caplen};
    const InnerFrame inner = parse_inner_frame(frame);
    const Direction dir = s.capture->direction();

    // The BPF filter already keeps our VXLAN (and ICMP errors quoting it)
    // out; this catches the moment between a new target and the new filter.
    const FlowKey& f = inner.flow;
    if (is_own_traffic(frame, inner, own_)) {
        stats_.filtered[size_t(FilteredVerdict::own_traffic)].add();
        return;
    }

    const Classification c = engine_.classify(dir, inner);
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
    const Truncation t = truncate_frame(h->caplen, session.packet_length, max_inner_bytes_);
    if (t.by_packet_length) stats_.truncated_packet_length.add();
    if (t.by_mtu) stats_.truncated_mtu.add();
    const uint64_t wire_bytes = tx_->outer_ip_header_bytes() + kUdpHeaderBytes + kVxlanHeaderBytes + t.length;
    if (!limiter_.allow(wire_bytes, now_ns_)) {
        stats_.dropped[size_t(DropReason::rate_limit)].add();
        return;
    }
    if (!have_target_) {
        stats_.dropped[size_t(DropReason::no_target)].add();
        return;
    }
    std::byte* out = tx_->slot();
    if (!out) {
        tx_->flush();
        out = tx_->slot();
    }
    const size_t n = encapsulate_udp_vxlan(out, outer_source_port(f), run_.config.target.port, session.vni, frame,
                                           t.length);
    tx_->commit(n, slots_[size_t(c.session_index)].stats, t.length);
    if (tx_->full()) tx_->flush();
}

void Sender::schedule_stats() {
    stats_timer_.expires_after(std::chrono::seconds(1));
    stats_timer_.async_wait([this](const boost::system::error_code& ec) {
        if (ec || stopped_) return;
        for (auto& s : sources_) s->capture->update_stats();
        tx_->flush();
        tx_->read_errors();
        refresh_path_mtu(run_.config.mtu);
        schedule_stats();
    });
}

void Sender::schedule_resolve() {
    resolve_timer_.expires_after(std::chrono::seconds(run_.config.resolve_interval_seconds));
    resolve_timer_.async_wait([this](const boost::system::error_code& ec) {
        if (ec || stopped_) return;
        // getaddrinfo runs on Asio's resolver thread, never on the capture loop.
        resolver_.async_resolve(
            run_.config.target.host, "", boost::asio::ip::udp::resolver::numeric_service,
            [this](const boost::system::error_code& rec, boost::asio::ip::udp::resolver::results_type results) {
                if (stopped_ || rec == boost::asio::error::operation_aborted) return;
                if (rec || results.empty()) {
                    stats_.resolutions_failed.add();
                    log("re-resolving " + quote(run_.config.target.host) + " failed: " + rec.message() +
                        "; still sending to " + address_text(target_));
                } else {
                    stats_.resolutions_ok.add();
                    sockaddr_storage addr{};
                    const auto ep = results.begin()->endpoint();
                    std::memcpy(&addr, ep.data(), ep.size());
                    if (!same_address(addr, target_)) {
                        const std::string before = address_text(target_);
                        Staged staged;
                        if (std::string e = stage(run_, addr, staged); !e.empty()) {
                            log("new target address " + address_text(addr) + ": " + e + "; still sending to " +
                                before);
                        } else {
                            commit(staged);
                            log("target " + quote(run_.config.target.host) + " moved from " + before + " to " +
                                address_text(addr));
                        }
                    }
                }
                schedule_resolve();
            });
    });
}

}  // namespace mirrortap::sender
