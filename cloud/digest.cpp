#include "cloud/digest.hpp"

#include <openssl/evp.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <memory>
#include <vector>

namespace mirrortap::cloud {

namespace {

using MdContext = std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)>;

// MD5 and SHA-256 fed the same bytes in one pass.
class TwoDigests {
public:
    TwoDigests() {
        EVP_DigestInit_ex(md5_.get(), EVP_md5(), nullptr);
        EVP_DigestInit_ex(sha256_.get(), EVP_sha256(), nullptr);
    }
    void update(const void* data, size_t size) {
        EVP_DigestUpdate(md5_.get(), data, size);
        EVP_DigestUpdate(sha256_.get(), data, size);
    }
    BodyDigests finish() {
        BodyDigests d;
        EVP_DigestFinal_ex(md5_.get(), d.md5.data(), nullptr);
        EVP_DigestFinal_ex(sha256_.get(), d.sha256.data(), nullptr);
        return d;
    }

private:
    MdContext md5_{EVP_MD_CTX_new(), &EVP_MD_CTX_free};
    MdContext sha256_{EVP_MD_CTX_new(), &EVP_MD_CTX_free};
};

}  // namespace

std::string BodyDigests::content_md5() const { return to_base64(md5.data(), md5.size()); }
std::string BodyDigests::sha256_hex() const { return to_hex(sha256.data(), sha256.size()); }

BodyDigests digest(std::string_view data) {
    TwoDigests d;
    d.update(data.data(), data.size());
    return d.finish();
}

mirrortap::Result<BodyDigests> digest_file_range(int fd, uint64_t offset, uint64_t length) {
    TwoDigests d;
    std::vector<char> buffer(1 << 20);
    uint64_t done = 0;
    while (done < length) {
        const size_t want = static_cast<size_t>(std::min<uint64_t>(buffer.size(), length - done));
        const ssize_t got = pread(fd, buffer.data(), want, static_cast<off_t>(offset + done));
        if (got < 0 && errno == EINTR) continue;
        if (got < 0) return fail(std::string("read failed: ") + std::strerror(errno));
        if (got == 0) {
            return fail("file ended at byte " + std::to_string(offset + done) + ", before the " +
                        std::to_string(length) + " bytes from " + std::to_string(offset));
        }
        d.update(buffer.data(), static_cast<size_t>(got));
        done += static_cast<uint64_t>(got);
    }
    return d.finish();
}

std::string sha256_hex(std::string_view data) { return digest(data).sha256_hex(); }

std::string to_hex(const uint8_t* data, size_t size) {
    static constexpr char kHex[] = "0123456789abcdef";
    std::string out;
    out.reserve(size * 2);
    for (size_t i = 0; i < size; ++i) {
        out += kHex[data[i] >> 4];
        out += kHex[data[i] & 0xF];
    }
    return out;
}

std::string to_base64(const uint8_t* data, size_t size) {
    std::string out(4 * ((size + 2) / 3), '\0');
    const int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()), data, static_cast<int>(size));
    out.resize(static_cast<size_t>(n));
    return out;
}

}  // namespace mirrortap::cloud
