#include "support/command_line.hpp"

#include <CLI/CLI.hpp>

#include <map>

#include "support/text.hpp"

namespace mirrortap {

CommandLine parse_command_line(int argc, const char* const* argv, const std::vector<FlagSpec>& specs) {
    CommandLine out;
    CLI::App app;
    app.set_help_flag();     // --help is the caller's, like every other flag
    app.allow_extras(true);  // unknown arguments come back in remaining(), reported below
    std::map<const CLI::Option*, size_t> spec_of;
    for (size_t i = 0; i < specs.size(); ++i) {
        CLI::Option* o = specs[i].takes_value
                             ? app.add_option(specs[i].names)->expected(1)->multi_option_policy(
                                   CLI::MultiOptionPolicy::TakeAll)
                             : app.add_flag(specs[i].names)->disable_flag_override();
        spec_of[o] = i;
    }
    try {
        app.parse(argc, argv);
    } catch (const CLI::ArgumentMismatch& e) {
        const std::string what = e.what();
        if (const size_t given = what.find(" was given a disallowed flag override"); given != std::string::npos) {
            // "loud was given a disallowed flag override": --loud=false.
            out.errors.push_back("option " + quote("--" + what.substr(0, given)) + " takes no value");
        } else {
            // "--listen: 1 required TEXT missing": the flag is the text before the colon.
            out.errors.push_back("option " + quote(what.substr(0, what.find(':'))) + " needs a value");
        }
        return out;
    } catch (const CLI::ParseError& e) {
        out.errors.push_back(printable(e.what()));
        return out;
    }
    std::map<const CLI::Option*, size_t> seen;
    for (const CLI::Option* o : app.parse_order()) {
        const size_t n = seen[o]++;
        const auto& results = o->results();
        const size_t spec = spec_of.at(o);
        out.uses.push_back({spec, specs[spec].takes_value && n < results.size() ? results[n] : std::string()});
    }
    for (const std::string& extra : app.remaining()) {
        if (extra.size() > 1 && extra.front() == '-')
            out.errors.push_back("unknown option " + quote(extra.substr(0, extra.find('='))) + " (see --help)");
        else
            out.errors.push_back("unexpected argument " + quote(extra) + " (see --help)");
    }
    return out;
}

}  // namespace mirrortap
