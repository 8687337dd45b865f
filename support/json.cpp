#include "support/json.hpp"

#include <charconv>
#include <iterator>
#include <unordered_map>

#include "support/text.hpp"

namespace mirrortap::json {

namespace {

// nlohmann/json reports where a syntax error is as a byte count, and nothing
// at all about where a value it accepted was. Fed through this iterator, the
// parser moves `*read` along as it consumes the text, so a SAX handler knows
// how far the lexer has got at each event.
class CountingIterator {
public:
    using iterator_category = std::input_iterator_tag;
    using value_type = char;
    using difference_type = std::ptrdiff_t;
    using pointer = const char*;
    using reference = const char&;

    CountingIterator(const char* p, const char** read) : p_(p), read_(read) {}
    reference operator*() const { return *p_; }
    CountingIterator& operator++() {
        *read_ = ++p_;
        return *this;
    }
    CountingIterator operator++(int) {
        CountingIterator before = *this;
        ++*this;
        return before;
    }
    bool operator==(const CountingIterator& o) const { return p_ == o.p_; }
    bool operator!=(const CountingIterator& o) const { return p_ != o.p_; }

private:
    const char* p_;
    const char** read_;
};

// Line and column (1-based; columns count characters, as yaml-cpp's do, so
// that JSON and YAML errors point alike) of byte `offset` of `text`.
ConfigError place(std::string_view text, size_t offset, std::string message = {}) {
    offset = std::min(offset, text.size());
    int line = 1;
    size_t line_start = 0;
    for (size_t i = 0; i < offset; ++i)
        if (text[i] == '\n') ++line, line_start = i + 1;
    int column = 1;
    for (size_t i = line_start; i < offset; ++i)
        if ((uint8_t(text[i]) & 0xC0) != 0x80) ++column;  // UTF-8 continuation bytes are not characters
    return ConfigError{line, column, std::move(message)};
}

// The library's message without its own prefix ("[json.exception.parse_error.101]
// parse error at line 1, column 2: "), whose place we give our own way.
std::string library_message(const std::exception& e) {
    std::string_view what = e.what();
    if (const size_t column = what.find("column "); column != std::string_view::npos) {
        if (const size_t colon = what.find(": ", column); colon != std::string_view::npos) what.remove_prefix(colon + 2);
    } else if (const size_t bracket = what.find("] "); bracket != std::string_view::npos) {
        what.remove_prefix(bracket + 2);
    }
    return printable(what);
}

// Follows a document event by event: the path to the value at hand and where
// each value and key begins. The lexer has read just past a token when its
// event comes (a number one character further); what lies between that and
// the next token is white space, ',' and ':', so a token begins at the first
// other character after the previous event.
class Walker : public nlohmann::json_sax<Value> {
public:
    Walker(std::string_view text, const char** read) : text_(text), read_(read) {}

    bool null() override { return scalar(); }
    bool boolean(bool) override { return scalar(); }
    bool number_integer(number_integer_t) override { return scalar(); }
    bool number_unsigned(number_unsigned_t) override { return scalar(); }
    bool number_float(number_float_t, const string_t&) override { return scalar(); }
    bool string(string_t&) override { return scalar(); }
    bool binary(binary_t&) override { return scalar(); }
    bool start_object(std::size_t) override { return open(true); }
    bool start_array(std::size_t) override { return open(false); }
    bool end_object() override { return close(); }
    bool end_array() override { return close(); }
    bool key(string_t& name) override {
        Frame& f = frames_.back();
        const size_t at = token_start();
        path_.resize(f.path_length);
        path_ += 'k';
        path_ += name;
        path_ += '\0';
        return on_key(name, at);
    }
    bool parse_error(std::size_t position, const std::string&, const nlohmann::detail::exception& e) override {
        // `position` counts the characters read, the offending one included.
        error = place(text_, position > 0 ? position - 1 : 0, library_message(e));
        return false;
    }

    ConfigError error;

protected:
    // Called with the path of each value (an encoding: 'k' name '\0' per
    // member, 'i' and the index per element) and where it begins.
    virtual bool on_value(const std::string& path, size_t at) = 0;
    virtual bool on_key(const std::string&, size_t) { return true; }
    virtual bool on_open(size_t depth, size_t at) = 0;
    size_t depth() const { return frames_.size(); }
    std::string_view text_;

