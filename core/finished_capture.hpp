// What the pcap writer tells the rest of the process when a capture file is
// finished (renamed from .pcap.part to .pcap): enough to ship it and to name
// it in a store without opening it again. The collector hands the writer a
// FinishedCaptureListener; the uploader is the one that listens.
#pragma once
#include <cstdint>
#include <string>

namespace mirrortap {

struct FinishedCapture {
    std::string directory;   // the session's directory: <pcap dir>/<session dir name>
    std::string session;     // the session directory's name (web, vni-501)
    std::string file_name;   // <session>-<UTC start>-<seq>.pcap, no directory
    std::string index_name;  // its flow index beside it (<file>.flows.json.gz); "" when none was written
    uint32_t vni = 0;
    uint64_t packets = 0;
    uint64_t bytes = 0;       // the file's size, header included
    uint64_t first_ns = 0;    // first and last record's timestamps (UTC, ns since the epoch)
    uint64_t last_ns = 0;
};

class FinishedCaptureListener {
public:
    virtual ~FinishedCaptureListener() = default;
    // Called on the pcap writer thread right after the rename: must not block
    // on anything slow (queue it and return).
    virtual void capture_finished(const FinishedCapture& capture) = 0;
    // Pcap writer thread, from retention: whether this finished file must stay
    // because it has not been shipped yet (a quick lookup, no I/O).
    virtual bool holds(const std::string& /*directory*/, const std::string& /*file_name*/) const { return false; }
    // Pcap writer thread: retention removed a file holds() kept, because the disk floor forced it.
    virtual void removed_before_shipping(const std::string& /*directory*/, const std::string& /*file_name*/) {}
};

}  // namespace mirrortap
