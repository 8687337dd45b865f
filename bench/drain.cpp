// mirrortap-drain: the cheapest possible receiver of the same stream, a bare
// recvmmsg loop that looks at nothing. It is the baseline every other
// configuration of the benchmark is compared with (docs/design.md §7), so it uses the
// collector's receive shape: 64 datagrams per call into 9216-byte buffers.
#include <netinet/in.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <cerrno>
#include <cinttypes>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string_view>
#include <vector>

#include "bench/endpoint.hpp"
#include "decap/vxlan.hpp"

namespace mirrortap::bench {
namespace {

constexpr unsigned kBatch = 64;            // as the collector's recvmmsg
constexpr size_t kBufferBytes = 9216;      // a whole jumbo datagram (as AWS documents it)
constexpr int kPollMs = 50;                // how often a blocked receive looks at the clock and signals
constexpr uint64_t kNsPerMs = 1'000'000;

volatile std::sig_atomic_t g_stop = 0;
volatile std::sig_atomic_t g_start = 0;
void on_stop_signal(int) { g_stop = 1; }
void on_start_signal(int) { g_start = 1; }

struct DrainOptions {
    Endpoint listen;
    uint64_t count = 0;      // 0 = no limit
    uint64_t idle_ms = 0;    // 0 = wait for a signal
    uint64_t rcvbuf_bytes = 64ull << 20;
    bool wait_for_start = false;
    bool quiet = false;
};

constexpr EndpointRules kListenRules{.default_port = kVxlanPort};

const SettingsTable<DrainOptions>& drain_options() {
    using O = DrainOptions;
    static const SettingsTable<O> table = {
        {.key = "listen", .flag = "--listen", .value_name = "ADDR:PORT", .default_text = "127.0.0.1:4789",
         .group = "Options", .help = "where to receive; [::1]:4789 for IPv6",
         .value = endpoint_value<O>(field<&O::listen>, kListenRules)},
        {.key = "count", .flag = "--count", .value_name = "N", .default_text = "0", .group = "Options",
         .help = "stop after N datagrams (k/M/G: 1000s); 0 = no limit",
         .value = count_value<O>(field<&O::count>, 0, UINT64_MAX)},
        {.key = "idle_ms", .flag = "--idle-ms", .value_name = "MS", .default_text = "0", .group = "Options",
         .help = "stop MS milliseconds after the last datagram\n(once one arrived); 0 = wait for a signal",
         .value = count_value<O>(field<&O::idle_ms>, 0, UINT64_MAX / 1000000)},
        {.key = "rcvbuf", .flag = "--rcvbuf", .value_name = "BYTES", .default_text = "64M", .group = "Options",
         .help = "socket receive buffer (K/M/G), as the collector's",
         .value = size_value<O>(field<&O::rcvbuf_bytes>, 0, 1ull << 30)},
        {.key = "wait_start", .flag = "--wait-start", .switch_value = "true", .default_text = "false",
         .group = "Options",
         .help = "bind, then read nothing until SIGUSR1: measures the drain\nrate of a socket filled beforehand",
         .value = bool_value<O>(field<&O::wait_for_start>)},
        {.key = "quiet", .flag = "--quiet", .switch_value = "true", .default_text = "false", .group = "Options",
         .help = "print only the final summary line", .value = bool_value<O>(field<&O::quiet>)},
    };
    return table;
}

DrainOptions parse_options(int argc, char** argv) {
    DrainOptions o;
    char synopsis[256];
    std::snprintf(synopsis, sizeof synopsis,
                  "Usage: mirrortap-drain [options]\n"
                  "Receive UDP datagrams with recvmmsg (%u per call, %zu-byte buffers) and count them.\n",
                  kBatch, kBufferBytes);
    parse_options_or_exit(argc, argv, drain_options(), "mirrortap-drain", synopsis,
                          "\nStops on SIGTERM/SIGINT too. Prints datagrams, bytes, the time from the first to\n"
                          "the last datagram, the rate, the kernel's drop count (SO_RXQ_OVFL) and its own CPU.\n",
                          o);
    return o;
}

// recvmmsg's arrays, set up once; a control buffer per message carries the
// socket's cumulative drop counter (SO_RXQ_OVFL).
class ReceiveBatch {
public:
    ReceiveBatch() : storage_(kBatch * kBufferBytes), control_(kBatch * kControlBytes) {
        for (unsigned i = 0; i < kBatch; ++i) {
            iov_[i] = {storage_.data() + i * kBufferBytes, kBufferBytes};
            msgs_[i].msg_hdr.msg_iov = &iov_[i];
            msgs_[i].msg_hdr.msg_iovlen = 1;
            msgs_[i].msg_hdr.msg_control = control_.data() + i * kControlBytes;
        }
    }
    mmsghdr* reset() {
        // The kernel shrinks msg_controllen to what it wrote; give it room again.
        for (auto& m : msgs_) m.msg_hdr.msg_controllen = kControlBytes;
        return msgs_;
    }
    const mmsghdr& operator[](unsigned i) const { return msgs_[i]; }

