// Digests of request bodies, with OpenSSL's libcrypto (libcurl's OpenSSL
// flavour links it already). Each body S3 receives carries two: Content-MD5
// and the signed x-amz-content-sha256; S3 refuses a body that matches
// neither, so what is stored is what was read.
#pragma once
#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "base/result.hpp"

namespace mirrortap::cloud {

struct BodyDigests {
    std::array<uint8_t, 16> md5{};
    std::array<uint8_t, 32> sha256{};

    std::string content_md5() const;     // base64, for Content-MD5
    std::string sha256_hex() const;      // lowercase hex, for x-amz-content-sha256
};

BodyDigests digest(std::string_view data);

// Of `length` bytes of an open file from `offset` (pread, the file position
// is left alone), or why not when the file cannot be read or ends first.
mirrortap::Result<BodyDigests> digest_file_range(int fd, uint64_t offset, uint64_t length);

// SHA-256 of `data` as lowercase hex.
std::string sha256_hex(std::string_view data);

std::string to_hex(const uint8_t* data, size_t size);
std::string to_base64(const uint8_t* data, size_t size);

}  // namespace mirrortap::cloud
