// One table per enum: its values' names (the `reason` labels of metrics, the
// words of configs and logs) and its count come from keyed rows, and the
// compiler checks the rows against the enum, so a value added without a name
// does not build. What is checked, in a constant expression:
//   - row i names value i (the enum is dense from 0 and the rows are in its order),
//   - the enum has no named value past the last row,
//   - every name is non-empty snake_case ([a-z0-9_]) and no two are the same.
// `enum_phrases` makes the same table for words shown to people in a sentence
// ("the Amazon Time Sync Service"): the same checks but snake_case.
// A failed check is a compile error at the table's definition ("call to
// non-constexpr function ... enum_table_error").
#pragma once
#include <array>
#include <cstddef>
#include <optional>
#include <string_view>
#include <type_traits>

namespace mirrortap {

template <class E>
struct EnumName {
    E value;
    std::string_view name;
};

namespace enum_names_detail {

// Whether V is one of E's named values. GCC prints a template argument that
// is an enumerator by its name ("V = DecapError::too_short") and any other
// value of the type as a cast ("V = (DecapError)3"); magic_enum reads
// __PRETTY_FUNCTION__ the same way. Only used at compile time.
template <auto V>
consteval bool is_named() {
    const std::string_view f = __PRETTY_FUNCTION__;
    const size_t at = f.rfind("V = ");
    return at != std::string_view::npos && f.size() > at + 4 && f[at + 4] != '(';
}

// Called only when a check fails: not constexpr, so the table does not compile.
inline void enum_table_error(const char*) {}

constexpr bool snake_case(std::string_view name) {
    if (name.empty()) return false;
    for (char c : name)
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_')) return false;
    return true;
}

}  // namespace enum_names_detail

enum class NameStyle { snake_case, phrase };

template <class E, size_t N>
class EnumNames {
    static_assert(std::is_enum_v<E>);

public:
    consteval EnumNames(const EnumName<E> (&rows)[N], NameStyle style) {
        using namespace enum_names_detail;
        for (size_t i = 0; i < N; ++i) {
            rows_[i] = rows[i];
            if (size_t(std::underlying_type_t<E>(rows[i].value)) != i)
                enum_table_error("row i must name value i: values dense from 0, rows in the enum's order");
            if (rows[i].name.empty()) enum_table_error("a name must not be empty");
            if (style == NameStyle::snake_case && !snake_case(rows[i].name))
                enum_table_error("a name must be snake_case");
            for (size_t j = 0; j < i; ++j)
                if (rows[j].name == rows[i].name) enum_table_error("two values share a name");
        }
        if (is_named<static_cast<E>(N)>()) enum_table_error("the enum has a value past the table's last row");
    }

    static constexpr size_t size() { return N; }

    // The name of a value; a value outside the enum (a cast) reads "unknown".
    constexpr std::string_view operator()(E value) const {
        const auto i = size_t(std::underlying_type_t<E>(value));
        return i < N ? rows_[i].name : std::string_view("unknown");
    }

    constexpr std::optional<E> parse(std::string_view name) const {
        for (const auto& row : rows_)
            if (row.name == name) return row.value;
        return std::nullopt;
    }

    constexpr auto begin() const { return rows_.begin(); }
    constexpr auto end() const { return rows_.end(); }

private:
    std::array<EnumName<E>, N> rows_{};
};

// `inline constexpr auto kDecapErrorNames = enum_names<DecapError>({{DecapError::too_short, "too_short"}, ...});`
template <class E, size_t N>
consteval EnumNames<E, N> enum_names(const EnumName<E> (&rows)[N]) {
    return EnumNames<E, N>(rows, NameStyle::snake_case);
}

template <class E, size_t N>
consteval EnumNames<E, N> enum_phrases(const EnumName<E> (&rows)[N]) {
    return EnumNames<E, N>(rows, NameStyle::phrase);
}

}  // namespace mirrortap
