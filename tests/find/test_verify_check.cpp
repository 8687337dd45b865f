// --verify's judgement (find/verify_check.hpp) over literal manifests: the
// chain walk and each finding, apart from any store.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "cloud/digest.hpp"
#include "find/verify_check.hpp"
#include "support/parse.hpp"

using namespace mirrortap::find::verify;

namespace {

constexpr uint64_t kS = 1'000'000'000ull;
const std::string kChain = "20261207T171736.081882021Z";

std::string manifest_key(uint64_t sequence) {
    char seq[16];
    std::snprintf(seq, sizeof seq, "%010llu", static_cast<unsigned long long>(sequence));
    return "manifests/collector=c1/chain=" + kChain + "/" + seq + ".json";
}

std::string capture_key(int n) {
    return "pcap/session=web/date=2026-12-07/hour=17/collector=c1/web-20261207T1717" + std::to_string(30 + n) +
           "Z-00000" + std::to_string(n) + ".pcap";
}

ListedFile listed(int n) {
    return {capture_key(n), 100 + uint64_t(n), mirrortap::cloud::sha256_hex(std::to_string(n)), "", "web", 501,
            uint64_t(1000 + 10 * n) * kS, uint64_t(1000 + 10 * n + 5) * kS, 3};
}

// A chain of `count` manifests, each over 10 s from t=1000 s, manifest n listing capture n.
std::vector<ReadManifest> chain(uint64_t count) {
    std::vector<ReadManifest> out;
    for (uint64_t n = 1; n <= count; ++n) {
        ReadManifest m;
        m.key = manifest_key(n);
        m.place = {"c1", kChain, n};
        m.sha256 = mirrortap::cloud::sha256_hex(m.key);  // stands for the hash of its bytes
        Manifest d;
        d.collector = "c1";
        d.chain = kChain;
        d.cause = "interval";
        d.sequence = n;
        if (n > 1) {
            d.has_previous = true;
            d.previous_key = out.back().key;
            d.previous_sha256 = out.back().sha256;
        }
        d.start_ns = (1000 + 10 * (n - 1)) * kS;
        d.end_ns = d.start_ns + 10 * kS;
        d.files = {listed(int(n))};
        m.doc = d;
        m.first_of_chain = n == 1;
        m.in_window = true;
        out.push_back(m);
    }
    return out;
}

std::vector<Finding> chain_findings(const std::vector<ReadManifest>& ms) {
    std::vector<Finding> out;
    check_chains(ms, out);
    check_waiting(ms, out);
    return out;
}

bool has(const std::vector<Finding>& fs, Kind kind, const std::string& key) {
    for (const auto& f : fs)
        if (f.kind == kind && f.key == key) return true;
    return false;
}

}  // namespace

TEST_CASE("verify: a manifest's key says its collector, chain and sequence, and other keys are not manifests") {
    const auto p = manifest_place(manifest_key(42));
    REQUIRE(p);
    CHECK(p->collector == "c1");
    CHECK(p->chain == kChain);
    CHECK(p->sequence == 42);
    CHECK_FALSE(manifest_place("manifests/collector=c1/chain=x/42.json"));  // not 10 digits
    CHECK_FALSE(manifest_place("manifests/collector=c1/0000000001.json"));
    CHECK_FALSE(manifest_place("pcap/collector=c1/chain=x/0000000001.json"));
    CHECK_FALSE(manifest_place("manifests/collector=c1/chain=x/00000000a1.json"));
}

