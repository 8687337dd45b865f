// A filter printed with filter_to_yaml (what --import-aws-filter --check-config
// shows the user to paste into a config) loads back as the same filter.
#pragma once
#include <cstdio>
#include <string>
#include <string_view>

#include "fuzz/fuzz_support.hpp"
#include "sender/config.hpp"

namespace mirrortap::fuzz {

inline bool valid_utf8(std::string_view s) {
    size_t i = 0;
    while (i < s.size()) {
        const auto c = uint8_t(s[i]);
        const size_t n = c < 0x80 ? 1 : (c >> 5) == 0x6 ? 2 : (c >> 4) == 0xE ? 3 : (c >> 3) == 0x1E ? 4 : 0;
        if (n == 0 || i + n > s.size()) return false;
        for (size_t k = 1; k < n; ++k)
            if ((uint8_t(s[i + k]) >> 6) != 0x2) return false;
        i += n;
    }
    return true;
}

inline void check_filter_roundtrip(const sender::Filter& filter) {
    using namespace mirrortap::sender;
    const std::string yaml = "sessions:\n  - session_number: 1\n    virtual_network_id: 1\n    filter:\n" +
                             filter_to_yaml(filter, 6);
    const ConfigLoad back = load_config_text(yaml);
    if (!back.ok() || back.config.sessions.size() != 1) {
        std::fprintf(stderr, "filter_to_yaml printed:\n%s\n", yaml.c_str());
        for (const auto& e : back.errors) std::fprintf(stderr, "%s\n", format_error("reloaded", e).c_str());
    }
    FUZZ_CHECK(back.ok());
    FUZZ_CHECK(back.config.sessions.size() == 1);
    const Filter& again = back.config.sessions[0].session.filter;
    for (Direction d : {Direction::ingress, Direction::egress}) {
        FUZZ_CHECK(again.rules(d).size() == filter.rules(d).size());
        for (size_t i = 0; i < filter.rules(d).size(); ++i) {
            const FilterRule& a = filter.rules(d)[i];
            const FilterRule& b = again.rules(d)[i];
            FUZZ_CHECK(a.rule_number == b.rule_number);
            FUZZ_CHECK(a.action == b.action);
            FUZZ_CHECK(a.protocol == b.protocol);
            FUZZ_CHECK(a.source_cidr == b.source_cidr);
            FUZZ_CHECK(a.destination_cidr == b.destination_cidr);
            FUZZ_CHECK(a.source_ports == b.source_ports);
            FUZZ_CHECK(a.destination_ports == b.destination_ports);
            // yaml-cpp's emitter replaces bytes that are not UTF-8, so such a
            // description cannot survive; reported to the sender's owner.
            if (!valid_utf8(a.description)) continue;
            if (a.description != b.description)
                std::fprintf(stderr, "description '%s' came back as '%s'\n", a.description.c_str(),
                             b.description.c_str());
            FUZZ_CHECK(a.description == b.description);
        }
    }
}

}  // namespace mirrortap::fuzz
