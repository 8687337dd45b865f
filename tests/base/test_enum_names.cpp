#include <doctest/doctest.h>

#include <cstdint>

#include "base/enum_names.hpp"

using namespace mirrortap;

namespace {

enum class Colour : uint8_t { red, dark_green, blue };
constexpr auto kColourNames = enum_names<Colour>({
    {Colour::red, "red"},
    {Colour::dark_green, "dark_green"},
    {Colour::blue, "blue"},
});

}  // namespace

TEST_CASE("an enum's table names each value and counts them") {
    static_assert(kColourNames.size() == 3);
    static_assert(kColourNames(Colour::dark_green) == "dark_green");
    CHECK(kColourNames(Colour::red) == "red");
    CHECK(kColourNames(Colour::blue) == "blue");
    CHECK(kColourNames(static_cast<Colour>(7)) == "unknown");
}

TEST_CASE("an enum's table reads a name back") {
    CHECK(kColourNames.parse("blue") == Colour::blue);
    CHECK_FALSE(kColourNames.parse("Blue").has_value());
    CHECK_FALSE(kColourNames.parse("").has_value());
    size_t rows = 0;
    for (const auto& row : kColourNames) {
        CHECK(kColourNames.parse(row.name) == row.value);
        ++rows;
    }
    CHECK(rows == 3);
}
