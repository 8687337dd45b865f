#include "sinks/sink_set.hpp"

#include <fcntl.h>
#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "sinks/capture_dir.hpp"
#include "sinks/forward_sink.hpp"
#include "sinks/pcap_rotator.hpp"
#include "sinks/stream_sink.hpp"
#include "sinks/tap_sink.hpp"

namespace mirrortap {

static_assert(kSinkNames[size_t(SinkSlot::pcap)] == "pcap" && kSinkNames[size_t(SinkSlot::tap)] == "tap" &&
              kSinkNames[size_t(SinkSlot::stream)] == "stream" && kSinkNames[size_t(SinkSlot::forward)] == "forward");

std::string prepare_sinks(const Config& config, SharedOutputs& shared) {
    if (config.pcap.enabled) {
        if (auto why = prepare_capture_dir(config.pcap, config.user); !why.empty()) return why;
    }
    if (config.tap.empty()) {
        shared.taps.reset();
    } else if (!shared.taps || shared.taps->names() != config.tap) {
        auto taps = std::make_shared<TapDevices>();
        if (auto why = taps->open(config.tap, shared.taps.get()); !why.empty()) return why;
        shared.taps = std::move(taps);
    }
    if (config.stream.empty()) {
        shared.stream.reset();
    } else if (!shared.stream || shared.stream_text != config.stream) {
        std::string why;
        auto target = parse_stream_target(config.stream, why);
        if (!target) return "stream: " + why;
        StreamWriterOptions options{*target, config.snaplen};
        if (!config.user.empty()) {
            // The FIFO is opened again for every reader, by then as --user.
            passwd pw{}, *found = nullptr;
            char buf[4096];
            if (getpwnam_r(config.user.c_str(), &pw, buf, sizeof buf, &found) == 0 && found) {
                options.owner_uid = int(pw.pw_uid);
                options.owner_gid = int(pw.pw_gid);
            }
        }
        auto writer = std::make_shared<StreamWriter>(options);
        if (why = writer->open(); !why.empty()) return why;
        shared.stream = std::move(writer);
        shared.stream_text = config.stream;
    }
    if (config.forward) {
        std::string why;
        const int fd = open_forward_socket(ForwardSinkOptions{*config.forward}, why);
        if (fd < 0) return why;
        ::close(fd);
    }
    return "";
}

std::vector<std::unique_ptr<Sink>> make_sinks(const Config& config, int pcap_group_id, SharedOutputs& shared) {
    std::vector<std::unique_ptr<Sink>> sinks;
    if (config.pcap.enabled)
        sinks.push_back(std::make_unique<PcapRotator>(PcapRotatorOptions{
            config.pcap, config.snaplen, config.max_sessions, uint32_t(SinkSlot::pcap), 1'000'000'000, pcap_group_id}));
    if (shared.taps)
        sinks.push_back(std::make_unique<TapSink>(TapSinkOptions{shared.taps, config.tap_session_vlan, config.snaplen,
                                                                 config.max_sessions, uint32_t(SinkSlot::tap),
                                                                 config.sessions}));
    if (shared.stream)
        sinks.push_back(std::make_unique<StreamSink>(StreamSinkOptions{
            shared.stream, config.snaplen, config.max_sessions, uint32_t(SinkSlot::stream), config.stream_required}));
    if (config.forward)
        sinks.push_back(std::make_unique<ForwardSink>(ForwardSinkOptions{*config.forward, uint32_t(SinkSlot::forward)}));
    return sinks;
}

}  // namespace mirrortap
