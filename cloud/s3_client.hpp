// An S3 client on libcurl, speaking S3's REST API as AWS documents it:
// PutObject, multipart uploads (Create, UploadPart, Complete, Abort),
// HeadObject, ListObjectsV2 and ranged GetObject. Requests are signed with
// SigV4 by libcurl (see http.hpp for what that needs of a request); every
// body carries Content-MD5 and its signed SHA-256, which S3 checks before it
// stores anything. Object data also carries S3's own checksum (SHA-256:
// x-amz-checksum-sha256 on PutObject and on each UploadPart, the parts'
// ChecksumSHA256 in CompleteMultipartUpload), which S3 verifies and keeps
// with the object, and the whole file's SHA-256 as metadata (kSha256Metadata).
// A file is read once for all of these before its first request; a request
// sent again carries the same digests, so a body that changed on the way (or
// on disk) is refused again, never stored. Each request is retried on its
// own (a failed part is sent again, not the file) with capped, fully
// jittered exponential backoff.
//
// One thread uses an S3Client at a time; the CredentialProvider may be shared.
#pragma once
#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "cloud/credentials.hpp"
#include "cloud/digest.hpp"
#include "cloud/http.hpp"
#include "cloud/part_plan.hpp"
#include "cloud/result.hpp"
#include "cloud/retry.hpp"
#include "cloud/s3_address.hpp"

namespace mirrortap::cloud {

// The metadata name of the whole file's SHA-256 (lowercase hex), which every
// upload carries: x-amz-meta-sha256. Callers may not give it themselves.
inline constexpr std::string_view kSha256Metadata = "sha256";

struct S3ClientOptions {
    S3Location location;
    RetryPolicy retry;
    // Per request. Requests with a large body (PutObject, UploadPart,
    // ranged GetObject) drop the total timeout and keep the speed floor.
    HttpLimits limits;
    // While *cancel is true, transfers and backoff waits stop ("Cancelled").
    const std::atomic<bool>* cancel = nullptr;
    // Told of every request that failed (an answer that was no success, or
    // none at all), those tried again included; not of a cancelled one.
    std::function<void(const AwsError&)> on_failed_request;
};

struct ObjectWrite {
    // User metadata, sent as x-amz-meta-NAME: VALUE. Names: lowercase a-z,
    // 0-9, '-', '_'; values: printable ASCII; 2 KiB in all (S3's limit), the
    // kSha256Metadata the client adds included.
    std::vector<std::pair<std::string, std::string>> metadata;
    std::string storage_class;  // "" for the bucket's default; STANDARD_IA, GLACIER_IR, ...
    std::string content_type = "application/octet-stream";
    uint64_t part_size = 16 * kMiB;            // multipart parts (5 MiB .. 5 GiB)
    uint64_t multipart_threshold = 16 * kMiB;  // larger files go multipart (at most 5 GiB)
};

// Whether S3 would take these settings; otherwise one line saying why not.
mirrortap::Result<> check_object_write(const ObjectWrite& write);

struct UploadResult {
    std::string etag;
    std::string sha256_hex;        // of the whole file, as its kSha256Metadata says
    std::string checksum_sha256;   // S3's ChecksumSHA256 of the object (FileDigests::s3_checksum)
    uint32_t parts = 0;            // 0 for a single PutObject
    uint32_t retries = 0;          // requests sent again
    uint64_t body_bytes_sent = 0;  // bodies of every attempt, retries included
};

// A part S3 has stored: what CompleteMultipartUpload names it by.
struct CompletedPart {
    std::string etag;
    std::string checksum_sha256;  // base64, as sent in x-amz-checksum-sha256
};

struct ObjectInfo {
    uint64_t size = 0;
    std::string etag;
    std::string last_modified;
    std::string content_type;
    std::string storage_class;  // "" for STANDARD (S3 leaves the header out)
    std::vector<std::pair<std::string, std::string>> metadata;  // names without x-amz-meta-
    // S3 Object Lock as HeadObject answers it, each "" when the header is
    // absent (no lock, or a store without Object Lock): GOVERNANCE or
    // COMPLIANCE; an ISO 8601 time (2026-12-08T10:00:00.000Z); ON or OFF.
    std::string object_lock_mode;
    std::string object_lock_retain_until;
    std::string object_lock_legal_hold;
};

struct ListedObject {
    std::string key;
    uint64_t size = 0;
    std::string etag;
    std::string last_modified;
    std::string storage_class;
};

struct ListPage {
    std::vector<ListedObject> objects;
    std::string next_continuation_token;  // "" on the last page
};

class S3Client {
public:
    S3Client(S3ClientOptions options, std::shared_ptr<CredentialProvider> credentials);

