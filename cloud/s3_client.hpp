// An S3 client on libcurl, speaking S3's REST API as AWS documents it:
// PutObject, multipart uploads (Create, UploadPart, Complete, Abort),
// HeadObject, ListObjectsV2 and ranged GetObject. Requests are signed with
// SigV4 by libcurl (see http.hpp for what that needs of a request); every
// body carries Content-MD5 and its signed SHA-256, which S3 checks before it
// stores anything. Each request is retried on its own (a failed part is
// sent again, not the file) with capped, fully jittered exponential backoff.
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
#include "cloud/http.hpp"
#include "cloud/part_plan.hpp"
#include "cloud/result.hpp"
#include "cloud/retry.hpp"
#include "cloud/s3_address.hpp"

namespace mirrortap::cloud {

struct S3ClientOptions {
    S3Location location;
    RetryPolicy retry;
    // Per request. Requests with a large body (PutObject, UploadPart,
    // ranged GetObject) drop the total timeout and keep the speed floor.
    HttpLimits limits;
    // While *cancel is true, transfers and backoff waits stop ("Cancelled").
    const std::atomic<bool>* cancel = nullptr;
};

struct ObjectWrite {
    // User metadata, sent as x-amz-meta-NAME: VALUE. Names: lowercase a-z,
    // 0-9, '-', '_'; values: printable ASCII; 2 KiB in all (S3's limit).
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
    uint32_t parts = 0;            // 0 for a single PutObject
    uint32_t retries = 0;          // requests sent again
    uint64_t body_bytes_sent = 0;  // bodies of every attempt, retries included
};

struct ObjectInfo {
    uint64_t size = 0;
    std::string etag;
    std::string last_modified;
    std::string content_type;
    std::string storage_class;  // "" for STANDARD (S3 leaves the header out)
    std::vector<std::pair<std::string, std::string>> metadata;  // names without x-amz-meta-
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
    Result<std::string> create_multipart_upload(std::string_view key, const ObjectWrite& write);  // the upload id
    Result<std::string> upload_part(std::string_view key, std::string_view upload_id, uint32_t part_number,
                                    FileBody body);  // the part's ETag
    Result<std::string> complete_multipart_upload(std::string_view key, std::string_view upload_id,
                                                  const std::vector<std::string>& part_etags);  // the object's ETag
    Result<Done> abort_multipart_upload(std::string_view key, std::string_view upload_id);

    Result<ObjectInfo> head_object(std::string_view key);  // NotFound when absent
    Result<ListPage> list_objects_page(std::string_view prefix, std::string_view continuation_token,
                                       uint32_t max_keys = 1000);
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
    // A request whose body (often none) is in memory, or is read from a file
    // range; each with the digests S3 checks.
    HttpRequest memory_request(std::string method, std::string url, Headers headers = {}, std::string body = "") const;
    Result<HttpRequest> file_request(std::string method, std::string url, Headers headers, FileBody body);

    S3ClientOptions options_;
    std::shared_ptr<CredentialProvider> credentials_;
    HttpClient http_;
    UploadResult* stats_ = nullptr;  // counts retries and bytes of the upload in progress
};

}  // namespace mirrortap::cloud
