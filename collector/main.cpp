// mirrortap-collector: receive VXLAN mirror traffic and hand it to sinks.
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <grp.h>
#include <sys/resource.h>
#include <unistd.h>

#include <csignal>
#include <cstdio>
#include <iostream>

#include "collector/cli.hpp"
#include "collector/collector.hpp"
#include "collector/exporter.hpp"
#include "collector/cloudwatch_publisher.hpp"
#include "collector/lifecycle.hpp"
#include "collector/privileges.hpp"
#include "collector/upload_setup.hpp"
#include "cloud/environment.hpp"
#include "sinks/capture_dir.hpp"
#include "sinks/capture_files.hpp"
#include "sinks/pcap_rotator.hpp"
#include "support/command_line.hpp"
#include "support/text.hpp"

using namespace mirrortap;

namespace {

constexpr const char* kProgram = "mirrortap-collector";

// The one line a start that cannot go on ends with; exit status 1.
int exit_failed(const std::string& message) {
    std::cerr << kProgram << ": " << message << "\n";
    return 1;
}

// One line to stderr in one write: the uploader's thread logs too.
void log_line(const std::string& line) {
    const std::string out = std::string(kProgram) + ": " + line + "\n";
    fwrite(out.data(), 1, out.size(), stderr);
}

void print_summary(const Collector& c) {
    uint64_t received = 0, refused = 0;
    for (const auto& w : c.workers()) {
        received += w->counters().received_packets.get();
        for (const auto& r : w->counters().refused) refused += r.get();
    }
    std::cerr << kProgram << ": received " << received << " datagrams, " << refused << " refused, "
              << c.session_count() << " sessions\n";
}

// SIGHUP: read the configuration again, as at start. A bad one is refused
// whole and the running one stays; either way every open file is finished.
void reload(int argc, char** argv, Collector& collector) {
    CliRequest next = parse_collector_cli(argc, argv);
    Result<> reloaded;
    std::vector<std::string> notes;
    if (next.errors.empty()) reloaded = collector.reload(std::move(next.config), notes);
    for (const auto& e : next.errors) std::cerr << kProgram << ": reload refused: " << e << "\n";
    if (!reloaded) std::cerr << kProgram << ": reload refused: " << reloaded.error() << "\n";
    for (const auto& n : notes) std::cerr << kProgram << ": reload: " << n << "\n";
    if (next.errors.empty() && reloaded) {
        std::cerr << kProgram << ": reloaded " << (next.config_path.empty() ? "flags" : printable(next.config_path))
                  << std::endl;
    } else {
        collector.request_rotate();
        std::cerr << kProgram << ": still running the previous configuration" << std::endl;
    }
}

// A receive buffer smaller than asked is silent loss waiting for a burst:
// say so at start, with the fix (unprivileged, net.core.rmem_max caps it).
void warn_if_rcvbuf_capped(const Collector& collector) {
    const uint64_t asked = collector.config()->rcvbuf_bytes;
    const uint64_t got = collector.rcvbuf_granted_bytes();
    if (got >= asked) return;
    std::cerr << kProgram << ": warning: receive buffer " << got / 1024 << " KiB per socket, less than the "
              << asked / 1024 << " KiB asked (--rcvbuf): net.core.rmem_max caps it for a "
              << "process without CAP_NET_ADMIN; run as root with --user, or raise it: sysctl -w "
              << "net.core.rmem_max=" << asked << " (deploy/sysctl/60-mirrortap-collector.conf does at install)"
              << std::endl;
}

// The soft limit of descriptors up to the hard one, as servers do (the
// default soft limit of 1024 is for select(), which nothing here uses).
void raise_descriptor_limit() {
    rlimit limit{};
    if (getrlimit(RLIMIT_NOFILE, &limit) != 0 || limit.rlim_cur >= limit.rlim_max) return;
    limit.rlim_cur = limit.rlim_max;
    setrlimit(RLIMIT_NOFILE, &limit);
}

// Descriptors the pcap sinks may hold (pcap.max_open_files per worker) must
// fit under RLIMIT_NOFILE with room for the rest (kOtherDescriptors).
Result<> fit_descriptor_budget(const Collector& collector) {
    const auto config = collector.config();
    if (!config->pcap.enabled) return {};
    rlimit limit{};
    if (getrlimit(RLIMIT_NOFILE, &limit) != 0) return {};
    const uint64_t needed = uint64_t(collector.workers().size()) * config->pcap.max_open_files + kOtherDescriptors;
    if (limit.rlim_cur == RLIM_INFINITY || needed <= limit.rlim_cur) return {};
    return fail("pcap.max_open_files " + std::to_string(config->pcap.max_open_files) + " x " +
                count_of(collector.workers().size(), "worker") + " + " + std::to_string(kOtherDescriptors) +
                " for the rest needs " + std::to_string(needed) + " descriptors, over the limit of " +
                std::to_string(limit.rlim_cur) + " (RLIMIT_NOFILE): lower pcap.max_open_files or raise the limit "
                "(LimitNOFILE= in the unit, ulimit -n)");
}

// Run as the --user, right after the drop: what a reload will read and the
// directory every packet goes to must work for that user, or we do not start.
Result<> check_as_user(int argc, char** argv, const Config& running) {
    const std::string& user = running.user;
    CliRequest again = parse_collector_cli(argc, argv);
    if (!again.errors.empty()) {
        const group* g = getgrgid(getegid());
        const std::string group_name = g ? g->gr_name : std::to_string(getegid());
        return fail("as user " + user + ", the configuration cannot be read again (a reload would fail): " +
                    again.errors.front() + "; let " + user + " read it and every file it names (e.g. chgrp " +
                    group_name + " FILE && chmod g+r FILE)");
    }
    if (running.pcap.enabled) return check_capture_dir_writable(running.pcap);
    return {};
}

}  // namespace

