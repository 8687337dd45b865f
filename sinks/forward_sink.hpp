// Sends each session's frames on, re-encapsulated in VXLAN with the VNI they
// came with: to one more collector, or to a tool that wants VXLAN. One UDP
// socket per receive worker, one sendmmsg(2) per batch.
#pragma once
#include <sys/socket.h>

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>

#include "config/config.hpp"
#include "core/sink.hpp"

namespace mirrortap {

struct ForwardSinkOptions {
    Endpoint to;
    uint32_t sink_slot = 3;
    uint64_t sndbuf_bytes = 4u << 20;
};

// Opens the socket a forward sink would use, to report a bad destination
// before any packet arrives. Returns the fd (caller closes), or why not.
Result<int> open_forward_socket(const ForwardSinkOptions& options);

class ForwardSink final : public Sink {
public:
    explicit ForwardSink(ForwardSinkOptions options);
    ~ForwardSink() override;

    std::string_view name() const override { return "forward"; }
    uint32_t slot() const override { return opt_.sink_slot; }
    void write(std::span<const Packet> batch) override;
    void tick(uint64_t) override {}
    void rotate() override {}
    void close() override;
    SinkStats stats() const override { return {bytes_written_.get(), 0}; }
    Result<> health() const override;

private:
    void send_chunk(std::span<const Packet> batch);
    void note_error(int err);

    ForwardSinkOptions opt_;
    int fd_ = -1;             // the worker's alone
    std::string open_error_;  // fixed once constructed: read by the health check
    // Per batch: one VXLAN header and two iovecs per packet; the frame itself
    // is sent from the receive buffer it arrived in, never copied.
    std::unique_ptr<std::byte[][8]> headers_;
    std::unique_ptr<iovec[]> iov_;
    std::unique_ptr<mmsghdr[]> msgs_;
    RelaxedCounter bytes_written_;
    std::atomic<int> last_error_{0};  // errno of the last hard failure, 0 after a success
};

}  // namespace mirrortap