    struct Frame {
        bool object;
        size_t index = 0;        // next element of an array
        size_t path_length = 0;  // of the path to this object or array
        std::unordered_map<std::string, int> keys;  // line of each key, when asked to refuse repeats
    };
    std::vector<Frame> frames_;

private:
    size_t token_start() {
        size_t at = size_t(prev_ - text_.data());
        while (at < text_.size() && (text_[at] == ' ' || text_[at] == '\t' || text_[at] == '\r' ||
                                     text_[at] == '\n' || text_[at] == ',' || text_[at] == ':'))
            ++at;
        prev_ = *read_;
        return at;
    }
    // The path of the value beginning now, in path_.
    size_t value_start() {
        const size_t at = token_start();
        if (!frames_.empty() && !frames_.back().object) {
            Frame& f = frames_.back();
            path_.resize(f.path_length);
            path_ += 'i';
            path_.append(reinterpret_cast<const char*>(&f.index), sizeof f.index);
            ++f.index;
        }
        return at;
    }
    bool scalar() {
        const size_t at = value_start();
        return on_value(path_, at);
    }
    bool open(bool object) {
        const size_t at = value_start();
        if (!on_value(path_, at)) return false;
        frames_.push_back(Frame{object, 0, path_.size(), {}});
        return on_open(frames_.size(), at);
    }
    bool close() {
        frames_.pop_back();
        prev_ = *read_;
        return true;
    }

    const char** read_;
    const char* prev_ = text_.data();
    std::string path_;
};

std::string encode(const Path& path) {
    std::string out;
    for (const PathStep& step : path) {
        if (const auto* name = std::get_if<std::string>(&step)) {
            out += 'k';
            out += *name;
            out += '\0';
        } else {
            const size_t index = std::get<size_t>(step);
            out += 'i';
            out.append(reinterpret_cast<const char*>(&index), sizeof index);
        }
    }
    return out;
}

// The checks of ParseLimits, on the way through.
class Checker final : public Walker {
public:
    Checker(std::string_view text, const char** read, ParseLimits limits) : Walker(text, read), limits_(limits) {}

private:
    bool on_value(const std::string&, size_t) override { return true; }
    bool on_open(size_t depth, size_t at) override {
        if (limits_.max_depth > 0 && depth > size_t(limits_.max_depth)) {
            error = place(text_, at, "JSON nested deeper than " + std::to_string(limits_.max_depth) + " levels");
            return false;
        }
        return true;
    }
    bool on_key(const std::string& name, size_t at) override {
        if (!limits_.unique_keys) return true;
        ConfigError here = place(text_, at);
        const auto [it, fresh] = frames_.back().keys.emplace(name, here.line);
        if (fresh) return true;
        // The words support/yaml.cpp uses for the same mistake in a config.
        here.message = "key " + quote(name) + " given twice in one mapping (first at line " +
                       std::to_string(it->second) + ")";
        error = here;
        return false;
    }
    ParseLimits limits_;
};

class Locator final : public Walker {
public:
    Locator(std::string_view text, const char** read, const std::vector<Path>& paths)
        : Walker(text, read), found(paths.size()) {
        for (size_t i = 0; i < paths.size(); ++i) wanted_[encode(paths[i])].push_back(i);
    }
    std::vector<ConfigError> found;

private:
    bool on_value(const std::string& path, size_t at) override {
        const auto it = wanted_.find(path);
        if (it != wanted_.end()) {
            for (size_t i : it->second) found[i] = place(text_, at);
            wanted_.erase(it);
        }
        return !wanted_.empty();  // nothing left to look for: stop reading
    }
    bool on_open(size_t, size_t) override { return true; }
    std::unordered_map<std::string, std::vector<size_t>> wanted_;
};

template <typename Handler>
bool walk(std::string_view text, const char*& read, Handler& handler) {
    read = text.data();
    return Value::sax_parse(CountingIterator(text.data(), &read), CountingIterator(text.data() + text.size(), &read),
                            &handler);
}

// One flat object's members to a MemberFn.
class FlatReader final : public nlohmann::json_sax<Value> {
public:
    FlatReader(const MemberFn& member, std::string& why) : member_(member), why_(why) {}

    bool null() override { return give(FlatValue::null); }
    bool boolean(bool b) override {
        value_.b = b;
        return give(FlatValue::boolean);
    }
    bool number_integer(number_integer_t n) override {
        if (in_array_) return refuse();
        value_.n = uint64_t(n);
        return give(n >= 0 ? FlatValue::unsigned_number : FlatValue::other_number);
    }
    bool number_unsigned(number_unsigned_t n) override {
        if (in_array_) {
            value_.numbers.push_back(n);
            return true;
        }
        value_.n = n;
        return give(FlatValue::unsigned_number);
    }
    bool number_float(number_float_t, const string_t&) override {
        // A fraction, an exponent, or an integer past 2^64 - 1: the library
        // reads all three as a double.
        return in_array_ ? refuse() : give(FlatValue::other_number);
    }
    bool string(string_t& s) override {
        value_.text = s;
        return give(FlatValue::string);
    }
    bool binary(binary_t&) override { return refuse(); }
    bool start_object(std::size_t) override {
        if (opened_) return refuse();
        opened_ = true;
        return true;
    }
    bool key(string_t& name) override {
        key_ = name;
        return true;
    }
    bool end_object() override { return true; }
    bool start_array(std::size_t) override {
        if (!opened_ || in_array_) return refuse();
        in_array_ = true;
        value_.numbers.clear();
        return true;
    }
    bool end_array() override {
        in_array_ = false;
        return give(FlatValue::array);
    }
    bool parse_error(std::size_t position, const std::string&, const nlohmann::detail::exception& e) override {
        why_ = library_message(e) + " at column " + std::to_string(position);
        return false;
    }

private:
    bool give(FlatValue::Kind kind) {
        if (!opened_ || in_array_) return refuse();  // a bare scalar, or an array holding other than integers
        value_.kind = kind;
        if (member_(key_, value_)) return true;
        why_ = "bad " + printable(key_);
        return false;
    }
    bool refuse() {
        why_ = opened_ ? "bad " + printable(key_) + ": not a flat member" : "not an object";
        return false;
    }

