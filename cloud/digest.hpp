// Digests of request bodies, with OpenSSL's libcrypto (libcurl's OpenSSL
// flavour links it already). Each body S3 receives carries three: Content-MD5,
// the signed x-amz-content-sha256 (hex) and x-amz-checksum-sha256 (the same
// SHA-256 in base64, which S3 keeps with the object); S3 refuses a body that
// does not match every one, so what is stored is what was read.
#pragma once
#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.hpp"
#include "cloud/part_plan.hpp"

namespace mirrortap::cloud {

struct BodyDigests {
    std::array<uint8_t, 16> md5{};
    std::array<uint8_t, 32> sha256{};

    std::string content_md5() const;     // base64, for Content-MD5
    std::string sha256_hex() const;      // lowercase hex, for x-amz-content-sha256
    std::string sha256_base64() const;   // base64, for x-amz-checksum-sha256 and ChecksumSHA256
};

// A file as S3 receives it: the digests of each part of `plan` (one part for
// a PutObject) and the SHA-256 of the whole file, from one read of the file.
struct FileDigests {
    std::vector<BodyDigests> parts;  // parts[n - 1] is part n's
    std::array<uint8_t, 32> sha256{};  // of the whole file

    std::string sha256_hex() const;  // lowercase hex, for the object's metadata
    // What S3 reports as the object's ChecksumSHA256: the base64 SHA-256 of a
    // single PutObject, or of a multipart upload the composite checksum,
    // base64(SHA-256 of the parts' SHA-256s, concatenated) + "-" + parts.
    std::string s3_checksum() const;
};

// Reads `plan`'s bytes of an open file once (pread; the file position is left
// alone); why not when the file cannot be read or ends first.
mirrortap::Result<FileDigests> digest_file_parts(int fd, const PartPlan& plan);
// The plan of a file sent as one PutObject: one part of `size` bytes.
PartPlan single_part(uint64_t size);

BodyDigests digest(std::string_view data);

// Of `length` bytes of an open file from `offset` (pread, the file position
// is left alone), or why not when the file cannot be read or ends first.
mirrortap::Result<BodyDigests> digest_file_range(int fd, uint64_t offset, uint64_t length);

// SHA-256 of `data` as lowercase hex.
std::string sha256_hex(std::string_view data);

// SHA-256 of bytes that come in pieces (an object read in ranges), so that a
// large object is hashed without being held whole.
class Sha256Stream {
public:
    Sha256Stream();
    ~Sha256Stream();
    Sha256Stream(const Sha256Stream&) = delete;
    Sha256Stream& operator=(const Sha256Stream&) = delete;
    void update(std::string_view data);
    std::array<uint8_t, 32> finish();

private:
    void* ctx_;  // EVP_MD_CTX, kept out of this header
};

std::string to_hex(const uint8_t* data, size_t size);
std::string to_base64(const uint8_t* data, size_t size);

}  // namespace mirrortap::cloud
