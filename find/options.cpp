#include "find/options.hpp"

#include "support/command_line.hpp"

namespace mirrortap::find {

namespace {

constexpr std::string_view kWhat = "What to search";
constexpr std::string_view kOutput = "Output";
constexpr std::string_view kStore = "S3";
constexpr std::string_view kServe = "Retrieval API (--serve)";
constexpr std::string_view kVerify = "Verification (--verify)";
constexpr std::string_view kOther = "Other";

using A = FindArgs;

SettingsTable<FindArgs> make_table() {
    return {
        {.key = "from", .flag = "--from", .value_name = "DIR|s3://BUCKET/PREFIX", .default_text = kDefaultCaptureDir,
         .group = kWhat, .help = "a collector's pcap directory, or an S3 prefix its uploads went to\n(repeatable)",
         .value = repeated_value<A>(field<&A::from>, parse_text)},
        {.key = "session", .flag = "--session", .value_name = "NAME", .group = kWhat,
         .help = "only this session (repeatable; default all)",
         .value = repeated_value<A>(field<&A::sessions>, parse_text)},
        {.key = "since", .flag = "--since", .value_name = "TIME", .group = kWhat,
         .help = "packets at or after TIME: RFC 3339 (2026-12-01T10:02:00Z)\nor relative to now (-15m, -2h, -1d)",
         .value = parsed_value<A>(field<&A::since>, parse_time_arg)},
        {.key = "until", .flag = "--until", .value_name = "TIME", .group = kWhat, .help = "packets at or before TIME",
         .value = parsed_value<A>(field<&A::until>, parse_time_arg)},
        {.key = "write", .flag = "-w,--write", .value_name = "FILE", .group = kOutput,
         .help = "write the pcap to FILE instead of standard output", .value = text_value<A>(field<&A::write>)},
        {.key = "format", .flag = "-F,--format", .value_name = "pcap|pcapng", .default_text = "pcap",
         .group = kOutput,
         .help = "pcapng: one interface per session and collector (session@collector,\nthe VNI in its "
                 "description), nanosecond timestamps, as tshark -F",
         .value = parsed_value<A>(field<&A::format>, parse_output_format)},
        {.key = "follow", .flag = "--follow", .switch_value = "true", .group = kOutput,
         .help = "live: follow the files being written in each DIR across rotations\nuntil Ctrl-C, flushed "
                 "batch by batch\n(mirrortap-find --follow --session web 'port 443' | wireshark -k -i -)",
         .value = bool_value<A>(field<&A::follow>)},
        {.key = "partial_ok", .flag = "--partial-ok", .switch_value = "true", .group = kOutput,
         .help = "exit 0 even when something selected could not be read whole\n(a failed or short read, a "
                 "corrupt or truncated file, an unusable index);\nit is still reported",
         .value = bool_value<A>(field<&A::partial_ok>)},
        {.key = "s3_endpoint", .flag = "--s3-endpoint", .value_name = "URL", .group = kStore,
         .help = "an S3-compatible store (also AWS_ENDPOINT_URL_S3)", .value = text_value<A>(field<&A::endpoint>)},
        {.key = "region", .flag = "--region", .value_name = "REGION", .default_text = "us-east-1", .group = kStore,
         .help = "the bucket's region (also AWS_REGION)", .value = text_value<A>(field<&A::region>)},
        {.key = "allow_insecure_endpoint", .flag = "--allow-insecure-endpoint", .switch_value = "true",
         .group = kStore,
         .help = "accept a plain http:// store on another host than this one\n(signed requests and captures "
                 "then cross the network in clear; warned about)",
         .value = bool_value<A>(field<&A::allow_insecure>)},
        {.key = "serve", .flag = "--serve", .value_name = "ADDR:PORT", .group = kServe,
         .help = "serve the sources over HTTP instead of searching once:\n/api/v1/sessions, /api/v1/flows, "
                 "/api/v1/pcap (docs/find.md)",
         .value = parsed_value<A>(field<&A::serve>, [](std::string_view t) { return parse_endpoint(t); })},
        {.key = "serve_tokens", .flag = "--serve-tokens", .value_name = "FILE", .group = kServe,
         .help = "the clients: one NAME SHA256-HEX-OF-TOKEN line each\n(printf %s TOKEN | sha256sum); "
                 "not writable by group or others",
         .value = text_value<A>(field<&A::serve_tokens>)},
        {.key = "serve_no_auth", .flag = "--serve-no-auth", .switch_value = "true", .group = kServe,
         .help = "serve without tokens: only on a loopback address", .value = bool_value<A>(field<&A::serve_no_auth>)},
        {.key = "serve_tls_cert", .flag = "--serve-tls-cert", .value_name = "FILE", .group = kServe,
         .help = "serve HTTPS with this PEM certificate (chain); with --serve-tls-key",
         .value = text_value<A>(field<&A::serve_tls_cert>)},
        {.key = "serve_tls_key", .flag = "--serve-tls-key", .value_name = "FILE", .group = kServe,
         .help = "the certificate's PEM private key", .value = text_value<A>(field<&A::serve_tls_key>)},
        {.key = "serve_max_bytes", .flag = "--serve-max-bytes", .value_name = "BYTES", .default_text = "1G",
         .group = kServe, .help = "capture bytes one query may read (above: 413, before reading)",
         .value = size_value<A>(field<&A::serve_max_bytes>, 1)},
        {.key = "serve_max_seconds", .flag = "--serve-max-seconds", .value_name = "SECONDS", .default_text = "300",
         .group = kServe, .help = "time one query may run (then stopped)",
         .value = number_value<A>(field<&A::serve_max_seconds>, 1, 86400)},
        {.key = "serve_max_queries", .flag = "--serve-max-queries", .value_name = "N", .default_text = "4",
         .group = kServe, .help = "queries at once (more: 429)",
         .value = number_value<A>(field<&A::serve_max_queries>, 1, 256)},
        {.key = "verify", .flag = "--verify", .switch_value = "true", .group = kVerify,
         .help = "check the window against the collectors' manifest chains instead of\nsearching: one --from, a "
                 "bucket's prefix or a copy of it (aws s3 sync);\nmissing, altered, extra and unchained files and "
                 "gaps, exit 1 on any",
         .value = bool_value<A>(field<&A::verify>)},
        {.key = "collector", .flag = "--collector", .value_name = "ID", .group = kVerify,
         .help = "only this collector's chains and captures (default all)",
         .value = text_value<A>(field<&A::collector>)},
        {.key = "json", .flag = "--json", .switch_value = "true", .group = kVerify,
         .help = "the JSON report for auditors on standard output instead of the summary",
         .value = bool_value<A>(field<&A::json>)},
        {.key = "report", .flag = "--report", .value_name = "FILE", .group = kVerify,
         .help = "also write the JSON report to FILE", .value = text_value<A>(field<&A::report>)},
        {.key = "lock_days", .flag = "--lock-days", .value_name = "DAYS", .group = kVerify,
         .help = "s3:// only: each file must be under S3 Object Lock (GOVERNANCE or\nCOMPLIANCE) or a legal "
                 "hold until DAYS days past its last record;\nunlocked or lock_too_short otherwise",
         .value = number_value<A>(field<&A::lock_days>, 1, 36500)},
    };
}

}  // namespace

const SettingsTable<FindArgs>& find_settings() {
    static const SettingsTable<FindArgs> table = make_table();
    return table;
}

const std::vector<std::string_view>& find_groups() {
    static const std::vector<std::string_view> groups = {kWhat, kOutput, kStore, kServe, kVerify, kOther};
    return groups;
}

std::vector<SettingDoc> find_docs() {
    std::vector<SettingDoc> docs = describe(find_settings());
    for (const SettingDoc& a : with_standard_actions({})) docs.push_back(a);
    return docs;
}

FindCommandLine parse_find_command_line(int argc, const char* const* argv) {
    FindCommandLine out;
    FlagTable<FindArgs> flags = flag_table(find_settings());
    for (const SettingDoc& a : with_standard_actions({})) flags.specs.push_back({std::string(a.flag), false});
    CommandLine cl = parse_command_line(argc, argv, flags.specs, {.words = true});
    out.help = cl.help;
    out.version = cl.version;
    out.errors = std::move(cl.errors);
    for (std::string& e : apply_flags(flags, cl.uses, out.args)) out.errors.push_back(std::move(e));
    for (const auto& w : cl.words) out.expression += (out.expression.empty() ? "" : " ") + w;
    return out;
}

}  // namespace mirrortap::find
