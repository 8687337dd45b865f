// Where a finished capture file goes in S3. Keys are Hive-style partitions,
// so that Athena (partition projection) and a person in the console can both
// walk them:
//   PREFIX/TREE/session=NAME/date=YYYY-MM-DD/hour=HH/collector=ID/FILE
// TREE is "pcap" for the captures and "flows" for their flow indexes: a table
// over PREFIX/flows/ then holds nothing but index files, and an index's pcap
// is found by swapping the tree and the file name. date and hour are the UTC
// start of the capture, as its file name says.
#pragma once
#include <chrono>
#include <optional>
#include <string>
#include <string_view>

#include "base/result.hpp"

namespace mirrortap::cloud {

inline constexpr std::string_view kPcapTree = "pcap";
inline constexpr std::string_view kFlowsTree = "flows";

struct CaptureObject {
    std::string_view prefix;        // "" for none; slashes at either end are dropped
    std::string_view session;       // the session's directory name (web, vni-501)
    std::string_view collector_id;  // which collector wrote it (an instance id, a host name)
    std::string_view file_name;     // the file's own name, no directory
    std::chrono::sys_seconds start; // the capture's first second, UTC
    std::string_view tree = kPcapTree;  // kPcapTree or kFlowsTree
};

// The key, or why not when a part is empty, holds '/', '=' (session,
// collector), a control character or is "." or "..", or the key grows past 1024 bytes.
mirrortap::Result<std::string> capture_object_key(const CaptureObject& object);

// The start time a capture file's name carries: <session>-<YYYYmmddTHHMMSSZ>-<seq>.pcap
// (docs/interfaces.md, "Files"). nullopt for another name.
std::optional<std::chrono::sys_seconds> capture_file_start(std::string_view file_name);

}  // namespace mirrortap::cloud
