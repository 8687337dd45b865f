// `--aws-interface eni-...` without `=IFACE`: the local interface of an ENI,
// found the way the instance itself knows it. IMDSv2 lists the instance's
// network interfaces by MAC (meta-data/network/interfaces/macs/MAC/
// interface-id); the interface here with that MAC is the ENI's.
#pragma once
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.hpp"
#include "sender/config.hpp"

namespace mirrortap::sender {

// An interface of this host and its MAC as sysfs writes it ("0e:12:...", lower case).
struct LocalInterface {
    std::string name;
    std::string mac;
};
std::vector<LocalInterface> local_interfaces();

// The text IMDS has at meta-data/PATH, or why not.
using MetadataGet = std::function<Result<std::string>(const std::string& path)>;

// The name of the interface here that is `eni`, by the MACs `get` lists and
// `local`; or why not: not this instance's (naming the ENIs that are), or
// no interface here with its MAC.
Result<std::string> interface_of_eni(const std::string& eni, const MetadataGet& get,
                                     const std::vector<LocalInterface>& local);

// Fills in the interface of every entry that names an ENI alone, asking
// IMDSv2 (AWS_EC2_METADATA_SERVICE_ENDPOINT, AWS_EC2_METADATA_DISABLED as
// the SDKs read them) once for all; or the first entry's error.
Result<> resolve_eni_interfaces(std::vector<AwsInterfaceName>& names);

}  // namespace mirrortap::sender
