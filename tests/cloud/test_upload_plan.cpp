// The pure parts of an upload: part sizing, backoff bounds, what an object
// write may carry, and the digests its bodies are sent with.
#include <doctest/doctest.h>

#include <fcntl.h>
#include <unistd.h>

#include <fstream>

#include "cloud/digest.hpp"
#include "cloud/part_plan.hpp"
#include "cloud/retry.hpp"
#include "cloud/s3_client.hpp"
#include "tests/support/temp_dir.hpp"
#include "why_not.hpp"

using namespace mirrortap;
using namespace mirrortap::cloud;
using mirrortap::test::why_not;

namespace {

constexpr uint64_t kGiB = uint64_t(1) << 30;

PartPlan plan(uint64_t size, uint64_t preferred) {
    const auto p = plan_parts(size, preferred);
    REQUIRE_MESSAGE(p, why_not(p));
    // Whatever the sizes, the parts cover the file exactly, within S3's limits.
    CHECK(p->count >= 1);
    CHECK(p->count <= kMaxParts);
    CHECK(uint64_t(p->count - 1) * p->part_size + p->last_part_size == size);
    CHECK(p->last_part_size <= p->part_size);
    CHECK(p->part_size >= kMinPartSize);
    CHECK(p->part_size <= kMaxPartSize);
    if (p->count > 1) CHECK(p->last_part_size > 0);
    return *p;
}

}  // namespace

TEST_CASE("part_plan: the preferred size while 10,000 parts suffice") {
    const PartPlan p = plan(12 * kMiB + 5, 5 * kMiB);
    CHECK(p.part_size == 5 * kMiB);
    CHECK(p.count == 3);
    CHECK(p.last_part_size == 2 * kMiB + 5);
    CHECK(p.offset(3) == 10 * kMiB);
    CHECK(p.size(2) == 5 * kMiB);
    CHECK(p.size(3) == 2 * kMiB + 5);

    CHECK(plan(10 * kMiB, 5 * kMiB).count == 2);
    CHECK(plan(10 * kMiB, 5 * kMiB).last_part_size == 5 * kMiB);
    CHECK(plan(0, 16 * kMiB).count == 1);
    CHECK(plan(1, 16 * kMiB).last_part_size == 1);
    CHECK(plan(uint64_t(kMaxParts) * 16 * kMiB, 16 * kMiB).count == kMaxParts);
}

TEST_CASE("part_plan: preferred sizes are held to 5 MiB .. 5 GiB") {
    CHECK(plan(100 * kMiB, 1).part_size == 5 * kMiB);
    CHECK(plan(100 * kMiB, 0).part_size == 5 * kMiB);
    CHECK(plan(20 * kGiB, 100 * kGiB).part_size == 5 * kGiB);
}

TEST_CASE("part_plan: larger parts, in whole MiB, when 10,000 would not do") {
    const PartPlan p = plan(uint64_t(kMaxParts) * 16 * kMiB + 1, 16 * kMiB);
    CHECK(p.part_size == 17 * kMiB);
    CHECK(p.count <= kMaxParts);
    const PartPlan huge = plan(1024 * kGiB, 8 * kMiB);  // 1 TiB
    CHECK(huge.part_size % kMiB == 0);
    CHECK(huge.count <= kMaxParts);
    const PartPlan largest = plan(uint64_t(kMaxParts) * kMaxPartSize, 8 * kMiB);
    CHECK(largest.part_size == kMaxPartSize);
    CHECK(largest.count == kMaxParts);
}

TEST_CASE("part_plan: a file beyond 10,000 parts of 5 GiB is refused") {
    const auto refused = plan_parts(uint64_t(kMaxParts) * kMaxPartSize + 1, 16 * kMiB);
    CHECK_FALSE(refused);
    CHECK(why_not(refused).find("10000 parts of 5 GiB") != std::string::npos);
}

TEST_CASE("retry: backoff ceilings double from the base and stop at the cap") {
    const RetryPolicy policy{5, std::chrono::milliseconds(100), std::chrono::milliseconds(1000)};
    CHECK(backoff_ceiling(policy, 1).count() == 100);
    CHECK(backoff_ceiling(policy, 2).count() == 200);
    CHECK(backoff_ceiling(policy, 4).count() == 800);
    CHECK(backoff_ceiling(policy, 5).count() == 1000);
    CHECK(backoff_ceiling(policy, 1'000'000).count() == 1000);
    const RetryPolicy huge{5, std::chrono::milliseconds(INT64_MAX / 2), std::chrono::milliseconds(INT64_MAX / 2)};
    CHECK(backoff_ceiling(huge, 64).count() == INT64_MAX / 2);
    const RetryPolicy zero{5, std::chrono::milliseconds(0), std::chrono::milliseconds(1000)};
    CHECK(backoff_ceiling(zero, 10).count() == 0);
    CHECK(backoff_delay(zero, 10).count() == 0);
}

