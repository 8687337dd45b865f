// The collector's YAML config loader and the value parsers it shares with the
// command line. Whatever the text, loading returns a Config or errors: it
// never throws, crashes or hangs, and every error says something.
#include <string>

#include "config/config.hpp"
#include "fuzz/fuzz_support.hpp"

using namespace mirrortap;

namespace {

void check_errors(const std::vector<ConfigError>& errors) {
    for (const ConfigError& e : errors) {
        FUZZ_CHECK(!e.message.empty());
        FUZZ_CHECK(e.line >= 0 && e.column >= 0);
        FUZZ_CHECK(!format_error("fuzz.yaml", e).empty());
    }
}

// A parser that refuses says why.
template <typename T>
void check_refusal(const std::optional<T>& v, const std::string& why) {
    if (!v) FUZZ_CHECK(!why.empty());
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    const std::string_view text(reinterpret_cast<const char*>(data), size);

    const ConfigLoad load = load_config_text(text);
    check_errors(load.errors);
    if (load.ok()) {
        // A loaded config is a valid one: nothing downstream checks again.
        FUZZ_CHECK(validate(load.config).empty());
        for (const NamedSession& s : load.config.sessions) {
            std::string why;
            FUZZ_CHECK(s.vni <= 0xFFFFFF);
            FUZZ_CHECK(valid_session_name(s.name, why));
            const std::string* name = load.config.name_for(s.vni);
            FUZZ_CHECK(name && *name == s.name);
        }
    }

    // The same bytes through each command-line value parser.
    std::string why;
    auto size_bytes = parse_size_bytes(text, why);
    check_refusal(size_bytes, why);
    why.clear();
    auto endpoint = parse_endpoint(text, why);
    check_refusal(endpoint, why);
    if (endpoint) FUZZ_CHECK(endpoint->family() == AF_INET || endpoint->family() == AF_INET6);
    why.clear();
    auto number = parse_uint(text, 65535, why);
    check_refusal(number, why);
    if (number) FUZZ_CHECK(*number <= 65535);
    why.clear();
    check_refusal(parse_session_key(text, why), why);
    why.clear();
    if (!valid_session_name(text, why)) FUZZ_CHECK(!why.empty());
    return 0;
}