    // The counter is cumulative, so the last datagram of a batch says it all.
    static bool drops_in(const mmsghdr& m, uint32_t& drops) {
        for (cmsghdr* c = CMSG_FIRSTHDR(&m.msg_hdr); c; c = CMSG_NXTHDR(const_cast<msghdr*>(&m.msg_hdr), c)) {
            if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SO_RXQ_OVFL) {
                std::memcpy(&drops, CMSG_DATA(c), sizeof drops);
                return true;
            }
        }
        return false;
    }

private:
    static constexpr size_t kControlBytes = CMSG_SPACE(sizeof(uint32_t));
    std::vector<std::byte> storage_;
    std::vector<std::byte> control_;
    iovec iov_[kBatch];
    mmsghdr msgs_[kBatch] = {};
};

double cpu_seconds() {
    rusage ru{};
    getrusage(RUSAGE_SELF, &ru);
    return double(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) + double(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

int run(const DrainOptions& o) {
    const int fd = socket(o.listen.family(), SOCK_DGRAM, IPPROTO_UDP);
    const std::string listen = endpoint_text(o.listen.addr);
    if (fd < 0) { std::perror("mirrortap-drain: socket"); return 1; }
    const int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_RXQ_OVFL, &one, sizeof one);
    const int rcvbuf = set_receive_buffer(fd, int(o.rcvbuf_bytes));
    // The timeout only bounds how long a quiet socket keeps us from noticing
    // the idle limit; it costs nothing while datagrams flow.
    timeval poll{0, kPollMs * 1000};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &poll, sizeof poll);
    if (bind(fd, socket_address(o.listen), o.listen.len) != 0) {
        std::fprintf(stderr, "mirrortap-drain: bind %s: %s\n", listen.c_str(), std::strerror(errno));
        return 1;
    }
    if (!o.quiet) {
        std::printf("mirrortap-drain: listening on %s, receive buffer %d bytes%s\n", listen.c_str(),
                    rcvbuf, o.wait_for_start ? ", waiting for SIGUSR1" : "");
        std::fflush(stdout);
    }
    while (o.wait_for_start && !g_start && !g_stop) pause();

    ReceiveBatch batch;
    uint64_t packets = 0, bytes = 0, first_ns = 0, last_ns = 0;
    uint32_t drops = 0;
    while (!g_stop && (o.count == 0 || packets < o.count)) {
        const int n = recvmmsg(fd, batch.reset(), kBatch, MSG_WAITFORONE, nullptr);
        const uint64_t now = monotonic_ns();
        if (n < 0) {
            if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
                std::perror("mirrortap-drain: recvmmsg");
                return 1;
            }
            if (o.idle_ms && packets && now - last_ns >= o.idle_ms * kNsPerMs) break;
            continue;
        }
        if (!packets) first_ns = now;
        last_ns = now;
        packets += unsigned(n);
        for (int i = 0; i < n; ++i) bytes += batch[i].msg_len;
        ReceiveBatch::drops_in(batch[n - 1], drops);
    }

    const double span_s = packets ? double(last_ns - first_ns) / 1e9 : 0;
    const double rate = span_s > 0 ? double(packets) / span_s : 0;
    std::printf("mirrortap-drain: received %" PRIu64 " datagrams, %" PRIu64 " bytes in %.3f s (first to last) "
                "= %.0f pps; socket drops %u; cpu %.3f s\n",
                packets, bytes, span_s, rate, drops, cpu_seconds());
    close(fd);
    return 0;
}

}  // namespace
}  // namespace mirrortap::bench

int main(int argc, char** argv) {
    using namespace mirrortap::bench;
    const DrainOptions options = parse_options(argc, argv);
    struct sigaction sa {};
    sa.sa_handler = on_stop_signal;  // no SA_RESTART: a blocked receive returns EINTR
    sigaction(SIGINT, &sa, nullptr);
    sigaction(SIGTERM, &sa, nullptr);
    sa.sa_handler = on_start_signal;
    sigaction(SIGUSR1, &sa, nullptr);
    return run(options);
}