TEST_CASE("retry: full jitter spreads delays over [0, ceiling], never past it") {
    const RetryPolicy policy{5, std::chrono::milliseconds(100), std::chrono::milliseconds(1000)};
    CHECK(backoff_delay(policy, 3, 0).count() == 0);
    CHECK(backoff_delay(policy, 3, 400).count() == 400);
    CHECK(backoff_delay(policy, 3, 401).count() == 0);
    CHECK(backoff_delay(policy, 3, UINT64_MAX).count() <= 400);
    int64_t smallest = INT64_MAX, largest = 0;
    for (int i = 0; i < 2000; ++i) {
        const int64_t d = backoff_delay(policy, 20).count();
        CHECK(d >= 0);
        CHECK(d <= 1000);
        smallest = std::min(smallest, d);
        largest = std::max(largest, d);
    }
    // 2000 uniform draws from 0..1000 land in both tenths at the ends (a miss
    // is 0.9^2000, about 1e-92): the delays really are spread, not fixed.
    CHECK(smallest < 100);
    CHECK(largest > 900);
}

TEST_CASE("s3_client: what an object write may carry") {
    ObjectWrite ok;
    ok.metadata = {{"session", "web"}, {"collector_id", "i-0abc"}, {"file-sha256", std::string(64, 'a')}};
    ok.storage_class = "STANDARD_IA";
    CHECK(why_not(check_object_write(ok)) == "");

    const auto refusal = [](auto change) {
        ObjectWrite w;
        change(w);
        return why_not(check_object_write(w));
    };
    CHECK(refusal([](ObjectWrite& w) { w.metadata = {{"Session", "x"}}; }).find("lowercase") != std::string::npos);
    CHECK(refusal([](ObjectWrite& w) { w.metadata = {{"a b", "x"}}; }) != "");
    CHECK(refusal([](ObjectWrite& w) { w.metadata = {{"k", ""}}; }) != "");
    CHECK(refusal([](ObjectWrite& w) { w.metadata = {{"k", "caf\xC3\xA9"}}; }).find("ASCII") != std::string::npos);
    CHECK(refusal([](ObjectWrite& w) { w.metadata = {{"k", "a\nb"}}; }) != "");
    CHECK(refusal([](ObjectWrite& w) { w.metadata = {{"k", " padded"}}; }) != "");
    CHECK(refusal([](ObjectWrite& w) { w.metadata = {{"k", "1"}, {"k", "2"}}; }).find("twice") != std::string::npos);
    CHECK(refusal([](ObjectWrite& w) { w.metadata = {{"k", std::string(2048, 'v')}}; }).find("2 KiB") !=
          std::string::npos);
    CHECK(refusal([](ObjectWrite& w) { w.storage_class = "standard"; }) != "");
    // The file's SHA-256 is the client's to send, and counts in the 2 KiB.
    CHECK(refusal([](ObjectWrite& w) { w.metadata = {{"sha256", "x"}}; }).find("client's own") != std::string::npos);
    CHECK(refusal([](ObjectWrite& w) { w.metadata = {{"sha256-of-what", "x"}}; }).find("out of order") !=
          std::string::npos);
    CHECK(refusal([](ObjectWrite& w) { w.metadata = {{"k", std::string(2048 - 1 - 70, 'v')}}; }) == "");
    CHECK(refusal([](ObjectWrite& w) { w.metadata = {{"k", std::string(2048 - 70, 'v')}}; }).find("2 KiB") !=
          std::string::npos);
    CHECK(refusal([](ObjectWrite& w) { w.content_type = ""; }) != "");
    CHECK(refusal([](ObjectWrite& w) { w.part_size = 4 * kMiB; }) != "");
    CHECK(refusal([](ObjectWrite& w) { w.multipart_threshold = 6 * kGiB; }) != "");
}

