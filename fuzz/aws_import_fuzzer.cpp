// The importer of `aws ec2 describe-traffic-mirror-filters` JSON (read by
// support's YAML reader). Whatever the text, it returns filters or errors,
// never throws or crashes; an imported filter prints as YAML that loads back
// the same.
#include <string>

#include "fuzz/filter_roundtrip.hpp"
#include "fuzz/fuzz_support.hpp"
#include "sender/aws_import.hpp"
#include "support/text.hpp"

using namespace mirrortap;
using namespace mirrortap::sender;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    const std::string_view json(reinterpret_cast<const char*>(data), size);
    const AwsImport imported = import_aws_filters_text(json);
    // Whatever the JSON held, each message and note is one printable line.
    for (const ConfigError& e : imported.errors) FUZZ_CHECK(!e.message.empty() && !has_control_character(e.message));
    for (const std::string& note : imported.notes) FUZZ_CHECK(!note.empty() && !has_control_character(note));
    if (!imported.ok()) return 0;
    for (const auto& [id, filter] : imported.filters) {
        FUZZ_CHECK(!id.empty());
        for (Direction d : {Direction::ingress, Direction::egress}) {
            const auto& rules = filter.rules(d);
            for (size_t i = 1; i < rules.size(); ++i) FUZZ_CHECK(rules[i - 1].rule_number <= rules[i].rule_number);
        }
        fuzz::check_filter_roundtrip(filter);
    }
    return 0;
}
