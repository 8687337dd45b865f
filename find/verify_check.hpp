// mirrortap-find --verify's judgement, apart from any store (docs/evidence.md
// §5): the manifests of a window as read, the capture objects a store lists
// and the SHA-256 of each object as read, in; findings out. Pure, so that the
// chain walk and every finding is unit tested with literal documents.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/enum_names.hpp"
#include "base/result.hpp"
#include "support/manifest_format.hpp"

namespace mirrortap::find::verify {

// One stored capture as a manifest lists it; its key made relative to the store's prefix.
using ListedFile = manifest_format::ManifestFile;
// A capture a manifest names as finished and not yet stored.
struct WaitingFile {
    std::string session, file;
};

struct Manifest {
    std::string collector, chain, cause;
    uint64_t sequence = 0;
    bool has_previous = false;
    std::string previous_key, previous_sha256;  // previous_key relative to the prefix
    uint64_t start_ns = 0, end_ns = 0;
    std::vector<ListedFile> files;
    std::vector<WaitingFile> waiting;
};

// What a manifest's key says: collector=ID/chain=CHAIN/SEQUENCE.json under manifests/.
struct ManifestPlace {
    std::string collector, chain;
    uint64_t sequence = 0;
};
std::optional<ManifestPlace> manifest_place(std::string_view relative_key);

// Keys in a manifest are whole (PREFIX/...): `prefix` ("" or "a/b/") is
// taken off them, so that they compare with the store's relative keys.
Result<Manifest> parse_manifest(std::string_view text, std::string_view prefix);

// A manifest as read from the store, in key order (collector, chain, sequence).
struct ReadManifest {
    std::string key;  // relative
    ManifestPlace place;
    std::string sha256;  // of its bytes as stored
    std::optional<Manifest> doc;
    std::string refused;  // why doc is empty
    bool first_of_chain = false;  // the lowest sequence of its chain the store holds
    bool in_window = false;       // its interval meets the window (else read to check a link or resolve)
};

// unlocked and lock_too_short only with --lock-days (check_locks).
enum class Kind : uint8_t { missing, altered, extra, unchained, gap, unlocked, lock_too_short };
inline constexpr auto kKindNames = enum_names<Kind>({{Kind::missing, "missing"},
                                                     {Kind::altered, "altered"},
                                                     {Kind::extra, "extra"},
                                                     {Kind::unchained, "unchained"},
                                                     {Kind::gap, "gap"},
                                                     {Kind::unlocked, "unlocked"},
                                                     {Kind::lock_too_short, "lock_too_short"}});

struct Finding {
    Kind kind;
    std::string key;  // the object or manifest concerned (relative)
    std::string reason;
};

struct Window {
    uint64_t since_ns = 0, until_ns = ~0ull;
    bool meets(uint64_t first_ns, uint64_t last_ns) const { return first_ns <= until_ns && last_ns >= since_ns; }
};

// Links within each chain: previous by key and SHA-256, sequence without a
// jump, each interval starting where the one before ended; a chain's first
// stored manifest is sequence 1 with no previous; each document says what its
// key says; a document that does not parse.
void check_chains(const std::vector<ReadManifest>& manifests, std::vector<Finding>& out);

// A capture of a window's manifests that no later manifest read lists.
void check_waiting(const std::vector<ReadManifest>& manifests, std::vector<Finding>& out);

// The files to hash: every file a manifest read lists whose records meet the
// window, once per key; a key listed twice with different bytes is altered
// (an object overwritten: only one of them can be in the store).
std::vector<ListedFile> files_to_check(const std::vector<ReadManifest>& manifests, const Window& window,
                                       std::vector<Finding>& out);

// A capture object as a store lists it, and as read.
struct StoredObject {
    std::string key;  // relative
    uint64_t size = 0;
};
// S3 Object Lock as an object's HEAD answered it ("" where a header was absent).
struct ObjectLock {
    std::string mode;          // GOVERNANCE or COMPLIANCE
    std::string retain_until;  // ISO 8601 (2026-12-08T10:00:00.000Z)
    std::string legal_hold;    // ON or OFF
};
struct ObjectRead {
    bool present = false;
    uint64_t size = 0;  // as listed
    std::string sha256;           // of the bytes read ("" when the read failed)
    std::string metadata_sha256;  // x-amz-meta-sha256 where the store keeps it
    std::string error;            // why the object could not be read whole
    // The HEAD made after a whole read (none for an object missing, of
    // another size or not read whole: those are findings already).
    bool headed = false;
    std::string head_error;  // why the HEAD failed
    ObjectLock lock;
};
// files[i] against reads[i].
void check_files(const std::vector<ListedFile>& files, const std::vector<ObjectRead>& reads,
                 std::vector<Finding>& out);

// Whether one file is kept at least `lock_ns` past its last record: a legal
// hold ON keeps it until someone lifts it; else a GOVERNANCE or COMPLIANCE
// mode whose retain-until date is that late. A lock that cannot be read
// proves nothing, so it is `unlocked` too.
std::optional<Finding> check_lock(const ListedFile& file, const ObjectLock& lock, uint64_t lock_ns);
// check_lock of files[i] against reads[i], for each file headed; the number
// of files locked long enough.
size_t check_locks(const std::vector<ListedFile>& files, const std::vector<ObjectRead>& reads, uint64_t lock_ns,
                   std::vector<Finding>& out);

// Capture objects (already narrowed to the window's key range) no manifest read lists.
void check_extras(const std::vector<ReadManifest>& manifests, const std::vector<StoredObject>& objects,
                  std::vector<Finding>& out);

// base64 of 32 bytes given as 64 hex digits ("" when `hex` is not that):
// a single PutObject's ChecksumSHA256 is the file's SHA-256 in base64.
std::string hex_to_base64(std::string_view hex);

}  // namespace mirrortap::find::verify
