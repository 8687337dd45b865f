// support/json: the one way in and out of JSON. The cases are those the
// former readers and writers each handled (property_tree in cloud/, yaml-cpp
// with a surrogate rewrite in sender/, the hand-written line reader of find/
// and writer of sinks/), now in one place.
#include <doctest/doctest.h>

#include <limits>

#include "support/json.hpp"

using namespace mirrortap;

namespace {

// The members of one flat line, as "name=kind:value" in order.
std::string flat(std::string_view line, std::string& why) {
    std::string out;
    const auto read = json::read_flat_object(
        line,
        [&](std::string_view name, const json::FlatValue& v) {
            out += std::string(name) + "=";
            switch (v.kind) {
                case json::FlatValue::null: out += "null"; break;
                case json::FlatValue::boolean: out += v.b ? "true" : "false"; break;
                case json::FlatValue::unsigned_number: out += "u:" + std::to_string(v.n); break;
                case json::FlatValue::other_number: out += "other"; break;
                case json::FlatValue::string: out += "s:" + std::string(v.text); break;
                case json::FlatValue::array:
                    out += "[";
                    for (uint64_t n : v.numbers) out += std::to_string(n) + ",";
                    out += "]";
                    break;
            }
            out += " ";
            return name != "refuse";
        });
    if (!read) why = read.error();
    return read ? out : "refused";
}

// json::parse, its refusal kept in `e` for the checks that follow.
std::optional<json::Value> parse_keeping_error(std::string_view text, ConfigError& e, json::ParseLimits limits = {}) {
    auto v = json::parse(text, limits);
    if (!v) {
        e = v.error();
        return std::nullopt;
    }
    return *std::move(v);
}

}  // namespace

TEST_CASE("json: escapes and surrogate pairs read as the characters they mean") {
    ConfigError e;
    const auto v = parse_keeping_error(R"({"a":"q\"b\\s\/\b\f\n\r\t","b":"caf\u00e9","c":"\ud83d\ude00","d":"\uD83D\uDE00!"})", e);
    REQUIRE(v);
    CHECK((*v)["a"] == "q\"b\\s/\b\f\n\r\t");
    CHECK((*v)["b"] == "caf\xC3\xA9");
    CHECK((*v)["c"] == "\xF0\x9F\x98\x80");
    CHECK((*v)["d"] == "\xF0\x9F\x98\x80!");
    // An escaped backslash before u is no escape.
    CHECK((*parse_keeping_error(R"(["\\ud83d"])", e))[0] == "\\ud83d");
    // A lone surrogate is no character: refused at its line.
    CHECK_FALSE(parse_keeping_error("{\n\"a\": \"x\\ud83d\"}", e));
    CHECK(e.line == 2);
    CHECK(e.message.find("surrogate") != std::string::npos);
    std::string why;
    CHECK(flat(R"({"s":"\u00e9\ud83d\ude00"})", why) == "s=s:\xC3\xA9\xF0\x9F\x98\x80 ");
    CHECK(flat(R"({"s":"\udc00"})", why) == "refused");
}

TEST_CASE("json: syntax errors carry line and column, in characters") {
    ConfigError e;
    CHECK_FALSE(parse_keeping_error("{\n \"a\": [\n  {,}\n]}", e));
    CHECK(e.line == 3);
    CHECK(e.column == 4);
    CHECK(e.message.find("[json.exception") == std::string::npos);  // the library's prefix is not ours to show
    // Columns count characters: two bytes of é are one column.
    CHECK_FALSE(parse_keeping_error("{\"\xC3\xA9\": x}", e));
    CHECK(e.line == 1);
    CHECK(e.column == 7);
    // Cut short: at the end.
    CHECK_FALSE(parse_keeping_error("{\"a\": [1,\n", e));
    CHECK(e.line == 2);
    CHECK_FALSE(parse_keeping_error("", e));
    CHECK_FALSE(parse_keeping_error("{} {}", e));  // text after the document
    CHECK_FALSE(parse_keeping_error("{\"a\":1,}", e));  // no trailing commas, as JSON says
    CHECK_FALSE(parse_keeping_error("{a:1}", e));       // nor bare words
    CHECK_FALSE(parse_keeping_error("// no\n{}", e));   // nor comments
}

TEST_CASE("json: limits refuse repeated keys and deep nesting, only when asked") {
    ConfigError e;
    const std::string twice = "{\"a\": {\"k\": 1,\n \"k\": 2}, \"b\": {\"k\": 3}}";
    const auto last = parse_keeping_error(twice, e);
    REQUIRE(last);  // the library keeps the last one
    CHECK((*last)["a"]["k"] == 2);
    CHECK_FALSE(parse_keeping_error(twice, e, {.unique_keys = true}));
    CHECK(e.line == 2);
    CHECK(e.column == 2);
    CHECK(e.message == "key 'k' given twice in one mapping (first at line 1)");
    // The same key in two objects is no repeat.
    CHECK(parse_keeping_error(R"({"a": {"k": 1}, "b": {"k": 1}, "c": [{"k": 1}, {"k": 2}]})", e, {.unique_keys = true}));

    const std::string deep = std::string(100000, '[') + std::string(100000, ']');
    CHECK(parse_keeping_error(deep, e));  // the library does not recurse: no limit of its own
    CHECK_FALSE(parse_keeping_error(deep, e, {.max_depth = 64}));
    CHECK(e.message == "JSON nested deeper than 64 levels");
    CHECK(e.column == 65);
    CHECK(parse_keeping_error(std::string(64, '[') + std::string(64, ']'), e, {.max_depth = 64}));
    // Brackets inside strings are not nesting.
    CHECK(parse_keeping_error("[\"" + std::string(100, '[') + "\"]", e, {.max_depth = 2}));
}

