#include "sinks/forward_sink.hpp"

#include <netinet/in.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "decap/vxlan.hpp"

namespace mirrortap {

Result<int> open_forward_socket(const ForwardSinkOptions& options) {
    const int fd = socket(options.to.family(), SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) return fail(std::string("forward: socket: ") + std::strerror(errno));
    const int bytes = int(std::min<uint64_t>(options.sndbuf_bytes, INT32_MAX / 2));
    if (setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &bytes, sizeof bytes) != 0)
        setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &bytes, sizeof bytes);
    // Connected: the kernel routes once, and sendmmsg needs no address per message.
    if (connect(fd, reinterpret_cast<const sockaddr*>(&options.to.addr), options.to.len) != 0) {
        Result<int> refused = fail("cannot forward to " + options.to.text + ": " + std::strerror(errno));
        ::close(fd);
        return refused;
    }
    return fd;
}

ForwardSink::ForwardSink(ForwardSinkOptions options)
    : opt_(std::move(options)),
      headers_(std::make_unique<std::byte[][8]>(kReceiveBatch)),
      iov_(std::make_unique<iovec[]>(2 * kReceiveBatch)),
      msgs_(std::make_unique<mmsghdr[]>(kReceiveBatch)) {
    if (auto fd = open_forward_socket(opt_)) fd_ = *fd;
    else open_error_ = std::move(fd).error();
    for (size_t i = 0; i < kReceiveBatch; ++i) {
        msgs_[i] = {};
        msgs_[i].msg_hdr.msg_iov = &iov_[2 * i];
        msgs_[i].msg_hdr.msg_iovlen = 2;
    }
}

ForwardSink::~ForwardSink() { close(); }

void ForwardSink::close() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
}

void ForwardSink::note_error(int err) { last_error_.store(err, std::memory_order_relaxed); }

void ForwardSink::write(std::span<const Packet> batch) {
    for (size_t at = 0; at < batch.size(); at += kReceiveBatch)
        send_chunk(batch.subspan(at, std::min(kReceiveBatch, batch.size() - at)));
}

void ForwardSink::send_chunk(std::span<const Packet> batch) {
    if (fd_ < 0) {
        for (const Packet& p : batch) p.session->sinks[opt_.sink_slot].drop(SinkDropReason::not_open);
        return;
    }
    const size_t n = batch.size();
    for (size_t i = 0; i < n; ++i) {
        const Packet& p = batch[i];
        VxlanHeader::encode(headers_[i], p.session->vni);
        iov_[2 * i] = {headers_[i], kVxlanHeaderBytes};
        iov_[2 * i + 1] = {const_cast<std::byte*>(p.frame.data()), p.frame.size()};
    }
    size_t sent = 0;
    int retries = 0;
    // Bounded: every pass sends at least one message, drops one, or uses up
    // one of the few retries each message gets.
    while (sent < n) {
        const int r = sendmmsg(fd_, &msgs_[sent], unsigned(n - sent), MSG_DONTWAIT);
        if (r > 0) {
            for (size_t i = sent; i < sent + size_t(r); ++i) {
                batch[i].session->sinks[opt_.sink_slot].written.add();
                bytes_written_.add(kVxlanHeaderBytes + batch[i].frame.size());
            }
            sent += size_t(r);
            retries = 0;
            if (last_error_.load(std::memory_order_relaxed) != 0) last_error_.store(0, std::memory_order_relaxed);
            continue;
        }
        const int err = errno;
        // ICMP port unreachable for an earlier datagram is reported on a later
        // send of a connected socket; this message was not sent: try again.
        if ((err == EINTR || err == ECONNREFUSED) && ++retries <= 4) continue;
        if (err == EAGAIN || err == EWOULDBLOCK || err == ENOBUFS) {
            // The socket buffer or the device queue is full: drop, never wait.
            for (size_t i = sent; i < n; ++i) batch[i].session->sinks[opt_.sink_slot].drop(SinkDropReason::queue_full);
            return;
        }
        // This message cannot be sent (EMSGSIZE, no route, ...): drop it, go on with the rest.
        batch[sent].session->sinks[opt_.sink_slot].drop(SinkDropReason::write_error);
        ++sent;
        retries = 0;
        if (err != ECONNREFUSED) note_error(err);
    }
}

Result<> ForwardSink::health() const {
    if (!open_error_.empty()) return fail(open_error_);
    const int err = last_error_.load(std::memory_order_relaxed);
    if (err == 0) return {};
    return fail("cannot send to " + opt_.to.text + ": " + std::strerror(err));
}

}  // namespace mirrortap
