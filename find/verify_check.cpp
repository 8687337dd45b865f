#include "find/verify_check.hpp"

#include <map>
#include <set>

#include "cloud/digest.hpp"
#include "support/json.hpp"
#include "support/manifest_format.hpp"
#include "support/parse.hpp"
#include "support/text.hpp"

namespace mirrortap::find::verify {

namespace {

namespace mf = manifest_format;
using json::Value;

std::string without_prefix(std::string key, std::string_view prefix) {
    if (!prefix.empty() && key.starts_with(prefix)) key.erase(0, prefix.size());
    return key;
}

uint64_t time_of(const Value& v) {
    const auto t = parse_rfc3339(v.get<std::string>());
    if (!t) throw std::invalid_argument("time " + v.dump() + ": " + t.error());
    return *t;
}

std::string_view after_last_slash(std::string_view key) {
    const size_t slash = key.rfind('/');
    return slash == std::string_view::npos ? key : key.substr(slash + 1);
}

std::string seq_text(uint64_t n) { return std::to_string(n); }

}  // namespace

std::optional<ManifestPlace> manifest_place(std::string_view key) {
    const std::string tree = std::string(mf::kTree) + "/";
    if (!key.starts_with(tree)) return std::nullopt;
    key.remove_prefix(tree.size());
    const auto part = [&](std::string_view name) -> std::optional<std::string> {
        const size_t slash = key.find('/');
        if (slash == std::string_view::npos || !key.starts_with(name) || slash == name.size()) return std::nullopt;
        std::string value(key.substr(name.size(), slash - name.size()));
        key.remove_prefix(slash + 1);
        return value;
    };
    auto collector = part(mf::kCollectorPart);
    auto chain = part(mf::kChainPart);
    if (!collector || !chain || !key.ends_with(mf::kSuffix)) return std::nullopt;
    const std::string_view digits = key.substr(0, key.size() - mf::kSuffix.size());
    if (digits.size() != size_t(mf::kSequenceDigits)) return std::nullopt;
    uint64_t sequence = 0;
    for (char c : digits) {
        if (c < '0' || c > '9') return std::nullopt;
        sequence = sequence * 10 + uint64_t(c - '0');
    }
    return ManifestPlace{std::move(*collector), std::move(*chain), sequence};
}

Result<Manifest> parse_manifest(std::string_view text, std::string_view prefix) {
    auto parsed = json::parse(text);
    if (!parsed) return fail("not JSON: " + json::describe(parsed.error()));
    const Value& v = *parsed;
    namespace k = mf::key;
    namespace fk = mf::file_key;
    try {
        if (v.at(k::format).get<std::string>() != mf::kFormat) return fail("not a " + std::string(mf::kFormat));
        if (v.at(k::version).get<int>() != mf::kVersion)
            return fail("version " + v.at(k::version).dump() + ", not " + std::to_string(mf::kVersion));
        Manifest m;
        m.collector = v.at(k::collector).get<std::string>();
        m.chain = v.at(k::chain).get<std::string>();
        m.cause = v.at(k::cause).get<std::string>();
        m.sequence = v.at(k::sequence).get<uint64_t>();
        const Value& previous = v.at(k::previous);
        if (!previous.is_null()) {
            m.has_previous = true;
            m.previous_key = without_prefix(previous.at(fk::key).get<std::string>(), prefix);
            m.previous_sha256 = previous.at(fk::sha256).get<std::string>();
        }
        m.start_ns = time_of(v.at(k::interval).at(k::start));
        m.end_ns = time_of(v.at(k::interval).at(k::end));
        for (const Value& f : v.at(k::files)) {
            auto e = mf::file_from(f);
            if (!e) return fail(std::move(e).error());
            e->key = without_prefix(std::move(e->key), prefix);
            m.files.push_back(std::move(*e));
        }
        for (const Value& w : v.at(k::waiting).at(k::files))
            m.waiting.push_back({w.at(fk::session).get<std::string>(), w.at(fk::file).get<std::string>()});
        return m;
    } catch (const std::exception& e) {
        return fail(std::string("not a manifest: ") + e.what());
    }
}

void check_chains(const std::vector<ReadManifest>& manifests, std::vector<Finding>& out) {
    const ReadManifest* before = nullptr;  // the manifest read before, in the same chain
    for (const ReadManifest& m : manifests) {
        if (before && (before->place.collector != m.place.collector || before->place.chain != m.place.chain))
            before = nullptr;
        if (!m.doc) {
            out.push_back({Kind::altered, m.key, "the manifest cannot be read: " + m.refused});
            // Its successor still names it by key and hash: those are checked.
            before = &m;
            continue;
        }
        const Manifest& d = *m.doc;
        if (d.collector != m.place.collector || d.chain != m.place.chain || d.sequence != m.place.sequence)
            out.push_back({Kind::altered, m.key,
                           "the document says collector " + d.collector + ", chain " + d.chain + ", sequence " +
                               seq_text(d.sequence) + ": not what its key says"});
        if (m.first_of_chain && !before) {
            if (m.place.sequence != 1)
                out.push_back({Kind::unchained, m.key,
                               "the chain starts at sequence " + seq_text(m.place.sequence) + ", not 1: manifests " +
                                   "1 to " + seq_text(m.place.sequence - 1) + " are not in the store"});
            else if (d.has_previous)
                out.push_back({Kind::unchained, m.key, "sequence 1 names a previous manifest, " + d.previous_key});
        }
        if (before) {
            if (m.place.sequence != before->place.sequence + 1)
                out.push_back({Kind::gap, m.key,
                               "sequence jumps from " + seq_text(before->place.sequence) + " to " +
                                   seq_text(m.place.sequence) + ": " + seq_text(m.place.sequence - before->place.sequence - 1) +
                                   " manifest(s) not in the store"});
            if (!d.has_previous)
                out.push_back({Kind::unchained, m.key, "names no previous manifest, after " + before->key});
            else if (d.previous_key != before->key)
                out.push_back({Kind::unchained, m.key,
                               "names previous " + d.previous_key + ", which is not in the store (the one before it "
                               "is " + before->key + ")"});
            else if (d.previous_sha256 != before->sha256)
                out.push_back({Kind::unchained, m.key,
                               "names previous " + d.previous_key + " with SHA-256 " + d.previous_sha256 +
                                   "; the stored one's is " + before->sha256 + " (altered since)"});
            if (before->doc && d.start_ns != before->doc->end_ns && m.place.sequence == before->place.sequence + 1)
                out.push_back({Kind::gap, m.key,
                               "its interval starts at " + rfc3339_ns(d.start_ns) + ", the previous one ended at " +
                                   rfc3339_ns(before->doc->end_ns)});
        }
        if (d.end_ns < d.start_ns)
            out.push_back({Kind::gap, m.key, "its interval ends before it starts"});
        before = &m;
    }
}

void check_waiting(const std::vector<ReadManifest>& manifests, std::vector<Finding>& out) {
    // (collector, session, file name) of every listed file, with the index of the last manifest listing it.
    std::map<std::tuple<std::string, std::string, std::string>, size_t> listed_at;
    for (size_t i = 0; i < manifests.size(); ++i)
        if (manifests[i].doc)
            for (const ListedFile& f : manifests[i].doc->files)
                listed_at[{manifests[i].place.collector, f.session, std::string(after_last_slash(f.key))}] = i;
    std::set<std::tuple<std::string, std::string, std::string>> reported;
    for (size_t i = 0; i < manifests.size(); ++i) {
        const ReadManifest& m = manifests[i];
        if (!m.doc || !m.in_window) continue;
        for (const WaitingFile& w : m.doc->waiting) {
            const std::tuple<std::string, std::string, std::string> id{m.place.collector, w.session, w.file};
            const auto it = listed_at.find(id);
            if ((it != listed_at.end() && it->second > i) || !reported.insert(id).second) continue;
            out.push_back({Kind::gap, m.key,
                           "names " + w.session + "/" + w.file + " as waiting for the store; no later manifest lists it"});
        }
    }
}

std::vector<ListedFile> files_to_check(const std::vector<ReadManifest>& manifests, const Window& window,
                                       std::vector<Finding>& out) {
    std::map<std::string, ListedFile> by_key;
    for (const ReadManifest& m : manifests) {
        if (!m.doc) continue;
        for (const ListedFile& f : m.doc->files) {
            if (!window.meets(f.first_ns, f.last_ns)) continue;
            const auto [it, added] = by_key.emplace(f.key, f);
            if (!added && (it->second.sha256 != f.sha256 || it->second.size != f.size))
                out.push_back({Kind::altered, f.key,
                               "listed twice with different bytes (SHA-256 " + it->second.sha256 + " and " + f.sha256 +
                                   ", the second in " + m.key + "): the object was overwritten"});
        }
    }
    std::vector<ListedFile> files;
    for (auto& [key, f] : by_key) files.push_back(std::move(f));
    return files;
}

std::string hex_to_base64(std::string_view hex) {
    if (hex.size() != 64) return "";
    uint8_t bytes[32];
    const auto nibble = [](char c) -> int {
        if (c >= '0' && c <= '9') return c - '0';
        if (c >= 'a' && c <= 'f') return c - 'a' + 10;
        return -1;
    };
    for (size_t i = 0; i < 32; ++i) {
        const int hi = nibble(hex[2 * i]), lo = nibble(hex[2 * i + 1]);
        if (hi < 0 || lo < 0) return "";
        bytes[i] = uint8_t(hi * 16 + lo);
    }
    return cloud::to_base64(bytes, sizeof bytes);
}

void check_files(const std::vector<ListedFile>& files, const std::vector<ObjectRead>& reads,
                 std::vector<Finding>& out) {
    for (size_t i = 0; i < files.size(); ++i) {
        const ListedFile& f = files[i];
        const ObjectRead& r = reads[i];
        if (!r.present) {
            out.push_back({Kind::missing, f.key, "listed in a manifest (" + std::to_string(f.size) + " bytes), not in the store"});
            continue;
        }
        if (r.size != f.size) {
            out.push_back({Kind::altered, f.key,
                           std::to_string(r.size) + " bytes in the store, " + std::to_string(f.size) + " in its manifest"});
            continue;
        }
        if (!r.error.empty()) {
            out.push_back({Kind::missing, f.key, "cannot be read whole: " + r.error});
            continue;
        }
        if (r.sha256 != f.sha256)
            out.push_back({Kind::altered, f.key, "SHA-256 " + r.sha256 + " in the store, " + f.sha256 + " in its manifest"});
        if (!r.metadata_sha256.empty() && r.metadata_sha256 != f.sha256)
            out.push_back({Kind::altered, f.key,
                           "x-amz-meta-sha256 " + r.metadata_sha256 + ", " + f.sha256 + " in its manifest"});
        // A single PutObject's checksum is the file's SHA-256; a multipart
        // upload's ("-N") is of its parts', which the whole file's hash cannot check.
        if (!f.s3_checksum.empty() && f.s3_checksum.find('-') == std::string::npos &&
            f.s3_checksum != hex_to_base64(f.sha256))
            out.push_back({Kind::altered, f.key, "its manifest's s3_checksum " + f.s3_checksum + " is not its sha256"});
    }
}

std::optional<Finding> check_lock(const ListedFile& f, const ObjectLock& lock, uint64_t lock_ns) {
    if (lock.legal_hold == "ON") return std::nullopt;
    const uint64_t required_ns = f.last_ns + lock_ns;
    const std::string required = "its last record at " + rfc3339_ns(f.last_ns) + " needs it locked until " +
                                 rfc3339_ns(required_ns);
    if (lock.mode != "GOVERNANCE" && lock.mode != "COMPLIANCE")
        return Finding{Kind::unlocked, f.key,
                       (lock.mode.empty() ? std::string("no Object Lock retention and no legal hold")
                                          : "Object Lock mode " + quote(lock.mode) + " is none S3 knows") +
                           "; " + required};
    const auto until = parse_rfc3339(lock.retain_until);
    if (!until)
        return Finding{Kind::unlocked, f.key,
                       "Object Lock mode " + lock.mode + " with a retain-until date that cannot be read (" +
                           until.error() + "); " + required};
    if (*until < required_ns)
        return Finding{Kind::lock_too_short, f.key,
                       "locked (" + lock.mode + ") until " + lock.retain_until + "; " + required};
    return std::nullopt;
}

size_t check_locks(const std::vector<ListedFile>& files, const std::vector<ObjectRead>& reads, uint64_t lock_ns,
                   std::vector<Finding>& out) {
    size_t locked = 0;
    for (size_t i = 0; i < files.size(); ++i) {
        const ObjectRead& r = reads[i];
        if (!r.headed) continue;
        if (!r.head_error.empty()) {
            out.push_back({Kind::unlocked, files[i].key, "its lock could not be read: HEAD failed: " + r.head_error});
            continue;
        }
        if (auto finding = check_lock(files[i], r.lock, lock_ns)) out.push_back(std::move(*finding));
        else ++locked;
    }
    return locked;
}

void check_extras(const std::vector<ReadManifest>& manifests, const std::vector<StoredObject>& objects,
                  std::vector<Finding>& out) {
    std::set<std::string> listed;
    for (const ReadManifest& m : manifests)
        if (m.doc)
            for (const ListedFile& f : m.doc->files) listed.insert(f.key);
    for (const StoredObject& o : objects)
        if (!listed.count(o.key)) out.push_back({Kind::extra, o.key, "a capture in the store that no manifest lists"});
}

}  // namespace mirrortap::find::verify
