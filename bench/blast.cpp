// mirrortap-blast: sends VXLAN the way AWS Traffic Mirroring does, as fast as
// the kernel takes it or at a set rate, so that the collector, tcpdump and the
// kernel's own vxlan device can be fed one identical stream (docs/design.md §7).
//
// As root it sends through a raw IPv4/IPv6 socket and writes the outer UDP
// header itself, so every inner flow gets its own outer source port (a
// symmetric hash, like AWS) and SO_REUSEPORT receivers see a realistic spread.
// Without root (or with --udp) it falls back to an ordinary UDP socket, which
// has one source port for everything.
#include <linux/filter.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cinttypes>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <chrono>
#include <cstring>
#include <ctime>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "bench/endpoint.hpp"
#include "bench/stream.hpp"
#include "decap/bytes.hpp"
#include "decap/vxlan.hpp"

namespace mirrortap::bench {
namespace {

constexpr uint64_t kNsPerSecond = 1'000'000'000;
constexpr size_t kOuterUdpBytes = 8;
// A send that keeps failing with ENOBUFS/EAGAIN for this long is a stuck
// machine, not back-pressure: give up rather than spin forever.
constexpr uint64_t kMaxStallNs = 5 * kNsPerSecond;
constexpr unsigned kMaxBatch = 1024;  // UIO_MAXIOV caps one sendmmsg

volatile std::sig_atomic_t g_stop = 0;
void on_stop_signal(int) { g_stop = 1; }

struct BlastOptions {
    Endpoint target;
    std::optional<Endpoint> source;
    StreamShape shape;
    uint64_t count = 1'000'000;
    uint64_t rate_pps = 0;  // 0 = as fast as the kernel takes them
    unsigned batch = 64;
    uint64_t limit_ms = 0;  // 0 = no time limit
    bool quiet = false;
    bool plain_udp = false;
};

constexpr EndpointRules kTargetRules{.default_port = kVxlanPort, .min_port = 1};
constexpr EndpointRules kSourceRules{.default_port = 0};

const SettingsTable<BlastOptions>& blast_options() {
    using O = BlastOptions;
    using std::chrono::milliseconds;
    static const SettingsTable<O> table = {
        {.key = "target", .flag = "--target", .value_name = "ADDR:PORT", .default_text = "127.0.0.1:4789",
         .group = "Options", .help = "where to send; [::1]:4789 for IPv6",
         .value = endpoint_value<O>(field<&O::target>, kTargetRules)},
        {.key = "sessions", .flag = "--sessions", .value_name = "N", .default_text = "8", .group = "Options",
         .help = "mirror sessions: VNIs vni-base .. vni-base+N-1",
         .value = count_value<O>(field<&O::shape, &StreamShape::sessions>, 1, kMaxSessions)},
        {.key = "vni_base", .flag = "--vni-base", .value_name = "V", .default_text = "100", .group = "Options",
         .help = "first VNI", .value = count_value<O>(field<&O::shape, &StreamShape::vni_base>, 0, kMaxVni)},
        {.key = "size", .flag = "--size", .value_name = "BYTES", .default_text = "200", .group = "Options",
         .help = "inner Ethernet frame size, 64..9208",
         .value = size_value<O>(field<&O::shape, &StreamShape::frame_bytes>, kMinFrameBytes, kMaxFrameBytes)},
        {.key = "flows", .flag = "--flows", .value_name = "N", .default_text = "64", .group = "Options",
         .help = "inner UDP flows per session, both directions",
         .value = count_value<O>(field<&O::shape, &StreamShape::flows>, 1, kMaxFlows)},
        {.key = "count", .flag = "--count", .value_name = "N", .default_text = "1M", .group = "Options",
         .help = "datagrams in total (k/M/G: 1000s)", .value = count_value<O>(field<&O::count>, 1, UINT64_MAX)},
        {.key = "rate", .flag = "--rate", .value_name = "PPS", .default_text = "0", .group = "Options",
         .help = "datagrams per second, 0 = as fast as possible",
         .value = count_value<O>(field<&O::rate_pps>, 0, 100'000'000)},
        {.key = "batch", .flag = "--batch", .value_name = "N", .default_text = "64", .group = "Options",
         .help = "datagrams per sendmmsg call", .value = count_value<O>(field<&O::batch>, 1, kMaxBatch)},
        {.key = "seconds", .flag = "--seconds", .value_name = "S", .group = "Options",
         .help = "stop after S seconds even if --count is not reached\n(or a duration: 500ms, 2m)",
         .value = duration_value<O>(field<&O::limit_ms>, milliseconds(1), milliseconds(1'000'000'000))},
        {.key = "source", .flag = "--source", .value_name = "ADDR", .group = "Options",
         .help = "outer source address (raw mode; default: the kernel's choice,\nor another 127/8 address when the target is loopback)",
         .value = endpoint_value<O>(field<&O::source>, kSourceRules)},
        {.key = "udp", .flag = "--udp", .switch_value = "true", .default_text = "false", .group = "Options",
         .help = "plain UDP socket: no root needed, but one outer source port",
         .value = bool_value<O>(field<&O::plain_udp>)},
        {.key = "quiet", .flag = "--quiet", .switch_value = "true", .default_text = "false", .group = "Options",
         .help = "print only the final summary line", .value = bool_value<O>(field<&O::quiet>)},
    };
    return table;
}

[[noreturn]] void usage_error(const char* message) {
    std::exit(report_usage_errors("mirrortap-blast", {message}));
}

BlastOptions parse_options(int argc, char** argv) {
    BlastOptions o;
    char footer[512];
    std::snprintf(footer, sizeof footer,
                  "\nEach session's frames carry a sequence number from 0 at payload offset %zu\n"
                  "(after the magic \"MTB1\" and the VNI), so a receiver can check order and loss.\n"
                  "Example: mirrortap-blast --target 127.0.0.1:4789 --sessions 8 --rate 2000 --seconds 10\n",
                  kInnerHeadersBytes + 8);
    parse_options_or_exit(argc, argv, blast_options(), "mirrortap-blast",
                          "Usage: mirrortap-blast [options]\n"
                          "Send VXLAN-encapsulated Ethernet/IPv4/UDP frames like AWS Traffic Mirroring.\n",
                          footer, o);
    if (uint64_t(o.shape.vni_base) + o.shape.sessions - 1 > kMaxVni)
        usage_error(("--vni-base + --sessions goes past VNI " + std::to_string(kMaxVni)).c_str());
    if (uint64_t(o.shape.sessions) * o.shape.flows > (1u << 24)) usage_error("--sessions x --flows must stay under 16M");
    if (o.source && o.source->family() != o.target.family())
        usage_error("--source and --target must be the same address family");
    return o;
}

// The outer source port of every (session, flow), computed once: the hash is
// cheap, but the send loop should only copy and store.
class OuterPortTable {
public:
    explicit OuterPortTable(const StreamShape& shape) : flows_(shape.flows) {
        ports_.resize(size_t(shape.sessions) * shape.flows);
        for (uint32_t s = 0; s < shape.sessions; ++s) {
            for (uint32_t f = 0; f < shape.flows; ++f) {
                ports_[size_t(s) * flows_ + f] = outer_source_port(inner_flow(s, f).key(false));
            }
        }
    }
    uint16_t port(uint32_t session, uint32_t flow) const { return ports_[size_t(session) * flows_ + flow]; }

private:
    uint32_t flows_;
    std::vector<uint16_t> ports_;
};

// One socket that puts VXLAN datagrams on the wire, in one of two modes.
class VxlanSocket {
public:
    enum class Mode { raw, udp };

    Result<> open(const BlastOptions& o) {
        mode_ = o.plain_udp ? Mode::udp : Mode::raw;
        if (mode_ == Mode::raw) {
            fd_ = socket(o.target.family(), SOCK_RAW, IPPROTO_UDP);
            if (fd_ < 0 && (errno == EPERM || errno == EACCES)) {
                std::fprintf(stderr, "mirrortap-blast: no raw socket without root; using plain UDP "
                                     "(one outer source port for all flows)\n");
                mode_ = Mode::udp;
            } else if (fd_ < 0) {
                return system_failure("socket(SOCK_RAW)");
            }
        }
        if (mode_ == Mode::udp) {
            fd_ = socket(o.target.family(), SOCK_DGRAM, IPPROTO_UDP);
            if (fd_ < 0) return system_failure("socket(SOCK_DGRAM)");
        }
        destination_ = o.target;
        if (mode_ == Mode::raw) {
            // A raw socket's address port must be 0 or the protocol (IPv6 checks it);
            // the real destination port is in the UDP header we write.
            set_port(destination_, 0);
            if (auto prepared = prepare_raw(o); !prepared) return prepared;
        }
        // A deep send queue so that a burst of batches is not cut short by
        // SO_SNDBUF before the receiver side even gets a say.
        const int sndbuf = 4 << 20;
        if (setsockopt(fd_, SOL_SOCKET, SO_SNDBUFFORCE, &sndbuf, sizeof sndbuf) != 0) {
            setsockopt(fd_, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof sndbuf);
        }
        return {};
    }

    Mode mode() const { return mode_; }
    int fd() const { return fd_; }
    const Endpoint& destination() const { return destination_; }
    std::string source_text() const {
        sockaddr_storage local{};
        socklen_t length = sizeof local;
        if (getsockname(fd_, reinterpret_cast<sockaddr*>(&local), &length) != 0) return "?";
        return mode_ == Mode::raw ? address_text(local) : endpoint_text(local);  // no port on a raw socket
    }

private:
    Result<> prepare_raw(const BlastOptions& o) {
        std::optional<Endpoint> source = o.source;
        // A raw UDP socket also receives a copy of every UDP datagram arriving
        // for its local address, which would cost a clone per packet on
        // loopback. Sending from a second loopback address keeps our own
        // datagrams out of it entirely.
        if (!source && o.target.family() == AF_INET && is_loopback(o.target)) {
            const bool target_is_dot2 = o.target.host == "127.0.0.2";
            if (auto second = parse_endpoint(target_is_dot2 ? "127.0.0.3" : "127.0.0.2", kSourceRules)) source = *second;
        }
        if (source) {
            Endpoint bind_to = *source;
            set_port(bind_to, 0);
            if (bind(fd_, socket_address(bind_to), bind_to.len) != 0) return system_failure("bind --source");
        }
        // Whatever still matches (IPv6 ::1 to ::1) is dropped by a filter that
        // accepts nothing, into a receive buffer as small as the kernel allows.
        sock_filter reject_all{BPF_RET | BPF_K, 0, 0, 0};
        sock_fprog program{1, &reject_all};
        setsockopt(fd_, SOL_SOCKET, SO_ATTACH_FILTER, &program, sizeof program);
        const int tiny = 1;
        setsockopt(fd_, SOL_SOCKET, SO_RCVBUF, &tiny, sizeof tiny);
        if (o.target.family() == AF_INET6) {
            // UDP over IPv6 must carry a checksum; let the kernel compute it
            // at offset 6 of what we hand it (the UDP header's checksum field).
            const int offset = 6;
            if (setsockopt(fd_, IPPROTO_IPV6, IPV6_CHECKSUM, &offset, sizeof offset) != 0)
                return system_failure("IPV6_CHECKSUM");
        }
        return {};
    }

    // "what: errno's reason".
    static Failure<std::string> system_failure(const char* what) {
        return fail(std::string(what) + ": " + std::strerror(errno));
    }

    Mode mode_ = Mode::raw;
    int fd_ = -1;
    Endpoint destination_;
};

// The batch of datagrams handed to one sendmmsg: buffers allocated once and
// rewritten in place, so the send loop neither allocates nor copies payload.
class DatagramBatch {
public:
    DatagramBatch(unsigned capacity, const StreamShape& shape, const VxlanSocket& socket, uint16_t dst_port)
        : shape_(shape),
          ports_(shape),
          dst_port_(dst_port),
          raw_(socket.mode() == VxlanSocket::Mode::raw),
          datagram_bytes_(uint32_t(kOuterUdpBytes + kVxlanHeaderBytes + shape.frame_bytes)),
          stride_((datagram_bytes_ + 63) & ~size_t(63)),
          storage_(stride_ * capacity),
          iov_(capacity),
          msgs_(capacity) {
        for (unsigned i = 0; i < capacity; ++i) {
            std::byte* slot = storage_.data() + i * stride_;
            fill_inner_payload(slot + kOuterUdpBytes + kVxlanHeaderBytes, shape.frame_bytes);
            // In UDP mode the kernel writes the outer UDP header: start after ours.
            const size_t skip = raw_ ? 0 : kOuterUdpBytes;
            iov_[i] = {slot + skip, datagram_bytes_ - skip};
            msgs_[i].msg_hdr.msg_iov = &iov_[i];
            msgs_[i].msg_hdr.msg_iovlen = 1;
            msgs_[i].msg_hdr.msg_name = const_cast<sockaddr*>(socket_address(socket.destination()));
            msgs_[i].msg_hdr.msg_namelen = socket.destination().len;
        }
    }

    // Writes datagrams first .. first+n-1 of the stream into the slots.
    void build(uint64_t first, unsigned n) {
        for (unsigned i = 0; i < n; ++i) {
            const StreamPosition p = position_of(first + i, shape_);
            const uint32_t vni = shape_.vni_base + p.session;
            std::byte* udp = storage_.data() + i * stride_;
            if (raw_) {
                store_be16(udp, ports_.port(p.session, p.flow));
                store_be16(udp + 2, dst_port_);
                store_be16(udp + 4, uint16_t(datagram_bytes_));
                store_be16(udp + 6, 0);  // IPv4: none; IPv6: the kernel fills it in
            }
            VxlanHeader::encode(udp + kOuterUdpBytes, vni);
            write_inner_headers(udp + kOuterUdpBytes + kVxlanHeaderBytes, shape_.frame_bytes,
                                inner_flow(p.session, p.flow), Marker{vni, p.sequence, p.flow, p.reply});
        }
    }

    mmsghdr* messages() { return msgs_.data(); }
    uint32_t datagram_bytes() const { return uint32_t(datagram_bytes_ - kOuterUdpBytes); }

private:
    StreamShape shape_;
    OuterPortTable ports_;
    uint16_t dst_port_;
    bool raw_;
    size_t datagram_bytes_;  // outer UDP header + VXLAN + inner frame
    size_t stride_;
    std::vector<std::byte> storage_;
    std::vector<iovec> iov_;
    std::vector<mmsghdr> msgs_;
};

// Holds the send schedule to --rate: datagram n is due at start + n/rate.
// Sleeps are absolute, so rounding never accumulates; a sender that fell far
// behind (a stall) restarts the schedule instead of bursting to catch up.
class Pacer {
public:
    Pacer(uint64_t rate_pps, uint64_t start_ns) : rate_(rate_pps), start_ns_(start_ns) {}
    bool active() const { return rate_ != 0; }

    void wait_for(uint64_t n) {
        if (!rate_) return;
        const uint64_t due = start_ns_ + uint64_t((n - base_) * (double(kNsPerSecond) / double(rate_)));
        const uint64_t now = monotonic_ns();
        if (now + kNsPerSecond < due) return;  // cannot happen unless the clock jumped; never sleep long
        if (due > now) {
            timespec until{time_t(due / kNsPerSecond), long(due % kNsPerSecond)};
            clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &until, nullptr);
        } else if (now - due > kNsPerSecond) {
            start_ns_ = now;
            base_ = n;
        }
    }

private:
    uint64_t rate_;
    uint64_t start_ns_;
    uint64_t base_ = 0;
};

struct SendTally {
    uint64_t sent = 0;
    uint64_t retries = 0;  // ENOBUFS/EAGAIN, each retried
    int error = 0;         // the errno that stopped us, 0 if none
};

// Sends all n messages, retrying the kernel's "try again" answers.
bool send_batch(int fd, mmsghdr* msgs, unsigned n, SendTally& tally) {
    unsigned done = 0;
    uint64_t stalled_since = 0;
    while (done < n) {
        const int r = sendmmsg(fd, msgs + done, n - done, 0);
        if (r > 0) {
            done += unsigned(r);
            tally.sent += unsigned(r);
            stalled_since = 0;
            continue;
        }
        if (r < 0 && errno == EINTR) {
            if (g_stop) return true;
            continue;
        }
        if (r < 0 && (errno == ENOBUFS || errno == EAGAIN || errno == EWOULDBLOCK)) {
            ++tally.retries;
            const uint64_t now = monotonic_ns();
            if (!stalled_since) stalled_since = now;
            if (now - stalled_since > kMaxStallNs || g_stop) {
                tally.error = errno;
                return false;
            }
            timespec pause{0, 50'000};  // let the receive side drain a little
            nanosleep(&pause, nullptr);
            continue;
        }
        tally.error = r < 0 ? errno : EIO;
        return false;
    }
    return true;
}

double cpu_seconds() {
    rusage ru{};
    getrusage(RUSAGE_SELF, &ru);
    return double(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) + double(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

int run(const BlastOptions& o) {
    VxlanSocket socket;
    if (auto opened = socket.open(o); !opened) {
        std::fprintf(stderr, "mirrortap-blast: %s\n", opened.error().c_str());
        return 1;
    }

    const unsigned capacity = o.batch;
    // At a set rate, one batch should not be more than about a millisecond of
    // traffic, or the stream would arrive in visible lumps.
    unsigned batch = capacity;
    if (o.rate_pps) batch = unsigned(std::clamp<uint64_t>(o.rate_pps / 1000, 1, capacity));
    DatagramBatch datagrams(capacity, o.shape, socket, o.target.port);

    if (!o.quiet) {
        std::printf("mirrortap-blast: %" PRIu64 " datagrams to %s from %s (%s), %u sessions (VNI %u-%u) x %u flows, "
                    "%u-byte inner frames, batch %u, rate %s\n",
                    o.count, endpoint_text(o.target.addr).c_str(), socket.source_text().c_str(),
                    socket.mode() == VxlanSocket::Mode::raw ? "raw socket, per-flow source ports"
                                                            : "UDP socket, one source port",
                    o.shape.sessions, o.shape.vni_base, o.shape.vni_base + o.shape.sessions - 1,
                    o.shape.flows, o.shape.frame_bytes, batch,
                    o.rate_pps ? (std::to_string(o.rate_pps) + " pps").c_str() : "max");
        std::fflush(stdout);
    }

    const uint64_t start_ns = monotonic_ns();
    const uint64_t deadline_ns = o.limit_ms > 0 ? start_ns + o.limit_ms * 1'000'000 : UINT64_MAX;
    Pacer pacer(o.rate_pps, start_ns);
    SendTally tally;
    bool ok = true;
    while (tally.sent < o.count && !g_stop) {
        if (monotonic_ns() >= deadline_ns) break;
        pacer.wait_for(tally.sent);
        const unsigned n = unsigned(std::min<uint64_t>(batch, o.count - tally.sent));
        datagrams.build(tally.sent, n);
        if (!send_batch(socket.fd(), datagrams.messages(), n, tally)) {
            ok = false;
            break;
        }
    }
    const double elapsed_s = double(monotonic_ns() - start_ns) / kNsPerSecond;

    if (!ok) {
        std::fprintf(stderr, "mirrortap-blast: sendmmsg: %s\n", std::strerror(tally.error));
    }
    const double rate = elapsed_s > 0 ? double(tally.sent) / elapsed_s : 0;
    std::printf("mirrortap-blast: sent %" PRIu64 " datagrams (%" PRIu64 " bytes of VXLAN payload) in %.3f s "
                "= %.0f pps, %.2f Gbit/s; %" PRIu64 " retries (ENOBUFS/EAGAIN); cpu %.3f s\n",
                tally.sent, tally.sent * datagrams.datagram_bytes(), elapsed_s, rate,
                rate * datagrams.datagram_bytes() * 8 / 1e9, tally.retries, cpu_seconds());
    return ok ? 0 : 1;
}

}  // namespace
}  // namespace mirrortap::bench

int main(int argc, char** argv) {
    using namespace mirrortap::bench;
    const BlastOptions options = parse_options(argc, argv);
    struct sigaction sa {};
    sa.sa_handler = on_stop_signal;  // no SA_RESTART: a blocked send returns EINTR
    sigaction(SIGINT, &sa, nullptr);
    sigaction(SIGTERM, &sa, nullptr);
    return run(options);
}
