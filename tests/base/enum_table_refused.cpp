// Compiled by ctest, not linked: each REFUSE_* case must fail to build with
// enum_table_error, and with none defined the file must build (so the test
// proves the refusal comes from the check, not from a broken file).
#include <cstdint>

#include "base/enum_names.hpp"

using namespace mirrortap;

enum class Colour : uint8_t { red, green, blue };

#if defined(REFUSE_MISSING_ROW)  // blue added to the enum, not to the table
constexpr auto kNames = enum_names<Colour>({{Colour::red, "red"}, {Colour::green, "green"}});
#elif defined(REFUSE_ORDER)
constexpr auto kNames = enum_names<Colour>({{Colour::green, "green"}, {Colour::red, "red"}, {Colour::blue, "blue"}});
#elif defined(REFUSE_DUPLICATE)
constexpr auto kNames = enum_names<Colour>({{Colour::red, "red"}, {Colour::green, "red"}, {Colour::blue, "blue"}});
#elif defined(REFUSE_NOT_SNAKE_CASE)
constexpr auto kNames = enum_names<Colour>({{Colour::red, "red"}, {Colour::green, "Green"}, {Colour::blue, "blue"}});
#elif defined(REFUSE_EMPTY_PHRASE)  // phrases may hold spaces and capitals, never nothing
constexpr auto kNames = enum_phrases<Colour>({{Colour::red, "Red"}, {Colour::green, ""}, {Colour::blue, "deep blue"}});
#elif defined(PHRASES)
constexpr auto kNames = enum_phrases<Colour>({{Colour::red, "Red"}, {Colour::green, "green"}, {Colour::blue, "deep blue"}});
#else
constexpr auto kNames = enum_names<Colour>({{Colour::red, "red"}, {Colour::green, "green"}, {Colour::blue, "blue"}});
#endif

static_assert(kNames.size() >= 2);
