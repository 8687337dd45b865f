// The uploader (upload/) as the collector runs it: its settings resolved from
// the config and the environment (region, credentials, collector id), and the
// capture directory's file operations (sinks/capture_files.hpp) handed to it.
#pragma once
#include <functional>
#include <memory>
#include <string>

#include "base/result.hpp"
#include "cloud/environment.hpp"
#include "config/config.hpp"
#include "upload/uploader.hpp"

namespace mirrortap {

using LogLine = std::function<void(const std::string&)>;

// The uploader `config` asks for (not started), or why not. May ask IMDS for
// the region and the instance id (a second or two off EC2, unless
// AWS_EC2_METADATA_DISABLED=true or they are configured).
Result<std::shared_ptr<Uploader>> make_uploader(const Config& config, const LogLine& log);

// The collector id when none is configured: the EC2 instance id, else the host name.
Result<std::string> default_collector_id();

// Every endpoint the collector would reach over plain http:// on another
// host, one line each ("upload.endpoint http://10.0.0.5:9000"): the config's
// and the environment's it would use (AWS_ENDPOINT_URL_AUTO_SCALING,
// AWS_ENDPOINT_URL_STS, AWS_EC2_METADATA_SERVICE_ENDPOINT). Loopback stays on
// the host; IMDS at its link-local addresses (169.254.169.254,
// fd00:ec2::254) never leaves it either (its token cannot cross a hop).
std::vector<std::string> endpoints_in_clear(const Config& config, const cloud::EnvLookup& env);

}  // namespace mirrortap
