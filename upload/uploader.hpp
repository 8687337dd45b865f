// Ships finished captures to S3 (or an S3-compatible store) from inside the
// collector, on a thread of its own ("mt-uploader"):
//
//   pcap writer --capture_finished()--> queue --> mt-uploader --> S3
//
// The writer only pushes onto a bounded queue under a lock held for the push;
// nothing the store does (slow, down, refusing) reaches the writer or the
// receive workers. The capture directory is the real queue: a file is
// removed (or marked uploaded) only after its object is stored, so whatever
// the in-memory queue loses (a full queue, a crash, a drain cut short) is
// still on disk and queued again by the next scan (at start, or when the
// queue has room again after it overflowed).
//
// Each capture goes up as PREFIX/pcap/session=../date=../hour=../collector=../FILE
// (cloud/object_key.hpp), its flow index (if any) under PREFIX/flows/..., with
// metadata (session, vni, collector, packets, first/last timestamps, and the
// file's SHA-256, which the S3 client adds with S3's own checksums). Each
// request is retried by the S3 client (a failed part, not the file); a file
// that still fails waits with capped, fully jittered exponential backoff
// and is tried again, for as long as it takes.
//
// The same thread keeps this collector's manifest chain (upload/manifest.hpp,
// docs/evidence.md): each stored capture is recorded in the chain's state on
// disk before its local file is removed, and every manifest_interval (and at
// each drain) the files recorded since the last manifest go into the next
// one, which is stored before any capture waiting behind it.
#pragma once
#include <array>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "base/enum_names.hpp"
#include "base/result.hpp"
#include "cloud/aws_error.hpp"
#include "cloud/credentials.hpp"
#include "cloud/s3_client.hpp"
#include "core/finished_capture.hpp"
#include "upload/manifest.hpp"

namespace mirrortap {

// What became of a file, as the label `result` of mirrortap_upload_files_total.
enum class UploadOutcome : uint8_t {
    uploaded,               // stored (with its index), then removed or marked
    failed,                 // an attempt that failed; the file stays queued and is tried again
    missing,                // gone from the disk before it could be uploaded
    unreadable,             // cannot be opened or named (left on disk, not retried until a restart)
    deleted_before_upload,  // removed by retention at the disk floor before it was uploaded
};
inline constexpr auto kUploadOutcomeNames = enum_names<UploadOutcome>({
    {UploadOutcome::uploaded, "uploaded"},
    {UploadOutcome::failed, "failed"},
    {UploadOutcome::missing, "missing"},
    {UploadOutcome::unreadable, "unreadable"},
    {UploadOutcome::deleted_before_upload, "deleted_before_upload"},
});

// Why a capture's file could not be opened: errno (ENOENT: it is gone) and
// the sentence for the log.
struct CaptureOpenError {
    int error = 0;
    std::string why;
};

// The file-system side, done by whoever owns the capture directory (sinks/,
// wired in collector/): the uploader itself never touches a path.
class CaptureFileAccess {
public:
    virtual ~CaptureFileAccess() = default;
    // `name` beside the capture, read-only, nothing followed: a descriptor the
    // caller owns, or errno and why not.
    virtual Result<int, CaptureOpenError> open(const FinishedCapture& capture, const std::string& name) = 0;
    // Once stored: remove the capture and its index, or mark it uploaded; or why not.
    virtual Result<> settle(const FinishedCapture& capture, bool remove) = 0;
    // Every finished capture on disk not yet uploaded, oldest first.
    virtual std::vector<FinishedCapture> pending() = 0;
    // The manifest chain's state file (kChainStateName) in the capture
    // directory: its text; error ENOENT when there is none.
    virtual Result<std::string, CaptureOpenError> read_chain_state() = 0;
    // Replaces it whole (a new file, fsynced, renamed over it), or why not.
    virtual Result<> write_chain_state(const std::string& text) = 0;
};

// Cumulative packets the collector counted as dropped, by "kind:reason"
// ("pcap:queue_full", "socket:queue_full"): what a manifest's `dropped` rises from.
using DropTotals = std::function<std::vector<std::pair<std::string, uint64_t>>()>;

struct UploadOptions {
    cloud::S3ClientOptions s3;       // its `cancel` is the uploader's own
    std::string prefix;              // "" for none
    std::string collector_id;        // the collector= part of keys, and metadata
    std::string storage_class;       // "" for the bucket's default
    bool delete_after_upload = true;
    // Waits between two attempts at a file that failed (full jitter).
    std::chrono::milliseconds backoff_base{1000};
    std::chrono::milliseconds backoff_cap{30'000};
    size_t max_queue = 100'000;      // captures waiting; beyond, the next scan finds them
    std::chrono::seconds manifest_interval{300};  // between two manifests of the chain
    std::function<void(const std::string&)> log = [](const std::string&) {};
};

struct UploadStats {
    std::array<uint64_t, kUploadOutcomeNames.size()> files{};
    uint64_t bytes = 0;                    // of objects stored (pcaps and indexes)
    uint64_t backlog_files = 0;            // queued or being uploaded
    uint64_t backlog_bytes = 0;
    int64_t last_success_unix_seconds = 0; // 0 until the first success
    // Requests the store failed (each attempt, those sent again included), by why.
    std::array<uint64_t, cloud::kRequestFailureNames.size()> request_failures{};
};

class Uploader final : public FinishedCaptureListener {
public:
    Uploader(UploadOptions options, std::shared_ptr<cloud::CredentialProvider> credentials,
             std::unique_ptr<CaptureFileAccess> files);
    ~Uploader() override;  // stop(): what is left stays on disk

