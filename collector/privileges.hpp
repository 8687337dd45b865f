// Dropping root once everything that needs it is open, as tcpdump -Z does,
// and keeping nothing that could win it back.
#pragma once
#include <string>

#include "base/result.hpp"
#include "sinks/capture_dir.hpp"  // group_id, which the sinks need too

namespace mirrortap {

// Run first, while the process has one thread (threads inherit both):
// sets no_new_privs (no exec may ever gain privileges) and, when the process
// may (CAP_SETPCAP), empties the capability bounding set. Capabilities held
// now stay usable until drop_privileges. Fails with a one-line error.
Result<> restrict_process();

// Switches every thread to `user`'s uid, gid and supplementary groups for
// good, then checks that no capability is left in any set and that root
// cannot be regained. Nothing here touches the file system. Fails with an error.
Result<> drop_privileges(const std::string& user);

// Whether `user` is root by another name (uid 0): dropping to it keeps every
// privilege, so it counts as running as root. False for an unknown user.
bool is_uid_zero(const std::string& user);

// Reads /proc/self/task/*/status: every thread runs as the process's real,
// effective, saved and file-system uid and gid, with no capability in any
// set and no_new_privs set. A thread made before the drop, or one the drop
// missed, is named. Fails with an error.
Result<> check_every_thread_dropped();

}  // namespace mirrortap
