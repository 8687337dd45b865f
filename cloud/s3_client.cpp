#include "cloud/s3_client.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <thread>

#include "cloud/aws_error.hpp"
#include "cloud/digest.hpp"
#include "cloud/xml.hpp"
#include "support/text.hpp"

namespace mirrortap::cloud {

namespace {

constexpr size_t kMaxMetadataBytes = 2048;
constexpr size_t kMaxListPages = 10'000;

AwsError local_error(std::string code, std::string message) {
    return AwsError{0, std::move(code), std::move(message), "", false, ""};
}

std::string context_for(std::string_view operation, std::string_view key) {
    return std::string(operation) + " " + quote(key);
}

bool printable_ascii(std::string_view text) {
    for (const char c : text)
        if (c < 0x20 || c > 0x7E) return false;
    return true;
}

uint64_t to_uint(std::string_view text) {
    uint64_t value = 0;
    for (const char c : text) {
        if (c < '0' || c > '9') return 0;
        value = value * 10 + uint64_t(c - '0');
    }
    return value;
}

// The body headers every request with a body carries: S3 refuses the body
// unless it hashes to both.
void add_body_digests(Headers& headers, const BodyDigests& d) {
    headers.emplace_back("Content-MD5", d.content_md5());
    headers.emplace_back("x-amz-content-sha256", d.sha256_hex());
}

Headers object_headers(const ObjectWrite& write) {
    Headers headers{{"Content-Type", write.content_type}};
    if (!write.storage_class.empty()) headers.emplace_back("x-amz-storage-class", write.storage_class);
    for (const auto& [name, value] : write.metadata) headers.emplace_back("x-amz-meta-" + name, value);
    return headers;
}

int hex_digit(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

// Percent-decoding of keys in a ListObjectsV2 answer with EncodingType url
// ('+' is a space there).
std::optional<std::string> url_decode(std::string_view text) {
    std::string out;
    out.reserve(text.size());
    for (size_t i = 0; i < text.size(); ++i) {
        if (text[i] == '+') {
            out += ' ';
        } else if (text[i] == '%') {
            if (i + 2 >= text.size()) return std::nullopt;
            const int hi = hex_digit(text[i + 1]), lo = hex_digit(text[i + 2]);
            if (hi < 0 || lo < 0) return std::nullopt;
            out += static_cast<char>(hi * 16 + lo);
            i += 2;
        } else {
            out += text[i];
        }
    }
    return out;
}

}  // namespace

namespace {

// The metadata as sent: the caller's and the file's SHA-256.
std::vector<std::pair<std::string, std::string>> metadata_with_sha256(const ObjectWrite& write,
                                                                      std::string sha256_hex) {
    auto all = write.metadata;
    all.emplace_back(std::string(kSha256Metadata), std::move(sha256_hex));
    return all;
}

ObjectWrite with_sha256(const ObjectWrite& write, std::string sha256_hex) {
    ObjectWrite sent = write;
    sent.metadata = metadata_with_sha256(write, std::move(sha256_hex));
    return sent;
}

// The headers of object data, beside the body digests every request carries:
// S3's checksum, which it verifies and keeps with the object (or the part).
void add_object_checksum(Headers& headers, const BodyDigests& d) {
    headers.emplace_back("x-amz-checksum-sha256", d.sha256_base64());
}

mirrortap::Result<> check_metadata(const std::vector<std::pair<std::string, std::string>>& metadata) {
    size_t metadata_bytes = 0;
    for (const auto& [name, value] : metadata) {
        if (name.empty() || name.find_first_not_of("abcdefghijklmnopqrstuvwxyz0123456789-_") != std::string::npos)
            return fail("metadata name " + quote(name) + " must be lowercase a-z, 0-9, '-' and '_'");
        if (value.empty() || !printable_ascii(value) || value.front() == ' ' || value.back() == ' ')
            return fail("metadata " + quote(name) + " value " + quote(value) +
                        " must be printable ASCII, not empty, without spaces at either end");
        metadata_bytes += name.size() + value.size();
        for (const auto& [other, unused] : metadata) {
            if (&other == &name) continue;
            if (other == name) return fail("metadata name " + quote(name) + " is given twice");
            // libcurl 7.88 sorts signed headers by "name:value": a name that
            // continues another with '-', '.' or a digit (all below ':') would
            // be signed in an order S3 does not use.
            if (other.size() > name.size() && other.starts_with(name) && other[name.size()] < ':')
                return fail("metadata names " + quote(name) + " and " + quote(other) +
                            " cannot both be sent (one continues the other with '" + other[name.size()] +
                            "'; libcurl would sign them out of order)");
        }
    }
    if (metadata_bytes > kMaxMetadataBytes)
        return fail("metadata of " + std::to_string(metadata_bytes) + " bytes is more than S3's 2 KiB" +
                    " (the file's " + std::string(kSha256Metadata) + " included)");
    return {};
}

}  // namespace

mirrortap::Result<> check_object_write(const ObjectWrite& write) {
    for (const auto& [name, unused] : write.metadata)
        if (name == kSha256Metadata)
            return fail("metadata name " + quote(name) + " is the client's own (the file's SHA-256)");
    if (auto valid = check_metadata(metadata_with_sha256(write, std::string(64, '0'))); !valid) return valid;
    if (!write.storage_class.empty() &&
        (write.storage_class.size() > 32 ||
         write.storage_class.find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZ_") != std::string::npos))
        return fail("storage class " + quote(write.storage_class) + " is not one (STANDARD_IA, GLACIER_IR, ...)");
    if (write.content_type.empty() || !printable_ascii(write.content_type))
        return fail("content type " + quote(write.content_type) + " must be printable ASCII");
    if (write.part_size < kMinPartSize || write.part_size > kMaxPartSize)
        return fail("part size must be 5 MiB to 5 GiB");
    if (write.multipart_threshold > kMaxPartSize)
        return fail("multipart threshold must be at most 5 GiB (S3's largest PutObject)");
    return {};
}

S3Client::S3Client(S3ClientOptions options, std::shared_ptr<CredentialProvider> credentials)
    : options_(std::move(options)), credentials_(std::move(credentials)) {
    http_.set_cancel_flag(options_.cancel);
}

bool S3Client::cancelled() const { return options_.cancel && options_.cancel->load(std::memory_order_relaxed); }

bool S3Client::wait(std::chrono::milliseconds delay, bool cancellable) {
    const auto until = std::chrono::steady_clock::now() + delay;
    while (std::chrono::steady_clock::now() < until) {
        if (cancellable && cancelled()) return false;
        std::this_thread::sleep_for(std::min<std::chrono::milliseconds>(
            std::chrono::milliseconds(50),
            std::chrono::duration_cast<std::chrono::milliseconds>(until - std::chrono::steady_clock::now()) +
                std::chrono::milliseconds(1)));
    }
    return !(cancellable && cancelled());
}

HttpLimits S3Client::limits_for_body() const {
    HttpLimits limits = options_.limits;
    limits.total_timeout = std::chrono::milliseconds(0);  // the speed floor bounds it
    return limits;
}

Result<HttpResponse> S3Client::send(std::string context, const BuildRequest& build, bool cancellable,
                                    int max_attempts) {
    const int attempts = std::max(1, max_attempts > 0 ? max_attempts : options_.retry.max_attempts);
    AwsError last;
    for (int attempt = 1; attempt <= attempts; ++attempt) {
        if (attempt > 1) {
            if (!wait(backoff_delay(options_.retry, attempt - 1), cancellable)) break;
            if (stats_) ++stats_->retries;
        }
        if (cancellable && cancelled()) break;
        auto request = build();
        if (!request) {
            last = request.error();
        } else {
            auto credentials = credentials_->get();
            if (!credentials) {
                last = credentials.error();
            } else {
                HttpRequest& r = request.value();
                r.signing_credentials = &credentials.value();
                r.signing_region = options_.location.region;
                r.signing_service = "s3";
                if (!credentials->session_token.empty())
                    r.headers.emplace_back("x-amz-security-token", credentials->session_token);
                if (stats_) stats_->body_bytes_sent += r.file.fd >= 0 ? r.file.length : r.body.size();
                http_.set_cancel_flag(cancellable ? options_.cancel : nullptr);
                auto answer = http_.perform(r);
                if (answer && answer->status >= 200 && answer->status < 300) return answer;
                last = answer ? error_from_response(answer->status, answer->body, answer->header("x-amz-request-id"))
                              : answer.error();
                if (last.code == "ExpiredToken") credentials_->refresh_soon();
                if (options_.on_failed_request && !(cancellable && cancelled())) {
                    last.context = context;
                    options_.on_failed_request(last);
                }
            }
        }
        if (!last.retryable) break;
        if (attempt == attempts && attempts > 1) last.message += " (gave up after " + std::to_string(attempts) + " attempts)";
    }
    if (cancellable && cancelled()) last = local_error("Cancelled", "stopped before it was done");
    last.context = std::move(context);
    return fail(last);
}

HttpRequest S3Client::memory_request(std::string method, std::string url, Headers headers, std::string body) const {
    HttpRequest r;
    r.method = std::move(method);
    r.url = std::move(url);
    r.headers = std::move(headers);
    const BodyDigests digests = digest(body);
    if (r.method == "PUT" || r.method == "POST") {
        add_body_digests(r.headers, digests);
    } else {
        r.headers.emplace_back("x-amz-content-sha256", digests.sha256_hex());
    }
    r.body = std::move(body);
    r.limits = options_.limits;
    return r;
}

HttpRequest S3Client::file_request(std::string method, std::string url, Headers headers, FileBody body,
                                   const BodyDigests& digests) const {
    HttpRequest r;
    r.method = std::move(method);
    r.url = std::move(url);
    r.headers = std::move(headers);
    add_body_digests(r.headers, digests);
    add_object_checksum(r.headers, digests);
    r.file = body;
    r.limits = limits_for_body();
    return r;
}

Result<UploadResult> S3Client::upload_file(const std::string& path, std::string_view key, const ObjectWrite& write) {
    const int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0) return fail(local_error("ReadFailed", path + ": " + std::strerror(errno)));
    struct stat st {};
    Result<UploadResult> result = fail(local_error("ReadFailed", path + ": not a regular file"));
    if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode)) {
        result = upload_fd(fd, static_cast<uint64_t>(st.st_size), key, write);
    }
    close(fd);
    return result;
}

Result<UploadResult> S3Client::upload_fd(int fd, uint64_t size, std::string_view key, const ObjectWrite& write) {
    return size <= write.multipart_threshold ? put_object(fd, size, key, write) : multipart_upload(fd, size, key, write);
}

Result<UploadResult> S3Client::put_object(int fd, uint64_t size, std::string_view key, const ObjectWrite& write) {
    const std::string context = context_for("PutObject", key);
    for (const auto& valid : {check_object_key(key), check_object_write(write)})
        if (!valid) return fail(AwsError{0, "InvalidRequest", valid.error(), "", false, context});
    const auto digests = digest_file_parts(fd, single_part(size));
    if (!digests) return fail(AwsError{0, "ReadFailed", digests.error(), "", false, context});
    const Headers headers = object_headers(with_sha256(write, digests->sha256_hex()));
    UploadResult result;
    stats_ = &result;
    const std::string url = s3_url(options_.location, key);
    auto answer = send(context, [&]() -> Result<HttpRequest> {
        return file_request("PUT", url, headers, FileBody{fd, 0, size}, digests->parts[0]);
    });
    stats_ = nullptr;
    if (!answer) return fail(answer.error());
    result.etag = answer->header("etag");
    result.sha256_hex = digests->sha256_hex();
    result.checksum_sha256 = digests->s3_checksum();
    return result;
}

Result<std::string> S3Client::create_multipart_upload(std::string_view key, const ObjectWrite& write,
                                                      std::string_view sha256_hex) {
    const std::string context = context_for("CreateMultipartUpload", key);
    for (const auto& valid : {check_object_key(key), check_object_write(write)})
        if (!valid) return fail(AwsError{0, "InvalidRequest", valid.error(), "", false, context});
    const std::string url = s3_url(options_.location, key, {{"uploads", ""}});
    Headers headers = object_headers(with_sha256(write, std::string(sha256_hex)));
    headers.emplace_back("x-amz-checksum-algorithm", "SHA256");
    auto answer = send(context, [&]() -> Result<HttpRequest> { return memory_request("POST", url, headers); });
    if (!answer) return fail(answer.error());
    const auto doc = parse_xml(answer->body);
    const std::string why = doc ? std::string() : doc.error();
    const XmlTree* result = doc ? xml_child(*doc, "InitiateMultipartUploadResult") : nullptr;
    const std::string upload_id = result ? xml_text(*result, "UploadId") : "";
    if (upload_id.empty())
        return fail(AwsError{answer->status, "MalformedAnswer", "no UploadId in the answer " + why, "", false, context});
    return upload_id;
}

Result<CompletedPart> S3Client::upload_part(std::string_view key, std::string_view upload_id, uint32_t part_number,
                                            FileBody body, const BodyDigests& digests) {
    const std::string context = "UploadPart " + std::to_string(part_number) + " of " + quote(key);
    const std::string url = s3_url(options_.location, key,
                                   {{"partNumber", std::to_string(part_number)}, {"uploadId", std::string(upload_id)}});
    auto answer = send(context, [&]() -> Result<HttpRequest> { return file_request("PUT", url, {}, body, digests); });
    if (!answer) return fail(answer.error());
    std::string etag = answer->header("etag");
    if (etag.empty()) return fail(AwsError{answer->status, "MalformedAnswer", "no ETag in the answer", "", false, context});
    return CompletedPart{std::move(etag), digests.sha256_base64()};
}

Result<std::string> S3Client::complete_multipart_upload(std::string_view key, std::string_view upload_id,
                                                        const std::vector<CompletedPart>& parts) {
    const std::string context = context_for("CompleteMultipartUpload", key);
    // Each part with the checksum it was sent with, in the order of S3's CompletedPart.
    std::string body = "<CompleteMultipartUpload xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">";
    for (size_t i = 0; i < parts.size(); ++i)
        body += "<Part><ChecksumSHA256>" + xml_escape(parts[i].checksum_sha256) + "</ChecksumSHA256><ETag>" +
                xml_escape(parts[i].etag) + "</ETag><PartNumber>" + std::to_string(i + 1) + "</PartNumber></Part>";
    body += "</CompleteMultipartUpload>";
    const std::string url = s3_url(options_.location, key, {{"uploadId", std::string(upload_id)}});
    // S3 may answer 200 and still fail: the error is then in the body, found
    // after the status. Such an answer is retried like any other.
    for (int round = 1;; ++round) {
        auto answer = send(context, [&]() -> Result<HttpRequest> {
            return memory_request("POST", url, {{"Content-Type", "application/xml"}}, body);
        });
        if (!answer) return fail(answer.error());
        if (const auto error = parse_aws_error_body(answer->body)) {
            AwsError e{answer->status, error->code, error->message, error->request_id,
                       retryable_error(500, error->code), context};
            if (!e.retryable || round >= options_.retry.max_attempts) return fail(e);
            if (!wait(backoff_delay(options_.retry, round), true))
                return fail(AwsError{0, "Cancelled", "stopped before it was done", "", false, context});
            continue;
        }
        const auto doc = parse_xml(answer->body);
        const std::string why = doc ? std::string() : doc.error();
        const XmlTree* result = doc ? xml_child(*doc, "CompleteMultipartUploadResult") : nullptr;
        if (!result)
            return fail(AwsError{answer->status, "MalformedAnswer", "no CompleteMultipartUploadResult " + why, "", false,
                                 context});
        return xml_text(*result, "ETag");
    }
}

Result<Done> S3Client::abort_multipart_upload(std::string_view key, std::string_view upload_id) {
    const std::string url = s3_url(options_.location, key, {{"uploadId", std::string(upload_id)}});
    // Not cancellable: it is what tidies up after a cancelled upload.
    auto answer = send(context_for("AbortMultipartUpload", key),
                       [&]() -> Result<HttpRequest> { return memory_request("DELETE", url); }, false,
                       std::min(options_.retry.max_attempts, 3));
    if (!answer) return fail(answer.error());
    return Done{};
}

Result<UploadResult> S3Client::multipart_upload(int fd, uint64_t size, std::string_view key,
                                                const ObjectWrite& write) {
    const std::string context = context_for("multipart upload", key);
    const auto plan = plan_parts(size, write.part_size);
    if (!plan) return fail(AwsError{0, "EntityTooLarge", plan.error(), "", false, context});
    for (const auto& valid : {check_object_key(key), check_object_write(write)})
        if (!valid) return fail(AwsError{0, "InvalidRequest", valid.error(), "", false, context});
    // Every part's digests and the whole file's SHA-256 before Create, which carries the latter.
    const auto digests = digest_file_parts(fd, *plan);
    if (!digests) return fail(AwsError{0, "ReadFailed", digests.error(), "", false, context});
    UploadResult result;
    result.sha256_hex = digests->sha256_hex();
    result.checksum_sha256 = digests->s3_checksum();
    stats_ = &result;
    auto upload_id = create_multipart_upload(key, write, result.sha256_hex);
    if (!upload_id) {
        stats_ = nullptr;
        return fail(upload_id.error());
    }
    std::vector<CompletedPart> parts;
    parts.reserve(plan->count);
    std::optional<AwsError> failure;
    for (uint32_t n = 1; n <= plan->count && !failure; ++n) {
        auto part = upload_part(key, upload_id.value(), n, FileBody{fd, plan->offset(n), plan->size(n)},
                                digests->parts[n - 1]);
        if (part) parts.push_back(std::move(part.value()));
        else failure = part.error();
    }
    if (!failure) {
        auto etag = complete_multipart_upload(key, upload_id.value(), parts);
        if (etag) {
            result.etag = std::move(etag.value());
            result.parts = plan->count;
            stats_ = nullptr;
            return result;
        }
        failure = etag.error();
        // A Complete whose answer was lost, sent again, finds the upload gone:
        // the object is there if S3 shows one of this size made of these parts.
        if (failure->code == "NoSuchUpload") {
            const auto head = head_object(key);
            if (head && head->size == size && head->etag.ends_with("-" + std::to_string(plan->count) + "\"")) {
                result.etag = head->etag;
                result.parts = plan->count;
                stats_ = nullptr;
                return result;
            }
        }
    }
    stats_ = nullptr;
    // Giving up: the parts already stored would be billed until a lifecycle
    // rule removed them, so the upload is aborted.
    const auto aborted = abort_multipart_upload(key, upload_id.value());
    failure->message += aborted ? " (upload aborted)" : " (abort failed too: " + aborted.error().describe() + ")";
    return fail(*failure);
}

Result<ObjectInfo> S3Client::head_object(std::string_view key) {
    const std::string url = s3_url(options_.location, key);
    auto answer = send(context_for("HeadObject", key),
                       [&]() -> Result<HttpRequest> { return memory_request("HEAD", url); });
    if (!answer) return fail(answer.error());
    ObjectInfo info;
    info.size = to_uint(answer->header("content-length"));
    info.etag = answer->header("etag");
    info.last_modified = answer->header("last-modified");
    info.content_type = answer->header("content-type");
    info.storage_class = answer->header("x-amz-storage-class");
    info.object_lock_mode = answer->header("x-amz-object-lock-mode");
    info.object_lock_retain_until = answer->header("x-amz-object-lock-retain-until-date");
    info.object_lock_legal_hold = answer->header("x-amz-object-lock-legal-hold");
    for (const auto& [name, value] : answer->headers)
        if (name.starts_with("x-amz-meta-")) info.metadata.emplace_back(name.substr(11), value);
    return info;
}

Result<ListPage> S3Client::list_objects_page(std::string_view prefix, std::string_view continuation_token,
                                             uint32_t max_keys, std::string_view start_after) {
    std::vector<QueryParam> query{{"list-type", "2"},
                                  {"encoding-type", "url"},
                                  {"max-keys", std::to_string(std::clamp<uint32_t>(max_keys, 1, 1000))}};
    if (!prefix.empty()) query.push_back({"prefix", std::string(prefix)});
    if (!continuation_token.empty()) query.push_back({"continuation-token", std::string(continuation_token)});
    else if (!start_after.empty()) query.push_back({"start-after", std::string(start_after)});
    const std::string url = s3_url(options_.location, "", query);
    const std::string context = "ListObjectsV2 " + quote(prefix);
    auto answer = send(context, [&]() -> Result<HttpRequest> { return memory_request("GET", url); });
    if (!answer) return fail(answer.error());
    const auto doc = parse_xml(answer->body);
    const std::string why = doc ? std::string() : doc.error();
    const XmlTree* root = doc ? xml_child(*doc, "ListBucketResult") : nullptr;
    if (!root) return fail(AwsError{answer->status, "MalformedAnswer", "no ListBucketResult " + why, "", false, context});
    // Keys come percent-encoded when the answer says so: XML 1.0 cannot carry every byte a key may hold.
    const bool encoded = xml_text(*root, "EncodingType") == "url";
    ListPage page;
    for (const auto& [name, node] : *root) {
        if (name != "Contents") continue;
        ListedObject object;
        object.key = xml_text(node, "Key");
        if (encoded) {
            const auto decoded = url_decode(object.key);
            if (!decoded)
                return fail(AwsError{answer->status, "MalformedAnswer", "key " + quote(object.key) + " is not URL-encoded",
                                     "", false, context});
            object.key = *decoded;
        }
        object.size = to_uint(xml_text(node, "Size"));
        object.etag = xml_text(node, "ETag");
        object.last_modified = xml_text(node, "LastModified");
        object.storage_class = xml_text(node, "StorageClass");
        page.objects.push_back(std::move(object));
    }
    if (xml_text(*root, "IsTruncated") == "true") {
        page.next_continuation_token = xml_text(*root, "NextContinuationToken");
        if (page.next_continuation_token.empty())
            return fail(AwsError{answer->status, "MalformedAnswer", "a truncated listing without NextContinuationToken", "",
                                 false, context});
    }
    return page;
}

Result<std::vector<ListedObject>> S3Client::list_objects(std::string_view prefix, size_t max_objects) {
    std::vector<ListedObject> all;
    std::string token;
    for (size_t page_count = 0; page_count < kMaxListPages && all.size() < max_objects; ++page_count) {
        const auto want = static_cast<uint32_t>(std::min<size_t>(1000, max_objects - all.size()));
        auto page = list_objects_page(prefix, token, want);
        if (!page) return fail(page.error());
        for (auto& object : page->objects) {
            if (all.size() == max_objects) break;
            all.push_back(std::move(object));
        }
        if (page->next_continuation_token.empty() || page->next_continuation_token == token) break;
        token = std::move(page->next_continuation_token);
    }
    return all;
}

Result<std::string> S3Client::get_object_range(std::string_view key, uint64_t first, uint64_t last) {
    const std::string context = context_for("GetObject", key) + " bytes " + std::to_string(first) + "-" +
                                std::to_string(last);
    if (last < first) return fail(AwsError{0, "InvalidRange", "the range ends before it starts", "", false, context});
    const uint64_t length = last - first + 1;
    const std::string url = s3_url(options_.location, key);
    auto answer = send(context, [&]() -> Result<HttpRequest> {
        HttpRequest r =
            memory_request("GET", url, {{"Range", "bytes=" + std::to_string(first) + "-" + std::to_string(last)}});
        r.limits = limits_for_body();
        r.limits.max_response_bytes = static_cast<size_t>(length);
        return r;
    });
    if (!answer) return fail(answer.error());
    // 206 with the range, or (an object shorter than `last`) the bytes there are.
    if (answer->status != 206 && !(answer->status == 200 && first == 0))
        return fail(AwsError{answer->status, "RangeIgnored", "the store answered without the range", "", false, context});
    return std::move(answer->body);
}

}  // namespace mirrortap::cloud
