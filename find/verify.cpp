#include "find/verify.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <map>
#include <memory>
#include <set>
#include <thread>

#include "cloud/digest.hpp"
#include "cloud/object_key.hpp"
#include "cloud/s3_client.hpp"
#include "find/verify_check.hpp"
#include "support/json.hpp"
#include "support/manifest_format.hpp"
#include "support/parse.hpp"
#include "support/text.hpp"
#include "support/unique_fd.hpp"

namespace mirrortap::find {

namespace {

using namespace verify;
namespace mf = manifest_format;

constexpr uint64_t kSecond = 1'000'000'000ull;
// A manifest lists at most a few thousand files and names 100 waiting: far below this.
constexpr uint64_t kMaxManifestBytes = 16ull << 20;

// Objects by key relative to the store's prefix: a directory `aws s3 sync`
// made, or the prefix itself.
class ObjectTree {
public:
    virtual ~ObjectTree() = default;
    virtual Result<std::vector<StoredObject>> list(const std::string& under) = 0;
    virtual Result<std::string> read(const std::string& key, uint64_t offset, uint64_t length) = 0;
    // x-amz-meta-sha256 and the Object Lock, where the store keeps them ("" elsewhere).
    struct Head {
        std::string metadata_sha256;
        ObjectLock lock;
    };
    virtual Result<Head> head(const std::string&) { return Head{}; }
    // Another handle for a thread of its own.
    virtual std::unique_ptr<ObjectTree> another() const = 0;
    virtual uint64_t chunk_bytes() const = 0;
    virtual size_t threads() const = 0;
    // What the manifests' keys begin with ("" or "a/b/").
    virtual std::string prefix() const = 0;
    // False for a directory: the manifests' keys tell (prefix_named_in).
    virtual bool prefix_known() const { return true; }
};

// A directory may be read as root: no link is followed below it (anyone who
// could write the copy could plant one), and only regular files are read.
class DirTree : public ObjectTree {
public:
    DirTree(std::string dir, std::string prefix) : dir_(std::move(dir)), prefix_(std::move(prefix)) {}

    Result<std::vector<StoredObject>> list(const std::string& under) override {
        std::vector<StoredObject> out;
        const int fd = open_path(under, O_RDONLY | O_DIRECTORY);
        if (fd < 0) {
            if (errno == ENOENT) return out;
            return fail(under + ": " + std::strerror(errno));
        }
        std::string u = under;
        if (!u.empty() && !u.ends_with('/')) u += '/';
        if (auto walked = walk(fd, u, 0, out); !walked) return fail(walked.error());
        std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.key < b.key; });
        return out;
    }

    Result<std::string> read(const std::string& key, uint64_t offset, uint64_t length) override {
        UniqueFd fd(open_path(key, O_RDONLY | O_NONBLOCK));
        if (fd.get() < 0) return fail(std::strerror(errno));
        struct stat st{};
        if (fstat(fd.get(), &st) != 0 || !S_ISREG(st.st_mode)) return fail("not a regular file");
        std::string bytes(length, '\0');
        uint64_t done = 0;
        while (done < length) {
            const ssize_t n = ::pread(fd.get(), bytes.data() + done, length - done, off_t(offset + done));
            if (n < 0 && errno == EINTR) continue;
            if (n < 0) return fail(std::strerror(errno));
            if (n == 0) return fail("ends at byte " + std::to_string(offset + done));
            done += uint64_t(n);
        }
        return bytes;
    }

    std::unique_ptr<ObjectTree> another() const override { return std::make_unique<DirTree>(dir_, prefix_); }
    uint64_t chunk_bytes() const override { return 1 << 20; }
    size_t threads() const override { return 2; }
    std::string prefix() const override { return prefix_; }
    bool prefix_known() const override { return false; }

private:
    static constexpr int kMaxDepth = 8;              // PREFIX/pcap/session/date/hour/collector/file is 6 below
    static constexpr size_t kMaxObjects = 10'000'000;

