#include "cloud/http.hpp"

#include <curl/curl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <mutex>

#include "cloud/credentials.hpp"
#include "support/version.hpp"

namespace mirrortap::cloud {

namespace {

constexpr size_t kMaxHeaderBytes = 64 * 1024;

void global_init_once() {
    static std::once_flag once;
    std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

// What one transfer accumulates; the callbacks' user data.
struct Exchange {
    const HttpRequest* request = nullptr;
    const std::atomic<bool>* cancel = nullptr;
    HttpResponse response;
    size_t header_bytes = 0;
    uint64_t sent = 0;
    bool too_large = false;
    int read_errno = 0;
};

size_t on_body(char* data, size_t size, size_t count, void* user) {
    auto& x = *static_cast<Exchange*>(user);
    const size_t n = size * count;
    if (x.response.body.size() + n > x.request->limits.max_response_bytes) {
        x.too_large = true;
        return 0;  // curl stops with CURLE_WRITE_ERROR
    }
    x.response.body.append(data, n);
    return n;
}

size_t on_header(char* data, size_t size, size_t count, void* user) {
    auto& x = *static_cast<Exchange*>(user);
    const size_t n = size * count;
    x.header_bytes += n;
    if (x.header_bytes > kMaxHeaderBytes) return 0;
    std::string_view line(data, n);
    while (!line.empty() && (line.back() == '\n' || line.back() == '\r')) line.remove_suffix(1);
    // A status line starts a new answer (after 100 Continue): only the final one's headers count.
    if (line.starts_with("HTTP/")) {
        x.response.headers.clear();
        return n;
    }
    const size_t colon = line.find(':');
    if (colon == std::string_view::npos) return n;
    std::string name(line.substr(0, colon));
    std::transform(name.begin(), name.end(), name.begin(), [](unsigned char c) { return std::tolower(c); });
    std::string_view value = line.substr(colon + 1);
    while (!value.empty() && (value.front() == ' ' || value.front() == '\t')) value.remove_prefix(1);
    while (!value.empty() && (value.back() == ' ' || value.back() == '\t')) value.remove_suffix(1);
    x.response.headers.emplace_back(std::move(name), std::string(value));
    return n;
}

size_t on_read(char* buffer, size_t size, size_t count, void* user) {
    auto& x = *static_cast<Exchange*>(user);
    const FileBody& file = x.request->file;
    const uint64_t left = file.length - x.sent;
    const size_t want = static_cast<size_t>(std::min<uint64_t>(left, size * count));
    if (want == 0) return 0;
    for (;;) {
        const ssize_t got = pread(file.fd, buffer, want, static_cast<off_t>(file.offset + x.sent));
        if (got < 0 && errno == EINTR) continue;
        if (got <= 0) {
            // A file that shrank or cannot be read: the upload is aborted,
            // never sent short.
            x.read_errno = got < 0 ? errno : EIO;
            return CURL_READFUNC_ABORT;
        }
        x.sent += static_cast<uint64_t>(got);
        return static_cast<size_t>(got);
    }
}

int on_seek(void* user, curl_off_t offset, int origin) {
    auto& x = *static_cast<Exchange*>(user);
    if (origin != SEEK_SET || offset < 0 || static_cast<uint64_t>(offset) > x.request->file.length)
        return CURL_SEEKFUNC_CANTSEEK;
    x.sent = static_cast<uint64_t>(offset);
    return CURL_SEEKFUNC_OK;
}

int on_progress(void* user, curl_off_t, curl_off_t, curl_off_t, curl_off_t) {
    const auto& x = *static_cast<Exchange*>(user);
    return x.cancel && x.cancel->load(std::memory_order_relaxed) ? 1 : 0;
}

AwsError transport_error(CURLcode code, const char* detail, const Exchange& x) {
    AwsError e;
    if (x.read_errno != 0) {
        // on_read aborted (curl reports that as aborted by callback): the file, not the network.
        e.code = "ReadFailed";
        e.message = std::string("reading the body failed: ") + std::strerror(x.read_errno);
        return e;
    }
    e.message = detail[0] ? detail : curl_easy_strerror(code);
    switch (code) {
        case CURLE_COULDNT_RESOLVE_HOST:
        case CURLE_COULDNT_RESOLVE_PROXY:
        case CURLE_COULDNT_CONNECT:
            e.code = "ConnectionFailed";
            e.retryable = true;
            break;
        case CURLE_OPERATION_TIMEDOUT:
            e.code = "Timeout";
            e.retryable = true;
            break;
        case CURLE_SEND_ERROR:
        case CURLE_RECV_ERROR:
        case CURLE_GOT_NOTHING:
        case CURLE_PARTIAL_FILE:
        case CURLE_SSL_CONNECT_ERROR:
        case CURLE_HTTP2:
        case CURLE_HTTP2_STREAM:
            e.code = "ConnectionLost";
            e.retryable = true;
            break;
        case CURLE_ABORTED_BY_CALLBACK:
            e.code = "Cancelled";
            break;
        case CURLE_READ_ERROR:
            e.code = "ReadFailed";
            break;
        case CURLE_WRITE_ERROR:
            e.code = x.too_large ? "ResponseTooLarge" : "HeadersTooLarge";
            e.message = x.too_large ? "answer larger than " + std::to_string(x.request->limits.max_response_bytes) +
                                          " bytes"
                                    : "answer headers larger than " + std::to_string(kMaxHeaderBytes) + " bytes";
            break;
        default:
            e.code = "TransportError";
            break;
    }
    return e;
}

}  // namespace

std::string HttpResponse::header(std::string_view name) const {
    for (const auto& [n, v] : headers)
        if (n == name) return v;
    return "";
}

HttpClient::HttpClient() {
    global_init_once();
    handle_ = curl_easy_init();
}

HttpClient::~HttpClient() { curl_easy_cleanup(static_cast<CURL*>(handle_)); }

Result<HttpResponse> HttpClient::perform(const HttpRequest& request) {
    CURL* curl = static_cast<CURL*>(handle_);
    if (!curl) return fail(AwsError{0, "TransportError", "libcurl could not make a handle", "", false});
    curl_easy_reset(curl);
    Exchange x;
    x.request = &request;
    x.cancel = cancel_;
    char detail[CURL_ERROR_SIZE] = {};

    curl_easy_setopt(curl, CURLOPT_URL, request.url.c_str());
    curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(curl, CURLOPT_PATH_AS_IS, 1L);
    curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(curl, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, detail);
    curl_easy_setopt(curl, CURLOPT_USERAGENT, "mirrortap/" MIRRORTAP_VERSION);
    curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(request.limits.connect_timeout.count()));
    curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, static_cast<long>(request.limits.total_timeout.count()));
    curl_easy_setopt(curl, CURLOPT_LOW_SPEED_LIMIT, request.limits.min_bytes_per_second);
    curl_easy_setopt(curl, CURLOPT_LOW_SPEED_TIME, static_cast<long>(request.limits.speed_window.count()));
    curl_easy_setopt(curl, CURLOPT_TCP_KEEPALIVE, 1L);
    if (!request.use_proxy) curl_easy_setopt(curl, CURLOPT_NOPROXY, "*");
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(curl, CURLOPT_WRITEDATA, &x);
    curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(curl, CURLOPT_HEADERDATA, &x);
    curl_easy_setopt(curl, CURLOPT_XFERINFOFUNCTION, on_progress);
    curl_easy_setopt(curl, CURLOPT_XFERINFODATA, &x);
    curl_easy_setopt(curl, CURLOPT_NOPROGRESS, 0L);