    // A file as one object: PutObject up to write.multipart_threshold bytes,
    // a multipart upload beyond, aborted if it cannot be completed.
    Result<UploadResult> upload_file(const std::string& path, std::string_view key, const ObjectWrite& write);
    // The same for a file already open (read with pread; the offset is not used).
    Result<UploadResult> upload_fd(int fd, uint64_t size, std::string_view key, const ObjectWrite& write);
    Result<UploadResult> put_object(int fd, uint64_t size, std::string_view key, const ObjectWrite& write);
    Result<UploadResult> multipart_upload(int fd, uint64_t size, std::string_view key, const ObjectWrite& write);

    // The steps of a multipart upload, for callers that drive it themselves.
    // Create asks for SHA-256 checksums (x-amz-checksum-algorithm) and sends
    // the whole file's SHA-256 as metadata; each part then carries its own
    // checksum, from `digests` (digest_file_parts). Create answers the upload id.
    Result<std::string> create_multipart_upload(std::string_view key, const ObjectWrite& write,
                                                std::string_view sha256_hex);
    Result<CompletedPart> upload_part(std::string_view key, std::string_view upload_id, uint32_t part_number,
                                      FileBody body, const BodyDigests& digests);
    Result<std::string> complete_multipart_upload(std::string_view key, std::string_view upload_id,
                                                  const std::vector<CompletedPart>& parts);  // the object's ETag
    Result<Done> abort_multipart_upload(std::string_view key, std::string_view upload_id);

    Result<ObjectInfo> head_object(std::string_view key);  // NotFound when absent
    // `start_after` (without a continuation token): only keys after it, in
    // S3's byte order; a caller skips a run of keys it does not need so.
    Result<ListPage> list_objects_page(std::string_view prefix, std::string_view continuation_token,
                                       uint32_t max_keys = 1000, std::string_view start_after = "");
    // Every page, in key order, stopping after max_objects.
    Result<std::vector<ListedObject>> list_objects(std::string_view prefix, size_t max_objects);
    // Bytes first..last (inclusive) of an object.
    Result<std::string> get_object_range(std::string_view key, uint64_t first, uint64_t last);

    const S3ClientOptions& options() const { return options_; }

private:
    // Builds each attempt afresh (credentials may have been refreshed, a file
    // body is hashed again) and sends it until it succeeds, fails for good or
    // runs out of attempts.
    using BuildRequest = std::function<Result<HttpRequest>()>;
    Result<HttpResponse> send(std::string context, const BuildRequest& build, bool cancellable = true,
                              int max_attempts = 0);
    bool wait(std::chrono::milliseconds delay, bool cancellable);
    bool cancelled() const;
    HttpLimits limits_for_body() const;
    // A request whose body (often none) is in memory, hashed here; or object
    // data read from a file range, with the digests taken before the first attempt.
    HttpRequest memory_request(std::string method, std::string url, Headers headers = {}, std::string body = "") const;
    HttpRequest file_request(std::string method, std::string url, Headers headers, FileBody body,
                             const BodyDigests& digests) const;

    S3ClientOptions options_;
    std::shared_ptr<CredentialProvider> credentials_;
    HttpClient http_;
    UploadResult* stats_ = nullptr;  // counts retries and bytes of the upload in progress
};

}  // namespace mirrortap::cloud
