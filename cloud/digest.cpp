#include "cloud/digest.hpp"

#include <openssl/evp.h>
#include <unistd.h>

#include <algorithm>
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

using Sha256 = std::array<uint8_t, 32>;

class OneSha256 {
public:
    OneSha256() { EVP_DigestInit_ex(ctx_.get(), EVP_sha256(), nullptr); }
    void update(const void* data, size_t size) { EVP_DigestUpdate(ctx_.get(), data, size); }
    Sha256 finish() {
        Sha256 d{};
        EVP_DigestFinal_ex(ctx_.get(), d.data(), nullptr);
        return d;
    }

private:
    MdContext ctx_{EVP_MD_CTX_new(), &EVP_MD_CTX_free};
};

// `length` bytes from `offset` through `sink(data, size)`, read in 1 MiB pieces.
template <class Sink>
mirrortap::Result<> read_range(int fd, uint64_t offset, uint64_t length, std::vector<char>& buffer, Sink&& sink) {
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
        sink(buffer.data(), static_cast<size_t>(got));
        done += static_cast<uint64_t>(got);
    }
    return {};
}

}  // namespace

std::string BodyDigests::content_md5() const { return to_base64(md5.data(), md5.size()); }
std::string BodyDigests::sha256_hex() const { return to_hex(sha256.data(), sha256.size()); }
std::string BodyDigests::sha256_base64() const { return to_base64(sha256.data(), sha256.size()); }

std::string FileDigests::sha256_hex() const { return to_hex(sha256.data(), sha256.size()); }

std::string FileDigests::s3_checksum() const {
    if (parts.size() == 1) return parts[0].sha256_base64();
    OneSha256 composite;
    for (const auto& part : parts) composite.update(part.sha256.data(), part.sha256.size());
    const Sha256 d = composite.finish();
    return to_base64(d.data(), d.size()) + "-" + std::to_string(parts.size());
}

PartPlan single_part(uint64_t size) { return PartPlan{size, 1, size}; }

mirrortap::Result<FileDigests> digest_file_parts(int fd, const PartPlan& plan) {
    FileDigests out;
    out.parts.reserve(plan.count);
    std::vector<char> buffer(1 << 20);
    // One part: the whole file's SHA-256 is the part's. Several: a third
    // digest beside each part's two, fed the same bytes as they are read.
    OneSha256 whole;
    const bool several = plan.count > 1;
    for (uint32_t n = 1; n <= plan.count; ++n) {
        TwoDigests part;
        auto read = read_range(fd, plan.offset(n), plan.size(n), buffer, [&](const char* data, size_t size) {
            part.update(data, size);
            if (several) whole.update(data, size);
        });
        if (!read) return fail(read.error());
        out.parts.push_back(part.finish());
    }
    out.sha256 = several ? whole.finish() : out.parts[0].sha256;
    return out;
}

BodyDigests digest(std::string_view data) {
    TwoDigests d;
    d.update(data.data(), data.size());
    return d.finish();
}

mirrortap::Result<BodyDigests> digest_file_range(int fd, uint64_t offset, uint64_t length) {
    TwoDigests d;
    std::vector<char> buffer(1 << 20);
    auto read = read_range(fd, offset, length, buffer, [&](const char* data, size_t size) { d.update(data, size); });
    if (!read) return fail(read.error());
    return d.finish();
}

std::string sha256_hex(std::string_view data) { return digest(data).sha256_hex(); }

Sha256Stream::Sha256Stream() : ctx_(EVP_MD_CTX_new()) {
    EVP_DigestInit_ex(static_cast<EVP_MD_CTX*>(ctx_), EVP_sha256(), nullptr);
}
Sha256Stream::~Sha256Stream() { EVP_MD_CTX_free(static_cast<EVP_MD_CTX*>(ctx_)); }
void Sha256Stream::update(std::string_view data) {
    EVP_DigestUpdate(static_cast<EVP_MD_CTX*>(ctx_), data.data(), data.size());
}
std::array<uint8_t, 32> Sha256Stream::finish() {
    std::array<uint8_t, 32> d{};
    EVP_DigestFinal_ex(static_cast<EVP_MD_CTX*>(ctx_), d.data(), nullptr);
    return d;
}

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