int main(int argc, char** argv) {
    CliRequest req = parse_collector_cli(argc, argv);
    if (req.action == CliRequest::Action::help) {
        std::cout << collector_usage();
        return 0;
    }
    if (req.action == CliRequest::Action::version) {
        std::cout << version_line(kProgram);
        return 0;
    }
    if (!req.errors.empty()) return report_usage_errors(kProgram, req.errors);
    // Tokens, signed requests and captures in clear to another host: refused
    // unless asked for knowingly, and then said at every start.
    if (const auto in_clear = endpoints_in_clear(req.config, cloud::process_environment()); !in_clear.empty()) {
        std::string list;
        for (const auto& e : in_clear) list += (list.empty() ? "" : ", ") + printable(e);
        if (!req.config.allow_insecure_endpoints) {
            std::cerr << kProgram << ": refusing plain http:// to another host (" << list
                      << "): credentials and captures would cross the network in clear; use https://, a loopback "
                         "address, or set allow_insecure_endpoints: true\n";
            return 2;
        }
        std::cerr << kProgram << ": warning: allow_insecure_endpoints: plain http:// to another host (" << list
                  << "): credentials and captures cross the network in clear" << std::endl;
    }
    if (req.action == CliRequest::Action::check_config) {
        std::cout << (req.config_path.empty() ? std::string("defaults") : printable(req.config_path)) << ": OK\n";
        return 0;
    }

    // Like tcpdump -Z: a process that parses packets from the network should not
    // keep root. Refuse unless the user names who to become, or says so knowingly.
    if (geteuid() == 0 && req.config.user.empty() && !req.config.allow_root)
        return exit_failed("refusing to run as root: give --user NAME to drop privileges once ready (like tcpdump -Z), "
                           "or --allow-root");
    // Root by another name: "dropping" to uid 0 keeps every privilege.
    const bool user_is_root = !req.config.user.empty() && is_uid_zero(req.config.user);
    if (geteuid() == 0 && user_is_root && !req.config.allow_root)
        return exit_failed("refusing to run as root: --user " + printable(req.config.user) +
                           " is uid 0, which keeps every privilege of root; name an unprivileged user, or give --allow-root");

    // Before any thread exists, so that every thread inherits it: no exec may
    // gain privileges, and no capability can come back once dropped.
    if (auto restricted = restrict_process(); !restricted) return exit_failed(restricted.error());

    // Before the sinks are built: every pcap sink tells the uploader of the files it finishes.
    std::shared_ptr<Uploader> uploader;
    if (req.config.upload.enabled()) {
        auto made = make_uploader(req.config, log_line);
        if (!made) return exit_failed(made.error());
        uploader = std::move(*made);
        // Flow index lines name the collector as its object keys do. collector_id
        // is restart-only, so a reload keeps the id resolved here.
        req.config.collector_id = uploader->collector_id();
    }

    raise_descriptor_limit();  // before the collector resolves pcap.max_open_files from it
    Collector collector(std::move(req.config), uploader);
    if (auto opened = collector.open(); !opened) return exit_failed(opened.error());
    warn_if_rcvbuf_capped(collector);
    if (auto fits = fit_descriptor_budget(collector); !fits) return exit_failed(fits.error());
    Exporter exporter(collector, uploader.get());
    if (auto serving = exporter.open(); !serving) return exit_failed(serving.error());
    // Each manifest lists the packets dropped since the one before, read as /metrics reads them.
    if (uploader)
        uploader->set_drop_totals([&exporter] {
            std::vector<std::pair<std::string, uint64_t>> totals;
            for (const auto& [reason, packets] : packets_dropped_by_reason(exporter.collect()))
                totals.emplace_back(reason, uint64_t(packets));
            return totals;
        });
    // The uploader's thread reads the exporter: on every way out, it stops before the exporter goes.
    struct StopFirst {
        Uploader* uploader;
        ~StopFirst() {
            if (uploader) uploader->stop();
        }
    } stop_uploader_first{uploader.get()};
    // Sockets, sinks and the metrics port are open: root is no longer needed.
    // No thread exists yet (each is started below), so every one is born
    // with the user's identity and none can keep root's.
    bool dropped = false;
    if (const auto config = collector.config(); !config->user.empty() && geteuid() == 0 && !user_is_root) {
        if (auto done = drop_privileges(config->user); !done) return exit_failed(done.error());
        dropped = true;
        if (auto works = check_as_user(argc, argv, *config); !works) return exit_failed(works.error());
    }
    exporter.start();

    boost::asio::io_context io;
    boost::asio::signal_set stop_signals(io, SIGTERM, SIGINT);
    boost::asio::signal_set hup(io, SIGHUP);
    stop_signals.async_wait([&](const boost::system::error_code&, int) {
        exporter.set_draining();
        io.stop();
    });
    std::function<void()> wait_hup = [&] {
        hup.async_wait([&](const boost::system::error_code& ec, int) {
            if (ec) return;
            reload(argc, argv, collector);
            wait_hup();
        });
    };
    wait_hup();

    // Before the first file is opened: what a crash left is finished, and
    // what an earlier run did not upload goes first.
    if (const auto config = collector.config(); config->pcap.enabled)
        for (const auto& line : recover_part_files(config->pcap.dir)) log_line(line);
    if (uploader) uploader->start();

    collector.start();
    // Whatever started a thread, and whenever: none has kept anything of root.
    // (Started unprivileged, capabilities a unit grants on purpose are not ours to judge.)
    if (dropped)
        if (auto all = check_every_thread_dropped(); !all) return exit_failed(all.error());
    const auto config = collector.config();
    std::cerr << kProgram << ": listening on " << config->listen.text << " with "
              << count_of(collector.workers().size(), "worker");
    if (const auto& g = config->listen_geneve) std::cerr << ", GENEVE on " << g->text;
    if (config->pcap.enabled) std::cerr << ", writing pcaps under " << config->pcap.dir;
    if (const auto& m = config->metrics_listen) std::cerr << ", metrics on http://" << m->text << "/metrics";
    std::cerr << std::endl;
    // Scale-in: on the group's Terminated, /readyz goes red, the open files
    // are finished, and the hook's action is completed (collector/lifecycle.hpp).
    LifecycleWatcher lifecycle({.config = config->lifecycle,
                                .on_terminating = [&] { exporter.set_terminating(); },
                                // Safe means finished and, with uploads, stored.
                                .drain = [&](auto deadline) {
                                    return collector.finish_open_files(deadline) &&
                                           (!uploader || uploader->drain(deadline));
                                },
                                // One write per line: the watcher's threads log beside main's.
                                .log = [](const std::string& line) {
                                    std::cerr << (std::string(kProgram) + ": " + line + "\n") << std::flush;
                                }});
    if (auto watching = lifecycle.start(); !watching) return exit_failed(watching.error());
    // The figures of /metrics for CloudWatch, for operators without Prometheus.
    CloudWatchPublisher cloudwatch({.config = config->cloudwatch,
                                    .collect = [&] { return exporter.collect(); },
                                    .log = [](const std::string& line) {
                                        std::cerr << (std::string(kProgram) + ": " + line + "\n") << std::flush;
                                    }});
    if (auto publishing = cloudwatch.start(); !publishing) return exit_failed(publishing.error());
    io.run();
    cloudwatch.stop();
    lifecycle.stop();
    collector.stop();  // every open file finished: the uploader has them all
    if (uploader) {
        const auto drain = std::chrono::seconds(config->upload.drain_seconds);
        if (uploader->drain(std::chrono::steady_clock::now() + drain)) log_line("upload: every finished file uploaded");
        uploader->stop();
    }
    print_summary(collector);
    return 0;
}
