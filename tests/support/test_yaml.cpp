#include <doctest/doctest.h>

#include "support/parse.hpp"
#include "support/yaml.hpp"
#include "support/yaml_value.hpp"

using namespace mirrortap;

namespace {

struct Parsed {
    std::optional<YAML::Node> root;
    std::vector<ConfigError> errors;
};

Parsed parse(std::string_view text) {
    Parsed p;
    ErrorList errors(p.errors);
    p.root = parse_yaml_document(text, errors);
    return p;
}

ConfigError only_error(const Parsed& p) {
    REQUIRE(p.errors.size() == 1);
    return p.errors.front();
}

}  // namespace

TEST_CASE("yaml: a plain document parses") {
    const Parsed p = parse("a: 1\nb:\n  c: [x, y]\n");
    CHECK(p.errors.empty());
    REQUIRE(p.root);
    CHECK((*p.root)["b"]["c"][1].Scalar() == "y");
}

TEST_CASE("yaml: a key given twice is refused at the second, naming the first's line") {
    const ConfigError e = only_error(parse("listen: 1.2.3.4:5\nworkers: 2\nlisten: 5.6.7.8:9\n"));
    CHECK(e.line == 3);
    CHECK(e.column == 1);
    CHECK(e.message == "key 'listen' given twice in one mapping (first at line 1)");
}

TEST_CASE("yaml: duplicate keys are found in nested maps, flow maps and lists of maps") {
    const ConfigError nested = only_error(parse("pcap:\n  dir: /a\n  rotate_size: 1G\n  dir: /b\n"));
    CHECK(nested.line == 4);
    CHECK(nested.column == 3);
    CHECK(nested.message.find("(first at line 2)") != std::string::npos);

    const ConfigError flow = only_error(parse("sessions:\n  - {vni: 1, name: a, vni: 2}\n"));
    CHECK(flow.line == 2);
    CHECK(flow.column == 23);
    CHECK(flow.message.find("'vni'") != std::string::npos);

    const ConfigError block = only_error(parse("sessions:\n  - vni: 1\n    name: a\n  - vni: 2\n    vni: 3\n"));
    CHECK(block.line == 5);
    CHECK(block.column == 5);
    CHECK(block.message.find("(first at line 4)") != std::string::npos);

    // Quoting does not make a key different; equal keys in different maps are fine.
    CHECK(only_error(parse("a: 1\n\"a\": 2\n")).line == 2);
    CHECK(parse("x: {a: 1}\ny: {a: 1}\nz: [{a: 1}, {a: 2}]\n").errors.empty());
}

TEST_CASE("yaml: every duplicate is reported, and the tree still comes back") {
    const Parsed p = parse("a: 1\na: 2\nb: 1\nb: 2\nc: [1\n");
    REQUIRE_FALSE(p.errors.empty());  // the syntax error wins: no tree
    CHECK_FALSE(p.root);
    const Parsed q = parse("a: 1\na: 2\nb: 1\nb: 2\n");
    REQUIRE(q.errors.size() == 2);
    CHECK(q.errors[0].line == 2);
    CHECK(q.errors[1].line == 4);
    CHECK(q.root);
}

TEST_CASE("yaml: syntax errors carry line and column") {
    const ConfigError e = only_error(parse("listen: [127.0.0.1\nworkers: 2\n"));
    CHECK(e.line == 2);
    CHECK(e.column == 8);
    CHECK(e.message == "end of sequence flow not found");
    const ConfigError tab = only_error(parse("a:\n\tb: 1\n"));
    CHECK(tab.line >= 1);
}

TEST_CASE("yaml: empty, comment-only and null documents are refused as empty") {
    for (auto text : {"", "   \n\n", "# only a comment\n  # and another\n", "---\n", "~\n", "null\n"}) {
        CAPTURE(text);
        const ConfigError e = only_error(parse(text));
        CHECK(e.message == "config file is empty");
        CHECK(e.line == 0);
    }
}

TEST_CASE("yaml: a second document is refused where it starts") {
    const ConfigError e = only_error(parse("a: 1\n---\nb: 2\n"));
    CHECK(e.line == 2);
    CHECK(e.message.find("second YAML document") != std::string::npos);
    CHECK(parse("---\na: 1\n...\n").errors.empty());  // markers around one document are fine
}

TEST_CASE("yaml: aliases are not expanded while looking for duplicates") {
    // Nine levels of ten aliases each would be a billion nodes if expanded.
    std::string text = "a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n";
    for (int i = 1; i < 9; ++i) {
        text += "a" + std::to_string(i) + ": &a" + std::to_string(i) + " [";
        for (int j = 0; j < 10; ++j) text += (j ? ", *a" : "*a") + std::to_string(i - 1);
        text += "]\n";
    }
    const Parsed p = parse(text);
    CHECK(p.errors.empty());
    CHECK(p.root);
}

TEST_CASE("yaml: nesting too deep is an error, not a crash") {
    const std::string deep = std::string(100000, '[') + std::string(100000, ']');
    const Parsed p = parse(deep);
    REQUIRE_FALSE(p.errors.empty());
    CHECK_FALSE(p.root);
}

TEST_CASE("yaml: errors stop at fifty, then one line says so") {
    std::string text;
    for (int i = 0; i < 200; ++i) text += "k: " + std::to_string(i) + "\n";
    const Parsed p = parse(text);
    REQUIRE(p.errors.size() == ErrorList::kMaxErrors + 1);
    CHECK(p.errors.back().message == "too many errors, stopping");
    CHECK(p.errors.front().line == 2);
}

TEST_CASE("yaml: format_error puts the place first") {
    CHECK(format_error("f.yaml", {4, 3, "bad"}) == "f.yaml:4:3: bad");
    CHECK(format_error("f.yaml", {0, 0, "bad"}) == "f.yaml: bad");
}

TEST_CASE("yaml: read_value reads one value with the parser, errors at its place") {
    const Parsed p = parse("n: 7\nbad: x7\nlist: [1, 2]\n");
    REQUIRE(p.root);
    std::vector<ConfigError> out;
    ErrorList errors(out);
    const auto number = [](std::string_view t) { return parse_uint(t, 1, 10); };
    CHECK(read_value((*p.root)["n"], "n", errors, number) == 7u);
    CHECK(out.empty());
    CHECK_FALSE(read_value((*p.root)["bad"], "bad", errors, number));
    CHECK_FALSE(read_value((*p.root)["list"], "list", errors, number));
    REQUIRE(out.size() == 2);
    CHECK(format_error("f", out[0]) == "f:2:6: bad: expected a whole number, got 'x7'");
    CHECK(format_error("f", out[1]) == "f:3:7: list: expected a single value");
}