TEST_CASE("s3_client: metadata names libcurl 7.88 would sign out of order are refused") {
    // curl sorts "name:value" lines, so "part:" comes after "part2:" and
    // "part-b:" (':' is above '-' and the digits); S3 sorts by name.
    const auto check = [](std::vector<std::pair<std::string, std::string>> metadata) {
        ObjectWrite w;
        w.metadata = std::move(metadata);
        return why_not(check_object_write(w));
    };
    CHECK(check({{"part", "1"}, {"part2", "2"}}).find("out of order") != std::string::npos);
    CHECK(check({{"part-b", "1"}, {"part", "2"}}).find("out of order") != std::string::npos);
    // A continuation above ':' sorts the same either way.
    CHECK(check({{"part", "1"}, {"part_b", "2"}}) == "");
    CHECK(check({{"part", "1"}, {"partb", "2"}}) == "");
    CHECK(check({{"part", "1"}, {"other", "2"}}) == "");
}

TEST_CASE("digest: MD5 and SHA-256 of bodies, as Content-MD5 and x-amz-content-sha256 carry them") {
    const BodyDigests empty = digest("");
    CHECK(empty.content_md5() == "1B2M2Y8AsgTpgAmY7PhCfg==");
    CHECK(empty.sha256_hex() == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    const BodyDigests abc = digest("abc");
    CHECK(abc.content_md5() == "kAFQmDzST7DWlj99KOF/cg==");
    CHECK(abc.sha256_hex() == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    CHECK(to_base64(reinterpret_cast<const uint8_t*>("ab"), 2) == "YWI=");
}

TEST_CASE("digest: a range of a file hashes like the same bytes in memory, and a short file is an error") {
    test::TempDir dir;
    const std::string path = (dir.path / "f").string();
    std::string content;
    for (int i = 0; i < 3 * 1024 * 1024 + 17; ++i) content += static_cast<char>(i * 7 + i / 251);
    std::ofstream(path, std::ios::binary) << content;
    const int fd = open(path.c_str(), O_RDONLY);
    REQUIRE(fd >= 0);
    const auto whole = digest_file_range(fd, 0, content.size());
    REQUIRE(whole);
    CHECK(whole->sha256_hex() == sha256_hex(content));
    const auto middle = digest_file_range(fd, 1'000'001, 2'000'000);
    REQUIRE(middle);
    CHECK(middle->content_md5() == digest(std::string_view(content).substr(1'000'001, 2'000'000)).content_md5());
    const auto short_file = digest_file_range(fd, content.size() - 10, 11);
    CHECK_FALSE(short_file);
    CHECK(why_not(short_file).find("file ended") != std::string::npos);
    close(fd);
}

TEST_CASE("digest: one read gives each part's digests and the whole file's SHA-256, and S3's checksum of them") {
    test::TempDir dir;
    const std::string path = (dir.path / "f").string();
    std::string content;
    for (int i = 0; i < 11 * 1024 * 1024 + 5; ++i) content += static_cast<char>(i * 13 + i / 509);
    std::ofstream(path, std::ios::binary) << content;
    const int fd = open(path.c_str(), O_RDONLY);
    REQUIRE(fd >= 0);
    const PartPlan three = plan(content.size(), 5 * kMiB);
    REQUIRE(three.count == 3);
    const auto parts = digest_file_parts(fd, three);
    REQUIRE(parts);
    REQUIRE(parts->parts.size() == 3);
    CHECK(parts->sha256_hex() == sha256_hex(content));
    std::string concatenated;
    for (uint32_t n = 1; n <= 3; ++n) {
        const BodyDigests expected = digest(std::string_view(content).substr(three.offset(n), three.size(n)));
        CHECK(parts->parts[n - 1].content_md5() == expected.content_md5());
        CHECK(parts->parts[n - 1].sha256_base64() == expected.sha256_base64());
        concatenated.append(reinterpret_cast<const char*>(expected.sha256.data()), expected.sha256.size());
    }
    const BodyDigests composite = digest(concatenated);
    CHECK(parts->s3_checksum() == composite.sha256_base64() + "-3");

    const auto one = digest_file_parts(fd, single_part(content.size()));
    REQUIRE(one);
    CHECK(one->sha256_hex() == sha256_hex(content));
    CHECK(one->s3_checksum() == one->parts[0].sha256_base64());
    CHECK(digest("abc").sha256_base64() == "ungWv48Bz+pBQUDeXa4iI7ADYaOWF3qctBD/YfIAFa0=");

    CHECK_FALSE(digest_file_parts(fd, single_part(content.size() + 1)));
    close(fd);
}
