// The finished captures in the capture directory, for whoever ships them
// (upload/): what a start finds there (crash leftovers cut back and finished,
// files not yet uploaded), and the few file operations an upload needs, all
// relative to directory descriptors opened without following a link
// (capture_dir.hpp), as the pcap writer itself works.
//
// "Uploaded" is a user extended attribute on the file (kUploadedAttribute),
// so that it goes with the file, survives a restart, and needs no ledger to
// keep in step with retention; ext4, xfs and tmpfs (Linux 6.6+) keep it.
#pragma once
#include "support/flow_index_format.hpp"  // flow_index::kSuffix
#include <cerrno>
#include <cstdint>
#include <string>
#include <vector>

#include "base/result.hpp"
#include "core/finished_capture.hpp"

namespace mirrortap {

inline constexpr const char* kUploadedAttribute = "user.mirrortap.uploaded";
// A capture's flow index, beside it (core/finished_capture.hpp).

// What the records of a pcap file say: the whole records end at whole_bytes.
struct PcapExtent {
    bool valid = false;  // a pcap header we wrote (nanosecond magic)
    uint64_t whole_bytes = 0;
    uint64_t packets = 0;
    uint64_t first_ns = 0;
    uint64_t last_ns = 0;
};
// Reads the file from the start, up to `size` bytes.
PcapExtent read_pcap_extent(int fd, uint64_t size);

// `.pcap.part` files a crash (SIGKILL, power loss) left in the session
// directories of `pcap_dir`: each is cut back to its last whole record and
// renamed to .pcap; one without a whole record is removed. Run at start,
// before any writer, as the user the files belong to. One line per file, for the log.
std::vector<std::string> recover_part_files(const std::string& pcap_dir);

// The finished captures of `pcap_dir` not marked uploaded, oldest first (by
// the start time in their names, then the name). vni is left 0: the caller
// knows which names go with which VNIs.
std::vector<FinishedCapture> pending_captures(const std::string& pcap_dir);

// A finished capture file on disk, for the retention budget across sessions.
struct CaptureFileEntry {
    std::string session;
    std::string name;
    uint64_t bytes = 0;
    int64_t mtime_ns = 0;
    bool uploaded = false;  // the uploaded mark; read by captures_older_than only
};
// Every finished .pcap of every session directory, oldest (modification time) first.
std::vector<CaptureFileEntry> finished_capture_files(const std::string& pcap_dir);
// The finished captures of every session directory last written (modification
// time) before `before_ns`, oldest first, each with whether it carries the
// uploaded mark; and the oldest modification time of the others (0 when there
// are none), which says when the next of them grows that old.
struct AgedCaptures {
    std::vector<CaptureFileEntry> older;
    int64_t next_mtime_ns = 0;
};
AgedCaptures captures_older_than(const std::string& pcap_dir, int64_t before_ns);
// Removes <pcap_dir>/<session>/<name> (and its flow index); false if it could not.
// remove_session_capture's rule for `current` holds.
bool remove_capture_file(const std::string& pcap_dir, const std::string& session, const std::string& name);

// `current` in a session directory names the file being written, or the
// last one finished, and never a file that is gone: the pcap writer moves it
// (point_current_link) while the uploader and retention remove files
// (remove_session_capture), on different threads. Both hold an exclusive
// flock on the session directory for their step, so neither sees the link
// half moved. Names only, relative to `dir_fd`: nothing is followed.
//
// Points `current` at `target` (a name in the directory). False if it could not.
bool point_current_link(int dir_fd, const char* target);
// Removes `current` if it names `target`.
void remove_current_link_naming(int dir_fd, const std::string& target);
// Removes capture `name` and its flow index from the session directory. When
// `current` names it, `current` first moves to the newest capture left
// (.pcap or .pcap.part, by name: names carry the start time and a sequence),
// or is removed when none is left. 0, or the errno of the failed unlink.
int remove_session_capture(int dir_fd, const std::string& name);

// `name` in the capture's directory, read-only: a regular file, no link
// followed anywhere on the way. A descriptor the caller closes, or why not
// with errno that of the call that failed.
Result<int> open_capture_file(const FinishedCapture& capture, const std::string& name);

// Whether the file behind `fd` carries the uploaded mark.
bool marked_uploaded(int fd);

// After an upload: the capture and its index removed (`remove`), or marked
// uploaded (the mark goes on the pcap; its index goes with it). Fails with why.
Result<> settle_uploaded_capture(const FinishedCapture& capture, bool remove);

}  // namespace mirrortap
