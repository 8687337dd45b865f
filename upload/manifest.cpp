#include "upload/manifest.hpp"

#include <cstdio>
#include <ctime>

#include "cloud/digest.hpp"
#include "support/json.hpp"
#include "support/manifest_format.hpp"
#include "support/parse.hpp"

namespace mirrortap {

namespace {

using json::Value;
namespace mk = manifest_format::key;
namespace fk = manifest_format::file_key;

// A name that is not UTF-8 (a session directory someone made) becomes U+FFFD
// rather than an exception that would stop the chain; keys are checked apart.
constexpr auto kReplaceBadUtf8 = nlohmann::json::error_handler_t::replace;

std::string utc_with(uint64_t ns, const char* day_format, const char* joined) {
    const time_t secs = time_t(ns / 1'000'000'000ull);
    tm t{};
    gmtime_r(&secs, &t);
    char day[32], out[48];
    strftime(day, sizeof day, day_format, &t);
    snprintf(out, sizeof out, joined, day, static_cast<unsigned long long>(ns % 1'000'000'000ull));
    return out;
}

using manifest_format::file_from;
using manifest_format::file_value;

}  // namespace

std::string utc_ns(uint64_t ns) { return rfc3339_ns(ns); }

ChainState new_chain(std::string collector, uint64_t start_ns) {
    ChainState s;
    s.collector = std::move(collector);
    // Sortable, and free of ':' so that it sits in a key as it is.
    s.chain = utc_with(start_ns, "%Y%m%dT%H%M%S", "%s.%09lluZ");
    s.interval_start_ns = start_ns;
    return s;
}

std::string chain_state_text(const ChainState& state) {
    Value files = Value::array(), unsent = Value::array();
    for (const auto& f : state.files) files.push_back(file_value(f));
    for (const auto& u : state.unsent) unsent.push_back({{"key", u.key}, {"body", u.body}});
    const Value v = {{"version", kManifestVersion},
                     {"collector", state.collector},
                     {"chain", state.chain},
                     {"sequence", state.sequence},
                     {"previous_key", state.previous_key},
                     {"previous_sha256", state.previous_sha256},
                     {"interval_start_ns", state.interval_start_ns},
                     {"files", files},
                     {"unsent", unsent}};
    return v.dump(-1, ' ', false, kReplaceBadUtf8) + "\n";
}

Result<ChainState> parse_chain_state(std::string_view text) {
    auto parsed = json::parse(text);
    if (!parsed) return fail("not JSON: " + json::describe(parsed.error()));
    const Value& v = *parsed;
    try {
        if (v.at("version").get<int>() != kManifestVersion)
            return fail("version " + v.at("version").dump() + ", not " + std::to_string(kManifestVersion));
        ChainState s;
        s.collector = v.at("collector").get<std::string>();
        s.chain = v.at("chain").get<std::string>();
        s.sequence = v.at("sequence").get<uint64_t>();
        s.previous_key = v.at("previous_key").get<std::string>();
        s.previous_sha256 = v.at("previous_sha256").get<std::string>();
        s.interval_start_ns = v.at("interval_start_ns").get<uint64_t>();
        for (const auto& f : v.at("files")) {
            auto file = file_from(f);
            if (!file) return fail(std::move(file).error());
            s.files.push_back(std::move(*file));
        }
        for (const auto& u : v.at("unsent"))
            s.unsent.push_back({u.at("key").get<std::string>(), u.at("body").get<std::string>()});
        // A chain past its first manifest names that manifest; one that does not is not ours to continue.
        if (s.chain.empty() || s.collector.empty() || (s.sequence > 0) == s.previous_sha256.empty())
            return fail("sequence " + std::to_string(s.sequence) + " does not match what it names");
        return s;
    } catch (const nlohmann::json::exception& e) {
        return fail(std::string("not a chain state: ") + e.what());
    }
}

std::string manifest_key(std::string_view prefix, std::string_view collector, std::string_view chain,
                         uint64_t sequence) {
    char seq[24];
    snprintf(seq, sizeof seq, "%0*llu", manifest_format::kSequenceDigits, static_cast<unsigned long long>(sequence));
    std::string key(prefix);
    while (!key.empty() && key.back() == '/') key.pop_back();
    while (!key.empty() && key.front() == '/') key.erase(0, 1);
    if (!key.empty()) key += '/';
    namespace mf = manifest_format;
    return key + std::string(mf::kTree) + "/" + std::string(mf::kCollectorPart) + std::string(collector) + "/" +
           std::string(mf::kChainPart) + std::string(chain) + "/" + seq + std::string(mf::kSuffix);
}

void cut_manifest(ChainState& state, std::string_view prefix, const ManifestCut& cut) {
    const uint64_t sequence = state.sequence + 1;
    Value files = Value::array();
    for (const auto& f : state.files) {
        Value e = file_value(f);
        // For a reader: the timestamps as text beside the exact nanoseconds.
        e[fk::first_timestamp] = utc_ns(f.first_ns);
        e[fk::last_timestamp] = utc_ns(f.last_ns);
        files.push_back(std::move(e));
    }
    Value waiting = Value::array();
    for (const auto& w : cut.waiting)
        waiting.push_back({{fk::session, w.session}, {fk::file, w.file}, {fk::size, w.size}, {fk::packets, w.packets},
                           {fk::first_timestamp, utc_ns(w.first_ns)}, {fk::last_timestamp, utc_ns(w.last_ns)}});
    Value dropped = Value::object();
    for (const auto& [reason, packets] : cut.dropped) dropped[reason] = packets;
    const Value previous = state.sequence == 0
                               ? Value(nullptr)
                               : Value{{fk::key, state.previous_key}, {fk::sha256, state.previous_sha256}};
    const Value v = {{mk::format, manifest_format::kFormat},
                     {mk::version, kManifestVersion},
                     {mk::collector, state.collector},
                     {mk::chain, state.chain},
                     {mk::sequence, sequence},
                     {mk::previous, previous},
                     {mk::cause, cut.cause},
                     {mk::interval, {{mk::start, utc_ns(state.interval_start_ns)}, {mk::end, utc_ns(cut.end_ns)}}},
                     {mk::process_start, utc_ns(cut.process_start_ns)},
                     {mk::dropped_since, utc_ns(cut.dropped_since_ns)},
                     {mk::dropped, dropped},
                     {mk::files, files},
                     {mk::waiting, {{mk::count, cut.waiting_count}, {mk::files, waiting}}}};
    UnsentManifest m{manifest_key(prefix, state.collector, state.chain, sequence),
                     v.dump(2, ' ', false, kReplaceBadUtf8) + "\n"};
    state.sequence = sequence;
    state.previous_key = m.key;
    state.previous_sha256 = cloud::sha256_hex(m.body);
    state.interval_start_ns = cut.end_ns;
    state.files.clear();
    state.unsent.push_back(std::move(m));
}

}  // namespace mirrortap