TEST_CASE("verify: a manifest as the uploader writes it is read, its keys made relative to the prefix") {
    const std::string text = R"({
  "cause": "drain", "chain": "C", "collector": "c1", "dropped": {}, "dropped_since": "2026-12-07T17:17:36.081882021Z",
  "files": [{"first_ns": 5, "first_timestamp": "x", "key": "fleet/eu/pcap/session=web/f.pcap", "last_ns": 6,
             "last_timestamp": "y", "packets": 30, "s3_checksum": "abc=", "session": "web", "sha256": "00", "size": 7,
             "vni": 501}],
  "format": "mirrortap-manifest",
  "interval": {"end": "2026-12-07T17:17:37.288733232Z", "start": "2026-12-07T17:17:36.081882021Z"},
  "previous": {"key": "fleet/eu/manifests/collector=c1/chain=C/0000000001.json", "sha256": "ff"},
  "process_start": "2026-12-07T17:17:36.081882021Z", "sequence": 2, "version": 1,
  "waiting": {"count": 1, "files": [{"session": "web", "file": "g.pcap", "size": 1, "packets": 1,
              "first_timestamp": "x", "last_timestamp": "y"}]}
})";
    const auto m = parse_manifest(text, "fleet/eu/");
    REQUIRE(m);
    CHECK(m->sequence == 2);
    CHECK(m->previous_key == "manifests/collector=c1/chain=C/0000000001.json");
    CHECK(m->start_ns == 1796663856081882021ull);
    CHECK(m->end_ns == 1796663857288733232ull);
    REQUIRE(m->files.size() == 1);
    CHECK(m->files[0].key == "pcap/session=web/f.pcap");
    CHECK(m->files[0].size == 7);
    REQUIRE(m->waiting.size() == 1);
    CHECK(m->waiting[0].file == "g.pcap");
    CHECK_FALSE(parse_manifest(R"({"format": "something-else", "version": 1})", ""));
    CHECK_FALSE(parse_manifest("not json", ""));
}

TEST_CASE("verify: a whole chain has no findings") { CHECK(chain_findings(chain(4)).empty()); }

TEST_CASE("verify: an altered manifest breaks its successor's link") {
    auto ms = chain(3);
    ms[1].sha256 = "0000";  // the bytes stored are not those manifest 3 names
    const auto fs = chain_findings(ms);
    REQUIRE(fs.size() == 1);
    CHECK(fs[0].kind == Kind::unchained);
    CHECK(fs[0].key == ms[2].key);
}

TEST_CASE("verify: a manifest missing from the middle is a gap and an unchained successor") {
    auto ms = chain(4);
    const std::string successor = ms[2].key;
    ms.erase(ms.begin() + 1);
    const auto fs = chain_findings(ms);
    CHECK(has(fs, Kind::gap, successor));
    CHECK(has(fs, Kind::unchained, successor));
    CHECK(fs.size() == 2);
}

TEST_CASE("verify: a chain whose first stored manifest is not sequence 1 is unchained") {
    auto ms = chain(3);
    ms.erase(ms.begin());
    ms[0].first_of_chain = true;
    const auto fs = chain_findings(ms);
    REQUIRE(fs.size() == 1);
    CHECK(fs[0].kind == Kind::unchained);
    CHECK(fs[0].key == ms[0].key);
    // Read from the middle (the one before the window) it is not the chain's start: nothing to say.
    ms[0].first_of_chain = false;
    CHECK(chain_findings(ms).empty());
}

TEST_CASE("verify: an interval that does not start where the one before ended is a gap") {
    auto ms = chain(3);
    ms[2].doc->start_ns += kS;
    const auto fs = chain_findings(ms);
    REQUIRE(fs.size() == 1);
    CHECK(fs[0].kind == Kind::gap);
    CHECK(fs[0].key == ms[2].key);
}

TEST_CASE("verify: a document that says another sequence than its key is altered") {
    auto ms = chain(2);
    ms[1].doc->sequence = 7;
    CHECK(has(chain_findings(ms), Kind::altered, ms[1].key));
}

TEST_CASE("verify: a manifest that cannot be read is altered, and its successor still checked against its hash") {
    auto ms = chain(3);
    ms[1].doc.reset();
    ms[1].refused = "not JSON";
    const auto fs = chain_findings(ms);
    CHECK(has(fs, Kind::altered, ms[1].key));
    CHECK(fs.size() == 1);
    ms[1].sha256 = "0000";
    CHECK(has(chain_findings(ms), Kind::unchained, ms[2].key));
}

