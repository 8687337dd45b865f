// mirrortap-drain: the cheapest possible receiver of the same stream, a bare
// recvmmsg loop that looks at nothing. It is the baseline every other
// configuration of the benchmark is compared with (DESIGN §6), so it uses the
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
constexpr size_t kBufferBytes = 9216;      // a whole jumbo datagram (DESIGN §3)
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

void print_usage(FILE* to) {
    std::fprintf(to,
        "Usage: mirrortap-drain [options]\n"
        "Receive UDP datagrams with recvmmsg (%u per call, %zu-byte buffers) and count them.\n"
        "\n"
        "  --listen ADDR:PORT  where to receive (default 127.0.0.1:4789; [::1]:4789 for IPv6)\n"
        "  --count N           stop after N datagrams (K/M/G suffix allowed)\n"
        "  --idle-ms MS        stop MS milliseconds after the last datagram (once one arrived)\n"
        "  --rcvbuf BYTES      socket receive buffer, K/M/G suffix (default 64M, as the collector)\n"
        "  --wait-start        bind, then read nothing until SIGUSR1: measures the drain rate\n"
        "                      of a socket filled beforehand\n"
        "  --quiet             print only the final summary line\n"
        "  --help\n"
        "Stops on SIGTERM/SIGINT too. Prints datagrams, bytes, the time from the first to\n"
        "the last datagram, the rate, the kernel's drop count (SO_RXQ_OVFL) and its own CPU.\n",
        kBatch, kBufferBytes);
}

bool parse_options(int argc, char** argv, DrainOptions& o) {
    o.listen = *parse_endpoint("127.0.0.1", kVxlanPort);
    for (int i = 1; i < argc; ++i) {
        const std::string_view flag = argv[i];
        if (flag == "--help" || flag == "-h") { print_usage(stdout); std::exit(0); }
        if (flag == "--quiet") { o.quiet = true; continue; }
        if (flag == "--wait-start") { o.wait_for_start = true; continue; }
        if (i + 1 >= argc) {
            std::fprintf(stderr, "mirrortap-drain: unknown flag or missing value: %s (see --help)\n", argv[i]);
            return false;
        }
        const std::string_view value = argv[++i];
        bool good = true;
        if (flag == "--listen") {
            auto e = parse_endpoint(value, kVxlanPort);
            if ((good = e.has_value())) o.listen = *e;
        } else if (flag == "--count" || flag == "--idle-ms" || flag == "--rcvbuf") {
            auto n = parse_count(value, flag == "--rcvbuf" ? 1024 : 1000);
            good = n.has_value() && (flag != "--rcvbuf" || *n <= (1ull << 30));
            if (good) (flag == "--count" ? o.count : flag == "--idle-ms" ? o.idle_ms : o.rcvbuf_bytes) = *n;
        } else {
            std::fprintf(stderr, "mirrortap-drain: unknown flag: %s (see --help)\n", argv[i]);
            return false;
        }
        if (!good) {
            std::fprintf(stderr, "mirrortap-drain: bad value for %s: '%s'\n", argv[i - 1], argv[i]);
            return false;
        }
    }
    return true;
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
    if (fd < 0) { std::perror("mirrortap-drain: socket"); return 1; }
    const int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_RXQ_OVFL, &one, sizeof one);
    const int rcvbuf = set_receive_buffer(fd, int(o.rcvbuf_bytes));
    // The timeout only bounds how long a quiet socket keeps us from noticing
    // the idle limit; it costs nothing while datagrams flow.
    timeval poll{0, kPollMs * 1000};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &poll, sizeof poll);
    if (bind(fd, o.listen.get(), o.listen.length) != 0) {
        std::fprintf(stderr, "mirrortap-drain: bind %s: %s\n", o.listen.to_string().c_str(), std::strerror(errno));
        return 1;
    }
    if (!o.quiet) {
        std::printf("mirrortap-drain: listening on %s, receive buffer %d bytes%s\n", o.listen.to_string().c_str(),
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
    DrainOptions options;
    if (!parse_options(argc, argv, options)) return 2;
    struct sigaction sa {};
    sa.sa_handler = on_stop_signal;  // no SA_RESTART: a blocked receive returns EINTR
    sigaction(SIGINT, &sa, nullptr);
    sigaction(SIGTERM, &sa, nullptr);
    sa.sa_handler = on_start_signal;
    sigaction(SIGUSR1, &sa, nullptr);
    return run(options);
}
