// Big-endian loads from untrusted byte spans. Callers check lengths first;
// these never read past what they are given.
#pragma once
#include <cstddef>
#include <cstdint>
#include <span>

namespace mirrortap {

using Bytes = std::span<const std::byte>;

inline uint16_t load_be16(Bytes b, size_t at) {
    return uint16_t((uint16_t(b[at]) << 8) | uint16_t(b[at + 1]));
}

inline uint32_t load_be24(Bytes b, size_t at) {
    return (uint32_t(b[at]) << 16) | (uint32_t(b[at + 1]) << 8) | uint32_t(b[at + 2]);
}

inline uint32_t load_be32(Bytes b, size_t at) {
    return (uint32_t(load_be16(b, at)) << 16) | load_be16(b, at + 2);
}

inline void store_be16(std::byte* p, uint16_t v) {
    p[0] = std::byte(v >> 8);
    p[1] = std::byte(v);
}

inline void store_be24(std::byte* p, uint32_t v) {
    p[0] = std::byte(v >> 16);
    p[1] = std::byte(v >> 8);
    p[2] = std::byte(v);
}

inline void store_be32(std::byte* p, uint32_t v) {
    store_be16(p, uint16_t(v >> 16));
    store_be16(p + 2, uint16_t(v));
}

}  // namespace mirrortap
