// What the kernel knows about the way to a target, asked over rtnetlink:
// is there a route, and does its next hop answer ARP / neighbour discovery.
// A target behind a dead next hop takes every datagram without an error (the
// kernel queues it for the neighbour, then drops it): only the neighbour
// table says so. Cold path: once a second per target.
#pragma once
#include <sys/socket.h>

#include <string>

#include "base/result.hpp"

namespace mirrortap::sender {

struct PathState {
    bool route = true;              // false: no route (or an unreachable/blackhole/prohibit one)
    bool neighbour_failed = false;  // the next hop's entry is FAILED or INCOMPLETE
    std::string next_hop;           // the address asked about, for messages
};

// Or why netlink itself failed: then nothing is known.
Result<PathState> probe_path(const sockaddr_storage& target);

}  // namespace mirrortap::sender
