#include "decap/flow.hpp"

#include <algorithm>
#include <cstring>

namespace mirrortap {

namespace {

// FNV-1a: tiny, allocation-free and good enough to spread flows over a handful
// of outputs; nothing here needs resistance to chosen collisions beyond that.
struct Fnv1a {
    uint32_t h;
    void add(const uint8_t* p, size_t n) {
        for (size_t i = 0; i < n; ++i) {
            h ^= p[i];
            h *= 16777619u;
        }
    }
    template <typename T>
    void add_value(T v) { add(reinterpret_cast<const uint8_t*>(&v), sizeof v); }
};

}  // namespace

uint32_t FlowHash::symmetric(const FlowKey& key, uint32_t seed) {
    struct Endpoint {
        const std::array<uint8_t, 16>* addr;
        uint16_t port;
    };
    Endpoint a{&key.src, key.src_port};
    Endpoint b{&key.dst, key.dst_port};
    const int order = std::memcmp(a.addr->data(), b.addr->data(), 16);
    if (order > 0 || (order == 0 && a.port > b.port)) std::swap(a, b);

    Fnv1a f{2166136261u ^ seed};
    f.add_value(uint8_t(key.kind));
    f.add_value(key.protocol);
    f.add(a.addr->data(), 16);
    f.add_value(a.port);
    f.add(b.addr->data(), 16);
    f.add_value(b.port);
    // Final avalanche so that taking the value modulo a small N uses every bit.
    uint32_t h = f.h;
    h ^= h >> 16;
    h *= 0x7feb352dU;
    h ^= h >> 15;
    h *= 0x846ca68bU;
    h ^= h >> 16;
    return h;
}

}  // namespace mirrortap
