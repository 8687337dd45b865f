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
#include "find/serve.hpp"
#include "find/store.hpp"
#include "find/verify.hpp"
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

void stop_on_signals() {
    struct sigaction sa{};
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, nullptr);
    sigaction(SIGTERM, &sa, nullptr);
}

Sources sources_of(const FindArgs& a) { return {a.from, a.endpoint, a.region, a.allow_insecure}; }

// --serve: every refusal (the query flags, no tokens, no-auth off loopback,
// an untrusted tokens file) comes before the address is bound.
int serve_main(const FindCommandLine& cl) {
    const FindArgs& a = cl.args;
    if (a.follow || !a.write.empty() || a.since || a.until || !a.sessions.empty() || !cl.expression.empty() ||
        a.format != OutputFormat::pcap || a.partial_ok)
        return usage_error("--serve takes the query from each request: no --session, --since, --until, -w, -F, "
                           "--follow, --partial-ok or filter expression");
    ServeOptions options;
    options.listen = *a.serve;
    if (options.listen.is_name()) return usage_error("--serve takes a numeric address and port, not a name");
    if (a.serve_no_auth && !a.serve_tokens.empty()) return usage_error("--serve-no-auth and --serve-tokens exclude each other");
    if (a.serve_no_auth) {
        if (!is_loopback(options.listen))
            return usage_error("--serve-no-auth only on a loopback address (127.0.0.1, ::1), not " +
                               printable(options.listen.text) + ": anyone who can reach it would read every capture; "
                               "give --serve-tokens FILE");
    } else {
        if (a.serve_tokens.empty())
            return usage_error("--serve needs --serve-tokens FILE (NAME SHA256-HEX lines), or --serve-no-auth on a "
                               "loopback address");
        auto tokens = Tokens::load(a.serve_tokens);
        if (!tokens) return usage_error(printable(tokens.error()));
        options.tokens = std::move(*tokens);
    }
    if (a.serve_tls_cert.empty() != a.serve_tls_key.empty())
        return usage_error("--serve-tls-cert and --serve-tls-key go together");
    if (!a.serve_tls_cert.empty()) {
        auto tls = TlsContext::load(a.serve_tls_cert, a.serve_tls_key);
        if (!tls) return usage_error(printable(tls.error()));
        options.tls = std::move(*tls);
    }
    options.sources = sources_of(a);
    // Each query opens its own stores; opened once here so that a bad source is refused at start.
    if (auto stores = open_stores(options.sources, stderr); !stores) return usage_error(stores.error());
    options.limits.max_read_bytes = a.serve_max_bytes;
    options.limits.max_seconds = std::chrono::seconds(a.serve_max_seconds);
    options.limits.max_queries = size_t(a.serve_max_queries);
    ::signal(SIGPIPE, SIG_IGN);
    stop_on_signals();
    return serve(options, g_stop);
}

// --verify: one source, a window, no search.
int verify_main(const FindCommandLine& cl) {
    const FindArgs& a = cl.args;
    if (a.follow || a.serve || !a.write.empty() || !a.sessions.empty() || !cl.expression.empty() ||
        a.format != OutputFormat::pcap || a.partial_ok)
        return usage_error("--verify checks whole files of every session: no --session, --serve, -w, -F, --follow, "
                           "--partial-ok or filter expression");
    if (a.from.size() != 1) return usage_error("--verify takes one --from: a directory or s3://BUCKET/PREFIX");
    if (a.lock_days && !a.from.front().starts_with("s3://"))
        return usage_error("--lock-days needs an s3:// --from: a copy keeps no Object Lock");
    VerifyOptions options;
    options.from = a.from.front();
    options.s3 = {options.from, a.endpoint, a.region, a.allow_insecure};
    const uint64_t now = now_ns();
    if (a.since) {
        const auto t = a.since->at(now);
        if (!t) return usage_error("bad --since: " + t.error());
        options.since_ns = *t;
    }
    if (a.until) {
        const auto t = a.until->at(now);
        if (!t) return usage_error("bad --until: " + t.error());
        options.until_ns = *t;
    }
    if (options.until_ns < options.since_ns) return usage_error("--until is before --since");
    options.collector = a.collector;
    options.json = a.json;
    options.report = a.report;
    options.lock_days = a.lock_days;
    options.progress = isatty(STDERR_FILENO) == 1;
    ::signal(SIGPIPE, SIG_IGN);
    return run_verify(options, stdout, stderr);
}

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
    // --verify reads a bucket's layout, never the collector's own directory: its --from is not defaulted.
    if (a.verify) return verify_main(cl);
    if (a.from.empty()) a.from.emplace_back(kDefaultCaptureDir);
    if (!a.collector.empty() || a.json || !a.report.empty() || a.lock_days)
        return usage_error("--collector, --json, --report and --lock-days go with --verify");
    if (a.serve) return serve_main(cl);
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
        stop_on_signals();
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

    auto opened = open_stores(sources_of(a), stderr);
    if (!opened) return usage_error(opened.error());
    std::vector<std::unique_ptr<Store>>& stores = *opened;
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
