// Every JSON read and write of mirrortap goes through here, to one library:
// nlohmann/json (Debian's nlohmann-json3-dev; docs/design.md "Libraries" says
// why this one, with the figures). What the library does not do the way our
// callers need is added here once, not in each caller: errors at a line and
// column (users fix files by them), documents a person wrote refused when a
// key comes twice or nesting runs away, a flat line read without building a
// tree (the flow-index reader's speed), and output that is always valid JSON.
#pragma once
#include <cstdint>
#include <functional>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "base/result.hpp"
#include "support/errors.hpp"

namespace mirrortap::json {

// A parsed document. Members are looked up with find()/contains() and read
// with is_*() and get<T>(): the library's own interface, not wrapped again.
using Value = nlohmann::json;

struct ParseLimits {
    // Deeper nesting is refused (0: no limit). The library parses without
    // recursion, so this is about what a sane document looks like, not the stack.
    int max_depth = 0;
    // A key given twice in one object is refused, naming both lines (the
    // library keeps the last one silently; a person's file should not).
    bool unique_keys = false;
};

// The document `text` (RFC 8259, UTF-8; surrogate pairs in \u escapes read as
// the character they encode, a lone surrogate refused); refused with the
// place (line, column, what) when it is not JSON or breaks `limits`.
Result<Value, ConfigError> parse(std::string_view text, ParseLimits limits = {});

// The member `key` of `object`; null when `object` is not an object or has no such member.
const Value* member(const Value& object, std::string_view key);
// The member's text when it is a string; nullopt when it is absent or of another kind.
std::optional<std::string> string_member(const Value& object, std::string_view key);

// "line:column: message" of a parse() refusal, for messages that embed it.
std::string describe(const ConfigError& error);

// The way from the root to one value: member names and array indexes.
using PathStep = std::variant<std::string, size_t>;
using Path = std::vector<PathStep>;

// Where each of `paths` begins in `text` (line and column of its first
// character; for a member, of its value): one pass, for error messages of a
// document parse() accepted. {0, 0} for a path the document does not hold.
std::vector<ConfigError> locate(std::string_view text, const std::vector<Path>& paths);

// One member value of a flat object: what a line of JSON lines holds.
struct FlatValue {
    enum Kind : uint8_t { null, boolean, unsigned_number, other_number, string, array } kind = null;
    bool b = false;
    uint64_t n = 0;                  // unsigned_number (integers up to 2^64 - 1)
    std::string_view text;           // string: valid until the callback returns
    std::vector<uint64_t> numbers;   // array: unsigned integers only
};
using MemberFn = std::function<bool(std::string_view name, const FlatValue& value)>;

// Reads one object whose members are scalars or arrays of unsigned integers,
// calling `member` for each in order, without building a tree (30 % less
// time than parse() on flow-index lines, docs/design.md "Libraries").
// Refused ("syntax error at column 12: ...", "bad vlans") when the text is
// not such an object or `member` returns false for a value.
Result<> read_flat_object(std::string_view text, const MemberFn& member);

// `text` as a JSON string, quotes included, appended to `out`. Bytes that are
// not UTF-8 become U+FFFD: what is written is always valid JSON.
void append_string(std::string& out, std::string_view text);
std::string quoted(std::string_view text);

// One object on one line, members in the order they are added: the shape of
// JSON lines (keys in a documented order, which Value's sorted objects would
// not keep). Keys are the caller's constants and are written as they are.
// The first member opens the object on an empty `out`, end() closes it and
// ends the line.
class LineWriter {
public:
    explicit LineWriter(std::string& out) : out_(out) {}
    LineWriter& number(std::string_view key, uint64_t value);
    LineWriter& number_or_null(std::string_view key, bool present, uint64_t value) {
        return present ? number(key, value) : null(key);
    }
    LineWriter& boolean(std::string_view key, bool value);
    LineWriter& text(std::string_view key, std::string_view value);
    LineWriter& null(std::string_view key);
    LineWriter& numbers(std::string_view key, const uint16_t* values, size_t count);
    void end() { out_ += "}\n"; }

private:
    void key(std::string_view k);
    std::string& out_;
};

}  // namespace mirrortap::json
