// The manifest chain's documents (docs/evidence.md §3), their names defined
// once for the uploader that writes them (upload/manifest.cpp) and
// mirrortap-find --verify that checks them (find/verify.cpp). Here, in
// support/, because it is the one room both may include (docs/design.md,
// layering table), as flow_index_format.hpp is for flow indexes.
#pragma once
#include <cstdint>
#include <string>
#include <string_view>

#include "base/result.hpp"
#include "support/json.hpp"

namespace mirrortap::manifest_format {

inline constexpr std::string_view kFormat = "mirrortap-manifest";
inline constexpr int kVersion = 1;

// PREFIX/manifests/collector=ID/chain=CHAIN/SEQUENCE.json
inline constexpr std::string_view kTree = "manifests";
inline constexpr std::string_view kCollectorPart = "collector=";
inline constexpr std::string_view kChainPart = "chain=";
inline constexpr std::string_view kSuffix = ".json";
inline constexpr int kSequenceDigits = 10;

// A manifest's members.
namespace key {
inline constexpr std::string_view format = "format";
inline constexpr std::string_view version = "version";
inline constexpr std::string_view collector = "collector";
inline constexpr std::string_view chain = "chain";
inline constexpr std::string_view sequence = "sequence";
inline constexpr std::string_view previous = "previous";  // {key, sha256} or null
inline constexpr std::string_view cause = "cause";
inline constexpr std::string_view interval = "interval";  // {start, end}
inline constexpr std::string_view start = "start";
inline constexpr std::string_view end = "end";
inline constexpr std::string_view process_start = "process_start";
inline constexpr std::string_view dropped_since = "dropped_since";
inline constexpr std::string_view dropped = "dropped";
inline constexpr std::string_view files = "files";
inline constexpr std::string_view waiting = "waiting";  // {count, files}
inline constexpr std::string_view count = "count";
}  // namespace key

// The members of a stored file (files[]), of a waiting one (waiting.files[])
// and of `previous`.
namespace file_key {
inline constexpr std::string_view key = "key";
inline constexpr std::string_view size = "size";
inline constexpr std::string_view sha256 = "sha256";
inline constexpr std::string_view s3_checksum = "s3_checksum";
inline constexpr std::string_view session = "session";
inline constexpr std::string_view vni = "vni";
inline constexpr std::string_view first_ns = "first_ns";
inline constexpr std::string_view last_ns = "last_ns";
inline constexpr std::string_view first_timestamp = "first_timestamp";
inline constexpr std::string_view last_timestamp = "last_timestamp";
inline constexpr std::string_view packets = "packets";
inline constexpr std::string_view file = "file";  // a waiting capture's local name
}  // namespace file_key

// One stored capture as a manifest (and the chain's state) lists it.
struct ManifestFile {
    std::string key;
    uint64_t size = 0;
    std::string sha256;       // lowercase hex, the object's x-amz-meta-sha256
    std::string s3_checksum;  // S3's ChecksumSHA256 of the object (composite "-N" for multipart)
    std::string session;
    uint32_t vni = 0;
    uint64_t first_ns = 0, last_ns = 0, packets = 0;
};

// The entry's members (the timestamps as text are the writer's to add).
json::Value file_value(const ManifestFile& file);
// Reads what file_value wrote, or why not (a member missing or of another type).
Result<ManifestFile> file_from(const json::Value& value);

}  // namespace mirrortap::manifest_format