    // Component by component, O_NOFOLLOW each.
    int open_path(const std::string& key, int flags) const {
        int fd = ::open(dir_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        std::string_view rest = key;
        while (fd >= 0 && !rest.empty()) {
            const size_t slash = rest.find('/');
            const std::string part(rest.substr(0, slash));
            rest.remove_prefix(slash == std::string_view::npos ? rest.size() : slash + 1);
            if (part.empty() || part == "." || part == "..") {
                ::close(fd);
                errno = ENOENT;
                return -1;
            }
            const int next = openat(fd, part.c_str(), (rest.empty() ? flags : O_RDONLY | O_DIRECTORY) | O_NOFOLLOW | O_CLOEXEC);
            const int err = errno;
            ::close(fd);
            errno = err;
            fd = next;
        }
        return fd;
    }

    Result<Done> walk(int fd, const std::string& under, int depth, std::vector<StoredObject>& out) {
        DIR* d = fdopendir(fd);
        if (!d) {
            ::close(fd);
            return fail(under + ": " + std::strerror(errno));
        }
        std::vector<std::string> dirs;
        while (dirent* e = readdir(d)) {
            const std::string name = e->d_name;
            if (name == "." || name == "..") continue;
            struct stat st{};
            if (fstatat(dirfd(d), name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) continue;
            if (S_ISDIR(st.st_mode)) dirs.push_back(name);
            else if (S_ISREG(st.st_mode)) out.push_back({under + name, uint64_t(st.st_size)});
            if (out.size() > kMaxObjects) {
                closedir(d);
                return fail("more than " + std::to_string(kMaxObjects) + " files under " + dir_);
            }
        }
        Result<Done> result = Done{};
        for (const auto& name : dirs) {
            if (depth + 1 > kMaxDepth) break;
            const int sub = openat(dirfd(d), name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
            if (sub < 0) continue;
            result = walk(sub, under + name + "/", depth + 1, out);
            if (!result) break;
        }
        closedir(d);
        return result;
    }

    std::string dir_, prefix_;
};

class S3Tree : public ObjectTree {
public:
    explicit S3Tree(S3Access access) : access_(std::move(access)), client_(access_.options, access_.credentials) {}

    Result<std::vector<StoredObject>> list(const std::string& under) override {
        std::vector<StoredObject> out;
        std::string token;
        for (size_t pages = 0;; ++pages) {
            if (pages == kMaxPages) return fail("more than " + std::to_string(kMaxPages) + " pages of keys");
            auto page = client_.list_objects_page(access_.prefix + under, token);
            if (!page) return fail(page.error().describe());
            for (auto& o : page->objects)
                if (o.key.starts_with(access_.prefix)) out.push_back({o.key.substr(access_.prefix.size()), o.size});
            if (page->next_continuation_token.empty() || page->next_continuation_token == token) return out;
            token = std::move(page->next_continuation_token);
        }
    }

    Result<std::string> read(const std::string& key, uint64_t offset, uint64_t length) override {
        auto got = client_.get_object_range(access_.prefix + key, offset, offset + length - 1);
        if (!got) return fail(got.error().describe());
        if (got->size() != length)
            return fail("asked for " + std::to_string(length) + " bytes, got " + std::to_string(got->size()));
        return std::move(*got);
    }

    Result<Head> head(const std::string& key) override {
        auto info = client_.head_object(access_.prefix + key);
        if (!info) return fail(info.error().describe());
        Head h{"", {info->object_lock_mode, info->object_lock_retain_until, info->object_lock_legal_hold}};
        for (const auto& [name, value] : info->metadata)
            if (name == cloud::kSha256Metadata) h.metadata_sha256 = value;
        return h;
    }

    std::unique_ptr<ObjectTree> another() const override { return std::make_unique<S3Tree>(access_); }
    uint64_t chunk_bytes() const override { return 8 << 20; }
    size_t threads() const override { return 4; }
    std::string prefix() const override { return access_.prefix; }

private:
    static constexpr size_t kMaxPages = 10'000;
    S3Access access_;
    cloud::S3Client client_;
};

// A directory copy does not say which prefix it was synced from: the
// manifests' own keys do (PREFIX/pcap/... or PREFIX/manifests/...).
std::string prefix_named_in(std::string_view text) {
    auto parsed = json::parse(text);
    if (!parsed) return "";
    std::vector<std::string> keys;
    try {
        const auto& v = *parsed;
        if (!v.at(mf::key::previous).is_null())
            keys.push_back(v.at(mf::key::previous).at(mf::file_key::key).get<std::string>());
        for (const auto& f : v.at(mf::key::files)) keys.push_back(f.at(mf::file_key::key).get<std::string>());
    } catch (const std::exception&) {
        return "";
    }
    for (const auto& k : keys)
        for (const std::string& tree : {std::string(cloud::kPcapTree) + "/session=", std::string(mf::kTree) + "/" + std::string(mf::kCollectorPart)}) {
            const size_t at = k.find(tree);
            if (at != std::string::npos && (at == 0 || k[at - 1] == '/')) return k.substr(0, at);
        }
    return "";
}

// pcap/session=S/date=D/hour=H/collector=C/FILE: collector and name start, or nothing.
struct CaptureKey {
    std::string collector;
    uint64_t start_ns = 0;
};
std::optional<CaptureKey> capture_key(std::string_view key) {
    std::vector<std::string_view> parts;
    while (!key.empty()) {
        const size_t slash = key.find('/');
        parts.push_back(key.substr(0, slash));
        key.remove_prefix(slash == std::string_view::npos ? key.size() : slash + 1);
    }
    if (parts.size() != 6 || parts[0] != cloud::kPcapTree || !parts[4].starts_with("collector=") ||
        !parts[5].ends_with(".pcap"))
        return std::nullopt;
    const auto start = cloud::capture_file_start(parts[5]);
    if (!start) return std::nullopt;
    return CaptureKey{std::string(parts[4].substr(std::string_view("collector=").size())),
                      uint64_t(start->time_since_epoch().count()) * kSecond};
}

std::string human_bytes(uint64_t n) {
    char buf[32];
    if (n >= (10ull << 20)) std::snprintf(buf, sizeof buf, "%.1f MiB", double(n) / double(1 << 20));
    else if (n >= (10ull << 10)) std::snprintf(buf, sizeof buf, "%.1f KiB", double(n) / 1024.0);
    else std::snprintf(buf, sizeof buf, "%llu bytes", static_cast<unsigned long long>(n));
    return buf;
}

class Verifier {
public:
    Verifier(const VerifyOptions& options, std::unique_ptr<ObjectTree> tree, std::FILE* err)
        : options_(options), tree_(std::move(tree)), err_(err), window_{options.since_ns, options.until_ns} {
        prefix_unknown_ = !tree_->prefix_known();
        if (!prefix_unknown_) learned_prefix_ = tree_->prefix();
    }

    // Or why the store could not be read.
    Result<Done> run() {
        auto captures = tree_->list(std::string(cloud::kPcapTree) + "/");
        if (!captures) return fail("listing the captures: " + captures.error());
        captures_ = *captures;
        const std::string manifests_under = std::string(mf::kTree) + "/" +
            (options_.collector.empty() ? "" : std::string(mf::kCollectorPart) + options_.collector + "/");
        auto manifests = tree_->list(manifests_under);
        if (!manifests) return fail("listing the manifests: " + manifests.error());
        // Captures whose names start in the window (to the second): each must be in a manifest.
        const uint64_t since_s = options_.since_ns / kSecond * kSecond;
        for (const auto& o : *captures) {
            const auto k = capture_key(o.key);
            if (!k || k->start_ns < since_s || k->start_ns > options_.until_ns) continue;
            if (!options_.collector.empty() && k->collector != options_.collector) continue;
            in_range_.push_back(o);
            unlisted_[k->collector].insert(o.key);
        }
        std::map<std::string, std::vector<std::pair<std::string, ManifestPlace>>> by_collector;
        std::map<std::pair<std::string, std::string>, uint64_t> chain_first;
        for (const auto& o : *manifests) {
            auto place = manifest_place(o.key);
            if (!place) continue;
            auto [it, added] = chain_first.emplace(std::make_pair(place->collector, place->chain), place->sequence);
            if (!added) it->second = std::min(it->second, place->sequence);
            by_collector[place->collector].push_back({o.key, std::move(*place)});
            sizes_[o.key] = o.size;
        }
        for (auto& [collector, keys] : by_collector) {
            std::vector<ReadManifest> read = walk_collector(collector, keys);
            for (auto& m : read) {
                m.first_of_chain = chain_first[{m.place.collector, m.place.chain}] == m.place.sequence;
                if (m.doc && window_.meets(m.doc->start_ns, m.doc->end_ns)) ++in_window_;
                manifests_.push_back(std::move(m));
            }
        }
        check_chains(manifests_, findings_);
        check_waiting(manifests_, findings_);
        files_ = files_to_check(manifests_, window_, findings_);
        hash_files();
        check_files(files_, reads_, findings_);
        if (options_.lock_days) locked_ = check_locks(files_, reads_, lock_ns(), findings_);
        check_extras(manifests_, in_range_, findings_);
        return Done{};
    }

    json::Value report(const std::string& source) const {
        json::Value findings = json::Value::array();
        std::map<std::string, uint64_t> counts;
        for (const auto& r : kKindNames) counts[std::string(r.name)] = 0;
        for (const auto& f : findings_) {
            findings.push_back({{"kind", kKindNames(f.kind)}, {"key", f.key}, {"reason", f.reason}});
            ++counts[std::string(kKindNames(f.kind))];
        }
        uint64_t file_bytes = 0;
        for (const auto& f : files_) file_bytes += f.size;
        return {{"format", "mirrortap-verify"},
                {"version", 1},
                {"source", source},  // every key below is relative to it
                {"window", {{"since", rfc3339_ns(options_.since_ns)},
                            {"until", options_.until_ns == ~0ull ? json::Value(nullptr) : json::Value(rfc3339_ns(options_.until_ns))}}},
                {"collector", options_.collector.empty() ? json::Value(nullptr) : json::Value(options_.collector)},
                {"lock_days", options_.lock_days ? json::Value(options_.lock_days) : json::Value(nullptr)},
                {"clean", findings_.empty()},
                {"totals",
                 {{"manifests_read", manifests_.size()},
                  {"manifests_in_window", in_window_},
                  {"files", files_.size()},
                  {"locked_files", options_.lock_days ? json::Value(locked_) : json::Value(nullptr)},
                  {"file_bytes", file_bytes},
                  {"captures_in_key_range", in_range_.size()},
                  {"bytes_read",
                   {{"files", file_bytes_read_.load()},
                    {"manifests", manifest_bytes_read_},
                    {"total", file_bytes_read_.load() + manifest_bytes_read_}}},
                  {"overhead_percent", overhead_percent()},
                  {"findings", counts}}},
                {"findings", findings}};
    }

    void summary(std::FILE* out, const std::string& source) const {
        std::fprintf(out, "mirrortap-find --verify %s, %s to %s%s\n", printable(source).c_str(),
                     utc(options_.since_ns).c_str(), utc(options_.until_ns).c_str(),
                     options_.collector.empty() ? "" : (", collector " + printable(options_.collector)).c_str());
        std::fprintf(out, "  %zu manifests read (%zu in the window), %zu files hashed, %zu captures in the key range\n",
                     manifests_.size(), in_window_, files_.size(), in_range_.size());
        std::fprintf(out, "  read %s of files and %s of manifests: %.3f %% over the files\n",
                     human_bytes(file_bytes_read_.load()).c_str(), human_bytes(manifest_bytes_read_).c_str(),
                     overhead_percent());
        if (options_.lock_days)
            std::fprintf(out, "  %zu of %zu files locked at least %llu days past their last record\n", locked_,
                         files_.size(), static_cast<unsigned long long>(options_.lock_days));
        for (const auto& f : findings_)
            std::fprintf(out, "  %-9s %s: %s\n", std::string(kKindNames(f.kind)).c_str(),
                         printable(f.key).c_str(), printable(f.reason).c_str());
        if (findings_.empty()) {
            std::fprintf(out, "clean: every file the manifests list is in the store, unaltered%s; every link holds\n",
                         options_.lock_days ? ", locked for the period" : "");
            return;
        }
        std::string counts;
        for (const auto& r : kKindNames) {
            const auto n = std::count_if(findings_.begin(), findings_.end(), [&](const Finding& f) { return f.kind == r.value; });
            if (n) counts += (counts.empty() ? "" : ", ") + std::to_string(n) + " " + std::string(r.name);
        }
        std::fprintf(out, "%zu findings: %s\n", findings_.size(), counts.c_str());
    }

    bool clean() const { return findings_.empty(); }

private:
    static std::string utc(uint64_t ns) {
        if (ns == 0) return "the first manifest";
        return ns == ~0ull ? "now" : rfc3339_ns(ns);
    }

    uint64_t lock_ns() const { return options_.lock_days * 86400 * kSecond; }

    double overhead_percent() const {
        const uint64_t files = file_bytes_read_.load();
        return files == 0 ? 0.0 : 100.0 * double(manifest_bytes_read_) / double(files);
    }

    ReadManifest read_manifest(const std::string& key, const ManifestPlace& place) {
        ReadManifest m;
        m.key = key;
        m.place = place;
        const uint64_t size = sizes_[key];
        if (size > kMaxManifestBytes) {
            m.refused = std::to_string(size) + " bytes, above the cap of " + std::to_string(kMaxManifestBytes);
            return m;
        }
        auto bytes = size == 0 ? Result<std::string>(std::string()) : tree_->read(key, 0, size);
        if (!bytes) {
            m.refused = bytes.error();
            return m;
        }
        manifest_bytes_read_ += bytes->size();
        m.sha256 = cloud::sha256_hex(*bytes);
        if (prefix_unknown_) {
            if (std::string p = prefix_named_in(*bytes); !p.empty()) {
                learned_prefix_ = p;
                prefix_unknown_ = false;
            }
        }
        auto doc = parse_manifest(*bytes, prefix_unknown_ ? "" : learned_prefix_);
        if (doc) m.doc = std::move(*doc);
        else m.refused = doc.error();
        return m;
    }

    // The collector's manifests in key order (chains by start, then
    // sequence: time order). Those of the window, the one before it (its
    // first link), and after it as many as it takes to find the captures of
    // the window's key range and its waiting files listed (a file is listed
    // by the first manifest cut after it is stored).
    std::vector<ReadManifest> walk_collector(const std::string& collector,
                                             const std::vector<std::pair<std::string, ManifestPlace>>& keys) {
        std::map<size_t, ReadManifest> read;
        const auto at = [&](size_t i) -> const ReadManifest& {
            auto it = read.find(i);
            if (it == read.end()) it = read.emplace(i, read_manifest(keys[i].first, keys[i].second)).first;
            return it->second;
        };
        // The first whose interval ends at or after since: a binary search
        // while every probe reads, else from the start.
        size_t lo = 0, hi = keys.size();
        bool searched = true;
        while (lo < hi) {
            const size_t mid = lo + (hi - lo) / 2;
            const ReadManifest& m = at(mid);
            if (!m.doc) {
                searched = false;
                break;
            }
            if (m.doc->end_ns < options_.since_ns) lo = mid + 1;
            else hi = mid;
        }
        if (!searched) lo = 0;
        std::vector<ReadManifest> out;
        std::set<std::string>& unlisted = unlisted_[collector];
        std::set<std::pair<std::string, std::string>> waiting;  // session, file
        const size_t first = lo > 0 ? lo - 1 : 0;
        for (size_t i = first; i < keys.size(); ++i) {
            ReadManifest m = at(i);
            const bool past = m.doc && m.doc->start_ns > options_.until_ns;
            if (past && unlisted.empty() && waiting.empty()) break;
            if (m.doc) {
                for (const auto& f : m.doc->files) {
                    unlisted.erase(f.key);
                    const size_t slash = f.key.rfind('/');
                    waiting.erase({f.session, f.key.substr(slash == std::string::npos ? 0 : slash + 1)});
                }
                m.in_window = window_.meets(m.doc->start_ns, m.doc->end_ns);
                if (m.in_window)
                    for (const auto& w : m.doc->waiting) waiting.insert({w.session, w.file});
            }
            out.push_back(std::move(m));
        }
        return out;
    }

    // Every file once, a bounded number at once, each in ranges.
    void hash_files() {
        std::map<std::string, uint64_t> present;
        for (const auto& o : captures_) present[o.key] = o.size;
        reads_.assign(files_.size(), {});
        std::atomic<size_t> next{0}, done{0};
        const auto work = [&](ObjectTree& tree) {
            for (size_t i; (i = next.fetch_add(1)) < files_.size(); done.fetch_add(1)) {
                ObjectRead& r = reads_[i];
                const auto it = present.find(files_[i].key);
                if (it == present.end()) continue;
                r.present = true;
                r.size = it->second;
                if (r.size != files_[i].size) continue;
                cloud::Sha256Stream sha;
                for (uint64_t offset = 0; offset < r.size;) {
                    const uint64_t length = std::min(tree.chunk_bytes(), r.size - offset);
                    auto bytes = tree.read(files_[i].key, offset, length);
                    if (!bytes) {
                        r.error = bytes.error();
                        break;
                    }
                    sha.update(*bytes);
                    file_bytes_read_ += length;
                    offset += length;
                }
                if (!r.error.empty()) continue;
                const auto digest = sha.finish();
                r.sha256 = cloud::to_hex(digest.data(), digest.size());
                r.headed = true;
                if (auto head = tree.head(files_[i].key)) {
                    r.metadata_sha256 = std::move(head->metadata_sha256);
                    r.lock = std::move(head->lock);
                } else {
                    r.head_error = head.error();
                }
            }
        };
        std::vector<std::unique_ptr<ObjectTree>> trees;
        std::vector<std::thread> pool;
        const size_t threads = std::min(tree_->threads(), files_.size());
        for (size_t t = 0; t < threads; ++t) trees.push_back(tree_->another());
        for (auto& t : trees) pool.emplace_back([&work, tree = t.get()] { work(*tree); });
        // Progress only for a person watching: a line rewritten in place.
        for (size_t shown = ~size_t(0); options_.progress && done.load() < files_.size();) {
            if (done.load() != shown) {
                shown = done.load();
                std::fprintf(err_, "\rverify: %zu/%zu files, %s read", shown, files_.size(),
                             human_bytes(file_bytes_read_.load()).c_str());
                std::fflush(err_);
            }
            std::this_thread::sleep_for(std::chrono::milliseconds(100));
        }
        for (auto& t : pool) t.join();
        if (options_.progress) std::fprintf(err_, "\rverify: %zu/%zu files, %s read\n", done.load(), files_.size(),
                                            human_bytes(file_bytes_read_.load()).c_str());
    }

    const VerifyOptions& options_;
    std::unique_ptr<ObjectTree> tree_;
    std::FILE* err_;
    Window window_;
    std::vector<StoredObject> in_range_;
    std::map<std::string, std::set<std::string>> unlisted_;  // collector -> keys of the range no manifest read lists yet
    std::vector<StoredObject> captures_;  // every capture object: a listed file may have started before the window
    std::map<std::string, uint64_t> sizes_;  // manifest key -> size as listed
    std::vector<ReadManifest> manifests_;
    size_t in_window_ = 0;
    std::vector<ListedFile> files_;
    std::vector<ObjectRead> reads_;
    std::vector<Finding> findings_;
    size_t locked_ = 0;  // with lock_days: files locked long enough
    std::atomic<uint64_t> file_bytes_read_{0};
    uint64_t manifest_bytes_read_ = 0;
    bool prefix_unknown_ = true;
    std::string learned_prefix_;
};

}  // namespace

int run_verify(const VerifyOptions& options, std::FILE* out, std::FILE* err) {
    std::unique_ptr<ObjectTree> tree;
    if (options.from.starts_with("s3://")) {
        auto access = s3_access(options.s3);
        if (!access) {
            std::fprintf(err, "mirrortap-find: %s\n", printable(access.error()).c_str());
            return 2;
        }
        tree = std::make_unique<S3Tree>(std::move(*access));
    } else {
        struct stat st{};
        if (::stat(options.from.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
            std::fprintf(err, "mirrortap-find: --verify: %s is not a directory\n", printable(options.from).c_str());
            return 2;
        }
        tree = std::make_unique<DirTree>(options.from, "");
    }
    Verifier verifier(options, std::move(tree), err);
    if (auto ran = verifier.run(); !ran) {
        std::fprintf(err, "mirrortap-find: --verify %s: %s\n", printable(options.from).c_str(),
                     printable(ran.error()).c_str());
        return 1;
    }
    const json::Value report = verifier.report(options.from);
    const std::string text = report.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
    if (!options.report.empty()) {
        std::FILE* f = std::fopen(options.report.c_str(), "w");
        if (!f || std::fputs(text.c_str(), f) < 0 || std::fclose(f) != 0) {
            std::fprintf(err, "mirrortap-find: cannot write %s\n", printable(options.report).c_str());
            return 1;
        }
    }
    if (options.json) std::fputs(text.c_str(), out);
    else verifier.summary(out, options.from);
    return verifier.clean() ? 0 : 1;
}

}  // namespace mirrortap::find