TEST_CASE("verify: a waiting file no later manifest lists is a gap, and one listed later is not") {
    auto ms = chain(3);
    const std::string later = capture_key(3);
    ms[0].doc->waiting = {{"web", later.substr(later.rfind('/') + 1)}, {"web", "web-never-000009.pcap"}};
    const auto fs = chain_findings(ms);
    REQUIRE(fs.size() == 1);
    CHECK(fs[0].kind == Kind::gap);
    CHECK(fs[0].key == ms[0].key);
    CHECK(fs[0].reason.find("web-never-000009.pcap") != std::string::npos);
}

TEST_CASE("verify: the files of the window, once each, and a key listed twice with other bytes is altered") {
    auto ms = chain(4);
    std::vector<Finding> fs;
    // Capture n's records are at [1000 + 10n, 1005 + 10n] s: 1 ends before the window, 4 starts after it.
    const auto files = files_to_check(ms, {1016 * kS, 1030 * kS}, fs);
    REQUIRE(files.size() == 2);
    CHECK(files[0].key == capture_key(2));
    CHECK(files[1].key == capture_key(3));
    CHECK(fs.empty());
    ms[3].doc->files.push_back(ms[1].doc->files[0]);  // listed again, as is: the same upload recorded twice
    CHECK(files_to_check(ms, {}, fs).size() == 4);
    CHECK(fs.empty());
    ms[3].doc->files.back().sha256 = "other";  // the overwritten-object case
    CHECK(files_to_check(ms, {}, fs).size() == 4);
    REQUIRE(fs.size() == 1);
    CHECK(fs[0].kind == Kind::altered);
    CHECK(fs[0].key == capture_key(2));
}

TEST_CASE("verify: each file is missing, altered or whole") {
    std::vector<ListedFile> files = {listed(1), listed(2), listed(3), listed(4), listed(5), listed(6)};
    files[5].s3_checksum = hex_to_base64(files[5].sha256);
    std::vector<ObjectRead> reads(6);
    for (size_t i = 0; i < 6; ++i) reads[i] = {true, files[i].size, files[i].sha256, "", ""};
    reads[0].present = false;                        // missing
    reads[1].size += 1;                              // altered: size
    reads[2].sha256 = "00";                          // altered: bytes
    reads[3].metadata_sha256 = "11";                 // altered: the object's own metadata disagrees
    reads[4].error = "connection reset";             // cannot be read whole
    std::vector<Finding> fs;
    check_files(files, reads, fs);
    REQUIRE(fs.size() == 5);
    CHECK(fs[0].kind == Kind::missing);
    CHECK(fs[1].kind == Kind::altered);
    CHECK(fs[2].kind == Kind::altered);
    CHECK(fs[3].kind == Kind::altered);
    CHECK(fs[4].kind == Kind::missing);
    for (size_t i = 0; i < 5; ++i) CHECK(fs[i].key == files[i].key);
    fs.clear();
    files[5].s3_checksum = "AAAA";  // a manifest whose two hashes of one file disagree
    check_files({files[5]}, {reads[5]}, fs);
    REQUIRE(fs.size() == 1);
    CHECK(fs[0].kind == Kind::altered);
}

TEST_CASE("verify: a capture in the store no manifest lists is extra") {
    const auto ms = chain(2);
    std::vector<Finding> fs;
    check_extras(ms, {{capture_key(1), 101}, {capture_key(2), 102}, {capture_key(7), 9}}, fs);
    REQUIRE(fs.size() == 1);
    CHECK(fs[0].kind == Kind::extra);
    CHECK(fs[0].key == capture_key(7));
}

TEST_CASE("verify: a single PutObject's checksum is the SHA-256 in base64") {
    CHECK(hex_to_base64("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855") ==
          "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=");
    CHECK(hex_to_base64("e3b0") == "");
    CHECK(hex_to_base64(std::string(64, 'g')) == "");
}

