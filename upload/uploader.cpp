#include "upload/uploader.hpp"

#include <pthread.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <ctime>
#include <optional>
#include <utility>

#include "cloud/digest.hpp"
#include "cloud/object_key.hpp"
#include "cloud/retry.hpp"
#include "support/clock.hpp"
#include "support/unique_fd.hpp"

namespace mirrortap {

namespace {

std::string path_of(const FinishedCapture& c) { return c.directory + "/" + c.file_name; }

// The second the capture starts: its name says it; the first record if the name does not.
std::chrono::sys_seconds capture_start(const FinishedCapture& c) {
    if (auto start = cloud::capture_file_start(c.file_name)) return *start;
    return std::chrono::sys_seconds(std::chrono::seconds(c.first_ns / 1'000'000'000ull));
}


}  // namespace

Uploader::Uploader(UploadOptions options, std::shared_ptr<cloud::CredentialProvider> credentials,
                   std::unique_ptr<CaptureFileAccess> files)
    : options_(std::move(options)), credentials_(std::move(credentials)), files_access_(std::move(files)) {
    options_.s3.cancel = &cancel_;
    // On the uploader's thread, inside the S3 client's retries; read by stats().
    options_.s3.on_failed_request = [this](const cloud::AwsError& e) {
        request_failures_[size_t(cloud::classify_failure(e))].fetch_add(1, std::memory_order_relaxed);
    };
}

Uploader::~Uploader() { stop(); }

void Uploader::start() {
    // Born with every signal blocked, like the receive workers: SIGTERM and
    // SIGHUP belong to the main thread.
    sigset_t all, before;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, &before);
    thread_ = std::thread([this] { run(); });
    pthread_setname_np(thread_.native_handle(), "mt-uploader");
    pthread_sigmask(SIG_SETMASK, &before, nullptr);
}

bool Uploader::enqueue_locked(const FinishedCapture& capture) {
    if (queued_paths_.count(path_of(capture))) return true;
    if (queue_.size() >= options_.max_queue) {
        overflowed_ = true;
        return false;
    }
    queue_.push_back({capture});
    queued_paths_.insert(path_of(capture));
    backlog_bytes_ += capture.bytes;
    return true;
}

void Uploader::capture_finished(const FinishedCapture& capture) {
    {
        std::lock_guard lock(mutex_);
        enqueue_locked(capture);
    }
    wake_.notify_one();
}

void Uploader::rescan() {
    {
        std::lock_guard lock(mutex_);
        overflowed_ = false;  // a capture the queue refuses from now on sets it again
        scanning_ = true;
    }
    // Reads every file not yet uploaded (its records, for the metadata): on
    // this thread, never on the one that starts the receive path.
    std::vector<FinishedCapture> found = files_access_->pending();
    size_t added = 0;
    {
        std::lock_guard lock(mutex_);
        scanning_ = false;
        for (const auto& c : found) {
            const size_t before = queue_.size();
            if (!enqueue_locked(c)) break;
            added += queue_.size() - before;
        }
        if (queue_.empty() && !overflowed_) settled_.notify_all();
    }
    if (added > 0) options_.log("upload: " + std::to_string(added) + " finished captures on disk queued for upload");
}

Result<Uploader::Stored, UploadOutcome> Uploader::put(cloud::S3Client& s3, const FinishedCapture& c,
                                                      const std::string& name, std::string_view tree) {
    auto opened = files_access_->open(c, name);
    if (!opened) {
        if (opened.error().error == ENOENT) return fail(UploadOutcome::missing);
        options_.log("upload: cannot read " + opened.error().why);
        return fail(UploadOutcome::unreadable);
    }
    const UniqueFd fd(*opened);
    struct stat st{};
    if (fstat(fd.get(), &st) != 0) {
        options_.log("upload: cannot read " + c.directory + "/" + name + ": " + std::strerror(errno));
        return fail(UploadOutcome::unreadable);
    }
    const auto key =
        cloud::capture_object_key({options_.prefix, c.session, options_.collector_id, name, capture_start(c), tree});
    if (!key) {
        options_.log("upload: " + c.directory + "/" + name + " cannot be named in the store: " + key.error());
        return fail(UploadOutcome::unreadable);
    }
    cloud::ObjectWrite write;
    write.storage_class = options_.storage_class;
    write.content_type = tree == cloud::kPcapTree ? "application/vnd.tcpdump.pcap" : "application/gzip";
    write.metadata = {{"session", c.session},
                      {"vni", std::to_string(c.vni)},
                      {"collector", options_.collector_id},
                      {"packets", std::to_string(c.packets)},
                      {"first-timestamp", utc_ns(c.first_ns)},
                      {"last-timestamp", utc_ns(c.last_ns)}};
    auto stored = s3.upload_fd(fd.get(), uint64_t(st.st_size), *key, write);
    if (!stored) {
        const cloud::AwsError& e = stored.error();
        // A request we can never make (a name or metadata S3 would refuse) is not retried.
        const bool hopeless = e.http_status == 0 && !e.retryable && e.code == "InvalidRequest";
        if (!cancel_.load()) options_.log("upload: " + c.directory + "/" + name + ": " + e.describe());
        return fail(hopeless ? UploadOutcome::unreadable : UploadOutcome::failed);
    }
    bytes_.fetch_add(uint64_t(st.st_size), std::memory_order_relaxed);
    return Stored{*key, std::move(*stored)};
}

std::optional<UploadOutcome> Uploader::attempt(cloud::S3Client& s3, const FinishedCapture& c) {
    auto stored = put(s3, c, c.file_name, cloud::kPcapTree);
    // An index that is gone is no reason to keep the capture back.
    if (stored && !c.index_name.empty())
        if (auto index = put(s3, c, c.index_name, cloud::kFlowsTree); !index && index.error() != UploadOutcome::missing)
            stored = index;
    if (!stored) {
        if (cancel_.load()) return std::nullopt;  // cut short by a drain: neither a failure nor done
        return stored.error();
    }
    // In the chain's state on disk before the file can go: a crash after
    // this lists it (perhaps twice, if it is uploaded again), never not at all.
    record_stored(c, *stored);
    if (auto settled = files_access_->settle(c, options_.delete_after_upload); !settled)
        options_.log("upload: stored, but " + settled.error());
    last_success_.store(int64_t(std::time(nullptr)), std::memory_order_relaxed);
    return UploadOutcome::uploaded;
}

void Uploader::run() {
    cloud::S3Client s3(options_.s3, credentials_);
    const cloud::RetryPolicy backoff{1, options_.backoff_base, options_.backoff_cap};
    uint32_t failures_in_a_row = 0;
    load_chain();  // before the scan: the chain's files recorded by an earlier run come first
    rescan();  // what earlier runs left: the backlog of the disk
    using Steady = std::chrono::steady_clock;
    Steady::time_point next_manifest = Steady::now() + options_.manifest_interval;
    bool manifest_failed = false;  // the last manifest attempt failed: a capture goes next, if any
    std::unique_lock lock(mutex_);
    const auto backoff_wait = [&] {
        if (cancel_.load()) return;
        ++failures_in_a_row;
        const auto delay = cloud::backoff_delay(backoff, int(std::min<uint32_t>(failures_in_a_row, 30)));
        const uint64_t kicks = kicks_;
        wake_.wait_for(lock, delay, [&] { return stopping_ || kicks_ != kicks; });
    };
    for (;;) {
        const auto drain_cut_due = [&] { return manifest_wanted_ && queue_.empty() && !overflowed_; };
        wake_.wait_until(lock, next_manifest, [&] {
            return stopping_ || (!cancel_.load() && (!queue_.empty() || overflowed_ || drain_cut_due() ||
                                                     manifests_unsent_ > 0));
        });
        if (stopping_) return;
        if (cancel_.load()) {  // a drain ran out of time: nothing more is sent
            wake_.wait(lock, [&] { return stopping_; });
            return;
        }
        const bool interval_due = Steady::now() >= next_manifest;
        if (interval_due || drain_cut_due()) {
            const bool drain = drain_cut_due();
            lock.unlock();
            cut(drain ? "drain" : "interval");
            lock.lock();
            if (drain) manifest_wanted_ = false;
            next_manifest = Steady::now() + options_.manifest_interval;
            manifests_unsent_ = chain_.unsent.size();
        }
        if (manifests_unsent_ > 0 && !(manifest_failed && !queue_.empty())) {
            lock.unlock();
            const auto sent = send_manifest(s3);
            if (!sent && !cancel_.load()) options_.log("manifests: " + sent.error());
            lock.lock();
            manifests_unsent_ = chain_.unsent.size();
            manifest_failed = !sent.ok();
            if (sent) failures_in_a_row = 0;
            else backoff_wait();
            if (queue_.empty() && !overflowed_ && manifests_unsent_ == 0) settled_.notify_all();
            continue;
        }
        manifest_failed = false;
        if (queue_.empty() && !overflowed_) continue;  // woken for a manifest
        if (queue_.empty()) {  // overflowed, and now there is room: the disk has the rest
            lock.unlock();
            rescan();
            lock.lock();
            continue;
        }
        Queued item = queue_.front();
        busy_ = true;
        lock.unlock();
        std::optional<UploadOutcome> outcome = attempt(s3, item.capture);
        lock.lock();
        busy_ = false;
        // Retention removed it at the disk floor while it went up: unless it got there, that is what became of it.
        if (std::exchange(front_removed_, false) && outcome != UploadOutcome::uploaded)
            outcome = UploadOutcome::deleted_before_upload;
        if (outcome) count(*outcome);
        const bool leaves = outcome && *outcome != UploadOutcome::failed;
        queue_.pop_front();
        if (leaves) {
            queued_paths_.erase(path_of(item.capture));
            backlog_bytes_ -= item.capture.bytes;
            failures_in_a_row = 0;
        } else {
            // To the back: one file the store refuses does not hold up the others.
            queue_.push_back(item);
            backoff_wait();
        }
        if (queue_.empty() && !overflowed_) settled_.notify_all();
    }
}

bool Uploader::drain(std::chrono::steady_clock::time_point deadline) {
    std::unique_lock lock(mutex_);
    ++kicks_;  // a backoff wait in progress ends: try now
    manifest_wanted_ = true;  // once the queue is empty: a manifest that lists what the drain uploaded
    wake_.notify_all();
    const bool done = settled_.wait_until(lock, deadline, [&] {
        return queue_.empty() && !busy_ && !overflowed_ && !scanning_ && !manifest_wanted_ && manifests_unsent_ == 0;
    });
    if (!done) {
        cancel_.store(true);
        drain_cut_short_ = true;
        options_.log("upload: drain time is up: " + std::to_string(queue_.size()) + " captures (" +
                     std::to_string(backlog_bytes_) + " bytes) not uploaded stay on disk for the next start");
    }
    return done;
}

void Uploader::stop() {
    {
        std::lock_guard lock(mutex_);
        if (stopping_) return;
        stopping_ = true;
    }
    cancel_.store(true);
    wake_.notify_all();
    if (thread_.joinable()) thread_.join();
    std::lock_guard lock(mutex_);
    if (!queue_.empty() && !drain_cut_short_)
        options_.log("upload: stopped with " + std::to_string(queue_.size()) + " captures (" +
                     std::to_string(backlog_bytes_) + " bytes) not uploaded; they stay on disk for the next start");
}

bool Uploader::holds(const std::string& directory, const std::string& file_name) const {
    std::lock_guard lock(mutex_);
    return queued_paths_.count(directory + "/" + file_name) > 0;
}

void Uploader::removed_before_shipping(const std::string& directory, const std::string& file_name) {
    const std::string path = directory + "/" + file_name;
    std::lock_guard lock(mutex_);
    if (busy_ && path_of(queue_.front().capture) == path) {
        front_removed_ = true;  // run() counts it when the attempt ends
        return;
    }
    const auto it = std::find_if(queue_.begin(), queue_.end(), [&](const Queued& q) { return path_of(q.capture) == path; });
    if (it == queue_.end()) return;
    count(UploadOutcome::deleted_before_upload);
    backlog_bytes_ -= it->capture.bytes;
    queued_paths_.erase(path);
    queue_.erase(it);
}

void Uploader::load_chain() {
    process_start_ns_ = dropped_since_ns_ = realtime_ns();
    const auto fresh = [&](const std::string& why) {
        chain_ = new_chain(options_.collector_id, process_start_ns_);
        options_.log("manifests: " + why + ": a new chain " + chain_.chain + " begins");
    };
    auto text = files_access_->read_chain_state();
    if (!text) {
        fresh(text.error().error == ENOENT ? "no chain state in the capture directory (a first start)"
                                           : "cannot read the chain state (" + text.error().why + ")");
    } else if (auto state = parse_chain_state(*text); !state) {
        // Never guessed at: a chain that cannot be continued ends where it is, visibly.
        fresh("the chain state " + std::string(kChainStateName) + " is not usable (" + state.error() + ")");
    } else if (state->collector != options_.collector_id) {
        // The old chain's last files go into its own last manifest; its unsent ones still go up.
        ChainState old = std::move(*state);
        if (!old.files.empty())
            cut_manifest(old, options_.prefix, {process_start_ns_, "collector_changed", process_start_ns_,
                                                process_start_ns_, {}});
        fresh("the chain state belongs to collector " + old.collector);
        chain_.unsent = std::move(old.unsent);
    } else {
        chain_ = std::move(*state);
        options_.log("manifests: chain " + chain_.chain + " continues after manifest " +
                     std::to_string(chain_.sequence) + " (" + std::to_string(chain_.files.size()) +
                     " stored files recorded, " + std::to_string(chain_.unsent.size()) + " manifests to send)");
    }
    save_chain();
    std::lock_guard lock(mutex_);
    manifests_unsent_ = chain_.unsent.size();
}

void Uploader::save_chain() {
    // Not fatal: the chain stays in memory; only a crash before the next good write loses what it added.
    if (auto saved = files_access_->write_chain_state(chain_state_text(chain_)); !saved)
        options_.log("manifests: cannot save the chain state: " + saved.error());
}

void Uploader::record_stored(const FinishedCapture& c, const Stored& pcap) {
    ManifestFile f{pcap.key, c.bytes, pcap.result.sha256_hex, pcap.result.checksum_sha256, c.session, c.vni,
                   c.first_ns, c.last_ns, c.packets};
    // The same bytes stored again (a crash between recording and removing
    // them) are one entry; other bytes under the same key stay a second
    // entry, so that an overwritten object shows in the manifest.
    const auto same = std::find_if(chain_.files.begin(), chain_.files.end(),
                                   [&](auto& e) { return e.key == f.key && e.sha256 == f.sha256; });
    if (same == chain_.files.end()) chain_.files.push_back(std::move(f));
    save_chain();
}

void Uploader::cut(std::string_view cause) {
    ManifestCut c{realtime_ns(), cause, process_start_ns_, dropped_since_ns_, {}};
    if (drop_totals_) {
        auto now = drop_totals_();
        for (const auto& figure : now) {
            // Not a structured binding: clang before 16 cannot capture one in a lambda.
            const std::string& reason = figure.first;
            const uint64_t total = figure.second;
            const auto before = std::find_if(drops_at_last_cut_.begin(), drops_at_last_cut_.end(),
                                             [&](auto& d) { return d.first == reason; });
            // A kind of sink a reload took away leaves the figures: its total
            // can go down, which is no rise (and must not wrap around).
            const uint64_t was = before == drops_at_last_cut_.end() ? 0 : before->second;
            if (total > was) c.dropped.emplace_back(reason, total - was);
        }
        drops_at_last_cut_ = std::move(now);
    }
    {
        std::lock_guard lock(mutex_);
        c.waiting_count = queue_.size();
        for (const auto& q : queue_) {
            if (c.waiting.size() == kMaxWaitingListed) break;
            const FinishedCapture& f = q.capture;
            c.waiting.push_back({f.session, f.file_name, f.bytes, f.packets, f.first_ns, f.last_ns});
        }
    }
    dropped_since_ns_ = c.end_ns;
    cut_manifest(chain_, options_.prefix, c);
    // Saved before it is sent: a manifest that went up is always one the state knows.
    save_chain();
}

Result<> Uploader::send_manifest(cloud::S3Client& s3) {
    const UnsentManifest& m = chain_.unsent.front();
    // The S3 client reads files: the body goes through an anonymous one in memory.
    const UniqueFd fd(memfd_create("mirrortap-manifest", MFD_CLOEXEC));
    if (fd.get() < 0 || ::write(fd.get(), m.body.data(), m.body.size()) != ssize_t(m.body.size()))
        return fail("cannot stage " + m.key + " in memory: " + std::strerror(errno));
    cloud::ObjectWrite write;
    write.storage_class = options_.storage_class;
    write.content_type = "application/json";
    write.metadata = {{"collector", options_.collector_id}, {"chain", chain_.chain}};
    auto stored = s3.upload_fd(fd.get(), m.body.size(), m.key, write);
    if (!stored) return fail(m.key + ": " + stored.error().describe());
    options_.log("manifests: stored " + m.key);
    chain_.unsent.erase(chain_.unsent.begin());
    save_chain();
    return {};
}

UploadStats Uploader::stats() const {
    UploadStats s;
    for (size_t i = 0; i < kUploadOutcomeNames.size(); ++i) s.files[i] = files_[i].load(std::memory_order_relaxed);
    for (size_t i = 0; i < s.request_failures.size(); ++i)
        s.request_failures[i] = request_failures_[i].load(std::memory_order_relaxed);
    s.bytes = bytes_.load(std::memory_order_relaxed);
    s.last_success_unix_seconds = last_success_.load(std::memory_order_relaxed);
    std::lock_guard lock(mutex_);
    s.backlog_files = queue_.size();
    s.backlog_bytes = backlog_bytes_;
    return s;
}

}  // namespace mirrortap
