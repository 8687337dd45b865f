#include "sinks/sink_registry.hpp"

#include <fcntl.h>
#include <grp.h>
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

namespace {

// ---- pcap: rotated files per session ---------------------------------------

// What every worker's pcap sink shares: the group its files go to.
struct PcapShared final : SharedOutput {
    int group_id = -1;  // -1: the process's
};

std::string resolve_group(const std::string& name, int& gid) {
    std::string why;
    gid = group_id(name, why);
    return why.empty() ? "" : "pcap.group: " + why;
}

std::string prepare_pcap(const Config& config, const std::shared_ptr<SharedOutput>&,
                         std::shared_ptr<SharedOutput>& next) {
    auto shared = std::make_shared<PcapShared>();
    if (auto why = resolve_group(config.pcap.group, shared->group_id); !why.empty()) return why;
    if (auto why = prepare_capture_dir(config.pcap, config.user); !why.empty()) return why;
    next = std::move(shared);
    return "";
}

// What flow indexes call this collector: the configured id, else the host name.
std::string collector_id(const Config& config) {
    if (!config.collector_id.empty()) return config.collector_id;
    char host[256] = {};
    if (gethostname(host, sizeof host - 1) != 0 || host[0] == '\0') return "unknown";
    return host;
}

std::unique_ptr<Sink> make_pcap(const SinkContext& x, std::string&) {
    const auto& shared = static_cast<const PcapShared&>(*x.shared);
    PcapRotatorOptions options{x.config.pcap, x.config.snaplen, x.config.max_sessions, x.slot, 1'000'000'000,
                               shared.group_id, x.config.pcap.buffer_blocks};
    options.writer = x.services.pcap_writer;
    options.listener = x.services.finished_captures;
    options.collector_id = collector_id(x.config);
    return std::make_unique<PcapRotator>(std::move(options));
}

// ---- tap: the IDS feed as interfaces ----------------------------------------

std::string prepare_tap(const Config& config, const std::shared_ptr<SharedOutput>& running,
                        std::shared_ptr<SharedOutput>& next) {
    const auto* open = static_cast<const TapDevices*>(running.get());
    if (open && open->names() == config.tap) {
        next = running;
        return "";
    }
    // Devices the running set holds are shared by descriptor (the tun driver
    // refuses a second attach); new ones are created here and vanish with
    // `taps` if the reload is refused.
    auto taps = std::make_shared<TapDevices>();
    if (auto why = taps->open(config.tap, open); !why.empty()) return why;
    next = std::move(taps);
    return "";
}

std::unique_ptr<Sink> make_tap(const SinkContext& x, std::string&) {
    return std::make_unique<TapSink>(TapSinkOptions{std::static_pointer_cast<TapDevices>(x.shared),
                                                    x.config.tap_session_vlan, x.config.snaplen, x.slot,
                                                    x.config.sessions});
}

// ---- stream: the IDS feed as a live pcap stream ------------------------------

std::string prepare_stream(const Config& config, const std::shared_ptr<SharedOutput>& running,
                           std::shared_ptr<SharedOutput>& next) {
    const auto* open = static_cast<const StreamWriter*>(running.get());
    if (open && open->target().text == config.stream) {
        next = running;  // a reader of the stream sees no break
        return "";
    }
    std::string why;
    auto target = parse_stream_target(config.stream, why);
    if (!target) return "stream: " + why;
    StreamWriterOptions options{*target, config.snaplen};
    if (!config.user.empty()) {
        // The FIFO is opened again for every reader, by then as --user.
        passwd pw{}, *found = nullptr;
        char buf[16384];
        if (getpwnam_r(config.user.c_str(), &pw, buf, sizeof buf, &found) == 0 && found) {
            options.owner_uid = int(pw.pw_uid);
            options.owner_gid = int(pw.pw_gid);
        }
    }
    auto writer = std::make_shared<StreamWriter>(options);
    if (why = writer->open(); !why.empty()) return why;
    next = std::move(writer);
    return "";
}

std::unique_ptr<Sink> make_stream(const SinkContext& x, std::string& why) {
    auto writer = std::static_pointer_cast<StreamWriter>(x.shared);
    auto sink = std::make_unique<StreamSink>(StreamSinkOptions{
        writer, x.config.snaplen, x.slot, x.config.stream_required, 5'000'000'000, x.worker});
    if (sink->attached()) return sink;
    why = "stream: too many producers for " + writer->target().text;
    return nullptr;
}

// ---- forward: re-encapsulated to another VXLAN receiver --------------------

std::string prepare_forward(const Config& config, const std::shared_ptr<SharedOutput>&,
                            std::shared_ptr<SharedOutput>&) {
    std::string why;
    const int fd = open_forward_socket(ForwardSinkOptions{*config.forward}, why);
    if (fd < 0) return why;
    ::close(fd);
    return "";
}

std::unique_ptr<Sink> make_forward(const SinkContext& x, std::string&) {
    return std::make_unique<ForwardSink>(ForwardSinkOptions{*x.config.forward, x.slot});
}

// ---- the table ---------------------------------------------------------------

constexpr std::array<SinkKind, kSinkKindCount> kSinkKinds{{
    // A rotator's close removes each session's `current` link, which its
    // successor may have made already, and the names of its last files and of
    // the successor's first ones come from the same clock: it closes first.
    // (Once its close leaves a `current` that is not its own and it never
    // renames onto an existing file, this can be false.)
    {"pcap", [](const Config& c) { return c.pcap.enabled; }, prepare_pcap, make_pcap, true},
    {"tap", [](const Config& c) { return !c.tap.empty(); }, prepare_tap, make_tap},
    {"stream", [](const Config& c) { return !c.stream.empty(); }, prepare_stream, make_stream},
    {"forward", [](const Config& c) { return c.forward.has_value(); }, prepare_forward, make_forward},
}};

constexpr bool names_are_config_names() {
    for (size_t k = 0; k < kSinkKindCount; ++k)
        if (kSinkKinds[k].name != kSinkNames[k]) return false;
    return true;
}
static_assert(names_are_config_names(), "kSinkKinds and kSinkNames (config/config.hpp) list the same kinds in the same order");

}  // namespace

const std::array<SinkKind, kSinkKindCount>& sink_kinds() { return kSinkKinds; }

std::string prepare_sinks(const Config& config, const SharedOutputs& running, SharedOutputs& next) {
    for (size_t k = 0; k < kSinkKindCount; ++k) {
        const SinkKind& kind = kSinkKinds[k];
        next[k].reset();
        if (!kind.enabled(config) || !kind.prepare) continue;
        if (auto why = kind.prepare(config, running[k], next[k]); !why.empty()) return why;
    }
    return "";
}

std::string make_sinks(const Config& config, const SharedOutputs& shared, const SinkServices& services,
                       uint64_t generation, uint32_t worker, std::vector<std::unique_ptr<Sink>>& out) {
    out.clear();
    for (size_t k = 0; k < kSinkKindCount; ++k) {
        const SinkKind& kind = kSinkKinds[k];
        if (!kind.enabled(config)) continue;
        std::string why;
        auto sink = kind.make(SinkContext{config, services, shared[k], counter_slot(k, generation), worker}, why);
        if (!sink) return why;
        out.push_back(std::move(sink));
    }
    return "";
}

}  // namespace mirrortap
