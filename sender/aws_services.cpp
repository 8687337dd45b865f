#include "sender/aws_services.hpp"

namespace mirrortap::sender {

std::string_view to_string(AwsService s) {
    switch (s) {
        case AwsService::none: return "none";
        case AwsService::instance_metadata: return "instance metadata";
        case AwsService::time_sync: return "the Amazon Time Sync Service";
        case AwsService::windows_activation: return "Windows activation";
        case AwsService::dhcp: return "DHCP";
        case AwsService::dhcpv6: return "DHCPv6";
        case AwsService::amazon_dns: return "Amazon DNS";
    }
    return "unknown";
}

std::string aws_services_filter(bool keep_amazon_dns) {
    std::string hosts =
        "host 169.254.169.254 or host 169.254.169.123 or host 169.254.169.250 or host 169.254.169.251 or "
        "host fd00:ec2::254 or host fd00:ec2::123";
    if (!keep_amazon_dns) hosts += " or host 169.254.169.253 or host fd00:ec2::253";
    return "not (" + hosts + ")" +
           " and not (ip and udp and (src port 67 or src port 68) and (dst port 67 or dst port 68))" +
           " and not (ip6 and udp and (src port 546 or src port 547) and (dst port 546 or dst port 547))";
}

}  // namespace mirrortap::sender
