#include "sinks/sink_set.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "sinks/pcap_rotator.hpp"

namespace mirrortap {

namespace {

std::string prepare_pcap_dir(const std::string& dir) {
    std::string path;
    for (size_t pos = 1; pos <= dir.size(); ++pos) {
        if (pos != dir.size() && dir[pos] != '/') continue;
        path = dir.substr(0, pos);
        if (mkdir(path.c_str(), 0750) != 0 && errno != EEXIST)
            return "cannot create pcap directory " + path + ": " + std::strerror(errno);
    }
    // access() says yes to root even on a read-only mount: try a real file.
    const std::string probe = dir + "/.mirrortap-write-test";
    const int fd = ::open(probe.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) return "pcap directory " + dir + " is not writable: " + std::strerror(errno);
    ::close(fd);
    unlink(probe.c_str());
    return "";
}

}  // namespace

std::string prepare_sinks(const Config& config) {
    if (config.pcap.enabled) {
        if (auto why = prepare_pcap_dir(config.pcap.dir); !why.empty()) return why;
    }
    return "";
}

std::vector<std::unique_ptr<Sink>> make_sinks(const Config& config, int pcap_group_id) {
    std::vector<std::unique_ptr<Sink>> sinks;
    if (config.pcap.enabled)
        sinks.push_back(std::make_unique<PcapRotator>(PcapRotatorOptions{
            config.pcap, config.snaplen, config.max_sessions, uint32_t(SinkSlot::pcap), 1'000'000'000, pcap_group_id}));
    return sinks;
}

}  // namespace mirrortap
