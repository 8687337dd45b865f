// The one shape of a fallible operation's answer: a value, or why there is
// none. Shaped like C++23's std::expected (this code base is C++20), so that
// the day we move it is a rename: `Result<T, E>` holds a T or an E, `fail(e)`
// makes the E side as std::unexpected does. E is a sentence for a person
// (std::string) unless the caller needs to branch on the reason: then an enum
// (decap's refusals) or a struct (cloud's AwsError, which says whether trying
// again can help). Broken invariants are not results: they abort or throw.
#pragma once
#include <cstdlib>
#include <concepts>
#include <string>
#include <type_traits>
#include <utility>
#include <variant>

namespace mirrortap {

// The value of operations that give back nothing but success.
struct Done {};

// The E side of a Result on its way in: `return fail("no such file");`.
template <class E>
struct Failure {
    E error;
};

template <class E>
constexpr Failure<std::decay_t<E>> fail(E&& error) {
    return {std::forward<E>(error)};
}
// A literal is a sentence, so its Failure carries a std::string.
inline Failure<std::string> fail(const char* why) { return {std::string(why)}; }

template <class T = Done, class E = std::string>
class [[nodiscard]] Result {
public:
    using value_type = T;
    using error_type = E;

    // Success with a default value; for Result<> (of Done) this is `return {};`.
    constexpr Result() requires std::is_default_constructible_v<T> : state_(std::in_place_index<0>) {}

    template <class U = T>
        requires(std::is_constructible_v<T, U &&> && !std::is_same_v<std::remove_cvref_t<U>, Result>)
    constexpr Result(U&& value) : state_(std::in_place_index<0>, std::forward<U>(value)) {}

    template <class G>
        requires std::is_constructible_v<E, G &&>
    constexpr Result(Failure<G>&& failure) : state_(std::in_place_index<1>, std::move(failure.error)) {}

    template <class G>
        requires std::is_constructible_v<E, const G&>
    constexpr Result(const Failure<G>& failure) : state_(std::in_place_index<1>, failure.error) {}

    constexpr bool has_value() const { return state_.index() == 0; }
    constexpr bool ok() const { return has_value(); }
    constexpr explicit operator bool() const { return has_value(); }

    // Reading the value of a failure (or the error of a success) is a broken
    // invariant of the caller: it aborts (std::expected's operator* leaves it undefined).
    constexpr T& value() & { return *std::get_if<0>(&checked(true)); }
    constexpr const T& value() const& { return *std::get_if<0>(&checked(true)); }
    constexpr T&& value() && { return std::move(*std::get_if<0>(&checked(true))); }
    constexpr T& operator*() & { return value(); }
    constexpr const T& operator*() const& { return value(); }
    constexpr T&& operator*() && { return std::move(*this).value(); }
    constexpr T* operator->() { return &value(); }
    constexpr const T* operator->() const { return &value(); }

    constexpr E& error() & { return *std::get_if<1>(&checked(false)); }
    constexpr const E& error() const& { return *std::get_if<1>(&checked(false)); }
    constexpr E&& error() && { return std::move(*std::get_if<1>(&checked(false))); }

    template <class U>
    constexpr T value_or(U&& otherwise) const& {
        return has_value() ? value() : static_cast<T>(std::forward<U>(otherwise));
    }

private:
    // Aborts in every build, NDEBUG or not: reading the side that is not
    // there is a bug, and stopping beats reading through a null pointer.
    constexpr std::variant<T, E>& checked(bool want_value) {
        if (has_value() != want_value) std::abort();
        return state_;
    }
    constexpr const std::variant<T, E>& checked(bool want_value) const {
        if (has_value() != want_value) std::abort();
        return state_;
    }

    std::variant<T, E> state_;
};

template <class T>
inline constexpr bool is_result_v = false;
template <class T, class E>
inline constexpr bool is_result_v<Result<T, E>> = true;

// As std::expected's: equal when it holds a value equal to `other`. A free
// template, so that neither side is converted to a Result to compare.
template <class T, class E, class U>
    requires(!is_result_v<U>) && requires(const T& t, const U& u) {
        { t == u } -> std::convertible_to<bool>;
    }
constexpr bool operator==(const Result<T, E>& r, const U& other) {
    return r.has_value() && *r == other;
}

// Two results are equal when both hold equal values or both equal errors.
template <class T, class E, class T2, class E2>
    requires requires(const T& t, const T2& t2, const E& e, const E2& e2) {
        { t == t2 } -> std::convertible_to<bool>;
        { e == e2 } -> std::convertible_to<bool>;
    }
constexpr bool operator==(const Result<T, E>& a, const Result<T2, E2>& b) {
    if (a.has_value() != b.has_value()) return false;
    return a.has_value() ? *a == *b : a.error() == b.error();
}

}  // namespace mirrortap
