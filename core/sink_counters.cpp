#include "core/sink_counters.hpp"

namespace mirrortap {

std::string_view to_string(SinkDropReason r) {
    switch (r) {
        case SinkDropReason::queue_full: return "queue_full";
        case SinkDropReason::disk_full: return "disk_full";
        case SinkDropReason::write_error: return "write_error";
        case SinkDropReason::no_reader: return "no_reader";
        case SinkDropReason::not_open: return "not_open";
    }
    return "unknown";
}

}  // namespace mirrortap
