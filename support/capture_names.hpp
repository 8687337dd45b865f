// How the collector names a session's capture files (docs/interfaces.md):
// <session>-<UTC start>-<seq>.pcap once finished, the same name with ".part"
// after it while it is written. Defined once for the pcap writer that makes
// them (sinks/) and mirrortap-find that reads them (find/); here, in support/,
// because it is the one room both may include (docs/design.md).
#pragma once
#include <string_view>

namespace mirrortap::capture_names {

inline constexpr std::string_view kPcapSuffix = ".pcap";
// Appended to a finished file's name while the file is written, and taken off
// by the rename that finishes it.
inline constexpr std::string_view kPartSuffix = ".part";
// A capture being written ends with both.
inline constexpr std::string_view kGrowingSuffix = ".pcap.part";
static_assert(kGrowingSuffix.substr(0, kPcapSuffix.size()) == kPcapSuffix &&
              kGrowingSuffix.substr(kPcapSuffix.size()) == kPartSuffix);

inline bool is_finished(std::string_view name) { return name.ends_with(kPcapSuffix); }
inline bool is_growing(std::string_view name) { return name.ends_with(kGrowingSuffix); }

}  // namespace mirrortap::capture_names
