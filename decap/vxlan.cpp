#include "decap/vxlan.hpp"

namespace mirrortap {

void VxlanHeader::encode(std::byte* out, uint32_t vni) {
    out[0] = std::byte{kVxlanFlagVniValid};
    out[1] = out[2] = out[3] = std::byte{0};
    store_be24(out + 4, vni & kMaxVni);
    out[7] = std::byte{0};
}

int64_t peek_vni(Bytes datagram) {
    if (datagram.size() < kVxlanHeaderBytes) return -1;
    if ((uint8_t(datagram[0]) & kVxlanFlagVniValid) == 0) return -1;
    return load_be24(datagram, 4);
}

DecapResult decap_vxlan(Bytes datagram) {
    if (datagram.size() < kVxlanHeaderBytes) return fail(DecapError::too_short);
    const uint8_t flags = uint8_t(datagram[0]);
    if ((flags & kVxlanFlagVniValid) == 0) return fail(DecapError::no_vni_flag);
    Bytes frame = datagram.subspan(kVxlanHeaderBytes);
    if (frame.size() < kEthernetHeaderBytes) return fail(DecapError::inner_too_short);
    return Decapped{{flags, load_be24(datagram, 4)}, frame, parse_inner_frame(frame)};
}

}  // namespace mirrortap
