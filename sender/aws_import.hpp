// Reads the JSON that `aws ec2 describe-traffic-mirror-filters` prints (and
// that of describe-traffic-mirror-filter-rules), so that a filter defined in
// AWS runs unchanged in the sender.
#pragma once
#include <string>
#include <string_view>
#include <vector>

#include "sender/config.hpp"

namespace mirrortap::sender {

struct AwsImport {
    FilterLibrary filters;             // by TrafficMirrorFilterId
    std::vector<ConfigError> errors;   // JSON syntax errors carry a line; others name the JSON path
    std::vector<std::string> notes;    // things AWS does that the sender cannot, said once
    bool ok() const { return errors.empty(); }
};

AwsImport import_aws_filters_text(std::string_view json);
AwsImport import_aws_filters_file(const std::string& path);

}  // namespace mirrortap::sender
