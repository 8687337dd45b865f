#include "collector/privileges.hpp"

#include <dirent.h>
#include <grp.h>
#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace mirrortap {

namespace {

// The top directory and the session directories in it, not every file: files
// of earlier runs stay readable through the group and are removed by retention
// through the directory's permissions.
void give_directories(const std::string& dir, uid_t uid, gid_t gid) {
    if (chown(dir.c_str(), uid, gid) != 0) return;
    DIR* d = opendir(dir.c_str());
    if (!d) return;
    while (dirent* e = readdir(d)) {
        if (e->d_name[0] == '.') continue;
        const std::string path = dir + "/" + e->d_name;
        struct stat st{};
        if (lstat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode) && chown(path.c_str(), uid, gid) != 0) { /* best effort */ }
    }
    closedir(d);
}

}  // namespace

std::string drop_privileges(const std::string& user, const std::string& pcap_dir) {
    errno = 0;
    const passwd* pw = getpwnam(user.c_str());
    if (!pw) return "unknown user '" + user + "' for --user";
    const uid_t uid = pw->pw_uid;
    const gid_t gid = pw->pw_gid;
    if (!pcap_dir.empty()) give_directories(pcap_dir, uid, gid);
    if (initgroups(pw->pw_name, gid) != 0) return std::string("initgroups: ") + std::strerror(errno);
    // glibc applies these to every thread of the process.
    if (setgid(gid) != 0) return std::string("setgid: ") + std::strerror(errno);
    if (setuid(uid) != 0) return std::string("setuid: ") + std::strerror(errno);
    if (uid != 0 && setuid(0) == 0) return "could still regain root after dropping privileges";
    return "";
}

}  // namespace mirrortap
