// UDP receive with recvmmsg: a batch of datagrams per system call, each with
// its kernel timestamp (SO_TIMESTAMPNS) and the socket's drop count (SO_RXQ_OVFL).
#pragma once
#include <sys/socket.h>

#include <array>
#include <memory>
#include <string>
#include <vector>

#include "base/result.hpp"
#include "support/counter.hpp"
#include "collector/source.hpp"
#include "config/config.hpp"

namespace mirrortap {

// The largest UDP payload there is (65535 less the UDP header, IPv6's bound),
// so that no datagram is ever cut by the receive: an inner frame longer than
// any MTU (GRO on the source, a sender's super-frame) reaches the sinks whole
// and is cut to the snaplen there, like any other. Pages the kernel never
// writes are never touched (the slots are not zeroed), so memory follows the
// sizes that really arrive.
inline constexpr size_t kDatagramBytes = 65536;

// Opens the SO_REUSEPORT group of sockets, one per worker, and steers each VNI
// to one socket so that a session's packets stay in order in one worker. The
// GENEVE group reads the VNI of the VXLAN packet inside and steers it to the
// same index as the VXLAN group does, so one worker holds a session whichever
// way its packets come.
struct SocketGroup {
    std::vector<int> fds;
    // What the kernel granted each socket (SO_RCVBUF reads back twice the
    // usable size): below what was asked when net.core.rmem_max capped it.
    uint64_t rcvbuf_granted_bytes = 0;
    // Nothing is left open when it fails.
    static Result<SocketGroup> open(const Endpoint& listen, size_t count, uint64_t rcvbuf_bytes,
                                    Encapsulation encap = Encapsulation::vxlan);
};

// A UDP socket for the listen address ([::] takes IPv4 too, as users
// expect; the caller closes it), or why not.
Result<int> listen_socket(const Endpoint& listen);
// Binds it there; on failure closes it and says why (a port in use names --listen).
Result<> bind_listen(int fd, const Endpoint& listen);

class UdpSource final : public Source {
public:
    explicit UdpSource(int fd);  // takes ownership
    // Reads both sockets, taking turns which goes first (takes ownership of both).
    UdpSource(int vxlan_fd, int geneve_fd);
    ~UdpSource() override;
    UdpSource(const UdpSource&) = delete;
    UdpSource& operator=(const UdpSource&) = delete;

    size_t next_batch(std::span<Datagram> out, int timeout_ms) override;
    SourceStats stats() const override;

private:
    struct Socket {
        int fd = -1;
        Encapsulation encap = Encapsulation::vxlan;
        RelaxedCounter kernel_drops;  // the kernel's running total for this socket
    };
    // One recvmmsg on `socket` into slots and `out` from `first` on.
    size_t receive(Socket& socket, std::span<Datagram> out, size_t first, int flags);
    size_t next_batch_of_two(std::span<Datagram> out, int timeout_ms);

    std::array<Socket, 2> sockets_;
    size_t socket_count_ = 1;
    size_t turn_ = 0;  // which socket is read first next time
    int timeout_ms_ = -1;
    struct Slot;
    std::unique_ptr<Slot[]> slots_;
    std::unique_ptr<mmsghdr[]> headers_;
};

}  // namespace mirrortap
