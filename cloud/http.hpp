// One HTTP exchange over libcurl, bounded in time and size, optionally signed
// with libcurl's own SigV4 (CURLOPT_AWS_SIGV4). Used for S3, STS and IMDS.
//
// What libcurl 7.88 (Debian 12) signs, and what the callers therefore do:
// - the payload hash is taken from an x-amz-content-sha256 header when there
//   is one, and is otherwise the hash of the POST fields (of nothing for a
//   PUT with a read callback). S3 requires that header anyway, so every
//   signed request sends it, computed from the real body;
// - the path and query are signed as they stand in the URL: the URL must be
//   canonical already (s3_address.hpp builds it so) and is sent as is
//   (CURLOPT_PATH_AS_IS, so that "a/../b" stays an object key);
// - every header the caller gives is signed, sorted by "name:value" rather
//   than by name: callers must not give two header names one of which is the
//   other followed by a character below ':' (S3 metadata names are checked);
// - curl's own headers (User-Agent, Content-Length, Expect) are not signed.
#pragma once
#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "cloud/result.hpp"

namespace mirrortap::cloud {

struct Credentials;

struct HttpLimits {
    std::chrono::milliseconds connect_timeout{10'000};
    // For a whole exchange without a large body; 0 = none (a body transfer is
    // bounded by the speed floor instead).
    std::chrono::milliseconds total_timeout{60'000};
    // A transfer slower than this many bytes a second for speed_window ends
    // in a timeout: a stalled upload cannot hang the caller.
    long min_bytes_per_second = 32 * 1024;
    std::chrono::seconds speed_window{30};
    size_t max_response_bytes = 8 << 20;  // more is an error (ResponseTooLarge)
};

// The limits of a short exchange (a small request, a small answer): IMDS,
// STS, Auto Scaling.
inline HttpLimits short_exchange_limits(std::chrono::milliseconds connect, std::chrono::milliseconds total,
                                        size_t max_response_bytes) {
    HttpLimits limits;
    limits.connect_timeout = connect;
    limits.total_timeout = total;
    limits.max_response_bytes = max_response_bytes;
    return limits;
}

// A body read from a file as it is sent (pread; the file is not loaded).
struct FileBody {
    int fd = -1;
    uint64_t offset = 0;
    uint64_t length = 0;
};

using Headers = std::vector<std::pair<std::string, std::string>>;

struct HttpRequest {
    std::string method = "GET";  // GET, HEAD, PUT, POST, DELETE
    std::string url;
    Headers headers;
    std::string body;             // sent when file.fd < 0 and method is PUT or POST
    FileBody file;                // sent when fd >= 0
    const Credentials* signing_credentials = nullptr;  // SigV4 when set
    std::string signing_region;
    std::string signing_service;  // "s3", "sts"
    HttpLimits limits;
    bool use_proxy = true;        // IMDS is never reached through a proxy
};

struct HttpResponse {
    int status = 0;
    Headers headers;  // names lowercased, of the final answer only
    std::string body;

    // The first value of a header (name in lowercase), "" when absent.
    std::string header(std::string_view name) const;
};

// Holds one libcurl handle, so consecutive requests reuse the connection.
// One thread at a time.
class HttpClient {
public:
    HttpClient();
    ~HttpClient();
    HttpClient(const HttpClient&) = delete;
    HttpClient& operator=(const HttpClient&) = delete;

    // While *cancel is true, transfers stop at their next progress check
    // (error code "Cancelled").
    void set_cancel_flag(const std::atomic<bool>* cancel) { cancel_ = cancel; }

    // Any HTTP answer, whatever its status; an AwsError only when none came
    // (retryable for connection failures, timeouts and cut transfers).
    Result<HttpResponse> perform(const HttpRequest& request);

private:
    void* handle_ = nullptr;  // CURL*
    const std::atomic<bool>* cancel_ = nullptr;
};

// "curl/7.88.1"-style version of the libcurl in use, for the log.
std::string libcurl_version();

}  // namespace mirrortap::cloud
