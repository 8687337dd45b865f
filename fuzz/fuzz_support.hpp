// What every fuzz target shares: an invariant check that stops the run with
// the broken condition named, and a reader that turns fuzz bytes into
// structured choices (a byte at a time, zeros once the input runs out, so
// every input is valid and small edits to it make small changes).
#pragma once
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <span>
#include <string_view>

namespace mirrortap::fuzz {

[[noreturn]] inline void invariant_broken(const char* condition, const char* file, int line) {
    std::fprintf(stderr, "%s:%d: invariant broken: %s\n", file, line, condition);
    std::abort();  // libFuzzer and the replay driver both report this as a crash
}

#define FUZZ_CHECK(condition) \
    ((condition) ? void(0) : ::mirrortap::fuzz::invariant_broken(#condition, __FILE__, __LINE__))

class FuzzInput {
public:
    FuzzInput(const uint8_t* data, size_t size) : data_(data), size_(size) {}

    bool empty() const { return at_ == size_; }
    size_t remaining() const { return size_ - at_; }

    uint8_t byte() { return at_ < size_ ? data_[at_++] : 0; }
    bool flag() { return byte() & 1; }
    uint16_t u16() { return uint16_t(byte() << 8 | byte()); }
    uint32_t u32() { return uint32_t(u16()) << 16 | u16(); }
    // A value in [0, n) for small n.
    size_t below(size_t n) { return n ? byte() % n : 0; }

    void fill(uint8_t* out, size_t n) {
        for (size_t i = 0; i < n; ++i) out[i] = byte();
    }

    // A length-prefixed piece of the input, at most `max` bytes, as text.
    std::string_view text(size_t max) {
        const size_t n = std::min<size_t>({byte(), max, remaining()});
        std::string_view s(reinterpret_cast<const char*>(data_ + at_), n);
        at_ += n;
        return s;
    }

    // Everything not yet read.
    std::span<const uint8_t> rest() {
        std::span<const uint8_t> s(data_ + at_, size_ - at_);
        at_ = size_;
        return s;
    }

private:
    const uint8_t* data_;
    size_t size_;
    size_t at_ = 0;
};

}  // namespace mirrortap::fuzz
