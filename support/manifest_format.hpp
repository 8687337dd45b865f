// The manifest chain's documents (docs/evidence.md §3), their names defined
// once for the uploader that writes them (upload/manifest.cpp) and
// mirrortap-find --verify that checks them (find/verify.cpp). Here, in
// support/, because it is the one room both may include (docs/design.md,
// layering table), as flow_index_format.hpp is for flow indexes.
#pragma once
#include <cstdint>
#include <string_view>

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

}  // namespace mirrortap::manifest_format
