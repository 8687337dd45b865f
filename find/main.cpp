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
#include "find/pcap_output.hpp"
#include "find/search.hpp"
#include "find/store.hpp"
#include "find/time_arg.hpp"
#include "find/options.hpp"
#include "support/command_line.hpp"
#include "support/version.hpp"

using namespace mirrortap;
using namespace mirrortap::find;

namespace {


std::string usage() {
    return "usage: mirrortap-find " + std::string(kFindSynopsis) + "\n\n" + std::string(kFindDescription) + "\n\n" +
           render_help(find_docs(), find_groups());
}

std::atomic<bool> g_stop{false};
void on_signal(int) { g_stop.store(true); }

struct Args {
    std::vector<std::string> from, sessions;
    std::string since, until, write, endpoint, region;
    bool follow = false, help = false, version = false, allow_insecure = false;
    std::string expression;
};

const std::vector<FlagSpec> kFlags = find_flags();

// The long name of the flag `arg` names ("-w" -> "--write") when that flag takes a value.
std::optional<std::string> value_flag(const std::string& arg) {
    for (const auto& spec : kFlags) {
        if (!spec.takes_value) continue;
        const std::string long_name = spec.names.substr(spec.names.rfind(',') + 1);  // npos + 1: the whole
        if (arg == long_name || spec.names.starts_with(arg + ",")) return long_name;
    }
    return std::nullopt;
}

// Flags go to the shared parser; the words that are not flags (or come after
// "--") are the expression. A flag's value is passed as --name=value so that
// a value starting with '-' (--since -15m) is never taken for a flag.
bool parse_args(int argc, char** argv, Args& a) {
    std::vector<std::string> flags{argv[0]};
    std::vector<std::string> words;
    for (int i = 1; i < argc; ++i) {
        const std::string arg = argv[i];
        if (arg == "--") {
            words.insert(words.end(), argv + i + 1, argv + argc);
            break;
        }
        if (arg.size() < 2 || arg[0] != '-') {
            words.push_back(arg);
            continue;
        }
        const auto long_name = value_flag(arg);
        if (long_name && i + 1 < argc) flags.push_back(*long_name + "=" + argv[++i]);
        else flags.push_back(arg);
    }
    std::vector<const char*> cargv;
    for (const auto& f : flags) cargv.push_back(f.c_str());
    const CommandLine cl = parse_command_line(int(cargv.size()), cargv.data(), kFlags);
    if (!cl.errors.empty()) {
        for (const auto& e : cl.errors) std::fprintf(stderr, "mirrortap-find: %s\n", e.c_str());
        return false;
    }
    for (const auto& use : cl.uses) {
        switch (FindFlag(use.spec)) {
            case kFrom: a.from.push_back(use.value); break;
            case kSession: a.sessions.push_back(use.value); break;
            case kSince: a.since = use.value; break;
            case kUntil: a.until = use.value; break;
            case kWrite: a.write = use.value; break;
            case kFollow: a.follow = true; break;
            case kEndpoint: a.endpoint = use.value; break;
            case kRegion: a.region = use.value; break;
            case kAllowInsecure: a.allow_insecure = true; break;
            case kHelp: a.help = true; break;
            case kVersion: a.version = true; break;
        }
    }
    for (const auto& w : words) a.expression += (a.expression.empty() ? "" : " ") + w;
    return true;
}

uint64_t now_ns() {
    return uint64_t(std::chrono::duration_cast<std::chrono::nanoseconds>(
                        std::chrono::system_clock::now().time_since_epoch())
                        .count());
}

int usage_error(const std::string& what) {
    std::fprintf(stderr, "mirrortap-find: %s (see --help)\n", what.c_str());
    return 2;
}

}  // namespace

int main(int argc, char** argv) {
    Args a;
    if (!parse_args(argc, argv, a)) return 2;
    if (a.help) {
        std::fputs(usage().c_str(), stdout);
        return 0;
    }
    if (a.version) {
        std::printf("mirrortap-find %s\n", MIRRORTAP_VERSION);
        return 0;
    }
    if (a.from.empty()) a.from.emplace_back(find_docs()[kFrom].default_text);
    SearchOptions options;
    const uint64_t now = now_ns();
    std::string why;
    if (!a.since.empty()) {
        const auto t = parse_time_arg(a.since, now, why);
        if (!t) return usage_error("--since " + a.since + ": " + why);
        options.selection.since_ns = *t;
    }
    if (!a.until.empty()) {
        const auto t = parse_time_arg(a.until, now, why);
        if (!t) return usage_error("--until " + a.until + ": " + why);
        options.selection.until_ns = *t;
    }
    if (options.selection.until_ns < options.selection.since_ns) return usage_error("--until is before --since");
    options.selection.sessions = a.sessions;
    options.progress = isatty(STDERR_FILENO) == 1;

    CompiledFilter filter;
    if (!filter.compile(a.expression, why)) {
        std::fprintf(stderr, "mirrortap-find: libpcap refuses the expression '%s': %s\n", a.expression.c_str(), why.c_str());
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
        if (!a.since.empty() || !a.until.empty()) return usage_error("--follow takes no --since or --until");
        PcapOutput out;
        if (!out.open(a.write, why)) {
            std::fprintf(stderr, "mirrortap-find: %s\n", why.c_str());
            return 1;
        }
        const int rc = run_follow(follow, filter, out, stderr, g_stop);
        std::fprintf(stderr, "mirrortap-find: wrote %llu packets\n", static_cast<unsigned long long>(out.packets()));
        out.close();
        return rc;
    }

    std::vector<std::unique_ptr<Store>> stores;
    for (const auto& f : a.from) {
        if (f.starts_with("s3://")) {
            auto s = s3_store({f, a.endpoint, a.region, a.allow_insecure}, why);
            if (!s) return usage_error(why);
            stores.push_back(std::move(s));
        } else {
            stores.push_back(local_store(f));
        }
    }
    PcapOutput out;
    if (!out.open(a.write, why)) {
        std::fprintf(stderr, "mirrortap-find: %s\n", why.c_str());
        return 1;
    }
    const int rc = run_search(stores, options, filter, out, stderr);
    if (!out.close() && !out.reader_gone()) {
        std::fprintf(stderr, "mirrortap-find: writing the output failed: %s\n", out.error().c_str());
        return 1;
    }
    return rc;
}
