#include "collector/privileges.hpp"

#include <grp.h>
#include <linux/capability.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <dirent.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>
#include <vector>

#include "sinks/capture_dir.hpp"

namespace mirrortap {

namespace {

// The calling thread's capability sets, straight from the kernel (no libcap:
// two system calls do all we need).
struct CapabilitySets {
    __user_cap_header_struct header{_LINUX_CAPABILITY_VERSION_3, 0};
    __user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3]{};

    bool read() { return syscall(SYS_capget, &header, data) == 0; }
    bool clear() {
        for (auto& d : data) d = {};
        return syscall(SYS_capset, &header, data) == 0;
    }
    bool has(int cap) const { return (data[cap / 32].effective >> (cap % 32)) & 1; }
    bool empty() const {
        for (const auto& d : data)
            if (d.effective || d.permitted || d.inheritable) return false;
        return true;
    }
};

int last_capability() {
    // The running kernel may know more capabilities than our headers do.
    int last = CAP_LAST_CAP;
    std::ifstream in("/proc/sys/kernel/cap_last_cap");
    if (int k = 0; in >> k && k > last) last = k;
    return last;
}

Failure<std::string> errno_failure(const char* what) { return fail(std::string(what) + ": " + std::strerror(errno)); }

}  // namespace

Result<> restrict_process() {
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) return errno_failure("prctl(PR_SET_NO_NEW_PRIVS)");
    CapabilitySets caps;
    if (!caps.read()) return errno_failure("capget");
    // Without CAP_SETPCAP the bounding set is whatever our parent left
    // (systemd's CapabilityBoundingSet=); we cannot and need not shrink it.
    if (!caps.has(CAP_SETPCAP)) return {};
    for (int cap = 0, last = last_capability(); cap <= last; ++cap)
        if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) != 0 && errno != EINVAL)
            return errno_failure("prctl(PR_CAPBSET_DROP)");
    return {};
}

Result<> drop_privileges(const std::string& user) {
    const auto ids = lookup_user(user);
    if (!ids) return fail(ids.error() + " for --user");
    const uid_t uid = ids->uid;
    const gid_t gid = ids->gid;
    if (initgroups(ids->name.c_str(), gid) != 0) return errno_failure("initgroups");
    // glibc applies these to every thread of the process. Leaving uid 0
    // clears each thread's permitted, effective and ambient capabilities.
    if (setgid(gid) != 0) return errno_failure("setgid");
    if (setuid(uid) != 0) return errno_failure("setuid");
    if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) != 0 && errno != EINVAL)
        return errno_failure("prctl(PR_CAP_AMBIENT_CLEAR_ALL)");
    CapabilitySets caps;
    if (!caps.clear() || !caps.read()) return errno_failure("capset");  // the inheritable set too
    if (uid != 0 && !caps.empty()) return fail("capabilities left after dropping privileges");
    if (uid != 0 && setuid(0) == 0) return fail("could still regain root after dropping privileges");
    return {};
}

bool is_uid_zero(const std::string& user) {
    const auto ids = lookup_user(user);
    return ids && ids->uid == 0;
}

Result<> check_every_thread_dropped() {
    const std::string uid = std::to_string(getuid()), gid = std::to_string(getgid());
    DIR* tasks = opendir("/proc/self/task");
    if (!tasks) return errno_failure("/proc/self/task");
    std::string problem;
    while (const dirent* e = readdir(tasks)) {
        if (e->d_name[0] == '.') continue;
        const std::string dir = std::string("/proc/self/task/") + e->d_name;
        std::ifstream status(dir + "/status");
        if (!status) continue;  // a thread that has just ended
        std::string comm;
        std::ifstream(dir + "/comm") >> comm;
        std::string line;
        while (std::getline(status, line)) {
            std::istringstream fields(line);
            std::string key;
            fields >> key;
            std::vector<std::string> values;
            for (std::string v; fields >> v;) values.push_back(v);
            bool bad = false;
            if (key == "Uid:" || key == "Gid:")
                for (const auto& v : values) bad |= v != (key == "Uid:" ? uid : gid);
            else if (key == "CapInh:" || key == "CapPrm:" || key == "CapEff:" || key == "CapAmb:")
                bad = values.size() != 1 || values[0].find_first_not_of('0') != std::string::npos;
            else if (key == "NoNewPrivs:")
                bad = values.size() != 1 || values[0] != "1";
            if (bad && problem.empty()) problem = "thread " + comm + " (" + e->d_name + ") kept " + line;
        }
    }
    closedir(tasks);
    if (!problem.empty()) return fail("privileges not dropped in every thread: " + problem);
    return {};
}

}  // namespace mirrortap