    const MemberFn& member_;
    std::string& why_;
    std::string key_;
    FlatValue value_;
    bool opened_ = false;
    bool in_array_ = false;
};

}  // namespace

Result<Value, ConfigError> parse(std::string_view text, ParseLimits limits) {
    if (limits.max_depth > 0 || limits.unique_keys) {
        // The limits first, in a pass that builds nothing: a document nested
        // 100,000 deep is refused before it costs a tree.
        const char* read = nullptr;
        Checker checker(text, &read, limits);
        if (!walk(text, read, checker)) return fail(checker.error);
    }
    try {
        return Value::parse(text);
    } catch (const Value::parse_error& e) {
        return fail(place(text, e.byte > 0 ? e.byte - 1 : 0, library_message(e)));
    }
}

const Value* member(const Value& object, std::string_view key) {
    if (!object.is_object()) return nullptr;
    const auto it = object.find(key);
    return it == object.end() ? nullptr : &*it;
}

std::optional<std::string> string_member(const Value& object, std::string_view key) {
    const Value* v = member(object, key);
    if (!v || !v->is_string()) return std::nullopt;
    return v->get<std::string>();
}

std::string describe(const ConfigError& error) {
    return std::to_string(error.line) + ":" + std::to_string(error.column) + ": " + error.message;
}

std::vector<ConfigError> locate(std::string_view text, const std::vector<Path>& paths) {
    const char* read = nullptr;
    Locator locator(text, &read, paths);
    walk(text, read, locator);
    return locator.found;
}

Result<> read_flat_object(std::string_view text, const MemberFn& member) {
    std::string why;
    FlatReader reader(member, why);
    if (!Value::sax_parse(text, &reader)) return fail(std::move(why));
    return {};
}

void append_string(std::string& out, std::string_view text) {
    // Addresses, names and ids are plain ASCII: they go as they are, and
    // only text with something to escape (or not ASCII) goes through the
    // library, which the writer of 100,000-line indexes would otherwise wait for.
    bool plain = true;
    for (const char c : text)
        if (c == '"' || c == '\\' || uint8_t(c) < 0x20 || uint8_t(c) >= 0x7F) plain = false;
    if (plain) {
        out += '"';
        out += text;
        out += '"';
        return;
    }
    out += Value(std::string(text)).dump(-1, ' ', false, Value::error_handler_t::replace);
}

std::string quoted(std::string_view text) {
    std::string out;
    append_string(out, text);
    return out;
}

void LineWriter::key(std::string_view k) {
    out_ += out_.empty() ? "{\"" : ",\"";
    out_ += k;
    out_ += "\":";
}

LineWriter& LineWriter::number(std::string_view k, uint64_t value) {
    key(k);
    char buf[24];
    const auto end = std::to_chars(buf, buf + sizeof buf, value).ptr;
    out_.append(buf, size_t(end - buf));
    return *this;
}

LineWriter& LineWriter::boolean(std::string_view k, bool value) {
    key(k);
    out_ += value ? "true" : "false";
    return *this;
}

LineWriter& LineWriter::text(std::string_view k, std::string_view value) {
    key(k);
    append_string(out_, value);
    return *this;
}

LineWriter& LineWriter::null(std::string_view k) {
    key(k);
    out_ += "null";
    return *this;
}

LineWriter& LineWriter::numbers(std::string_view k, const uint16_t* values, size_t count) {
    key(k);
    out_ += '[';
    for (size_t i = 0; i < count; ++i) {
        if (i) out_ += ',';
        char buf[8];
        const auto end = std::to_chars(buf, buf + sizeof buf, values[i]).ptr;
        out_.append(buf, size_t(end - buf));
    }
    out_ += ']';
    return *this;
}

}  // namespace mirrortap::json
