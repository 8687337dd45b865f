// Dropping root once everything that needs it is open, as tcpdump -Z does,
// and keeping nothing that could win it back.
#pragma once
#include <string>

#include "sinks/capture_dir.hpp"  // group_id, which the sinks need too

namespace mirrortap {

// Run first, while the process has one thread (threads inherit both):
// sets no_new_privs (no exec may ever gain privileges) and, when the process
// may (CAP_SETPCAP), empties the capability bounding set. Capabilities held
// now stay usable until drop_privileges. Returns a one-line error, or "".
std::string restrict_process();

// Switches every thread to `user`'s uid, gid and supplementary groups for
// good, then checks that no capability is left in any set and that root
// cannot be regained. Nothing here touches the file system. "" or an error.
std::string drop_privileges(const std::string& user);

}  // namespace mirrortap
