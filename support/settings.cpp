#include "support/settings.hpp"

#include <cctype>

#include <algorithm>

namespace mirrortap {

namespace {

// Edits (insert, delete, replace) between two short words.
size_t edit_distance(std::string_view a, std::string_view b) {
    std::vector<size_t> row(b.size() + 1);
    for (size_t j = 0; j <= b.size(); ++j) row[j] = j;
    for (size_t i = 1; i <= a.size(); ++i) {
        size_t diagonal = row[0];
        row[0] = i;
        for (size_t j = 1; j <= b.size(); ++j) {
            const size_t up = row[j];
            row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] == b[j - 1] ? 0 : 1)});
            diagonal = up;
        }
    }
    return row[b.size()];
}

// The known key closest to a misspelt one, if close enough to be a typo.
std::string_view closest(std::string_view word, const std::vector<std::string_view>& known) {
    std::string_view best;
    size_t best_distance = std::max<size_t>(2, word.size() / 3) + 1;
    for (std::string_view k : known) {
        const size_t d = edit_distance(word, k);
        if (d < best_distance) best = k, best_distance = d;
    }
    return best;
}

class SettingsWalker {
public:
    SettingsWalker(const std::vector<std::string_view>& keys,
                   const std::function<void(size_t, const YAML::Node&)>& found, ErrorList& errors)
        : keys_(keys), found_(found), errors_(errors) {}

    // A mapping whose keys are `prefix` + key; `where` names it in messages.
    void section(const YAML::Node& map, const std::string& prefix, const std::string& where) {
        if (!map.IsMap()) {
            errors_.add(error_at(map, where + ": expected a mapping of keys to values"));
            return;
        }
        for (const auto& kv : map) {
            if (errors_.stopped()) return;
            const YAML::Node key = kv.first;  // a copy: the pair is a temporary
            if (!key.IsScalar()) {
                errors_.add(error_at(key, "keys in " + where + " must be plain names"));
                continue;
            }
            const std::string path = prefix + key.Scalar();
            // Nesting is by mappings: "pcap.dir" as one key is not pcap's dir.
            const bool plain = key.Scalar().find('.') == std::string::npos;
            if (auto i = index_of(path); i && plain) {
                found_(*i, kv.second);
            } else if (plain && is_section(path)) {
                section(kv.second, path + ".", path);
            } else {
                unknown(key, prefix, where);
            }
        }
    }

private:
    std::optional<size_t> index_of(std::string_view path) const {
        for (size_t i = 0; i < keys_.size(); ++i)
            if (keys_[i] == path) return i;
        return std::nullopt;
    }

    bool is_section(std::string_view path) const {
        return std::any_of(keys_.begin(), keys_.end(), [&](std::string_view k) {
            return k.size() > path.size() && k.starts_with(path) && k[path.size()] == '.';
        });
    }

    void unknown(const YAML::Node& key, const std::string& prefix, const std::string& where) {
        // The names this section knows, for a "did you mean".
        std::vector<std::string_view> here;
        for (std::string_view k : keys_) {
            if (!k.starts_with(prefix)) continue;
            k.remove_prefix(prefix.size());
            here.push_back(k.substr(0, k.find('.')));
        }
        std::string message = "unknown key " + quote(key.Scalar()) + " in " + where;
        if (std::string_view guess = closest(key.Scalar(), here); !guess.empty())
            message += " (did you mean " + std::string(guess) + "?)";
        errors_.add(error_at(key, message));
    }

    const std::vector<std::string_view>& keys_;
    const std::function<void(size_t, const YAML::Node&)>& found_;
    ErrorList& errors_;
};

// Each --help line of a setting is a clause of its own; in one cell they are joined with "; ".
std::string markdown_cell(std::string_view text) {
    std::string out;
    for (char c : text) {
        if (c == '|') out += "\\|";
        else if (c == '\n') out += "; ";
        else out += c;
    }
    return out;
}

std::string code_cell(std::string_view text) { return text.empty() ? "" : "`" + markdown_cell(text) + "`"; }

}  // namespace

void walk_settings(const YAML::Node& root, const std::vector<std::string_view>& keys,
                   const std::function<void(size_t, const YAML::Node&)>& found, ErrorList& errors,
                   std::string_view where) {
    SettingsWalker(keys, found, errors).section(root, "", std::string(where));
}

