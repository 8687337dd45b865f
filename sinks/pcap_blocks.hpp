// What a receive worker hands the pcap writer thread: fixed-size blocks of
// whole pcap records from a pool allocated once. A block holds the records of
// every session in the order they came, as runs (one session's records back
// to back), so that the memory a worker holds is its traffic over the flush
// interval, whatever the number of sessions; the writer gathers each
// session's runs from the blocks it holds into one writev (docs/design.md §2).
// Blocks travel by index through two single-producer single-consumer rings:
// worker -> writer ("full") and writer -> worker ("free"). Nothing here locks
// or allocates after construction.
#pragma once
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>

#include "core/session.hpp"

namespace mirrortap {

// Single producer, single consumer ring of 32-bit entries. Positions count up
// and never wrap; the producer stages entries and makes them visible together.
class SpscRing {
public:
    explicit SpscRing(size_t min_capacity);

    // Producer: stage one entry; false when the ring is full.
    bool push(uint32_t value) {
        if (staged_ - cached_tail_ >= capacity_) {
            cached_tail_ = tail_.load(std::memory_order_acquire);
            if (staged_ - cached_tail_ >= capacity_) return false;
        }
        slots_[staged_ & mask_] = value;
        ++staged_;
        return true;
    }
    // Producer: everything staged becomes visible to the consumer. Sequentially
    // consistent so that a following load of "is the consumer asleep?" cannot
    // be ordered before it (the consumer stores that flag, then reads head()).
    void publish() {
        if (staged_ != head_.load(std::memory_order_relaxed)) head_.store(staged_, std::memory_order_seq_cst);
    }
    bool has_staged() const { return staged_ != head_.load(std::memory_order_relaxed); }

    // Consumer: entries [tail(), head()) are readable.
    uint64_t head() const { return head_.load(std::memory_order_seq_cst); }
    uint64_t tail() const { return tail_.load(std::memory_order_relaxed); }
    uint32_t at(uint64_t pos) const { return slots_[pos & mask_]; }
    // Consumer: the entries before `pos` are done with; their slots are free again.
    void consume_to(uint64_t pos) { tail_.store(pos, std::memory_order_release); }
    // Consumer: one entry, if any.
    bool pop(uint32_t& value) {
        const uint64_t t = tail();
        if (t == head_.load(std::memory_order_acquire)) return false;
        value = at(t);
        consume_to(t + 1);
        return true;
    }

private:
    size_t capacity_;
    uint64_t mask_;
    std::unique_ptr<uint32_t[]> slots_;
    alignas(64) std::atomic<uint64_t> head_{0};
    alignas(64) std::atomic<uint64_t> tail_{0};
    alignas(64) uint64_t staged_ = 0;  // producer-private
    uint64_t cached_tail_ = 0;         // producer-private
};

// One session's records, back to back in a block. A block keeps its runs at
// its end, growing down towards its records, so that it holds as many runs as
// its records need: one for a long stretch of one session, one a record when
// thousands of sessions interleave.
struct PcapRun {
    Session* session = nullptr;
    uint32_t offset = 0;  // of the run's first record in the block
    uint32_t bytes = 0;
    uint32_t records = 0;
    uint32_t unused = 0;
    uint64_t last_ns = 0;  // timestamp of the run's last record
};
static_assert(sizeof(PcapRun) == 32 && alignof(PcapRun) == 8);

// What is in one block. Written by the worker before the block's index is
// published, read by the writer after; never touched by both at once.
struct PcapBlock {
    uint32_t bytes = 0;  // pcap records, whole ones only, from the block's start
    uint32_t records = 0;
    uint32_t runs = 0;      // PcapRun entries, from the block's end down
    uint64_t first_ns = 0;  // timestamp of the first record
};

// Records of one session in memory, as the writer hands them to its files.
struct RecordRun {
    const std::byte* data = nullptr;
    uint32_t bytes = 0;
    uint32_t records = 0;
    uint64_t last_ns = 0;
};

// `count` blocks of `block_bytes` each, in one anonymous mapping: its pages
// are touched only when a block is first filled, and handed back to the
// system whole when the pool goes (no malloc arena keeps them).
class BlockPool {
public:
    BlockPool(size_t block_bytes, uint32_t count);
    ~BlockPool();
    BlockPool(const BlockPool&) = delete;
    BlockPool& operator=(const BlockPool&) = delete;

    size_t block_bytes() const { return block_bytes_; }
    uint32_t count() const { return count_; }
    std::byte* data(uint32_t block) { return base_ + size_t(block) * block_bytes_; }
    PcapBlock& block(uint32_t i) { return blocks_[i]; }
    // The block's run `i`, counted from its end. block_bytes is a multiple of
    // 8 and the mapping page-aligned, so every run is aligned.
    PcapRun& run(uint32_t block, uint32_t i) {
        return reinterpret_cast<PcapRun*>(data(block) + block_bytes_)[-1 - ptrdiff_t(i)];
    }
    // Bytes left between the block's records and its runs.
    size_t room(uint32_t block) {
        const PcapBlock& b = blocks_[block];
        return block_bytes_ - b.bytes - size_t(b.runs) * sizeof(PcapRun);
    }

private:
    size_t block_bytes_;
    uint32_t count_;
    size_t mapped_bytes_;
    std::byte* base_;
    std::unique_ptr<PcapBlock[]> blocks_;
};

}  // namespace mirrortap
