#include "sinks/pcap_writer.hpp"

#include <linux/futex.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <bit>
#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <unordered_set>

#include "sinks/pcap_rotator.hpp"
#include "support/clock.hpp"

namespace mirrortap {

namespace {

// How long an idle writer sleeps: the resolution of time rotation, retries
// and free-space checks when no block arrives to wake it.
constexpr long kIdleWaitNs = 100'000'000;
// A session with less than this pending at a flush (its carry included) is
// quiet: its records wait in its carry, up to pcap.quiet_flush_ms. At 10,000
// sessions and 100k packets/s each flush held ~1 KB a session, and one writev
// each (20,000 a second, their fixed cost in ext4: inode times, page lookups)
// was most of the writer's CPU; a page's worth makes them 4 times fewer, and
// bounds a quiet session's carry to under two pages.
constexpr size_t kQuietWriteBytes = 4096;
// Rotate marks that may wait in a ring at once, beyond one entry per block;
// a SIGHUP that finds them all taken joins the rotations already queued.
constexpr size_t kRotateMarks = 16;

long futex(std::atomic<uint32_t>& word, int op, uint32_t value, const timespec* timeout) {
    static_assert(sizeof(std::atomic<uint32_t>) == sizeof(uint32_t));
    return syscall(SYS_futex, reinterpret_cast<uint32_t*>(&word), op, value, timeout, nullptr, 0);
}

}  // namespace

// ---- rings and blocks ------------------------------------------------------

SpscRing::SpscRing(size_t min_capacity)
    : capacity_(std::bit_ceil(std::max<size_t>(min_capacity, 2))),
      mask_(capacity_ - 1),
      slots_(std::make_unique<uint32_t[]>(capacity_)) {}

BlockPool::BlockPool(size_t block_bytes, uint32_t count)
    : block_bytes_(block_bytes),
      count_(count),
      mapped_bytes_(block_bytes * count),
      blocks_(std::make_unique<PcapBlock[]>(count)) {
    void* p = mmap(nullptr, mapped_bytes_, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (p == MAP_FAILED)
        throw std::runtime_error("pcap: cannot map " + std::to_string(mapped_bytes_) + " bytes of buffers: " +
                                 std::strerror(errno));
    base_ = static_cast<std::byte*>(p);
}

BlockPool::~BlockPool() { munmap(base_, mapped_bytes_); }

// ---- one sink's channel ------------------------------------------------------

PcapChannel::PcapChannel(const PcapRotatorOptions& options, size_t block_bytes, uint32_t block_count,
                         FileSequences& sequences)
    : pool(block_bytes, block_count),
      to_writer(block_count + kRotateMarks + kMaxEndingSessions),
      to_worker(block_count),
      files(options, sequences),
      flush_ns_(uint64_t(options.pcap.flush_interval_ms) * 1'000'000ull),
      quiet_ns_(uint64_t(options.pcap.quiet_flush_ms) * 1'000'000ull) {
    held_.reserve(block_count);
}

void PcapChannel::take_snapshot() {
    // Closing first: a worker sets it after publishing its last block, so a
    // head read afterwards holds every block there will be.
    snapshot_.closing = closing.load(std::memory_order_acquire);
    snapshot_.head = to_writer.head();
}

void PcapChannel::take(uint32_t b) {
    const PcapBlock& block = pool.block(b);
    if (held_.empty() || block.first_ns < held_oldest_ns_) held_oldest_ns_ = block.first_ns;
    held_.push_back(b);
    for (uint32_t i = 0; i < block.runs; ++i) {
        const PcapRun& run = pool.run(b, i);
        const uint32_t id = run.session->id;
        if (id >= pending_.size()) {
            // A session id seen for the first time: the cold path, allowed to grow.
            pending_.resize(id + 1);
            pending_session_.resize(id + 1);
            carry_.resize(id + 1);
        }
        auto& runs = pending_[id];
        if (runs.empty()) {
            touched_.push_back(id);
            pending_session_[id] = run.session;
        }
        runs.push_back({pool.data(b) + run.offset, run.bytes, run.records, run.last_ns});
    }
}

// The carry first: its records came before the pending runs'.
void PcapChannel::write_pending(uint32_t id) {
    if (id >= pending_.size()) return;
    auto& runs = pending_[id];
    Carry& carry = carry_[id];
    if (carry.records > 0)
        runs.insert(runs.begin(), RecordRun{carry.bytes.data(), uint32_t(carry.bytes.size()), carry.records,
                                            carry.last_ns});
    if (runs.empty()) return;
    files.write_runs(*pending_session_[id], runs);
    runs.clear();  // keeps its capacity: the next flush allocates nothing for this session
    carry.bytes.clear();
    carry.records = 0;
}

void PcapChannel::flush_session(uint32_t id, uint64_t now) {
    const auto& runs = pending_[id];
    if (runs.empty()) return;  // touched_ may name a session twice
    if (quiet_ns_ == 0 || !files.has_open_file(id)) {
        // A session's first records always go out: its file and `current` appear within a flush interval.
        write_pending(id);
        return;
    }
    size_t bytes = carry_[id].bytes.size();
    for (const RecordRun& run : runs) bytes += run.bytes;
    if (bytes >= kQuietWriteBytes) write_pending(id);
    else carry_over(id, now);
}

void PcapChannel::carry_over(uint32_t id, uint64_t now) {
    Carry& carry = carry_[id];
    if (carry.records == 0) {
        // Its oldest record is at most a flush interval old now (flush_due()),
        // so it reaches its file within quiet_flush_ms of its arrival. While
        // the clock goes forward the queue is in the order carries are due.
        carry.due_ns = now + quiet_ns_ - std::min(quiet_ns_, flush_ns_);
        carry_due_.push_back({id, carry.due_ns});
        carry.bytes.reserve(kQuietWriteBytes);  // it stays below that: more goes to the file
    }
    for (const RecordRun& run : pending_[id]) {
        carry.bytes.insert(carry.bytes.end(), run.data, run.data + run.bytes);
        carry.records += run.records;
        carry.last_ns = run.last_ns;
    }
    pending_[id].clear();
}

bool PcapChannel::carry_due() const {
    if (carry_due_.empty()) return false;
    const uint64_t now = now_ns.load(std::memory_order_relaxed);
    const uint64_t due = carry_due_.front().due_ns;
    // Due further off than quiet_flush_ms: the wall clock stepped back since.
    // Written now, so that a step back cannot hold every carry behind it that long.
    return now >= due || due - now > quiet_ns_;
}

void PcapChannel::write_due_carries(bool all) {
    while (!carry_due_.empty() && (all || carry_due())) {
        const CarryDue due = carry_due_.front();
        carry_due_.pop_front();
        // The carry may have gone out since (grown past a page, the session
        // ended): then this entry is stale, and a newer one, if any, stands for it.
        if (carry_[due.id].records == 0 || carry_[due.id].due_ns != due.due_ns) continue;
        const uint32_t id = due.id;
        write_pending(id);
        // A session quiet this long gives its carry's memory back.
        std::vector<std::byte>().swap(carry_[id].bytes);
    }
}

void PcapChannel::flush() {
    const uint64_t now = now_ns.load(std::memory_order_relaxed);
    for (const uint32_t id : touched_) flush_session(id, now);
    touched_.clear();
    uint64_t records = 0;
    for (const uint32_t b : held_) {
        records += pool.block(b).records;
        to_worker.push(b);  // never full: it has room for every block
    }
    held_.clear();
    records_settled.store(records_settled.load(std::memory_order_relaxed) + records, std::memory_order_relaxed);
    to_worker.publish();
}

bool PcapChannel::flush_due() const {
    return !held_.empty() && (flush_ns_ == 0 || now_ns.load(std::memory_order_relaxed) >= held_oldest_ns_ + flush_ns_);
}

bool PcapChannel::serve() {
    if (done.load(std::memory_order_relaxed)) return false;
    const uint64_t head = snapshot_.head;
    bool worked = false;
    for (uint64_t pos = to_writer.tail(); pos != head; ++pos) {
        worked = true;
        const uint32_t entry = to_writer.at(pos);
        if (entry == kRotateMark) {
            flush();
            write_due_carries(true);
            files.finish_all();
            continue;
        }
        if (entry & kEndMark) {
            // Every block of the session came before this mark: its records are counted.
            write_pending(entry & ~kEndMark);
            files.end_session(entry & ~kEndMark);
            sessions_ended.store(sessions_ended.load(std::memory_order_relaxed) + 1, std::memory_order_release);
            continue;
        }
        take(entry);
        // Half the pool in hand: write now, so that the worker always has room
        // for a flush interval's worth more while the disk keeps up.
        if (held_.size() * 2 >= pool.count()) flush();
    }
    to_writer.consume_to(head);
    if (flush_due() || (snapshot_.closing && !held_.empty())) {
        flush();
        worked = true;
    }
    if (carry_due() || (snapshot_.closing && !carry_due_.empty())) {
        write_due_carries(snapshot_.closing);
        worked = true;
    }
    files.tick(now_ns.load(std::memory_order_relaxed));
    if (snapshot_.closing) {
        files.close();
        done.store(true, std::memory_order_release);
        worked = true;
    }
    return worked;
}

bool PcapChannel::has_work() const {
    if (done.load(std::memory_order_relaxed)) return false;
    return to_writer.head() != to_writer.tail() || closing.load(std::memory_order_acquire) || flush_due() ||
           carry_due();
}

// ---- the writer thread -------------------------------------------------------

void PcapWriter::start() {
    if (started_) return;
    started_ = true;
    next_dir_sweep_ = std::chrono::steady_clock::now() + dir_sweep_interval_;
    thread_ = std::thread([this] {
        sigset_t all;  // the process's signal handlers run elsewhere
        sigfillset(&all);
        pthread_sigmask(SIG_BLOCK, &all, nullptr);
        // Its fair share of the CPU, but no preempting a receive worker when a
        // block wakes it: the wake-up would land inside that worker's batch.
        const sched_param normal{0};
        pthread_setschedparam(pthread_self(), SCHED_BATCH, &normal);
        run();
    });
    // Named so that `top -H`, /proc/PID/task/*/comm and strace tell it from the
    // receive workers; here, so that the name is there once start() returns.
    pthread_setname_np(thread_.native_handle(), "mt-pcap-writer");
}

PcapWriter::~PcapWriter() { stop(); }

void PcapWriter::stop() {
    start();  // a writer never started still finishes what it was given
    {
        std::lock_guard lock(mutex_);
        stopping_ = true;
    }
    wake_now();
    if (thread_.joinable() && thread_.get_id() != std::this_thread::get_id()) thread_.join();
}

void PcapWriter::attach(std::shared_ptr<PcapChannel> channel) {
    {
        std::lock_guard lock(mutex_);
        incoming_.push_back(std::move(channel));
    }
    wake_now();
}

void PcapWriter::wake_now() {
    wake_word_.fetch_add(1, std::memory_order_seq_cst);
    futex(wake_word_, FUTEX_WAKE_PRIVATE, 1, nullptr);
}

bool PcapWriter::pass() {
    {
        std::lock_guard lock(mutex_);
        if (!incoming_.empty()) next_age_sweep_ = {};  // new settings, or the files a start finds: look now
        for (auto& c : incoming_) channels_.push_back(std::move(c));
        incoming_.clear();
    }
    // Newest first: a worker publishes into its new sink only after it closed
    // the old one, so whatever the new channel shows, the old one's snapshot,
    // taken after it, holds all that came before. Served oldest first, the
    // old sink's last records reach their files before the new sink's first:
    // a reload keeps each session's files in the order of their records.
    for (size_t i = channels_.size(); i-- > 0;) channels_[i]->take_snapshot();
    bool worked = false;
    for (auto& c : channels_) worked |= c->serve();
    std::erase_if(channels_, [](const auto& c) { return c->done.load(std::memory_order_relaxed); });
    if (std::chrono::steady_clock::now() >= next_dir_sweep_) {
        next_dir_sweep_ = std::chrono::steady_clock::now() + dir_sweep_interval_;
        sweep_empty_session_dirs();
    }
    if (std::chrono::steady_clock::now() >= next_age_sweep_) sweep_by_age();
    return worked;
}

void PcapWriter::sweep_by_age() {
    constexpr int64_t kSecondNs = 1'000'000'000;
    const int64_t now_ns = int64_t(realtime_ns());
    int64_t due_ns = now_ns + 60 * kSecondNs;
    std::unordered_set<std::string> dirs;
    for (size_t i = channels_.size(); i-- > 0;) {
        PcapFiles& files = channels_[i]->files;
        if (!dirs.insert(files.dir()).second) continue;
        const PcapFiles::AgeSweep swept = files.apply_age_retention(now_ns);
        if (swept.next_due_ns != 0) due_ns = std::min(due_ns, swept.next_due_ns);
        for (const auto& other : channels_)
            if (&other->files != &files && other->files.dir() == files.dir()) other->files.forget_finished(swept.removed);
    }
    next_age_sweep_ = std::chrono::steady_clock::now() +
                      std::chrono::nanoseconds(std::clamp(due_ns - now_ns, kSecondNs, 60 * kSecondNs));
}

// Live means held by any sink of this writer: a session's directory is not
// removed because another worker's sink, or a reload's predecessor, has it.
void PcapWriter::sweep_empty_session_dirs() {
    std::unordered_set<std::string> live;
    std::unordered_set<std::string> dirs;
    for (const auto& c : channels_) {
        c->files.add_session_names(live);
        dirs.insert(c->files.dir());
    }
    for (const auto& dir : dirs) remove_empty_session_dirs(dir, live);
}

bool PcapWriter::anything_to_do() const {
    return std::any_of(channels_.begin(), channels_.end(), [](const auto& c) { return c->has_work(); });
}

void PcapWriter::idle_wait() {
    const uint32_t word = wake_word_.load(std::memory_order_seq_cst);
    // Say we sleep, then look once more: a worker publishes, then reads this
    // flag, so either it sees us asleep and wakes us, or we see its block.
    sleeping_.store(true, std::memory_order_seq_cst);
    if (!anything_to_do()) {
        const timespec timeout{0, kIdleWaitNs};
        futex(wake_word_, FUTEX_WAIT_PRIVATE, word, &timeout);
    }
    sleeping_.store(false, std::memory_order_relaxed);
}

void PcapWriter::run() {
    for (;;) {
        const bool worked = pass();
        bool stop;
        {
            std::lock_guard lock(mutex_);
            ++passes_;
            stop = stopping_;
        }
        passed_.notify_all();
        if (stop) {
            // Every sink is gone, each closed on its way: one more pass finishes them.
            pass();
            break;
        }
        if (!worked) idle_wait();
    }
}

void PcapWriter::sync() {
    // A year stands for ever, without the overflow a time_point::max() deadline risks.
    sync_until(std::chrono::steady_clock::now() + std::chrono::hours(24 * 365));
}

bool PcapWriter::sync_until(std::chrono::steady_clock::time_point deadline) {
    std::unique_lock lock(mutex_);
    const uint64_t target = passes_ + 2;  // the pass under way may have begun before the call
    wake_now();
    return passed_.wait_until(lock, deadline, [&] { return passes_ >= target || stopping_; });
}

void PcapWriter::wait_done(const PcapChannel& channel) {
    std::unique_lock lock(mutex_);
    wake_now();
    passed_.wait(lock, [&] { return channel.done.load(std::memory_order_acquire) || stopping_; });
}

}  // namespace mirrortap