    if (request.method == "HEAD") {
        curl_easy_setopt(curl, CURLOPT_NOBODY, 1L);
    } else if (request.method == "PUT" && request.file.fd >= 0) {
        curl_easy_setopt(curl, CURLOPT_UPLOAD, 1L);
        curl_easy_setopt(curl, CURLOPT_INFILESIZE_LARGE, static_cast<curl_off_t>(request.file.length));
        curl_easy_setopt(curl, CURLOPT_READFUNCTION, on_read);
        curl_easy_setopt(curl, CURLOPT_READDATA, &x);
        curl_easy_setopt(curl, CURLOPT_SEEKFUNCTION, on_seek);
        curl_easy_setopt(curl, CURLOPT_SEEKDATA, &x);
    } else if (request.method == "PUT" || request.method == "POST") {
        // POSTFIELDS with a custom method sends the body for PUT as well.
        curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(request.body.size()));
        curl_easy_setopt(curl, CURLOPT_POSTFIELDS, request.body.data());
        if (request.method == "PUT") curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, "PUT");
    } else if (request.method != "GET") {
        curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, request.method.c_str());
    }

    curl_slist* headers = nullptr;
    for (const auto& [name, value] : request.headers) headers = curl_slist_append(headers, (name + ": " + value).c_str());
    curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);

    std::string sigv4;
    if (request.signing_credentials) {
        sigv4 = "aws:amz:" + request.signing_region + ":" + request.signing_service;
        curl_easy_setopt(curl, CURLOPT_AWS_SIGV4, sigv4.c_str());
        curl_easy_setopt(curl, CURLOPT_USERNAME, request.signing_credentials->access_key_id.c_str());
        curl_easy_setopt(curl, CURLOPT_PASSWORD, request.signing_credentials->secret_access_key.c_str());
    }

    const CURLcode rc = curl_easy_perform(curl);
    curl_slist_free_all(headers);
    // The handle keeps the connection, not the request's strings or slist.
    curl_easy_setopt(curl, CURLOPT_HTTPHEADER, nullptr);
    if (rc != CURLE_OK) return fail(transport_error(rc, detail, x));
    long status = 0;
    curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
    x.response.status = static_cast<int>(status);
    return std::move(x.response);
}

std::string libcurl_version() { return std::string("libcurl/") + curl_version_info(CURLVERSION_NOW)->version; }

}  // namespace mirrortap::cloud
