#include "sinks/pcap_rotator.hpp"

#include <algorithm>
#include <cstring>

#include "sinks/pcap_format.hpp"
#include "sinks/pcap_writer.hpp"

namespace mirrortap {

namespace {

// Every block holds at least one record of the largest size and its run;
// a multiple of 8 bytes, so that the runs at its end are aligned.
size_t block_bytes_for(const PcapRotatorOptions& o) {
    const size_t least = sizeof(PcapRecordHeader) + o.snaplen + sizeof(PcapRun);
    return (std::max<size_t>(o.pcap.buffer_bytes, least) + 7) & ~size_t(7);
}

uint32_t block_count_for(const PcapRotatorOptions& o) {
    if (o.block_count > 0) return o.block_count;
    return uint32_t(std::max<size_t>(4, kDefaultPcapPoolBytes / block_bytes_for(o)));
}

// A writer of the sink's own when it was given none (a sink alone: tests, tools).
std::shared_ptr<PcapWriter> writer_for(const PcapRotatorOptions& o) {
    if (o.writer) return o.writer;
    auto own = std::make_shared<PcapWriter>();
    own->start();
    return own;
}

}  // namespace

PcapRotator::PcapRotator(PcapRotatorOptions options)
    : opt_(std::move(options)),
      writer_(writer_for(opt_)),
      channel_(std::make_shared<PcapChannel>(opt_, block_bytes_for(opt_), block_count_for(opt_),
                                             writer_->file_sequences())) {
    const uint32_t count = channel_->pool.count();
    spare_.reserve(count);
    // Highest first, so that block 0 is used first and the pages touched stay few.
    for (uint32_t b = count; b-- > 0;) spare_.push_back(b);
    writer_->attach(channel_);
}

PcapRotator::~PcapRotator() { close(); }

uint32_t PcapRotator::block_count() const { return channel_->pool.count(); }

void PcapRotator::take_back_free_blocks() {
    // Blocks the writer gave back go on top of the spares: the warmest are used first.
    for (uint32_t b; channel_->to_worker.pop(b);) spare_.push_back(b);
}

bool PcapRotator::start_block(uint64_t timestamp_ns) {
    take_back_free_blocks();
    if (spare_.empty()) return false;
    filling_ = spare_.back();
    spare_.pop_back();
    channel_->pool.block(filling_) = PcapBlock{0, 0, 0, timestamp_ns};
    return true;
}

void PcapRotator::hand_over() {
    if (filling_ == kNoBlock) return;
    channel_->to_writer.push(filling_);  // never full: it has room for every block
    filling_ = kNoBlock;
}

bool PcapRotator::over_share(const Session& s) {
    const uint32_t count = channel_->pool.count();
    // Up to half the pool may wait in the writer's hands for the flush
    // interval; under an eighth free, the disk is what holds it up.
    if (spare_.size() * 8 >= count) return false;
    take_back_free_blocks();
    if (spare_.size() * 8 >= count) return false;
    const uint64_t waiting = accepted_ - channel_->records_settled.load(std::memory_order_relaxed);
    uint64_t held = s.sinks[opt_.sink_index].buffered.get();
    if (run_session_ == &s) held += run_records_;
    return held * 8 > waiting;
}

void PcapRotator::report_buffered() {
    if (run_records_ == 0) return;
    run_session_->sinks[opt_.sink_index].buffered.add(run_records_);
    run_records_ = 0;
}

void PcapRotator::publish() {
    // The gauge first: the writer takes records off it once it sees their block.
    report_buffered();
    if (!channel_->to_writer.has_staged()) return;
    channel_->to_writer.publish();
    writer_->wake();
}

void PcapRotator::write(std::span<const Packet> batch) {
    BlockPool& pool = channel_->pool;
    for (const Packet& p : batch) {
        Session& s = *p.session;
        if (closed_) {
            // Only a caller breaking the contract (write after close) gets here; the
            // worker never does, so the writer stays this counter's only writer in practice.
            s.sinks[opt_.sink_index].drop(SinkDropReason::not_open);
            continue;
        }
        if (over_share(s)) {
            // The writer is behind and this session holds more than its share: count, never wait.
            s.sinks[opt_.sink_index].drop(SinkDropReason::queue_full);
            continue;
        }
        const uint32_t caplen = uint32_t(std::min<size_t>(p.frame.size(), opt_.snaplen));
        const uint32_t record_bytes = uint32_t(sizeof(PcapRecordHeader)) + caplen;
        bool same_run = false;
        if (filling_ != kNoBlock) {
            const PcapBlock& b = pool.block(filling_);
            same_run = b.runs > 0 && pool.run(filling_, b.runs - 1).session == &s;
            if (pool.room(filling_) < record_bytes + (same_run ? 0 : sizeof(PcapRun))) {
                hand_over();
                same_run = false;
            }
        }
        if (filling_ == kNoBlock && !start_block(p.timestamp_ns)) {
            // The writer is behind and every block is taken: count, never wait.
            s.sinks[opt_.sink_index].drop(SinkDropReason::queue_full);
            continue;
        }
        PcapBlock& block = pool.block(filling_);
        if (!same_run) pool.run(filling_, block.runs++) = PcapRun{&s, block.bytes, 0, 0, 0, 0};
        PcapRun& run = pool.run(filling_, block.runs - 1);
        std::byte* out = pool.data(filling_) + block.bytes;
        const PcapRecordHeader rec = make_record_header(p.timestamp_ns, caplen, p.original_length);
        std::memcpy(out, &rec, sizeof rec);
        std::memcpy(out + sizeof rec, p.frame.data(), caplen);
        block.bytes += record_bytes;
        block.records++;
        run.bytes += record_bytes;
        run.records++;
        run.last_ns = p.timestamp_ns;
        ++accepted_;
        if (&s != run_session_) {
            report_buffered();
            run_session_ = &s;
        }
        ++run_records_;
    }
    publish();
}

void PcapRotator::tick(uint64_t now_ns) {
    channel_->now_ns.store(now_ns, std::memory_order_relaxed);
    // The block goes out part-full at half the flush interval, and the writer
    // writes what it holds once its oldest record reaches the whole interval,
    // so that the files (and whoever tails them) stay within that much of the traffic.
    const uint64_t max_age_ns = uint64_t(opt_.pcap.flush_interval_ms) * 500'000ull;
    if (filling_ != kNoBlock && now_ns >= channel_->pool.block(filling_).first_ns + max_age_ns) hand_over();
    publish();
}

void PcapRotator::rotate() {
    if (closed_) return;
    hand_over();
    // Full only if earlier SIGHUPs are still queued: this one joins them.
    channel_->to_writer.push(PcapChannel::kRotateMark);
    publish();
}

void PcapRotator::close() {
    if (closed_) return;
    closed_ = true;
    hand_over();
    publish();
    channel_->closing.store(true, std::memory_order_release);
    writer_->wake();
}

void PcapRotator::drain() {
    close();
    writer_->wait_done(*channel_);
}

uint64_t PcapRotator::expire(Session& s) {
    if (closed_) return 0;  // the writer finishes everything of a closed sink
    // The block may hold the session's last records among others': it goes first.
    hand_over();
    // Room for it: the ring holds every block, the rotate marks and kMaxEndingSessions end marks.
    channel_->to_writer.push(PcapChannel::kEndMark | s.id);
    if (run_session_ == &s) {
        report_buffered();
        run_session_ = nullptr;
    }
    publish();
    return ++sessions_ended_;
}

bool PcapRotator::released(uint64_t ticket) {
    return ticket == 0 || channel_->done.load(std::memory_order_acquire) ||
           channel_->sessions_ended.load(std::memory_order_acquire) >= ticket;
}

void PcapRotator::sync() { writer_->sync(); }

SinkStats PcapRotator::stats() const { return channel_->files.stats(); }

Result<> PcapRotator::health() const { return channel_->files.health(); }

}  // namespace mirrortap
