#include <doctest/doctest.h>

#include <csignal>
#include <memory>

#include <sys/wait.h>
#include <unistd.h>
#include <string>

#include "base/result.hpp"

using namespace mirrortap;

namespace {

Result<int> half(int n) {
    if (n % 2 != 0) return fail("odd: " + std::to_string(n));
    return n / 2;
}

enum class Why { busy, gone };

Result<std::string, Why> lookup(bool present) {
    if (!present) return fail(Why::gone);
    return "found";
}

Result<> check(bool good) {
    if (!good) return fail("not good");
    return {};
}

}  // namespace

TEST_CASE("a result holds the value of a success") {
    auto r = half(8);
    REQUIRE(r);
    CHECK(r.ok());
    CHECK(*r == 4);
    CHECK(r.value() == 4);
    CHECK(r.value_or(-1) == 4);
    CHECK(r == 4);
    CHECK_FALSE(r == 5);
}

TEST_CASE("a result holds the sentence of a failure") {
    auto r = half(7);
    REQUIRE_FALSE(r);
    CHECK(r.error() == "odd: 7");
    CHECK(r.value_or(-1) == -1);
    CHECK_FALSE(r == 0);  // a failure equals no value
}

TEST_CASE("a result's error may be an enum the caller branches on") {
    auto hit = lookup(true);
    REQUIRE(hit);
    CHECK(*hit == "found");
    CHECK(hit->size() == 5);
    auto miss = lookup(false);
    REQUIRE_FALSE(miss);
    CHECK(miss.error() == Why::gone);
}

TEST_CASE("a result of nothing is success or a reason") {
    CHECK(check(true).ok());
    auto bad = check(false);
    REQUIRE_FALSE(bad);
    CHECK(bad.error() == "not good");
}

TEST_CASE("a string result keeps value and error apart") {
    // T and E are the same type here: which side is set comes from fail(), not the type.
    Result<std::string> value = std::string("v");
    Result<std::string> error = fail(std::string("e"));
    CHECK(value.ok());
    CHECK(*value == "v");
    CHECK_FALSE(error.ok());
    CHECK(error.error() == "e");
}

TEST_CASE("a result moves a value that cannot be copied") {
    Result<std::unique_ptr<int>> r = std::make_unique<int>(5);
    REQUIRE(r);
    std::unique_ptr<int> owned = *std::move(r);
    CHECK(*owned == 5);
}

TEST_CASE("reading the side a result does not hold aborts, in every build") {
    // In a child: the abort is the behaviour under test.
    const pid_t child = fork();
    REQUIRE(child >= 0);
    if (child == 0) {
        Result<int> failed = fail("no value");
        volatile int read = *failed;
        (void)read;
        _exit(0);  // not reached when the read aborts
    }
    int status = 0;
    REQUIRE(waitpid(child, &status, 0) == child);
    CHECK(WIFSIGNALED(status));
    CHECK(WTERMSIG(status) == SIGABRT);
}
