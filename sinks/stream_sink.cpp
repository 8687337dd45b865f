#include "sinks/stream_sink.hpp"

#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <bit>
#include <cerrno>
#include <csignal>
#include <cstring>
#include <ctime>

#include "sinks/capture_dir.hpp"
#include "sinks/pcap_format.hpp"
#include "support/clock.hpp"

namespace mirrortap {

namespace {

constexpr size_t kOutBytes = 1u << 20;        // one write(2) carries up to this much
constexpr size_t kMaxRecordsPerWrite = 16384;
constexpr int kPipeBytes = 1 << 20;           // the largest pipe an unprivileged user may ask for by default
constexpr int kIdlePollMs = 100;
// A writer woken for every receive batch spends more on wake-ups and small
// writes than on the data: after a small write it lets up to this long of
// records gather first (1000 writes a second at most while traffic is light).
constexpr long kCoalesceNs = 1'000'000;
constexpr size_t kCoalesceRecords = 512;

void set_nonblocking(int fd) {
    const int flags = fcntl(fd, F_GETFL);
    if (flags >= 0) fcntl(fd, F_SETFL, flags | O_NONBLOCK);
}

SinkDropReason reason_for_write(int err) {
    switch (err) {
        case EPIPE:
        case ECONNRESET:
        case ENOTCONN: return SinkDropReason::no_reader;
        case EAGAIN: return SinkDropReason::queue_full;
        default: return SinkDropReason::write_error;
    }
}

}  // namespace

Result<StreamTarget> parse_stream_target(std::string_view text) {
    StreamTarget t;
    t.text = std::string(text);
    if (text == "-") {
        t.kind = StreamTarget::Kind::stdout_pipe;
        return t;
    }
    if (text.starts_with("unix:")) {
        t.kind = StreamTarget::Kind::unix_listen;
        t.path = std::string(text.substr(5));
        if (t.path.empty() || t.path.size() >= sizeof(sockaddr_un{}.sun_path))
            return fail("a unix socket path has 1 to " + std::to_string(sizeof(sockaddr_un{}.sun_path) - 1) + " bytes");
        return t;
    }
    if (text.empty()) return fail("expected -, a FIFO path or unix:PATH");
    t.kind = StreamTarget::Kind::fifo;
    t.path = std::string(text);
    return t;
}

// ---- the ring -----------------------------------------------------------

StreamRing::StreamRing(size_t capacity_bytes)
    : capacity_(std::bit_ceil(std::max<size_t>(capacity_bytes, 4096))),
      mask_(capacity_ - 1),
      buf_(std::make_unique<std::byte[]>(capacity_)) {}

std::byte* StreamRing::reserve(Session* session, uint32_t record_bytes) {
    const uint64_t need = entry_bytes(record_bytes);
    const uint64_t to_end = capacity_ - (pending_head_ & mask_);
    const uint64_t total = need + (to_end < need ? to_end : 0);
    if (need > capacity_ / 2 || pending_head_ + total - tail_ > capacity_) return nullptr;
    if (to_end < need) {
        // Entries never wrap: pad to the end (sizes are multiples of 16, so the pad fits its header).
        StreamEntry* pad = entry_at(pending_head_);
        pad->session = nullptr;
        pad->record_bytes = 0;
        pad->outcome = kStreamPending;
        pending_head_ += to_end;
    }
    StreamEntry* e = entry_at(pending_head_);
    e->session = session;
    e->record_bytes = record_bytes;
    e->outcome = kStreamPending;
    pending_head_ += need;
    return reinterpret_cast<std::byte*>(e + 1);
}

// ---- the writer ---------------------------------------------------------

StreamWriter::StreamWriter(StreamWriterOptions options) : opt_(std::move(options)) {
    out_capacity_ = std::max<size_t>(kOutBytes, sizeof(PcapFileHeader) + sizeof(PcapRecordHeader) + opt_.snaplen);
    out_ = std::make_unique<std::byte[]>(out_capacity_);
    taken_.reserve(kMaxRecordsPerWrite);
}

StreamWriter::~StreamWriter() {
    stop_.store(true);
    wake();
    if (thread_.joinable()) thread_.join();
    if (out_fd_ >= 0 && out_fd_ != STDOUT_FILENO) ::close(out_fd_);
    if (listen_fd_ >= 0) {
        ::close(listen_fd_);
        // Only the socket we bound: someone may have put another in its place.
        struct stat st{};
        if (lstat(opt_.target.path.c_str(), &st) == 0 && st.st_dev == socket_dev_ && st.st_ino == socket_ino_)
            unlink(opt_.target.path.c_str());
    }
    // Built for a reload that was then refused: leave no trace of it.
    if (made_fifo_ && !had_producer_) unlink(opt_.target.path.c_str());
    if (wake_fd_ >= 0) ::close(wake_fd_);
}

Result<> StreamWriter::open() {
    const StreamTarget& t = opt_.target;
    wake_fd_ = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (wake_fd_ < 0) return fail(std::string("eventfd: ") + std::strerror(errno));
    struct stat st{};
    // The FIFO and the socket are made as the --user the process becomes: it
    // owns them, and they can only be made where it may make files.
    std::optional<UserIds> owner;
    if (opt_.owner_uid >= 0) owner = UserIds{uid_t(opt_.owner_uid), gid_t(opt_.owner_gid), ""};
    const ActAsOwner as_owner(owner);
    switch (t.kind) {
        case StreamTarget::Kind::stdout_pipe:
            if (fstat(STDOUT_FILENO, &st) != 0) return fail("--stream -: standard output is closed");
            if (isatty(STDOUT_FILENO))
                return fail("--stream -: standard output is a terminal; pipe it to a reader");
            if (S_ISFIFO(st.st_mode) || S_ISSOCK(st.st_mode)) {
                set_nonblocking(STDOUT_FILENO);
                fcntl(STDOUT_FILENO, F_SETPIPE_SZ, kPipeBytes);  // best effort
            }
            connected(STDOUT_FILENO);
            reconnectable_ = false;
            break;
        case StreamTarget::Kind::fifo:
            if (stat(t.path.c_str(), &st) == 0) {
                if (!S_ISFIFO(st.st_mode))
                    return fail("--stream " + t.text +
                                ": exists and is not a FIFO (use unix:PATH for a socket)");
                break;
            }
            // Made as the --user (ActAsOwner above): the writer reopens the
            // FIFO for every reader, after root has been dropped.
            if (errno != ENOENT || mkfifo(t.path.c_str(), 0640) != 0)
                return fail("--stream " + t.text + ": cannot create FIFO" + (owner ? " as the --user" : "") + ": " +
                            std::strerror(errno));
            made_fifo_ = true;
            break;
        case StreamTarget::Kind::unix_listen: {
            sockaddr_un addr{};
            addr.sun_family = AF_UNIX;
            std::memcpy(addr.sun_path, t.path.data(), t.path.size());
            if (auto cleared = clear_stale_socket(addr); !cleared)
                return fail("--stream " + t.text + ": " + cleared.error());
            listen_fd_ = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
            if (listen_fd_ < 0) return fail(std::string("socket: ") + std::strerror(errno));
            if (bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 || listen(listen_fd_, 4) != 0)
                return fail("--stream " + t.text + ": cannot listen" + (owner ? " as the --user" : "") + ": " +
                            std::strerror(errno));
            // Readers connect as the owner or a member of its group (connecting needs write).
            if (fchmodat(AT_FDCWD, t.path.c_str(), 0660, AT_SYMLINK_NOFOLLOW) != 0 ||
                lstat(t.path.c_str(), &st) != 0 || !S_ISSOCK(st.st_mode))
                return fail("--stream " + t.text + ": cannot set the socket's mode: " +
                            std::strerror(errno));
            socket_dev_ = st.st_dev;
            socket_ino_ = st.st_ino;
            break;
        }
    }
    return {};
}

void StreamWriter::start() {
    if (!thread_.joinable()) thread_ = std::thread([this] { run(); });
}

Result<> StreamWriter::clear_stale_socket(const sockaddr_un& addr) const {
    struct stat st{};
    if (lstat(addr.sun_path, &st) != 0) {
        if (errno == ENOENT) return {};
        return fail(std::strerror(errno));
    }
    if (!S_ISSOCK(st.st_mode)) return fail("exists and is not a socket");
    const uid_t ours = opt_.owner_uid >= 0 ? uid_t(opt_.owner_uid) : geteuid();
    if (st.st_uid != ours)
        return fail("a socket of uid " + std::to_string(st.st_uid) +
                    " is there, not ours; remove it if it is stale");
    // A socket someone still listens on is in use, even when it is ours: a second collector, say.
    const int probe = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (probe < 0) return fail(std::string("socket: ") + std::strerror(errno));
    const bool live = connect(probe, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) == 0 || errno == EAGAIN;
    const int err = errno;
    ::close(probe);
    if (live) return fail("another process is listening there");
    if (err != ECONNREFUSED)
        return fail(std::string("cannot tell whether the socket there is in use: ") + std::strerror(err));
    // Left by an earlier run of ours: replace it.
    if (unlink(addr.sun_path) != 0 && errno != ENOENT)
        return fail(std::string("cannot remove the old socket: ") + std::strerror(errno));
    return {};
}

StreamRing* StreamWriter::add_producer(uint32_t producer) {
    std::lock_guard lock(add_mutex_);
    had_producer_ = true;
    const auto take = [&](StreamRing& r) {
        r.closing.store(false);
        r.producer.store(producer);
        r.taken_at.store(++rings_taken_);
        r.in_use.store(true);  // seq_cst, after its owner: the writer reads it first
        return &r;
    };
    const uint32_t count = ring_count_.load(std::memory_order_relaxed);
    for (uint32_t i = 0; i < count; ++i) {
        StreamRing& r = *rings_[i];
        // Acquire: the last owner's private positions, written before its
        // release, are where the next owner goes on from.
        if (!r.in_use.load(std::memory_order_acquire)) return take(r);
    }
    if (count == kMaxRings) return nullptr;
    rings_[count] = std::make_unique<StreamRing>(opt_.ring_bytes);
    StreamRing* ring = take(*rings_[count]);
    ring_count_.store(count + 1, std::memory_order_release);  // the writer sees a whole ring
    return ring;
}

void StreamWriter::release(StreamRing* ring) {
    std::lock_guard lock(add_mutex_);
    ring->in_use.store(false, std::memory_order_release);
}

// True while an earlier ring of the same producer holds records not yet
// taken: the producer wrote those before anything in `ring`.
bool StreamWriter::waits_for_earlier_ring(size_t ring, size_t rings) const {
    const StreamRing& r = *rings_[ring];
    const uint32_t producer = r.producer.load();
    if (producer == kAnyProducer) return false;
    const uint64_t taken_at = r.taken_at.load();
    for (size_t j = 0; j < rings; ++j) {
        const StreamRing& earlier = *rings_[j];
        if (j == ring || !earlier.in_use.load() || earlier.producer.load() != producer ||
            earlier.taken_at.load() >= taken_at)
            continue;
        if (cursor_[j] != earlier.head()) return true;
    }
    return false;
}

void StreamWriter::wake() {
    // Dekker with idle_wait(): the producer published `head` (seq_cst) before
    // this load, the writer set `sleeping_` before re-reading every head.
    if (sleeping_.load(std::memory_order_seq_cst)) {
        const uint64_t one = 1;
        if (::write(wake_fd_, &one, sizeof one) < 0) { /* already signalled: the counter is full */ }
    }
}

void StreamWriter::connected(int fd) {
    out_fd_ = fd;
    is_socket_ = false;
    struct stat st{};
    if (fstat(fd, &st) == 0) is_socket_ = S_ISSOCK(st.st_mode);
    // Every reader starts with a global header of its own.
    PcapFileHeader header;
    header.snaplen = opt_.snaplen;
    std::memcpy(out_.get(), &header, sizeof header);
    out_used_ = sizeof header;
    taken_.clear();
    reader_.store(true, std::memory_order_relaxed);
    readers_seen_.fetch_add(1, std::memory_order_relaxed);
}

void StreamWriter::disconnect() {
    if (out_fd_ >= 0 && out_fd_ != STDOUT_FILENO) ::close(out_fd_);
    out_fd_ = -1;
    reader_.store(false, std::memory_order_relaxed);
    next_attempt_ns_ = monotonic_ns() + opt_.reopen_interval_ns;
}

void StreamWriter::try_connect(uint64_t now_ns) {
    if (out_fd_ >= 0 || !reconnectable_) return;
    if (opt_.target.kind == StreamTarget::Kind::unix_listen) {
        const int fd = accept4(listen_fd_, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd >= 0) connected(fd);
        return;
    }
    if (now_ns < next_attempt_ns_) return;
    next_attempt_ns_ = now_ns + opt_.reopen_interval_ns;
    // Non-blocking open of a FIFO for writing fails with ENXIO until a reader has it open.
    const int fd = ::open(opt_.target.path.c_str(), O_WRONLY | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) {
        if (errno == ENOENT) mkfifo(opt_.target.path.c_str(), 0640);  // removed under us: make it again
        return;
    }
    fcntl(fd, F_SETPIPE_SZ, kPipeBytes);  // best effort: fewer, larger writes
    connected(fd);
}

bool StreamWriter::anyone_closing() const {
    if (stop_.load()) return true;
    const uint32_t count = ring_count_.load(std::memory_order_acquire);
    for (uint32_t i = 0; i < count; ++i)
        if (rings_[i]->closing.load(std::memory_order_relaxed)) return true;
    return false;
}

bool StreamWriter::everything_done() const {
    const uint32_t count = ring_count_.load(std::memory_order_acquire);
    for (uint32_t i = 0; i < count; ++i)
        if (cursor_[i] != rings_[i]->head()) return false;
    return true;
}

// Without a reader, records are finished at once as `no_reader`, so rings
// never fill while nobody listens.
size_t StreamWriter::discard_all(uint8_t outcome) {
    size_t n = 0;
    const uint32_t count = ring_count_.load(std::memory_order_acquire);
    for (uint32_t i = 0; i < count; ++i) {
        StreamRing& r = *rings_[i];
        const uint64_t head = r.head();
        uint64_t pos = cursor_[i];
        while (pos < head) {
            StreamEntry* e = r.entry_at(pos);
            if (e->session) {
                e->outcome = outcome;
                ++n;
            }
            pos = r.next(pos, e);
        }
        cursor_[i] = pos;
        r.set_done(pos);
    }
    return n;
}

// Copies whole records from the rings, round robin, into one output buffer.
size_t StreamWriter::gather() {
    size_t n = 0;
    const size_t rings = ring_count_.load(std::memory_order_acquire);
    if (rings == 0) return 0;
    for (size_t k = 0; k < rings; ++k) {
        const size_t i = (start_ring_ + k) % rings;
        if (waits_for_earlier_ring(i, rings)) continue;  // taken on a later pass, after the earlier ring
        StreamRing& r = *rings_[i];
        const uint64_t head = r.head();
        uint64_t pos = cursor_[i];
        while (pos < head && taken_.size() < kMaxRecordsPerWrite) {
            StreamEntry* e = r.entry_at(pos);
            if (e->session) {
                if (out_used_ + e->record_bytes > out_capacity_) break;
                std::memcpy(out_.get() + out_used_, e + 1, e->record_bytes);
                out_used_ += e->record_bytes;
                taken_.push_back({e, uint32_t(i), out_used_});
                ++n;
            }
            pos = r.next(pos, e);
        }
        cursor_[i] = pos;
    }
    start_ring_ = (start_ring_ + 1) % rings;
    return n;
}

void StreamWriter::flush_out() {
    size_t off = 0;
    SinkDropReason failure = SinkDropReason::write_error;
    bool failed = false;
    uint64_t waiting_since = 0;
    // Bounded while anyone closes: each pass writes bytes or waits at most
    // kIdlePollMs for room, and a stalled reader is given up on after
    // drain_timeout. Otherwise a slow reader is waited for: the rings fill and
    // the workers drop (queue_full), never the other way round.
    while (off < out_used_) {
        const ssize_t n = ::write(out_fd_, out_.get() + off, out_used_ - off);
        if (n > 0) {
            off += size_t(n);
            bytes_written_.fetch_add(uint64_t(n), std::memory_order_relaxed);
            waiting_since = 0;
            blocked_since_ns_.store(0, std::memory_order_relaxed);
            continue;
        }
        if (n < 0 && errno == EINTR) continue;
        if (n < 0 && errno == EAGAIN) {
            const uint64_t now = monotonic_ns();
            if (waiting_since == 0) {
                waiting_since = now;
                blocked_since_ns_.store(now, std::memory_order_relaxed);
            }
            if (anyone_closing() && now >= waiting_since + opt_.drain_timeout_ns) {
                failure = SinkDropReason::queue_full;
                failed = true;
                break;
            }
            pollfd p{out_fd_, POLLOUT, 0};
            poll(&p, 1, kIdlePollMs);
            continue;
        }
        failure = reason_for_write(n < 0 ? errno : EPIPE);
        failed = true;
        break;
    }
    for (const Taken& t : taken_) {
        const bool delivered = t.out_end <= off;
        t.entry->outcome = delivered ? kStreamWritten : stream_outcome(failure);
        if (delivered) {
            auto& bytes = rings_[t.ring]->bytes_written;
            bytes.store(bytes.load(std::memory_order_relaxed) + t.entry->record_bytes, std::memory_order_relaxed);
        }
    }
    const uint32_t count = ring_count_.load(std::memory_order_acquire);
    for (uint32_t i = 0; i < count; ++i) rings_[i]->set_done(cursor_[i]);
    taken_.clear();
    out_used_ = 0;
    blocked_since_ns_.store(0, std::memory_order_relaxed);
    if (failed) disconnect();
}

uint64_t StreamWriter::blocked_ns(uint64_t now_ns) const {
    const uint64_t since = blocked_since_ns_.load(std::memory_order_relaxed);
    return since == 0 || now_ns < since ? 0 : now_ns - since;
}

void StreamWriter::idle_wait() {
    sleeping_.store(true, std::memory_order_seq_cst);
    if (everything_done() && !stop_.load()) {
        pollfd fds[3];
        nfds_t n = 0;
        fds[n++] = {wake_fd_, POLLIN, 0};
        // A reader that goes away shows as POLLERR (pipe) or POLLHUP/POLLRDHUP
        // (socket) on our end, so health turns without waiting for traffic.
        if (out_fd_ >= 0) fds[n++] = {out_fd_, short(is_socket_ ? POLLIN | POLLRDHUP : 0), 0};
        if (listen_fd_ >= 0) fds[n++] = {listen_fd_, POLLIN, 0};
        poll(fds, n, kIdlePollMs);
        uint64_t count;
        if (::read(wake_fd_, &count, sizeof count) < 0) { /* nothing was signalled */ }
        if (out_fd_ >= 0 && fds[1].revents) {
            if (fds[1].revents & (POLLERR | POLLHUP | POLLRDHUP)) {
                disconnect();
            } else if (fds[1].revents & POLLIN) {
                char sink[512];  // a reader has nothing to say; read it away
                if (::read(out_fd_, sink, sizeof sink) == 0) disconnect();
            }
        }
    }
    sleeping_.store(false, std::memory_order_relaxed);
}

void StreamWriter::run() {
    // SIGPIPE for a write to a vanished reader is sent to the writing thread:
    // blocked here, the write returns EPIPE instead and the process lives on.
    sigset_t pipe_only;
    sigemptyset(&pipe_only);
    sigaddset(&pipe_only, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &pipe_only, nullptr);

    for (;;) {
        const uint64_t now = monotonic_ns();
        try_connect(now);
        if (listen_fd_ >= 0 && out_fd_ >= 0) {
            // One reader at a time: a second one is closed at once and sees EOF.
            const int extra = accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
            if (extra >= 0) ::close(extra);
        }
        size_t n = 0;
        if (out_fd_ >= 0) {
            n = gather();
            // A new reader's header goes out at once, records or not.
            if (n > 0 || out_used_ > 0) flush_out();
        } else {
            n = discard_all(stream_outcome(SinkDropReason::no_reader));
        }
        if (n > 0) {
            if (n < kCoalesceRecords && !stop_.load()) {
                timespec pause{0, kCoalesceNs};
                nanosleep(&pause, nullptr);
            }
            continue;
        }
        // Told to stop (every sink is gone) and nothing is left: close, so
        // that the reader sees the end of the stream.
        if (stop_.load() && everything_done()) break;
        idle_wait();
    }
    if (out_fd_ >= 0 && out_fd_ != STDOUT_FILENO) ::close(out_fd_);
    if (out_fd_ == STDOUT_FILENO) ::close(STDOUT_FILENO);
    out_fd_ = -1;
    reader_.store(false, std::memory_order_relaxed);
}

// ---- the per-worker sink --------------------------------------------------

StreamSink::StreamSink(StreamSinkOptions options)
    : opt_(std::move(options)), ring_(opt_.writer->add_producer(opt_.producer)) {
    if (ring_) bytes_at_start_ = ring_->bytes_written.load(std::memory_order_relaxed);
}

StreamSink::~StreamSink() { close(); }

void StreamSink::settle(Session& s, uint8_t outcome) {
    SinkCounters& c = s.sinks[opt_.sink_slot];
    if (outcome == kStreamWritten) c.written.add();
    else c.drop(outcome >= 2 ? SinkDropReason(outcome - 2) : SinkDropReason::write_error);
    c.buffered.set(--in_flight_[s.id]);
}

void StreamSink::reclaim() {
    if (ring_) ring_->reclaim([this](const StreamEntry& e) { settle(*e.session, e.outcome); });
}

void StreamSink::write(std::span<const Packet> batch) {
    reclaim();
    const bool reader = opt_.writer->has_reader();
    size_t queued = 0;
    for (const Packet& p : batch) {
        SinkCounters& c = p.session->sinks[opt_.sink_slot];
        if (closed_ || !ring_) {
            c.drop(SinkDropReason::not_open);
            continue;
        }
        // Nobody listening: no copy, no queue, just the count.
        if (!reader) {
            c.drop(SinkDropReason::no_reader);
            continue;
        }
        const uint32_t caplen = uint32_t(std::min<size_t>(p.frame.size(), opt_.snaplen));
        const uint32_t record_bytes = uint32_t(sizeof(PcapRecordHeader)) + caplen;
        std::byte* out = ring_->reserve(p.session, record_bytes);
        if (!out) {
            c.drop(SinkDropReason::queue_full);
            continue;
        }
        const PcapRecordHeader rec = make_record_header(p.timestamp_ns, caplen, p.original_length);
        std::memcpy(out, &rec, sizeof rec);
        std::memcpy(out + sizeof rec, p.frame.data(), caplen);
        if (p.session->id >= in_flight_.size()) in_flight_.resize(p.session->id + 1);  // a session's first record
        c.buffered.set(++in_flight_[p.session->id]);
        ++queued;
    }
    // One publish and at most one wake-up per batch, not per packet.
    if (queued > 0) {
        ring_->publish();
        opt_.writer->wake();
    }
}

uint64_t StreamSink::expire(Session&) {
    if (closed_ || !ring_) return 0;
    return ring_->reserved_to() + 1;  // 0 stays "nothing to wait for"
}

bool StreamSink::released(uint64_t ticket) {
    if (ticket == 0 || closed_ || !ring_) return true;
    reclaim();
    return ring_->reclaimed_to() + 1 >= ticket;
}

void StreamSink::close() {
    if (closed_) return;
    closed_ = true;
    if (!ring_) return;
    ring_->closing.store(true);
    opt_.writer->wake();
    // The writer finishes what was queued (or gives up on a stalled reader
    // within its drain timeout); wait for it, bounded, then count the outcome.
    const uint64_t deadline = monotonic_ns() + opt_.close_timeout_ns;
    while (ring_->done() < ring_->head() && monotonic_ns() < deadline) {
        timespec ms{0, 1'000'000};
        nanosleep(&ms, nullptr);
    }
    reclaim();
    if (ring_->done() == ring_->head()) {
        opt_.writer->release(ring_);
        return;
    }
    // The writer is stuck (it never should be past its drain timeout): count
    // what it still holds as lost, and leave the ring to it, never to be reused.
    ring_->abandon([this](const StreamEntry& e) { settle(*e.session, stream_outcome(SinkDropReason::write_error)); });
}

SinkStats StreamSink::stats() const {
    return {ring_ ? ring_->bytes_written.load(std::memory_order_relaxed) - bytes_at_start_ : 0, 0};
}

Result<> StreamSink::health() const {
    if (!opt_.required) return {};
    if (!opt_.writer->has_reader()) return fail("nobody reads the stream at " + opt_.writer->target().text);
    // A reader that holds the stream open and takes nothing is no reader: every
    // record is dropped as queue_full while it looks connected.
    if (const uint64_t blocked = opt_.writer->blocked_ns(monotonic_ns()); blocked >= opt_.stall_grace_ns)
        return fail("the reader of the stream at " + opt_.writer->target().text + " has taken nothing for " +
                    std::to_string(blocked / 1'000'000'000) + " s; records are dropped as queue_full");
    return {};
}

}  // namespace mirrortap
