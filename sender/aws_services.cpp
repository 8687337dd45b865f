#include "sender/aws_services.hpp"

#include <algorithm>

namespace mirrortap::sender {

VpcResolvers vpc_resolvers(const std::vector<Cidr>& vpc_blocks) {
    VpcResolvers out;
    for (const Cidr& b : vpc_blocks) {
        // A /16../28 block's base has its two lowest bits clear: + 2 never carries.
        std::array<uint8_t, 4> a = {b.addr[12], b.addr[13], b.addr[14], uint8_t(b.addr[15] + 2)};
        if (b.is_v4() && std::find(out.begin(), out.end(), a) == out.end()) out.push_back(a);
    }
    return out;
}

std::string aws_services_filter(bool keep_amazon_dns, const VpcResolvers& resolvers) {
    std::string hosts =
        "host 169.254.169.254 or host 169.254.169.123 or host 169.254.169.250 or host 169.254.169.251 or "
        "host fd00:ec2::254 or host fd00:ec2::123";
    if (!keep_amazon_dns) {
        hosts += " or host 169.254.169.253 or host fd00:ec2::253";
        for (const auto& r : resolvers)
            hosts += " or host " + std::to_string(r[0]) + "." + std::to_string(r[1]) + "." + std::to_string(r[2]) +
                     "." + std::to_string(r[3]);
    }
    return "not (" + hosts + ")" +
           " and not (ip and udp and (src port 67 or src port 68) and (dst port 67 or dst port 68))" +
           " and not (ip6 and udp and (src port 546 or src port 547) and (dst port 546 or dst port 547))";
}

}  // namespace mirrortap::sender
