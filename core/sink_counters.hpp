// What a sink did with the packets it was handed, per session.
// Identity kept by every sink: in = written + dropped(all reasons) + buffered.
#pragma once
#include <array>
#include <cstdint>
#include <string_view>

#include "base/enum_names.hpp"
#include "support/counter.hpp"

namespace mirrortap {

// Each value becomes a `reason` label: keep names stable and snake_case.
enum class SinkDropReason : uint8_t {
    queue_full,   // the sink's queue or device was full; receive never waits
    disk_full,    // ENOSPC/EDQUOT or below the free-space floor
    write_error,  // any other I/O error
    no_reader,    // a stream with nobody reading
    not_open,     // the sink could not open its output (e.g. directory unwritable)
};
inline constexpr auto kSinkDropReasonNames = enum_names<SinkDropReason>({
    {SinkDropReason::queue_full, "queue_full"},
    {SinkDropReason::disk_full, "disk_full"},
    {SinkDropReason::write_error, "write_error"},
    {SinkDropReason::no_reader, "no_reader"},
    {SinkDropReason::not_open, "not_open"},
});

// Each RelaxedCounter has one writing thread. For the pcap sink, its writer
// thread counts `written` and every drop reason but queue_full, which the
// receive worker counts.
struct SinkCounters {
    RelaxedCounter written;
    std::array<RelaxedCounter, kSinkDropReasonNames.size()> dropped;
    // A gauge: accepted, not yet on its way out. Shared: the pcap sink's
    // worker adds to it and its writer thread takes away.
    SharedGauge buffered;
    void drop(SinkDropReason r, uint64_t n = 1) { dropped[size_t(r)].add(n); }
};

}  // namespace mirrortap