TEST_CASE("verify: a lock until the last record + the period passes, one a second short is lock_too_short") {
    const ListedFile f = listed(1);  // last record at 1015 s
    const uint64_t day = 86400 * kS;
    const std::string enough = mirrortap::rfc3339_ns(f.last_ns + day);
    const std::string short_by_a_second = mirrortap::rfc3339_ns(f.last_ns + day - kS);
    CHECK_FALSE(check_lock(f, {"COMPLIANCE", enough, ""}, day));
    CHECK_FALSE(check_lock(f, {"GOVERNANCE", "1970-01-02T00:17:00.000Z", "OFF"}, day));  // S3's own form, later
    const auto too_short = check_lock(f, {"GOVERNANCE", short_by_a_second, "OFF"}, day);
    REQUIRE(too_short);
    CHECK(too_short->kind == Kind::lock_too_short);
    CHECK(too_short->key == f.key);
    CHECK(too_short->reason.find(short_by_a_second) != std::string::npos);
    CHECK(too_short->reason.find(enough) != std::string::npos);  // what it needed
}

TEST_CASE("verify: no lock, or a mode S3 does not know, is unlocked, and a legal hold alone is locked") {
    const ListedFile f = listed(2);
    const uint64_t day = 86400 * kS;
    for (const ObjectLock& none : {ObjectLock{}, ObjectLock{"", "", "OFF"}, ObjectLock{"", "2100-01-01T00:00:00Z", ""},
                                   ObjectLock{"governance", "2100-01-01T00:00:00Z", ""}}) {
        const auto finding = check_lock(f, none, day);
        REQUIRE(finding);
        CHECK(finding->kind == Kind::unlocked);
    }
    CHECK_FALSE(check_lock(f, {"", "", "ON"}, day));
    // A hold keeps it until lifted, whatever the retention says.
    CHECK_FALSE(check_lock(f, {"GOVERNANCE", "1970-01-01T00:00:01Z", "ON"}, day));
}

TEST_CASE("verify: a mode whose retain-until date cannot be read proves nothing: unlocked") {
    const ListedFile f = listed(3);
    for (const char* date : {"", "tomorrow", "2100-01-01", "2100-13-01T00:00:00Z"}) {
        const auto finding = check_lock(f, {"COMPLIANCE", date, ""}, 86400 * kS);
        REQUIRE(finding);
        CHECK(finding->kind == Kind::unlocked);
        CHECK(finding->reason.find("cannot be read") != std::string::npos);
    }
}

TEST_CASE("verify: locks are checked for the files headed, counted, and a failed HEAD is unlocked") {
    std::vector<ListedFile> files = {listed(1), listed(2), listed(3), listed(4)};
    const uint64_t day = 86400 * kS;
    std::vector<ObjectRead> reads(4);
    for (auto& r : reads) r.headed = true;
    reads[0].lock = {"COMPLIANCE", mirrortap::rfc3339_ns(files[0].last_ns + 2 * day), ""};
    reads[1].lock = {"COMPLIANCE", mirrortap::rfc3339_ns(files[1].last_ns + 2 * day), ""};
    reads[2].head_error = "503 SlowDown";
    reads[3].headed = false;  // missing or not read whole: a finding of check_files already
    std::vector<Finding> fs;
    CHECK(check_locks(files, reads, day, fs) == 2);
    REQUIRE(fs.size() == 1);
    CHECK(fs[0].kind == Kind::unlocked);
    CHECK(fs[0].key == files[2].key);
    fs.clear();
    CHECK(check_locks(files, reads, 3 * day, fs) == 0);  // a longer period than either lock
    REQUIRE(fs.size() == 3);
    CHECK(fs[0].kind == Kind::lock_too_short);
    CHECK(fs[1].kind == Kind::lock_too_short);
    CHECK(fs[2].kind == Kind::unlocked);
}