void read_keys(const YAML::Node& map, const std::vector<KeyReader>& rows, ErrorList& errors, std::string_view where) {
    std::vector<std::string_view> keys;
    for (const KeyReader& r : rows) keys.push_back(r.key);
    walk_settings(map, keys, [&rows](size_t i, const YAML::Node& value) { rows[i].read(value, rows[i].key); }, errors,
                  where);
}

std::string_view long_flag_name(std::string_view flag) {
    const size_t comma = flag.rfind(',');
    return comma == std::string_view::npos ? flag : flag.substr(comma + 1);
}

std::vector<SettingDoc> with_standard_actions(std::vector<SettingDoc> actions) {
    actions.push_back({.flag = "-V,--version", .group = "Other", .help = "print the version and exit"});
    actions.push_back({.flag = "-h,--help", .group = "Other", .help = "print this help and exit"});
    return actions;
}

std::string flag_synopsis(const SettingDoc& d) {
    std::string out;
    for (char c : d.flag) out += c == ',' ? std::string(", ") : std::string(1, c);
    if (!d.value_name.empty()) out += " " + std::string(d.value_name);
    return out;
}

std::string render_help(const std::vector<SettingDoc>& docs, const std::vector<std::string_view>& group_order) {
    constexpr size_t kHelpColumn = 27;     // where the help text starts
    constexpr size_t kDefaultColumn = 62;  // where "[default]" goes when the line leaves room
    std::string out;
    for (std::string_view group : group_order) {
        std::string lines;
        for (const SettingDoc& d : docs) {
            if (d.group != group || d.flag.empty()) continue;
            std::string line = "  " + flag_synopsis(d);
            line += line.size() + 2 <= kHelpColumn ? std::string(kHelpColumn - line.size(), ' ') : "  ";
            std::string_view help = d.help;
            const size_t newline = help.find('\n');
            line += help.substr(0, newline);
            // A switch flips its setting away from the default: showing that would mislead.
            if (!d.default_text.empty() && !d.value_name.empty()) {
                line += line.size() + 1 <= kDefaultColumn ? std::string(kDefaultColumn - line.size(), ' ') : " ";
                line += "[" + std::string(d.default_text) + "]";
            }
            lines += line + "\n";
            // Further help lines, under the first.
            for (size_t at = newline; at != std::string_view::npos;) {
                const size_t next = help.find('\n', at + 1);
                lines += std::string(kHelpColumn, ' ') + std::string(help.substr(at + 1, next - at - 1)) + "\n";
                at = next;
            }
        }
        if (!lines.empty()) out += (out.empty() ? "" : "\n") + std::string(group) + ":\n" + lines;
    }
    return out;
}

std::string markdown_table(const std::vector<SettingDoc>& docs) {
    std::string out = "| flag | config key | default | on reload | meaning |\n| --- | --- | --- | --- | --- |\n";
    for (const SettingDoc& d : docs) {
        const std::string reload = d.key.empty() ? "" : d.on_reload == OnReload::restart ? "restart" : "applies";
        out += "| " + code_cell(d.flag.empty() ? "" : flag_synopsis(d)) + " | " + code_cell(d.key) + " | " +
               code_cell(d.default_text) + " | " + reload + " | " + markdown_cell(d.help) + " |\n";
    }
    return out;
}

