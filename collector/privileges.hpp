// Dropping root once everything that needs it is open, as tcpdump -Z does.
#pragma once
#include <string>

namespace mirrortap {

// Gives the capture directory to `user`, then switches to that user's uid,
// gid and supplementary groups for good. Returns a one-line error, or "".
std::string drop_privileges(const std::string& user, const std::string& pcap_dir);

}  // namespace mirrortap
