// mirrortap-find's command line under the settings table, like every other
// program's: each flag declared once (its value parsed into FindArgs, its
// help, its group), and --help, the manual page and the parser all read it.
// The words that are not flags are the filter expression.
#pragma once
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "find/pcap_output.hpp"
#include "support/parse.hpp"
#include "support/settings.hpp"

namespace mirrortap::find {

inline constexpr std::string_view kDefaultCaptureDir = "/var/lib/mirrortap/captures";

struct FindArgs {
    std::vector<std::string> from;       // directories and s3:// prefixes; empty: kDefaultCaptureDir
    std::vector<std::string> sessions;   // empty: every session
    std::optional<TimeArg> since, until;
    std::string write;                   // "" = standard output
    OutputFormat format = OutputFormat::pcap;
    bool follow = false;
    bool partial_ok = false;             // what could not be read is a warning, not exit 1
    std::string endpoint;                // an S3-compatible store; "" = AWS_ENDPOINT_URL_S3 or AWS
    std::string region;                  // "" = AWS_REGION, else us-east-1
    bool allow_insecure = false;         // a plain http:// store on another host: accepted, with a warning
    // --serve: the retrieval API (find/serve.hpp) instead of one search.
    std::optional<Endpoint> serve;
    std::string serve_tokens;            // NAME SHA256-HEX lines
    bool serve_no_auth = false;          // only on a loopback address
    std::string serve_tls_cert, serve_tls_key;  // PEM; both or neither
    uint64_t serve_max_bytes = 1ull << 30;  // capture bytes one query may read
    uint64_t serve_max_seconds = 300;
    uint64_t serve_max_queries = 4;
    // --verify: the manifest chains of the window instead of a search (find/verify.hpp).
    bool verify = false;
    std::string collector;               // "" = every collector
    bool json = false;
    std::string report;
    uint64_t lock_days = 0;              // 0 = the Object Lock is not checked
};

inline constexpr std::string_view kFindSynopsis =
    "[--from DIR|s3://BUCKET/PREFIX]... [--session NAME]... [--since TIME] [--until TIME] [-w FILE] "
    "[-F pcap|pcapng] [--follow] [--partial-ok] [BPF EXPRESSION]";
inline constexpr std::string_view kFindDescription =
    "The packets of the collectors' captures that match a libpcap expression (as tcpdump takes it, "
    "applied to the inner frames), from every source and file, merged by timestamp into one pcap "
    "(nanosecond) on standard output or FILE. Flow indexes (<file>.pcap.flows.json.gz) decide which "
    "files and byte ranges are read; without one, the whole pcap is read.\n\n"
    "What was read (files, bytes, from where) goes to standard error, with a progress bar when that "
    "is a terminal. Exit status: 0 done; 1 failed, or something selected could not be read whole (reported; "
    "--partial-ok makes that exit 0); 2 usage.\n\n"
    "With --serve ADDR:PORT it answers the same queries over HTTP instead (/api/v1/sessions, /api/v1/flows, "
    "/api/v1/pcap), to the clients of --serve-tokens; see docs/find.md.\n\n"
    "With --verify --from DIR|s3://BUCKET/PREFIX (a bucket's prefix, or a copy aws s3 sync made) it checks the "
    "window's captures against the collectors' manifest chains instead: every "
    "file listed is in the store with its SHA-256 and size, every link holds, nothing is in the store that no "
    "manifest lists, and no interval is missing (docs/evidence.md); with --lock-days N, every file of an s3:// "
    "source is also under S3 Object Lock or a legal hold until N days past its last record. Exit status: 0 clean; 1 a finding; 2 usage.";

const SettingsTable<FindArgs>& find_settings();
const std::vector<std::string_view>& find_groups();
// The settings, then -V/--version and -h/--help.
std::vector<SettingDoc> find_docs();

struct FindCommandLine {
    FindArgs args;
    std::string expression;  // the words that are not flags, joined by spaces
    bool help = false, version = false;
    std::vector<std::string> errors;  // usage errors, one line each
};
FindCommandLine parse_find_command_line(int argc, const char* const* argv);

}  // namespace mirrortap::find
