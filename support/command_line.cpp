#include "support/command_line.hpp"

#include <CLI/CLI.hpp>

#include <cstdio>
#include <map>
#include <optional>

#include "support/text.hpp"
#include "support/version.hpp"

namespace mirrortap {

namespace {

// "--write" of "-w,--write"; the name itself when it has no comma.
std::string_view long_name(std::string_view names) { return names.substr(names.rfind(',') + 1); }

bool names_flag(std::string_view names, std::string_view arg) {
    for (;;) {
        const size_t comma = names.find(',');
        if (names.substr(0, comma) == arg) return true;
        if (comma == std::string_view::npos) return false;
        names.remove_prefix(comma + 1);
    }
}

// The long name of the flag `arg` names when that flag takes a value.
std::optional<std::string_view> value_flag(const std::vector<FlagSpec>& specs, std::string_view arg) {
    for (const auto& spec : specs)
        if (spec.takes_value && names_flag(spec.names, arg)) return long_name(spec.names);
    return std::nullopt;
}

}  // namespace

CommandLine parse_command_line(int argc, const char* const* argv, const std::vector<FlagSpec>& specs,
                               CommandLineRules rules) {
    CommandLine out;
    // Flags go to CLI11 as --name=value, so that a value starting with '-'
    // is never taken for a flag; the words that are not flags are kept apart.
    std::vector<std::string> flags{argc > 0 ? argv[0] : "program"};
    std::vector<std::string> words;
    for (int i = 1; i < argc; ++i) {
        const std::string_view arg = argv[i];
        if (arg == "--") {
            words.insert(words.end(), argv + i + 1, argv + argc);
            break;
        }
        if (arg.size() < 2 || arg[0] != '-') {
            words.emplace_back(arg);
            continue;
        }
        const auto name = value_flag(specs, arg);
        if (name && i + 1 < argc) flags.push_back(std::string(*name) + "=" + argv[++i]);
        else flags.emplace_back(arg);
    }
    if (rules.words) {
        out.words = std::move(words);
    } else {
        for (const auto& w : words) out.errors.push_back("unexpected argument " + quote(w) + " (see --help)");
    }

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
    std::vector<const char*> cargv;
    for (const auto& f : flags) cargv.push_back(f.c_str());
    try {
        app.parse(int(cargv.size()), cargv.data());
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
        const std::string_view name = long_name(specs[spec].names);
        if (name == "--help") out.help = true;
        if (name == "--version") out.version = true;
    }
    for (const std::string& extra : app.remaining()) {
        if (extra.size() > 1 && extra.front() == '-')
            out.errors.push_back("unknown option " + quote(extra.substr(0, extra.find('='))) + " (see --help)");
        else
            out.errors.push_back("unexpected argument " + quote(extra) + " (see --help)");
    }
    return out;
}

int report_usage_errors(std::string_view program, const std::vector<std::string>& errors) {
    const std::string name(program);
    for (const auto& e : errors) std::fprintf(stderr, "%s: %s\n", name.c_str(), e.c_str());
    return 2;
}

std::string version_line(std::string_view program) {
    return std::string(program) + " " + MIRRORTAP_VERSION + "\n";
}

}  // namespace mirrortap
