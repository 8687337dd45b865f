// The capture directory and the session directories in it, opened so that a
// symlink or a rename by someone who can write there never redirects what we
// do: paths are walked one component at a time with openat(O_NOFOLLOW), and
// everything after that is done relative to the directory descriptor.
//
// With --user, root touches exactly one thing here before dropping: when it
// makes the capture directory itself, it hands that new, empty directory to
// the user with fchown on the descriptor it opened. A directory that already
// exists is never handed over (root cannot tell what it holds or who relies
// on it): it must belong to the user already. Whether the user can then write
// there is checked after the drop, as that user.
#pragma once
#include <sys/types.h>

#include <optional>
#include <string>

#include "base/result.hpp"
#include "config/config.hpp"

namespace mirrortap {

struct UserIds {
    uid_t uid = 0;
    gid_t gid = 0;  // the user's primary group
    std::string name;
};
// Who `user` is; fails when nobody by that name exists.
Result<UserIds> lookup_user(const std::string& user);

// Resolves a group name to its id; -1 for no name (the process's group);
// fails when there is no such group.
Result<int> group_id(const std::string& name);

// Opens `path` as a directory, one component at a time. A symbolic link is
// followed only where no one but root can have put it (the link owned by
// root, in a directory owned by root that no one else may write, or a sticky
// one); any other link is refused and `why` names it. With `create`, missing
// components are made: parents 0755, the last one `last_mode` (umask
// applies). Returns a descriptor (O_RDONLY | O_DIRECTORY) the caller closes,
// or why not, with errno that of the call that failed.
// `created_last`, when given, says whether this call made the last component.
Result<int> open_dir_path(const std::string& path, bool create, mode_t last_mode, bool* created_last = nullptr);

// Makes the capture directory ready for the sinks. As root with --user: it
// is made and given to the user, or it exists and belongs to the user
// already (anything else is refused with the fix); the write check waits for the drop
// (check_capture_dir_writable). Otherwise: it exists and the write check
// runs now, as the process is. Fails with a one-line error that says what to do.
Result<> prepare_capture_dir(const PcapConfig& pcap, const std::string& user);

// As whoever the process runs as now: creates a file of a fresh name in the
// capture directory (O_EXCL | O_NOFOLLOW, so nothing there is followed or
// truncated), gives it pcap.group when one is set, and removes it.
Result<> check_capture_dir_writable(const PcapConfig& pcap);

// A session's directory in the capture directory, created when missing (with
// `mode`, and group `group_id` unless -1). Never follows a symlink: one at
// `name` gives -1 with errno ELOOP (or ENOTDIR). -1 with errno on failure.
int open_session_dir(int capture_fd, const std::string& name, mode_t mode, int group_id);

// For as long as it lives, files this thread creates belong to `owner` and
// are created only where `owner` may create them (setfsuid/setfsgid: the
// kernel checks permissions as that user, and root's file capabilities are
// set aside). A no-op when owner is nullopt or the process is not root.
class ActAsOwner {
public:
    explicit ActAsOwner(const std::optional<UserIds>& owner);
    ~ActAsOwner();
    ActAsOwner(const ActAsOwner&) = delete;
    ActAsOwner& operator=(const ActAsOwner&) = delete;

private:
    bool active_ = false;
    uid_t old_uid_ = 0;
    gid_t old_gid_ = 0;
};

}  // namespace mirrortap
