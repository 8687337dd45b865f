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

Result<std::shared_ptr<SharedOutput>> prepare_pcap(const Config& config, const std::shared_ptr<SharedOutput>&) {
    auto shared = std::make_shared<PcapShared>();
    const auto gid = group_id(config.pcap.group);
    if (!gid) return fail("pcap.group: " + gid.error());
    shared->group_id = *gid;
    if (auto ready = prepare_capture_dir(config.pcap, config.user); !ready) return fail(std::move(ready).error());
    return shared;
}

// What flow indexes call this collector: the configured id, else the host name.
std::string collector_id(const Config& config) {
    if (!config.collector_id.empty()) return config.collector_id;
    char host[256] = {};
    if (gethostname(host, sizeof host - 1) != 0 || host[0] == '\0') return "unknown";
    return host;
}

Result<std::unique_ptr<Sink>> make_pcap(const SinkContext& x) {
    const auto& shared = static_cast<const PcapShared&>(*x.shared);
    PcapRotatorOptions options{x.config.pcap, x.config.snaplen, x.config.max_sessions, x.slot, 1'000'000'000,
                               shared.group_id, x.config.pcap.buffer_blocks};
    options.writer = x.services.pcap_writer;
    options.listener = x.services.finished_captures;
    options.collector_id = collector_id(x.config);
    return std::unique_ptr<Sink>(std::make_unique<PcapRotator>(std::move(options)));
}

// ---- tap: the IDS feed as interfaces ----------------------------------------

Result<std::shared_ptr<SharedOutput>> prepare_tap(const Config& config, const std::shared_ptr<SharedOutput>& running) {
    const auto* open = static_cast<const TapDevices*>(running.get());
    if (open && open->names() == config.tap) return running;
    // Devices the running set holds are shared by descriptor (the tun driver
    // refuses a second attach); new ones are created here and vanish with
    // `taps` if the reload is refused.
    auto taps = std::make_shared<TapDevices>();
    if (auto opened = taps->open(config.tap, open); !opened) return fail(std::move(opened).error());
    return std::shared_ptr<SharedOutput>(std::move(taps));
}

Result<std::unique_ptr<Sink>> make_tap(const SinkContext& x) {
    return std::unique_ptr<Sink>(std::make_unique<TapSink>(
        TapSinkOptions{std::static_pointer_cast<TapDevices>(x.shared), x.config.tap_session_vlan, x.config.snaplen,
                       x.slot, x.config.sessions}));
}

// ---- stream: the IDS feed as a live pcap stream ------------------------------

Result<std::shared_ptr<SharedOutput>> prepare_stream(const Config& config,
                                                     const std::shared_ptr<SharedOutput>& running) {
    const auto* open = static_cast<const StreamWriter*>(running.get());
    if (open && open->target().text == config.stream) return running;  // a reader of the stream sees no break
    auto target = parse_stream_target(config.stream);
    if (!target) return fail("stream: " + target.error());
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
    if (auto opened = writer->open(); !opened) return fail(std::move(opened).error());
    return std::shared_ptr<SharedOutput>(std::move(writer));
}

Result<std::unique_ptr<Sink>> make_stream(const SinkContext& x) {
    auto writer = std::static_pointer_cast<StreamWriter>(x.shared);
    auto sink = std::make_unique<StreamSink>(StreamSinkOptions{
        writer, x.config.snaplen, x.slot, x.config.stream_required, 5'000'000'000, x.worker});
    if (sink->attached()) return std::unique_ptr<Sink>(std::move(sink));
    return fail("stream: too many producers for " + writer->target().text);
}

// ---- forward: re-encapsulated to another VXLAN receiver --------------------

// Nothing shared: the socket is opened only to refuse a bad destination now.
Result<std::shared_ptr<SharedOutput>> prepare_forward(const Config& config, const std::shared_ptr<SharedOutput>&) {
    const auto fd = open_forward_socket(ForwardSinkOptions{*config.forward});
    if (!fd) return fail(fd.error());
    ::close(*fd);
    return std::shared_ptr<SharedOutput>();
}

Result<std::unique_ptr<Sink>> make_forward(const SinkContext& x) {
    return std::unique_ptr<Sink>(std::make_unique<ForwardSink>(ForwardSinkOptions{*x.config.forward, x.slot}));
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

Result<SharedOutputs> prepare_sinks(const Config& config, const SharedOutputs& running) {
    SharedOutputs next;
    for (size_t k = 0; k < kSinkKindCount; ++k) {
        const SinkKind& kind = kSinkKinds[k];
        if (!kind.enabled(config) || !kind.prepare) continue;
        auto prepared = kind.prepare(config, running[k]);
        if (!prepared) return fail(std::move(prepared).error());
        next[k] = std::move(*prepared);
    }
    return next;
}

Result<std::vector<std::unique_ptr<Sink>>> make_sinks(const Config& config, const SharedOutputs& shared,
                                                      const SinkServices& services, uint64_t generation,
                                                      uint32_t worker) {
    std::vector<std::unique_ptr<Sink>> out;
    for (size_t k = 0; k < kSinkKindCount; ++k) {
        const SinkKind& kind = kSinkKinds[k];
        if (!kind.enabled(config)) continue;
        auto sink = kind.make(SinkContext{config, services, shared[k], counter_slot(k, generation), worker});
        if (!sink) return fail(std::move(sink).error());
        out.push_back(std::move(*sink));
    }
    return out;
}

}  // namespace mirrortap
