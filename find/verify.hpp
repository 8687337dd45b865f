// mirrortap-find --verify: prove a window of a bucket's captures whole and
// unaltered from the collectors' manifest chains (docs/evidence.md §5), over
// an S3 prefix or a directory that copies one (aws s3 sync s3://BUCKET/PREFIX DIR).
#pragma once
#include <cstdint>
#include <cstdio>
#include <string>

#include "find/store.hpp"

namespace mirrortap::find {

struct VerifyOptions {
    std::string from;  // DIR or s3://BUCKET/PREFIX
    S3Settings s3;     // when `from` is s3://
    uint64_t since_ns = 0, until_ns = ~0ull;
    std::string collector;   // "" = every collector
    bool json = false;       // the JSON report on standard output instead of the summary
    std::string report;      // also write the JSON report to this file
    bool progress = false;   // a progress line on standard error (a terminal)
    // S3 only: each file must be under Object Lock (or a legal hold) until its
    // last record + this many days; 0 = the lock is not checked.
    uint64_t lock_days = 0;
};

// 0 clean, 1 a finding or the store could not be read, 2 a source that cannot
// be used (lock_days on a directory among them: a copy keeps no lock).
int run_verify(const VerifyOptions& options, std::FILE* out, std::FILE* err);

}  // namespace mirrortap::find
