// The collector's table of settings against everything that must agree with
// it: docs/interfaces.md, the defaults a Config holds, and every flag and key
// that scripts and configs already use.
#include <doctest/doctest.h>

#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include "config/settings.hpp"

using namespace mirrortap;

#ifndef MIRRORTAP_SOURCE_DIR
#error "MIRRORTAP_SOURCE_DIR must point at the source tree"
#endif

namespace {

using Row = std::vector<std::string>;  // the cells of one Markdown table row, `\|` unescaped

Row split_row(const std::string& line) {
    Row cells;
    std::string cell;
    for (size_t i = 1; i < line.size(); ++i) {  // past the leading '|'
        if (line[i] == '\\' && i + 1 < line.size() && line[i + 1] == '|') {
            cell += '|';
            ++i;
        } else if (line[i] == '|') {
            const size_t b = cell.find_first_not_of(' '), e = cell.find_last_not_of(' ');
            cells.push_back(b == std::string::npos ? "" : cell.substr(b, e - b + 1));
            cell.clear();
        } else {
            cell += line[i];
        }
    }
    return cells;
}

// The table rows (header and rule left out) between the markers of `text`.
std::vector<std::string> table_lines(const std::string& text) {
    const std::string begin = "<!-- settings table: begin -->", end = "<!-- settings table: end -->";
    const size_t from = text.find(begin), to = text.find(end);
    REQUIRE_MESSAGE(from != std::string::npos, "no '" << begin << "' in docs/interfaces.md");
    REQUIRE_MESSAGE(to != std::string::npos, "no '" << end << "' in docs/interfaces.md");
    std::vector<std::string> lines;
    std::istringstream in(text.substr(from + begin.size(), to - from - begin.size()));
    for (std::string line; std::getline(in, line);)
        if (line.starts_with("| ") && !line.starts_with("| flag ") && !line.starts_with("| ---")) lines.push_back(line);
    return lines;
}

// A row's identity: its config key, or its flag for an action.
std::string identity(const Row& r) { return r.size() > 1 && !r[1].empty() ? r[1] : r.empty() ? "" : r[0]; }

std::string read_file(const std::string& path) {
    std::ifstream in(path);
    std::stringstream s;
    s << in.rdbuf();
    return s.str();
}

}  // namespace

TEST_CASE("settings: docs/interfaces.md's table says what the declarations say") {
    const std::vector<std::string> want = table_lines("<!-- settings table: begin -->\n" +
                                                      markdown_table(collector_docs()) +
                                                      "<!-- settings table: end -->");
    const std::vector<std::string> have = table_lines(read_file(MIRRORTAP_SOURCE_DIR "/docs/interfaces.md"));
    std::map<std::string, std::string> have_by_id;
    for (const auto& line : have) {
        const Row r = split_row(line);
        CHECK_MESSAGE(r.size() == 5, "docs row has " << r.size() << " cells, not 5: " << line);
        CHECK_MESSAGE(have_by_id.emplace(identity(r), line).second, "docs list " << identity(r) << " twice");
    }
    std::set<std::string> declared;
    for (const auto& line : want) {
        const Row w = split_row(line);
        declared.insert(identity(w));
        auto it = have_by_id.find(identity(w));
        if (it == have_by_id.end()) {
            FAIL_CHECK("docs/interfaces.md lacks " << identity(w) << "; add:\n" << line);
            continue;
        }
        const Row h = split_row(it->second);
        static const char* const kColumn[] = {"flag", "config key", "default", "on reload", "meaning"};
        for (size_t i = 0; i < w.size() && i < h.size(); ++i)
            CHECK_MESSAGE(h[i] == w[i], "docs/interfaces.md: " << identity(w) << ": " << std::string(kColumn[i]) << " is '" << h[i]
                                                                 << "', declared '" << w[i] << "'; the row should read:\n"
                                                                 << line);
    }
    for (const auto& row : have_by_id)  // not a structured binding: clang 14 cannot capture one in CHECK's lambda
        CHECK_MESSAGE(declared.count(row.first),
                      "docs/interfaces.md lists " << row.first << ", which is not declared: " << row.second);
    // The rows follow the declarations' order, so that the table reads like --help.
    if (have.size() == want.size()) {
        std::vector<std::string> have_ids, want_ids;
        for (const auto& l : have) have_ids.push_back(identity(split_row(l)));
        for (const auto& l : want) want_ids.push_back(identity(split_row(l)));
        CHECK(have_ids == want_ids);
    }
}

