#include "support/yaml.hpp"

#include <yaml-cpp/eventhandler.h>

#include <map>
#include <sstream>
#include <vector>

#include "support/text.hpp"

namespace mirrortap {

namespace {

ConfigError error_at_mark(const YAML::Mark& m, std::string message) {
    // yaml-cpp counts from 0; editors and compilers count from 1.
    if (m.is_null() || m.line < 0) return {0, 0, std::move(message)};
    return {m.line + 1, m.column + 1, std::move(message)};
}

// Walks the parser's events (aliases are not expanded, so a "billion laughs"
// file costs no more than its size) and reports keys given twice in a mapping.
class DuplicateKeyFinder : public YAML::EventHandler {
public:
    explicit DuplicateKeyFinder(ErrorList& errors) : errors_(errors) {}

    int documents = 0;
    bool empty_document = false;  // the last document's root was null

    YAML::Mark second_document;

    void OnDocumentStart(const YAML::Mark& mark) override {
        if (++documents == 2) second_document = mark;
        at_root_ = true;
    }
    void OnDocumentEnd() override {}
    void OnNull(const YAML::Mark& mark, YAML::anchor_t) override {
        if (at_root_) empty_document = true;
        node(mark, "", true);
    }
    void OnAlias(const YAML::Mark& mark, YAML::anchor_t) override { node(mark, "", false); }
    void OnScalar(const YAML::Mark& mark, const std::string&, YAML::anchor_t, const std::string& value) override {
        node(mark, value, true);
    }
    void OnSequenceStart(const YAML::Mark& mark, const std::string&, YAML::anchor_t, YAML::EmitterStyle::value) override {
        node(mark, "", false);
        frames_.push_back({false});
    }
    void OnSequenceEnd() override { frames_.pop_back(); }
    void OnMapStart(const YAML::Mark& mark, const std::string&, YAML::anchor_t, YAML::EmitterStyle::value) override {
        node(mark, "", false);
        frames_.push_back({true});
    }
    void OnMapEnd() override { frames_.pop_back(); }

private:
    struct Frame {
        bool is_map = false;
        bool expect_key = true;
        std::map<std::string, int, std::less<>> first_line;  // key -> 1-based line of its first use
    };

    // Every node, in document order; in a mapping they alternate key, value.
    void node(const YAML::Mark& mark, std::string_view scalar, bool is_scalar) {
        at_root_ = false;
        if (frames_.empty() || !frames_.back().is_map) return;
        Frame& map = frames_.back();
        map.expect_key = !map.expect_key;
        if (map.expect_key || !is_scalar) return;  // a value, or a key that is not a plain scalar
        auto [it, fresh] = map.first_line.emplace(std::string(scalar), mark.line + 1);
        if (!fresh)
            errors_.add(error_at_mark(mark, "key " + quote(scalar) + " given twice in one mapping (first at line " +
                                                std::to_string(it->second) + ")"));
    }

    ErrorList& errors_;
    std::vector<Frame> frames_;
    bool at_root_ = false;
};

}  // namespace

std::optional<std::vector<ListItem>> list_items(const YAML::Node& n, std::string_view key, ErrorList& errors) {
    std::vector<ListItem> items;
    if (n.IsScalar()) {
        for (std::string_view text : split_list(n.Scalar())) items.push_back({n, std::string(text)});
        return items;
    }
    if (!n.IsSequence()) {
        errors.add(error_at(n, std::string(key) + ": expected a list such as [a, b] (or [] for none)"));
        return std::nullopt;
    }
    for (const YAML::Node& item : n) {
        if (item.IsScalar()) items.push_back({item, item.Scalar()});
        else errors.add(error_at(item, std::string(key) + ": expected a single value in the list"));
    }
    return items;
}

ConfigError error_at(const YAML::Node& node, std::string message) { return error_at_mark(node.Mark(), std::move(message)); }

std::optional<YAML::Node> parse_yaml_document(std::string_view text, ErrorList& errors) {
    DuplicateKeyFinder finder(errors);
    try {
        std::istringstream in{std::string(text)};
        YAML::Parser parser(in);
        while (parser.HandleNextDocument(finder)) {
            if (finder.documents > 1) {
                errors.add(error_at_mark(finder.second_document,
                                         "a second YAML document; a config file holds one (remove the ---)"));
                return std::nullopt;
            }
        }
    } catch (const YAML::Exception& e) {
        errors.add(error_at_mark(e.mark, printable(e.msg)));
        return std::nullopt;
    }
    if (finder.documents == 0 || finder.empty_document) {
        errors.add("config file is empty");
        return std::nullopt;
    }
    try {
        return YAML::Load(std::string(text));
    } catch (const YAML::Exception& e) {  // the event pass above would have thrown first
        errors.add(error_at_mark(e.mark, printable(e.msg)));
        return std::nullopt;
    }
}

}  // namespace mirrortap
