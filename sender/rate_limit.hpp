// Token buckets for --max-rate. Pure: the caller passes the time in.
#pragma once
#include <algorithm>
#include <cstdint>

namespace mirrortap::sender {

class TokenBucket {
public:
    TokenBucket() = default;  // unlimited
    // `rate` tokens per second; at most `burst` saved up. rate 0 = unlimited.
    TokenBucket(uint64_t rate, uint64_t burst) : rate_(rate), burst_(std::max<uint64_t>(burst, 1)), tokens_(double(burst_)) {}

    bool unlimited() const { return rate_ == 0; }

    // Takes `amount` tokens if there are that many; never goes into debt, so a
    // refused packet costs nothing.
    bool take(uint64_t amount, uint64_t now_ns) {
        if (rate_ == 0) return true;
        refill(now_ns);
        if (tokens_ < double(amount)) return false;
        tokens_ -= double(amount);
        return true;
    }

private:
    void refill(uint64_t now_ns) {
        if (last_ns_ == 0 || now_ns < last_ns_) {
            last_ns_ = now_ns;
            return;
        }
        tokens_ = std::min(double(burst_), tokens_ + double(now_ns - last_ns_) * double(rate_) / 1e9);
        last_ns_ = now_ns;
    }

    uint64_t rate_ = 0;
    uint64_t burst_ = 1;
    double tokens_ = 0;
    uint64_t last_ns_ = 0;
};

// Packets/s and bits/s together: a packet passes when both allow it.
class RateLimiter {
public:
    RateLimiter() = default;
    // Bursts of 10 ms of the rate, and at least one full datagram, so that a
    // cap smooths traffic without refusing a packet larger than the burst.
    RateLimiter(uint64_t packets_per_second, uint64_t bits_per_second)
        : packets_(packets_per_second, packets_per_second / 100),
          bits_(bits_per_second, std::max<uint64_t>(bits_per_second / 100, 65535 * 8)) {}

    bool allow(uint64_t wire_bytes, uint64_t now_ns) {
        if (packets_.unlimited() && bits_.unlimited()) return true;
        // Check bits before taking a packet token, so that a refusal takes neither.
        TokenBucket packets_before = packets_;
        if (!packets_.take(1, now_ns)) return false;
        if (!bits_.take(wire_bytes * 8, now_ns)) {
            packets_ = packets_before;
            return false;
        }
        return true;
    }

private:
    TokenBucket packets_;
    TokenBucket bits_;
};

}  // namespace mirrortap::sender
