// Tests of cloud/'s checks compare sentences: "" for a success, the reason
// otherwise.
#pragma once
#include <string>

#include "base/result.hpp"

namespace mirrortap::test {

template <class T>
std::string why_not(const Result<T>& result) {
    return result ? std::string() : result.error();
}

}  // namespace mirrortap::test
