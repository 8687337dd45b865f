// Where captures are: a collector's pcap directory (<dir>/<session>/*.pcap
// with <file>.flows.json.gz beside each) or an S3 prefix laid out as
// cloud/object_key.hpp says (PREFIX/pcap/... and PREFIX/flows/...).
#pragma once
#include <cstdint>
#include <cstdio>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.hpp"
#include "cloud/credentials.hpp"
#include "cloud/s3_client.hpp"
#include "support/capture_names.hpp"

namespace mirrortap::find {

using capture_names::kPartSuffix;

// What to look for: sessions (empty = all) and the time window.
struct Selection {
    std::vector<std::string> sessions;
    uint64_t since_ns = 0;
    uint64_t until_ns = ~0ull;
};

struct CaptureFile {
    std::string where;      // for messages: a path or s3://bucket/key
    std::string session;
    std::string collector;  // "" for a local directory
    std::string name;       // <session>-<UTC start>-<seq>.pcap
    uint64_t size = 0;
    uint64_t start_ns = 0;  // from the name: at or before its first record
    std::string pcap_ref;   // path or key
    std::string index_ref;  // path or key; "" when there is none
    uint64_t index_size = 0;  // as listed (S3)
    size_t store = 0;       // which Store holds it
    // The file being written (.pcap.part): read up to its last whole record,
    // and a record cut off at its end is where the writer is, not damage.
    bool growing = false;
};

// Bounds on what a capture tree may hand us (it is writable by the
// collector's user): an index above kMaxIndexBytes as stored, or inflating
// past kMaxIndexTextBytes, is refused before (or while) it is read; a record
// longer than kMaxRecordBytes (or than its file's snaplen) is a corrupt file.
// The collector's default index (100,000 flows, a few hundred bytes each)
// is far below both.
inline constexpr uint64_t kMaxIndexBytes = 32ull << 20;
inline constexpr uint64_t kMaxIndexTextBytes = 128ull << 20;
inline constexpr uint32_t kMaxRecordBytes = 262144;  // also the snaplen mirrortap-find writes

class Store {
public:
    virtual ~Store() = default;
    virtual std::string describe() const = 0;
    // What makes two stores the same source (a real path; an endpoint,
    // bucket and prefix): a source given twice is read once.
    virtual std::string identity() const = 0;
    // The captures of the selected sessions that may hold packets of the
    // window (finished ones, and the one being written); or why the store
    // cannot be read. Entries that cannot be read as captures (a FIFO named
    // like one) are added to `refused`, one line each.
    virtual Result<std::vector<CaptureFile>> list(const Selection& selection, std::vector<std::string>& refused) = 0;
    // Every session the store holds (for "unknown session" messages).
    virtual Result<std::set<std::string>> sessions() = 0;
    // Bytes [offset, offset + length) of the capture, or the whole index.
    virtual Result<std::string> read_range(const CaptureFile& file, uint64_t offset, uint64_t length) = 0;
    virtual Result<std::string> read_index(const CaptureFile& file) = 0;
    // The indexes of many files: one after another here; S3 overlaps the
    // requests (each one is a round trip). out[i] is files[i]'s: its bytes,
    // or why they could not be read.
    using IndexRead = Result<std::string>;
    virtual void read_indexes(const std::vector<const CaptureFile*>& files, std::vector<IndexRead>& out) {
        out.assign(files.size(), {});
        for (size_t i = 0; i < files.size(); ++i) out[i] = read_index(*files[i]);
    }
    // How much to ask for at once, and how big a gap between two wanted
    // ranges is still read through (one request instead of two).
    virtual uint64_t chunk_bytes() const = 0;
    virtual uint64_t coalesce_gap() const = 0;
    uint64_t bytes_read = 0;
    uint64_t requests = 0;
};

std::unique_ptr<Store> local_store(const std::string& dir);

struct S3Settings {
    std::string url;       // s3://BUCKET[/PREFIX]
    std::string endpoint;  // "" for AWS
    std::string region;
    // A plain http:// store on another host is refused unless this is set (cloud::plain_http_to_another_host).
    bool allow_insecure = false;
};
// Or why not: a bad URL, endpoint or missing credentials.
Result<std::unique_ptr<Store>> s3_store(const S3Settings& settings);

// What an S3 client of `settings` needs (find's retries and limits, the
// credentials of the environment), and the prefix ("" or "a/b/").
struct S3Access {
    cloud::S3ClientOptions options;
    std::shared_ptr<cloud::CredentialProvider> credentials;
    std::string prefix;
};
Result<S3Access> s3_access(const S3Settings& settings);

// Where a query reads: directories and s3:// prefixes, and how to reach S3.
struct Sources {
    std::vector<std::string> from;
    std::string endpoint, region;
    bool allow_insecure = false;
};
// A store for each source, a source given twice (dir and dir/../dir, a bucket
// and prefix twice) kept once and said on `log` (nullptr: not said); or why a
// source cannot be read (a bad s3:// URL, missing credentials).
Result<std::vector<std::unique_ptr<Store>>> open_stores(const Sources& sources, std::FILE* log);

// Drops files that end before the window: within one (session, collector),
// names sort by start, and a file ends before its successor starts.
void drop_files_before(std::vector<CaptureFile>& files, uint64_t since_ns);

}  // namespace mirrortap::find
