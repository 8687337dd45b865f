#include "sender/eni.hpp"

#include <net/if.h>

#include <algorithm>
#include <cctype>
#include <fstream>
#include <optional>
#include <sstream>

#include "cloud/imds.hpp"
#include "support/text.hpp"

namespace mirrortap::sender {

namespace {

std::string lower(std::string text) {
    std::transform(text.begin(), text.end(), text.begin(), [](unsigned char c) { return char(std::tolower(c)); });
    return text;
}

std::string trimmed(const std::string& text) {
    const size_t first = text.find_first_not_of(" \t\r\n");
    if (first == std::string::npos) return "";
    return text.substr(first, text.find_last_not_of(" \t\r\n") - first + 1);
}

}  // namespace

std::vector<LocalInterface> local_interfaces() {
    std::vector<LocalInterface> out;
    struct if_nameindex* names = ::if_nameindex();
    if (!names) return out;
    for (const struct if_nameindex* i = names; i->if_index != 0; ++i) {
        std::ifstream in(std::string("/sys/class/net/") + i->if_name + "/address");
        std::string mac;
        if (in >> mac) out.push_back({i->if_name, lower(mac)});
    }
    if_freenameindex(names);
    return out;
}

Result<std::string> interface_of_eni(const std::string& eni, const MetadataGet& get,
                                     const std::vector<LocalInterface>& local) {
    // One MAC a line, each with a trailing slash: "0e:12:34:56:78:9a/".
    const auto macs = get("network/interfaces/macs/");
    if (!macs) return fail("cannot list this instance's network interfaces to find " + quote(eni) + ": " + macs.error());
    std::istringstream lines(*macs);
    std::string line, attached;
    for (size_t n = 0; n < 64 && std::getline(lines, line); ++n) {
        std::string mac = lower(trimmed(line));
        if (!mac.empty() && mac.back() == '/') mac.pop_back();
        if (mac.empty() || mac.find('/') != std::string::npos) continue;
        const auto id = get("network/interfaces/macs/" + mac + "/interface-id");
        if (!id) return fail("cannot read the id of this instance's network interface " + mac + ": " + id.error());
        const std::string eni_here = trimmed(*id);
        if (eni_here != eni) {
            attached += (attached.empty() ? "" : ", ") + quote(eni_here) + " (" + mac + ")";
            continue;
        }
        for (const LocalInterface& l : local)
            if (l.mac == mac) return l.name;
        return fail(quote(eni) + " is this instance's (MAC " + mac +
                    "), but no interface here has that MAC (in another network namespace?)");
    }
    return fail(quote(eni) + " is not attached to this instance" +
                (attached.empty() ? std::string() : " (its network interfaces: " + attached + ")"));
}

Result<> resolve_eni_interfaces(std::vector<AwsInterfaceName>& names) {
    const bool any = std::any_of(names.begin(), names.end(), [](const AwsInterfaceName& n) { return n.interface.empty(); });
    if (!any) return {};
    std::optional<cloud::ImdsClient> imds;
    // A value of nullopt: IMDS is turned off (AWS_EC2_METADATA_DISABLED).
    const auto settings = cloud::imds_settings_from_environment(cloud::process_environment());
    const std::vector<LocalInterface> local = local_interfaces();
    const MetadataGet get = [&](const std::string& path) -> Result<std::string> {
        if (!settings) return fail(settings.error());
        if (!*settings) return fail("AWS_EC2_METADATA_DISABLED is true");
        if (!imds) imds.emplace(**settings);
        auto text = imds->get("meta-data/" + path);
        if (!text) return fail("IMDSv2 " + (*settings)->endpoint + ": " + text.error().describe());
        return std::move(text.value());
    };
    for (AwsInterfaceName& n : names) {
        if (!n.interface.empty()) continue;
        auto name = interface_of_eni(n.id, get, local);
        if (!name)
            return fail("--aws-interface: " + name.error() + "; or name its interface: --aws-interface " +
                        printable(n.id) + "=IFACE");
        n.interface = std::move(*name);
    }
    return {};
}

}  // namespace mirrortap::sender
