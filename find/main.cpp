// mirrortap-find: the packets of any flow, across every collector and file,
// as one pcap. See docs/find.md.
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <optional>
#include <string>
#include <vector>

#include "find/bpf_prune.hpp"
#include "find/follow.hpp"
#include "find/options.hpp"
#include "find/pcap_output.hpp"
#include "find/search.hpp"
#include "find/store.hpp"
#include "support/command_line.hpp"
#include "support/text.hpp"

using namespace mirrortap;
using namespace mirrortap::find;

namespace {

std::string usage() {
    return "usage: mirrortap-find " + std::string(kFindSynopsis) + "\n\n" + std::string(kFindDescription) + "\n\n" +
           render_help(find_docs(), find_groups());
}

std::atomic<bool> g_stop{false};
void on_signal(int) { g_stop.store(true); }

uint64_t now_ns() {
    return uint64_t(std::chrono::duration_cast<std::chrono::nanoseconds>(
                        std::chrono::system_clock::now().time_since_epoch())
                        .count());
}

int usage_error(const std::string& what) { return report_usage_errors("mirrortap-find", {what}); }

}  // namespace

int main(int argc, char** argv) {
    FindCommandLine cl = parse_find_command_line(argc, argv);
    // --help and --version answer whatever else the command line got wrong.
    if (cl.help) {
        std::fputs(usage().c_str(), stdout);
        return 0;
    }
    if (cl.version) {
        std::fputs(version_line("mirrortap-find").c_str(), stdout);
        return 0;
    }
    if (!cl.errors.empty()) return report_usage_errors("mirrortap-find", cl.errors);
    FindArgs& a = cl.args;
    if (a.from.empty()) a.from.emplace_back(kDefaultCaptureDir);
    SearchOptions options;
    const uint64_t now = now_ns();
    if (a.since) {
        const auto t = a.since->at(now);
        if (!t) return usage_error("bad --since: " + t.error());
        options.selection.since_ns = *t;
    }
    if (a.until) {
        const auto t = a.until->at(now);
        if (!t) return usage_error("bad --until: " + t.error());
        options.selection.until_ns = *t;
    }
    if (options.selection.until_ns < options.selection.since_ns) return usage_error("--until is before --since");
    options.selection.sessions = a.sessions;
    options.progress = isatty(STDERR_FILENO) == 1;
    options.partial_ok = a.partial_ok;

    CompiledFilter filter;
    if (auto compiled = filter.compile(cl.expression); !compiled) {
        std::fprintf(stderr, "mirrortap-find: libpcap refuses the expression '%s': %s\n", cl.expression.c_str(),
                     compiled.error().c_str());
        return 2;
    }
    if (a.write.empty() && isatty(STDOUT_FILENO)) {
        std::fprintf(stderr, "mirrortap-find: refusing to write a pcap to a terminal: give -w FILE or pipe it "
                             "(| tcpdump -r -, | wireshark -k -i -)\n");
        return 2;
    }
    // A reader that goes away is the end of the output, not a signal death.
    ::signal(SIGPIPE, SIG_IGN);

    if (a.follow) {
        // Ctrl-C ends the live view between batches: what was written stays whole.
        struct sigaction sa{};
        sa.sa_handler = on_signal;
        sigaction(SIGINT, &sa, nullptr);
        sigaction(SIGTERM, &sa, nullptr);
        FollowOptions follow;
        for (const auto& f : a.from) {
            if (f.starts_with("s3://")) return usage_error("--follow reads a collector's directory, not " + f);
            follow.dirs.push_back(f);
        }
        follow.sessions = a.sessions;
        if (a.since || a.until) return usage_error("--follow takes no --since or --until");
        PcapOutput out;
        if (auto opened = out.open(a.write, a.format); !opened) {
            std::fprintf(stderr, "mirrortap-find: %s\n", opened.error().c_str());
            return 1;
        }
        const int rc = run_follow(follow, filter, out, stderr, g_stop);
        std::fprintf(stderr, "mirrortap-find: wrote %llu packets\n", static_cast<unsigned long long>(out.packets()));
        (void)out.close();
        return rc;
    }

    std::vector<std::unique_ptr<Store>> stores;
    for (const auto& f : a.from) {
        if (f.starts_with("s3://")) {
            auto s = s3_store({f, a.endpoint, a.region, a.allow_insecure});
            if (!s) return usage_error(s.error());
            stores.push_back(std::move(*s));
        } else {
            stores.push_back(local_store(f));
        }
        // One source given twice (dir and dir/../dir, a bucket and prefix twice) is read once.
        for (size_t i = 0; i + 1 < stores.size(); ++i) {
            if (stores[i]->identity() != stores.back()->identity()) continue;
            std::fprintf(stderr, "mirrortap-find: %s is the same source as %s: read once\n",
                         printable(stores.back()->describe()).c_str(), printable(stores[i]->describe()).c_str());
            stores.pop_back();
            break;
        }
    }
    PcapOutput out;
    if (auto opened = out.open(a.write, a.format); !opened) {
        std::fprintf(stderr, "mirrortap-find: %s\n", opened.error().c_str());
        return 1;
    }
    const int rc = run_search(stores, options, filter, out, stderr);
    if (auto closed = out.close(); !closed && !out.reader_gone()) {
        std::fprintf(stderr, "mirrortap-find: writing the output failed: %s\n", closed.error().c_str());
        return 1;
    }
    return rc;
}