TEST_CASE("json: integers keep every digit up to 2^64 - 1, and past it are not integers") {
    ConfigError e;
    const auto v = parse_keeping_error("[18446744073709551615, 9223372036854775808, -1, 18446744073709551616, 1.5, 1e3]", e);
    REQUIRE(v);
    CHECK((*v)[0].is_number_unsigned());
    CHECK((*v)[0].get<uint64_t>() == std::numeric_limits<uint64_t>::max());
    CHECK((*v)[1].get<uint64_t>() == 9223372036854775808ull);
    CHECK((*v)[2].is_number_integer());
    CHECK_FALSE((*v)[2].is_number_unsigned());
    CHECK((*v)[3].is_number_float());
    CHECK((*v)[4].is_number_float());
    CHECK((*v)[5].is_number_float());
    std::string why;
    CHECK(flat(R"({"n":18446744073709551615,"m":18446744073709551616,"f":1.5,"e":1e3,"neg":-1})", why) ==
          "n=u:18446744073709551615 m=other f=other e=other neg=other ");
}

TEST_CASE("json: locate finds where values of an accepted document begin") {
    const std::string text = "{\"list\": [\n  {\"a\": 1, \"b\": \"x\"},\n  {\"a\": 22,\n   \"b\": [true, null]}],\n \"é\": 5}";
    ConfigError e;
    REQUIRE(parse_keeping_error(text, e));
    const auto at = json::locate(text, {{"list", size_t(1)},
                                        {"list", size_t(1), "b", size_t(1)},
                                        {"list", size_t(0), "b"},
                                        {"é"},
                                        {"list", size_t(5)},
                                        {},
                                        {"list", size_t(1), "a"}});
    REQUIRE(at.size() == 7);
    CHECK(at[0].line == 3);
    CHECK(at[0].column == 3);  // the object's '{'
    CHECK(at[1].line == 4);
    CHECK(at[1].column == 16);  // null
    CHECK(at[2].line == 2);
    CHECK(at[2].column == 17);  // "x", its opening quote
    CHECK(at[3].line == 5);
    CHECK(at[3].column == 7);
    CHECK(at[4].line == 0);  // no such element
    CHECK(at[5].line == 1);  // the root
    CHECK(at[5].column == 1);
    CHECK(at[6].line == 3);
    CHECK(at[6].column == 9);  // a number: the lexer reads one past it, the place is still its first digit
}

TEST_CASE("json: flat lines are read member by member, and what is not flat is refused") {
    std::string why;
    CHECK(flat(R"( {"s":"web","n":5,"z":null,"t":true,"f":false,"v":[100,4095],"e":[]} )", why) ==
          "s=s:web n=u:5 z=null t=true f=false v=[100,4095,] e=[] ");
    CHECK(flat(R"({})", why).empty());
    // A member the caller refuses names it.
    CHECK(flat(R"({"a":1,"refuse":2})", why) == "refused");
    CHECK(why == "bad refuse");
    // Syntax: where on the line.
    CHECK(flat(R"({"a" 1})", why) == "refused");
    CHECK(why.find("at column 6") != std::string::npos);
    for (const char* wrong : {R"({"a":{"b":1}})", R"({"a":[1,[2]]})", R"({"a":["x"]})", R"({"a":[-1]})", R"({"a":[1.5]})",
                              R"([1])", R"("x")", R"({"a":1} x)", R"({"a":1)", "", R"({"a":"\x"})"}) {
        INFO(wrong);
        CHECK(flat(wrong, why) == "refused");
        CHECK_FALSE(why.empty());
    }
}

TEST_CASE("json: written strings are valid JSON whatever the bytes") {
    CHECK(json::quoted("10.0.3.7") == "\"10.0.3.7\"");
    CHECK(json::quoted("a\"b\\c") == R"("a\"b\\c")");
    CHECK(json::quoted(std::string("nl\n tab\t nul") + '\0' + "\x1f") == R"("nl\n tab\t nul\u0000\u001f")");
    CHECK(json::quoted("caf\xC3\xA9") == "\"caf\xC3\xA9\"");
    CHECK(json::quoted("bad \xFF byte") == "\"bad \xEF\xBF\xBD byte\"");  // U+FFFD
    // What is written reads back as what was meant.
    ConfigError e;
    const std::string odd = std::string("q\"\\/\x01\x7F\xF0\x9F\x98\x80");
    CHECK(parse_keeping_error(json::quoted(odd), e)->get<std::string>() == odd);
}

TEST_CASE("json: a line is one object, members in the order written") {
    std::string out;
    const uint16_t vlans[] = {100, 4095};
    json::LineWriter(out)
        .text("s", "web")
        .number("big", std::numeric_limits<uint64_t>::max())
        .number_or_null("p", false, 7)
        .number_or_null("q", true, 0)
        .boolean("b", true)
        .numbers("v", vlans, 2)
        .numbers("none", vlans, 0)
        .null("z")
        .end();
    CHECK(out == "{\"s\":\"web\",\"big\":18446744073709551615,\"p\":null,\"q\":0,\"b\":true,\"v\":[100,4095],"
                 "\"none\":[],\"z\":null}\n");
    std::string why;
    CHECK(flat(std::string_view(out).substr(0, out.size() - 1), why) ==
          "s=s:web big=u:18446744073709551615 p=null q=u:0 b=true v=[100,4095,] none=[] z=null ");
}