TEST_CASE("settings: every default shown is the default a Config holds") {
    for (const auto& s : collector_settings()) {
        if (s.default_text.empty()) continue;
        CAPTURE(s.key);
        Config parsed;
        const Config defaults;
        CHECK(s.value.set(s.default_text, parsed).ok());
        CHECK(s.value.same(parsed, defaults));
    }
}

TEST_CASE("settings: keys and flags are unique, every flagged setting is in a --help group") {
    const auto problems = table_problems(collector_settings(), collector_action_docs(), collector_setting_groups());
    CHECK_MESSAGE(problems.empty(), (problems.empty() ? std::string() : problems.front()));
}

TEST_CASE("settings: every flag and key in use before the table still exists") {
    const std::vector<std::string_view> old_flags = {
        "--config", "--listen", "--workers", "--rcvbuf", "--snaplen", "--pcap-dir", "--no-pcap", "--rotate-size",
        "--rotate-seconds", "--retain-files", "--retain-bytes", "--session-key", "--max-sessions",
        "--metrics-listen", "--allow-source", "--allow-vni", "--user", "--allow-root", "--min-free", "--tap",
        "--tap-session-vlan", "--stream", "--stream-required", "--forward", "--check-config", "--version", "--help"};
    const std::vector<std::string_view> old_keys = {
        "listen", "workers", "rcvbuf", "snaplen", "session_key", "max_sessions", "sessions", "pcap.enabled",
        "pcap.dir", "pcap.rotate_size", "pcap.rotate_seconds", "pcap.retain_files", "pcap.retain_bytes",
        "pcap.flush_interval_ms", "pcap.buffer_size", "pcap.min_free_bytes", "pcap.file_mode", "pcap.group",
        "metrics_listen", "metrics_auth.username", "metrics_auth.password_file", "metrics_auth.bearer_token_file",
        "allowed_sources", "allowed_vnis", "user", "allow_root", "tap", "tap_session_vlan", "stream",
        "stream_required", "forward"};
    std::set<std::string_view> flags, keys;
    for (const auto& d : collector_docs()) {
        flags.insert(long_flag_name(d.flag));  // "-c,--config" still answers to --config
        keys.insert(d.key);
    }
    for (auto f : old_flags) CHECK_MESSAGE(flags.count(f), f);
    for (auto k : old_keys) CHECK_MESSAGE(keys.count(k), k);
}

TEST_CASE("settings: a reload keeps what is bound at start and applies the rest") {
    Config running;
    Config next;
    next.listen = *parse_endpoint("127.0.0.1:9999");
    next.max_sessions = 7;
    next.metrics_auth.bearer_token = "new";
    next.allow.vnis = {{5, 5}};
    next.snaplen = 100;
    const auto notes = keep_restart_only_settings(next, running);
    CHECK(notes == std::vector<std::string>{
                       "listen changes only with a restart; keeping the running value",
                       "max_sessions changes only with a restart; keeping the running value",
                       "metrics_auth.bearer_token_file changes only with a restart; keeping the running value"});
    CHECK(next.listen == running.listen);
    CHECK(next.max_sessions == running.max_sessions);
    CHECK(next.metrics_auth.bearer_token.empty());
    CHECK(next.allow.vnis.size() == 1);
    CHECK(next.snaplen == 100);
}
