// The sender's YAML config loader and its command-line value parsers. Loading
// never throws or crashes; what loads is well formed (the checks below are the
// promises of sender/config.hpp); a loaded filter survives filter_to_yaml.
#include <string>

#include "fuzz/filter_roundtrip.hpp"
#include "fuzz/fuzz_support.hpp"
#include "sender/config.hpp"

using namespace mirrortap;
using namespace mirrortap::sender;

namespace {

void check_errors(const std::vector<ConfigError>& errors) {
    for (const ConfigError& e : errors) {
        FUZZ_CHECK(!e.message.empty());
        FUZZ_CHECK(e.at.line >= 0 && e.at.column >= 0);
        FUZZ_CHECK(!format_error("fuzz.yaml", e).empty());
    }
}

void check_rules(const Filter& f) {
    for (Direction d : {Direction::ingress, Direction::egress}) {
        const auto& rules = f.rules(d);
        for (size_t i = 0; i < rules.size(); ++i) {
            const FilterRule& r = rules[i];
            FUZZ_CHECK(r.rule_number >= 1 && r.rule_number <= 32766);
            // Rule numbers are unique per direction and the list is in their order.
            if (i > 0) FUZZ_CHECK(rules[i - 1].rule_number < r.rule_number);
            // AWS refuses port ranges except on TCP and UDP, and so does the loader.
            if (r.has_port_range()) FUZZ_CHECK(r.protocol && (*r.protocol == kProtoTcp || *r.protocol == kProtoUdp));
            for (const auto* p : {&r.source_ports, &r.destination_ports})
                if (*p) FUZZ_CHECK((*p)->from_port <= (*p)->to_port);
        }
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    const std::string_view text(reinterpret_cast<const char*>(data), size);

    const ConfigLoad load = load_config_text(text);
    check_errors(load.errors);
    if (load.ok()) {
        const SenderConfig& c = load.config;
        FUZZ_CHECK(c.mtu >= 576 && c.mtu <= 9216);
        FUZZ_CHECK(c.batch_size >= 1 && c.batch_size <= 1024);
        for (size_t i = 0; i < c.sessions.size(); ++i) {
            const Session& s = c.sessions[i].session;
            FUZZ_CHECK(s.session_number >= kMinSessionNumber && s.session_number <= kMaxSessionNumber);
            FUZZ_CHECK(s.vni <= 0xFFFFFF);
            if (s.packet_length) FUZZ_CHECK(*s.packet_length >= 14 && *s.packet_length <= 65535);
            for (size_t j = 0; j < i; ++j)
                FUZZ_CHECK(c.sessions[j].session.session_number != s.session_number);
            FUZZ_CHECK(!s.name().empty());
            check_rules(s.filter);
            fuzz::check_filter_roundtrip(s.filter);
        }
        std::vector<ConfigError> errors;
        const std::vector<Session> sessions = resolve_sessions(c, FilterLibrary{}, errors);
        validate_for_run(c, errors);
        check_errors(errors);
        FUZZ_CHECK(sessions.size() <= c.sessions.size());
    }

    // The same bytes through each command-line value parser.
    std::string why;
    if (!parse_size_bytes(text, why)) FUZZ_CHECK(!why.empty());
    why.clear();
    if (!parse_rate(text, why)) FUZZ_CHECK(!why.empty());
    why.clear();
    std::string host;
    uint16_t port = 0;
    if (!parse_target(text, host, port, why)) FUZZ_CHECK(!why.empty());
    else FUZZ_CHECK(!host.empty());
    why.clear();
    std::optional<uint8_t> protocol;
    if (!parse_protocol(text, protocol, why)) FUZZ_CHECK(!why.empty());
    return 0;
}