namespace {

// Prose for roff: backslashes escaped, and no line that roff would read as a
// request (a leading '.' or '\'').
std::string roff_text(std::string_view text) {
    std::string out;
    bool line_start = true;
    for (char c : text) {
        if (line_start && (c == '.' || c == '\'')) out += "\\&";
        if (c == '\\') out += "\\e";
        else out += c;
        line_start = c == '\n';
    }
    return out;
}

// A flag or key in bold, its dashes as minus signs: "-i,--interface" is
// "\fB\-i\fR, \fB\-\-interface\fR".
std::string roff_flag(std::string_view flag) {
    std::string out = "\\fB";
    for (char c : flag) {
        if (c == '-') out += "\\-";
        else if (c == ',') out += "\\fR, \\fB";
        else if (c == '\\') out += "\\e";
        else out += c;
    }
    return out + "\\fR";
}

std::string roff_value(std::string_view value_name) {
    return value_name.empty() ? "" : " \\fI" + roff_text(value_name) + "\\fR";
}

// Help lines are clauses: each on a line of its own in the page.
std::string roff_help(std::string_view help) {
    std::string out;
    for (size_t at = 0; at <= help.size();) {
        const size_t end = std::min(help.find('\n', at), help.size());
        out += (out.empty() ? "" : ".br\n") + roff_text(help.substr(at, end - at)) + "\n";
        at = end + 1;
    }
    return out;
}

// After a setting's help: its default, its key, and when a change applies.
std::string roff_setting_notes(const SettingDoc& d, bool with_key) {
    std::vector<std::string> notes;
    if (!d.default_text.empty() && !(d.value_name.empty() && !d.flag.empty()))
        notes.push_back("Default: " + roff_text(d.default_text) + ".");
    if (with_key && !d.key.empty()) notes.push_back("Config file key: \\fB" + roff_text(d.key) + "\\fR.");
    if (!d.key.empty() && d.on_reload == OnReload::restart) notes.push_back("A reload keeps the running value until a restart.");
    if (notes.empty()) return "";
    std::string out = ".br\n";
    for (size_t i = 0; i < notes.size(); ++i) out += (i ? " " : "") + notes[i];
    return out + "\n";
}

std::string roff_paragraphs(std::string_view text) {
    std::string out;
    for (size_t at = 0; at < text.size();) {
        size_t end = text.find("\n\n", at);
        if (end == std::string_view::npos) end = text.size();
        std::string_view paragraph = text.substr(at, end - at);
        while (!paragraph.empty() && paragraph.back() == '\n') paragraph.remove_suffix(1);
        if (!paragraph.empty()) out += ".PP\n" + roff_text(paragraph) + "\n";
        at = end + 2;
    }
    return out;
}

std::string upper(std::string_view text) {
    std::string out(text);
    for (char& c : out) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    return out;
}

}  // namespace

std::string render_man(const ManPage& page) {
    std::string out = ".\\\" Generated from the settings table by render_man (support/settings.cpp): edit the table.\n";
    out += ".TH \"" + upper(page.name) + "\" \"" + std::to_string(page.section) + "\" \"" + roff_text(page.date) +
           "\" \"mirrortap " + roff_text(page.version) + "\" \"" +
           (page.section == 8 ? "System Administration" : "User Commands") + "\"\n";
    out += ".SH NAME\n" + roff_text(page.name) + " \\- " + roff_text(page.summary) + "\n";
    out += ".SH SYNOPSIS\n.B " + roff_text(page.name) + "\n";
    // Flags and their values as written; every dash a minus sign.
    std::string synopsis = roff_text(page.synopsis);
    for (size_t at = 0; (at = synopsis.find('-', at)) != std::string::npos; at += 2) synopsis.insert(at, "\\");
    out += synopsis + "\n";
    out += ".SH DESCRIPTION\n" + roff_paragraphs(page.description);

    out += ".SH OPTIONS\n";
    for (std::string_view group : page.groups) {
        std::string entries;
        for (const SettingDoc& d : page.docs) {
            if (d.group != group || d.flag.empty()) continue;
            entries += ".TP\n" + roff_flag(d.flag) + roff_value(d.value_name) + "\n" + roff_help(d.help) +
                       roff_setting_notes(d, true);
        }
        if (!entries.empty()) out += ".SS \"" + roff_text(group) + "\"\n" + entries;
    }

    std::string file_only;
    for (const SettingDoc& d : page.docs) {
        if (!d.flag.empty() || d.key.empty()) continue;
        file_only += ".TP\n\\fB" + roff_text(d.key) + "\\fR\n" + roff_help(d.help) + roff_setting_notes(d, false);
    }
    if (!file_only.empty())
        out += ".SH CONFIGURATION FILE\n.PP\nAn option that names a config file key may be set in the YAML "
               "configuration file too (the flag wins). These keys are only in the file:\n" + file_only;

    for (const auto& [title, text] : page.sections) out += ".SH " + upper(title) + "\n" + roff_paragraphs(text);
    return out;
}

}  // namespace mirrortap
