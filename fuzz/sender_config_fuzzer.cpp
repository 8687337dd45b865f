// The sender's YAML config loader, its value parsers and its command line.
// Loading never throws or crashes; what loads is well formed (the checks
// below are the promises of sender/config.hpp and the bounds its settings
// table declares); a loaded filter survives filter_to_yaml; the same bytes,
// split into words, are a command line that parses or says why not.
#include <string>

#include "fuzz/filter_roundtrip.hpp"
#include "fuzz/fuzz_support.hpp"
#include "sender/cli.hpp"
#include "sender/config.hpp"
#include "support/text.hpp"

using namespace mirrortap;
using namespace mirrortap::sender;

namespace {

void check_errors(const std::vector<ConfigError>& errors) {
    for (const ConfigError& e : errors) {
        FUZZ_CHECK(!e.message.empty());
        FUZZ_CHECK(e.line >= 0 && e.column >= 0);
        // Whatever the input held, a message is one printable line.
        FUZZ_CHECK(!has_control_character(e.message));
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
        FUZZ_CHECK(c.resolve_interval_seconds >= 1 && c.resolve_interval_seconds <= 86400);
        FUZZ_CHECK(c.poll_interval_usec <= 100000);
        FUZZ_CHECK(c.capture_buffer_bytes >= (64u << 10) && c.capture_buffer_bytes <= (1u << 30));
        FUZZ_CHECK(c.interfaces_at.size() == c.interfaces.size());
        for (const std::string& i : c.interfaces) FUZZ_CHECK(!i.empty() && i.size() < 16);
        if (!c.target.host.empty()) FUZZ_CHECK(c.target.port >= 1);
        if (c.metrics_listen) FUZZ_CHECK(!c.metrics_listen->is_name() && c.metrics_listen->port >= 1);
        for (size_t i = 0; i < c.sessions.size(); ++i) {
            const Session& s = c.sessions[i].session;
            FUZZ_CHECK(s.session_number >= kMinSessionNumber && s.session_number <= kMaxSessionNumber);
            FUZZ_CHECK(s.vni <= 0xFFFFFF);
            if (s.packet_length) FUZZ_CHECK(*s.packet_length >= 14 && *s.packet_length <= 65535);
            for (size_t j = 0; j < i; ++j)
                FUZZ_CHECK(c.sessions[j].session.session_number != s.session_number);
            FUZZ_CHECK(!s.name().empty());
            FUZZ_CHECK(!has_control_character(s.name()));
            check_rules(s.filter);
            fuzz::check_filter_roundtrip(s.filter);
        }
        std::vector<ConfigError> errors;
        const std::vector<Session> sessions = resolve_sessions(c, FilterLibrary{}, errors);
        validate_for_run(c, errors);
        check_errors(errors);
        FUZZ_CHECK(sessions.size() <= c.sessions.size());
    }

    // The same bytes through each value parser.
    if (const auto rate = parse_rate(text); !rate) FUZZ_CHECK(!rate.error().empty());
    if (const auto target = parse_endpoint(text, kTargetRules); !target) FUZZ_CHECK(!target.error().empty());
    if (const auto protocol = parse_protocol(text); !protocol) FUZZ_CHECK(!protocol.error().empty());
    if (const auto mac = parse_mac(text); !mac) FUZZ_CHECK(!mac.error().empty());
    if (const auto name = parse_interface_name(text)) FUZZ_CHECK(name->size() < 16);
    else FUZZ_CHECK(!name.error().empty());
    if (const auto cidr = parse_filter_cidr(text); !cidr) FUZZ_CHECK(!cidr.error().empty());

    // And as a command line: words split at spaces and newlines, at most 64.
    std::vector<std::string> words = {"mirrortap-sender"};
    for (size_t at = 0; at < text.size() && words.size() < 64;) {
        const size_t end = std::min(text.find_first_of(" \n", at), text.size());
        if (end > at) words.emplace_back(text.substr(at, end - at));
        at = end + 1;
    }
    std::vector<const char*> argv;
    for (const std::string& w : words) argv.push_back(w.c_str());
    const SenderCommandLine cl = parse_sender_command_line(int(argv.size()), argv.data());
    for (const std::string& e : cl.errors) FUZZ_CHECK(!e.empty() && !has_control_character(e));
    if (cl.errors.empty()) {
        SenderConfig c;
        FUZZ_CHECK(apply_setting_flags(cl, c).empty());  // accepted flags apply without an error
        FUZZ_CHECK(c.mtu >= 576 && c.mtu <= 9216);
        if (cl.vni) FUZZ_CHECK(*cl.vni <= 0xFFFFFF);
        FUZZ_CHECK(cl.session_number >= kMinSessionNumber && cl.session_number <= kMaxSessionNumber);
    }
    return 0;
}