    // Before start(): where each manifest's drops come from (none when never set).
    void set_drop_totals(DropTotals totals) { drop_totals_ = std::move(totals); }
    // Starts the thread, which first reads the chain's state and queues what
    // the capture directory holds.
    void start();
    // Pcap writer thread: queue it and return (never waits on the store).
    void capture_finished(const FinishedCapture& capture) override;
    // Waits until everything queued is uploaded, then a manifest (cause
    // "drain") is made and stored, or `deadline`; then a transfer in flight
    // is cancelled. True when nothing was left. Any thread; the
    // thread keeps running afterwards until stop().
    bool drain(std::chrono::steady_clock::time_point deadline);
    // Stops the thread (cancelling a transfer in flight). Idempotent.
    void stop();

    // Pcap writer thread, from retention: queued and not yet settled, so kept
    // unless the disk floor forces it out.
    bool holds(const std::string& directory, const std::string& file_name) const override;
    // Pcap writer thread: retention removed a held file at the disk floor;
    // counted as deleted_before_upload and taken off the queue.
    void removed_before_shipping(const std::string& directory, const std::string& file_name) override;
    UploadStats stats() const;
    // The collector= part of its keys: configured, else resolved at start.
    const std::string& collector_id() const { return options_.collector_id; }

private:
    struct Queued {
        FinishedCapture capture;
    };
    struct Stored {
        std::string key;
        cloud::UploadResult result;
    };
    void run();
    bool enqueue_locked(const FinishedCapture& capture);  // false when full
    void rescan();
    // One attempt at a capture: what became of it (failed: it stays queued),
    // nothing when a drain cut it short.
    std::optional<UploadOutcome> attempt(cloud::S3Client& s3, const FinishedCapture& capture);
    // Uploads one file of the capture to the tree; what became of it (and the log) when it did not.
    Result<Stored, UploadOutcome> put(cloud::S3Client& s3, const FinishedCapture& capture, const std::string& name,
                                      std::string_view tree);
    // The manifest chain, all on the uploader's thread.
    void load_chain();
    void save_chain();
    void record_stored(const FinishedCapture& capture, const Stored& pcap);
    void cut(std::string_view cause);
    // Stores the oldest unsent manifest, or why not (its failed requests are
    // counted by on_failed_request, as a capture's are).
    Result<> send_manifest(cloud::S3Client& s3);
    void count(UploadOutcome outcome) { files_[size_t(outcome)].fetch_add(1, std::memory_order_relaxed); }
    void wait_before_retry(uint32_t failures);

    UploadOptions options_;
    std::shared_ptr<cloud::CredentialProvider> credentials_;
    std::unique_ptr<CaptureFileAccess> files_access_;

    mutable std::mutex mutex_;
    std::condition_variable wake_;     // work or stop, for the uploader thread
    std::condition_variable settled_;  // the queue emptied, for drain()
    std::deque<Queued> queue_;         // under mutex_; the front is the one in progress
    std::set<std::string> queued_paths_;  // under mutex_: directory/file of each queued capture
    // Under mutex_: the disk may hold captures the queue does not (true until
    // the scan at start, and after the queue refused one): scan when there is room.
    bool overflowed_ = true;
    bool scanning_ = false;            // under mutex_: a scan is reading the disk
    bool busy_ = false;                // under mutex_: the front is being uploaded
    bool front_removed_ = false;       // under mutex_: retention removed the front while it went up
    bool stopping_ = false;            // under mutex_
    bool drain_cut_short_ = false;     // under mutex_: drain() said what was left
    uint64_t kicks_ = 0;               // under mutex_: drain() ends a backoff wait by changing it
    uint64_t backlog_bytes_ = 0;       // under mutex_
    std::atomic<bool> cancel_{false};  // the S3 client's cancel flag
    bool manifest_wanted_ = false;     // under mutex_: a drain asks for one once the queue is empty
    size_t manifests_unsent_ = 0;      // under mutex_: chain_.unsent.size(), for drain()

    // The uploader thread's alone (set_drop_totals before start).
    DropTotals drop_totals_;
    ChainState chain_;
    std::vector<std::pair<std::string, uint64_t>> drops_at_last_cut_;
    uint64_t process_start_ns_ = 0;
    uint64_t dropped_since_ns_ = 0;

    std::array<std::atomic<uint64_t>, kUploadOutcomeNames.size()> files_{};
    std::array<std::atomic<uint64_t>, cloud::kRequestFailureNames.size()> request_failures_{};
    std::atomic<uint64_t> bytes_{0};
    std::atomic<int64_t> last_success_{0};
    std::thread thread_;
};

}  // namespace mirrortap
