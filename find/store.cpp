#include "find/store.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <climits>
#include <cstdlib>
#include <map>
#include <thread>

#include "cloud/credentials.hpp"
#include "cloud/environment.hpp"
#include "cloud/object_key.hpp"
#include "cloud/s3_address.hpp"
#include "cloud/s3_client.hpp"
#include "support/flow_index_format.hpp"
#include "support/parse.hpp"
#include "support/text.hpp"

namespace mirrortap::find {

namespace {

constexpr uint64_t kSecond = 1'000'000'000ull;

std::optional<uint64_t> name_start_ns(std::string_view name) {
    const auto start = cloud::capture_file_start(name);
    if (!start) return std::nullopt;
    return uint64_t(start->time_since_epoch().count()) * kSecond;
}

Result<std::string> full_pread(int fd, uint64_t offset, uint64_t length) {
    std::string out(length, '\0');
    uint64_t done = 0;
    while (done < length) {
        const ssize_t n = ::pread(fd, out.data() + done, length - done, off_t(offset + done));
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) return fail(std::strerror(errno));
        if (n == 0) return fail("the file ends at byte " + std::to_string(offset + done));
        done += uint64_t(n);
    }
    return out;
}

// A file of a session directory, opened without following a link in the
// session or file name (the collector's user owns those directories; this
// may run as root) and without blocking (a FIFO named like a capture must not
// hang the search). The directory given with --from is taken as given.
int open_in_session(const std::string& dir, const std::string& session, const std::string& name) {
    const int top = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (top < 0) return -1;
    const int sd = openat(top, session.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    int err = errno;
    ::close(top);
    if (sd < 0) {
        errno = err;
        return -1;
    }
    const int fd = name.empty() ? sd : openat(sd, name.c_str(), O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
    err = errno;
    if (fd != sd) ::close(sd);
    errno = err;
    return fd;
}

// A regular file opened by open_in_session, with its size; anything else
// (a FIFO, a device, a directory) is refused.
Result<uint64_t> regular_size(int fd) {
    struct stat st{};
    if (fstat(fd, &st) != 0) return fail(std::strerror(errno));
    if (!S_ISREG(st.st_mode)) return fail("not a regular file");
    return uint64_t(st.st_size);
}

class LocalStore : public Store {
public:
    explicit LocalStore(std::string dir) : dir_(std::move(dir)) {
        while (dir_.size() > 1 && dir_.back() == '/') dir_.pop_back();
        char real[PATH_MAX];
        real_ = ::realpath(dir_.c_str(), real) ? real : dir_;
    }
    std::string describe() const override { return dir_; }
    std::string identity() const override { return "dir:" + real_; }
    uint64_t chunk_bytes() const override { return 1 << 20; }
    uint64_t coalesce_gap() const override { return 16 << 10; }

    Result<std::set<std::string>> sessions() override {
        DIR* d = opendir(dir_.c_str());
        if (!d) return fail(std::strerror(errno));
        std::set<std::string> out;
        while (dirent* e = readdir(d)) {
            if (e->d_name[0] == '.') continue;
            struct stat st{};
            if (fstatat(dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISDIR(st.st_mode))
                out.insert(e->d_name);
        }
        closedir(d);
        return out;
    }

    Result<std::vector<CaptureFile>> list(const Selection& sel, std::vector<std::string>& refused) override {
        const auto names = sessions();
        if (!names) return fail(names.error());
        std::vector<CaptureFile> out;
        for (const auto& session : *names) {
            if (!sel.sessions.empty() && std::find(sel.sessions.begin(), sel.sessions.end(), session) == sel.sessions.end())
                continue;
            const std::string dir = dir_ + "/" + session;
            const int sd = open_in_session(dir_, session, "");
            DIR* d = sd >= 0 ? fdopendir(sd) : nullptr;
            if (!d) {
                if (sd >= 0) ::close(sd);
                continue;
            }
            std::set<std::string> entries;
            while (dirent* e = readdir(d)) entries.insert(e->d_name);
            for (const auto& n : entries) {
                // The file being written too: it holds the newest packets.
                const bool growing = capture_names::is_growing(n);
                if (!capture_names::is_finished(n) && !growing) continue;
                const std::string finished = growing ? n.substr(0, n.size() - kPartSuffix.size()) : n;
                // Renamed between the listing and now: the finished name is listed too, or will be read by it.
                if (growing && entries.count(finished)) continue;
                const auto start = name_start_ns(finished);
                struct stat st{};
                if (!start || fstatat(dirfd(d), n.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) continue;
                if (!S_ISREG(st.st_mode)) {
                    if (!S_ISLNK(st.st_mode)) refused.push_back(dir + "/" + n + ": not a regular file: not read");
                    continue;
                }
                if (*start > sel.until_ns) continue;
                CaptureFile f;
                f.where = dir + "/" + n;
                f.session = session;
                f.name = n;
                f.size = uint64_t(st.st_size);
                f.start_ns = *start;
                f.pcap_ref = f.where;
                f.growing = growing;
                if (!growing && entries.count(n + std::string(flow_index::kSuffix)))
                    f.index_ref = f.where + std::string(flow_index::kSuffix);
                out.push_back(std::move(f));
            }
            closedir(d);
        }
        return out;
    }

    Result<std::string> read_range(const CaptureFile& file, uint64_t offset, uint64_t length) override {
        if (fd_path_ != file.pcap_ref) {
            if (fd_ >= 0) ::close(fd_);
            fd_ = open_in_session(dir_, file.session, file.name);
            // The file being written may have been finished (renamed) since it was listed.
            if (fd_ < 0 && errno == ENOENT && file.growing)
                fd_ = open_in_session(dir_, file.session, file.name.substr(0, file.name.size() - kPartSuffix.size()));
            fd_path_ = fd_ >= 0 ? file.pcap_ref : "";
            if (fd_ < 0) return fail(std::strerror(errno));
            if (const auto size = regular_size(fd_); !size) {
                ::close(fd_);
                fd_ = -1;
                fd_path_.clear();
                return fail(size.error());
            }
        }
        ++requests;
        auto bytes = full_pread(fd_, offset, length);
        if (bytes) bytes_read += length;
        return bytes;
    }

    Result<std::string> read_index(const CaptureFile& file) override {
        const int fd = open_in_session(dir_, file.session, file.name + std::string(flow_index::kSuffix));
        if (fd < 0) return fail(std::strerror(errno));
        const auto size = regular_size(fd);
        if (!size || *size > kMaxIndexBytes) {
            ::close(fd);
            if (!size) return fail(size.error());
            return fail(std::to_string(*size) + " bytes, above the cap of " + std::to_string(kMaxIndexBytes));
        }
        auto bytes = full_pread(fd, 0, *size);
        ::close(fd);
        return bytes;
    }

    ~LocalStore() override {
        if (fd_ >= 0) ::close(fd_);
    }

private:
    std::string dir_;
    std::string real_;  // dir_ with links and .. resolved: two spellings of one directory are one source
    int fd_ = -1;  // the file last read: ranges of one file come one after another
    std::string fd_path_;
};

// PREFIX/TREE/session=S/date=D/hour=H/collector=C/FILE, split.
struct KeyParts {
    std::string tree, session, collector, file;
};

std::optional<KeyParts> split_key(std::string_view key, std::string_view prefix) {
    if (!key.starts_with(prefix)) return std::nullopt;
    key.remove_prefix(prefix.size());
    std::vector<std::string_view> parts;
    while (!key.empty()) {
        const size_t slash = key.find('/');
        parts.push_back(key.substr(0, slash));
        key.remove_prefix(slash == std::string_view::npos ? key.size() : slash + 1);
    }
    if (parts.size() != 6) return std::nullopt;
    const auto value = [&](size_t i, std::string_view name) -> std::optional<std::string> {
        if (!parts[i].starts_with(name) || parts[i].size() <= name.size()) return std::nullopt;
        return std::string(parts[i].substr(name.size()));
    };
    const auto session = value(1, "session="), collector = value(4, "collector=");
    if (!session || !collector || !value(2, "date=") || !value(3, "hour=")) return std::nullopt;
    return KeyParts{std::string(parts[0]), *session, *collector, std::string(parts[5])};
}

std::string date_text(uint64_t ns) {
    using namespace std::chrono;
    const year_month_day ymd{floor<days>(sys_seconds(seconds(ns / kSecond)))};
    char buf[16];
    std::snprintf(buf, sizeof buf, "%04d-%02u-%02u", int(ymd.year()), unsigned(ymd.month()), unsigned(ymd.day()));
    return buf;
}

class S3Store : public Store {
public:
    S3Store(std::string url, std::string prefix, cloud::S3ClientOptions options,
            std::shared_ptr<cloud::CredentialProvider> credentials)
        : url_(std::move(url)), prefix_(std::move(prefix)), options_(options), credentials_(credentials),
          client_(std::move(options), std::move(credentials)) {}

    std::string describe() const override { return url_; }
    std::string identity() const override {
        const auto& l = client_.options().location;
        return "s3:" + l.endpoint + " " + l.bucket + "/" + prefix_;
    }
    uint64_t chunk_bytes() const override { return 8 << 20; }
    uint64_t coalesce_gap() const override { return 256 << 10; }

    // One level of each tree (session=NAME/), not every key under it: a
    // bucket of a year's captures answers in a request or two.
    Result<std::set<std::string>> sessions() override {
        std::set<std::string> out;
        for (const auto& tree : {cloud::kFlowsTree, cloud::kPcapTree}) {
            auto names = sessions_of(tree);
            if (!names) return fail(names.error());
            out.insert(names->begin(), names->end());
        }
        return out;
    }

    Result<std::vector<CaptureFile>> list(const Selection& sel, std::vector<std::string>&) override {
        // Index and pcap keys by (session, collector, file name): only what
        // may be read is kept, a page at a time.
        struct Found {
            std::string pcap_key, index_key;
            uint64_t pcap_size = 0, index_size = 0;
        };
        std::map<std::tuple<std::string, std::string, std::string>, Found> pcaps;
        for (const auto& tree : {cloud::kPcapTree, cloud::kFlowsTree}) {
            auto under = prefixes(tree, sel);
            if (!under) return fail(under.error());
            for (const auto& prefix : *under) {
                auto listed = each_object(prefix, [&](const cloud::ListedObject& o) {
                    const auto k = split_key(o.key, prefix_);
                    if (!k || k->tree != tree) return;
                    if (!sel.sessions.empty() &&
                        std::find(sel.sessions.begin(), sel.sessions.end(), k->session) == sel.sessions.end())
                        return;
                    if (tree == cloud::kPcapTree) {
                        const auto start = name_start_ns(k->file);
                        if (!k->file.ends_with(".pcap") || !start || *start > sel.until_ns) return;
                        Found& f = pcaps[{k->session, k->collector, k->file}];
                        f.pcap_key = o.key;
                        f.pcap_size = o.size;
                    } else if (k->file.ends_with(flow_index::kSuffix)) {
                        const std::string pcap = k->file.substr(0, k->file.size() - flow_index::kSuffix.size());
                        const auto it = pcaps.find({k->session, k->collector, pcap});
                        if (it == pcaps.end()) return;  // an index without its pcap: nothing to read
                        it->second.index_key = o.key;
                        it->second.index_size = o.size;
                    }
                });
                if (!listed) return fail(listed.error());
            }
        }
        std::vector<CaptureFile> out;
        for (auto& [id, found] : pcaps) {
            const auto& [session, collector, name] = id;
            CaptureFile f;
            f.where = "s3://" + client_.options().location.bucket + "/" + found.pcap_key;
            f.session = session;
            f.collector = collector;
            f.name = name;
            f.size = found.pcap_size;
            f.start_ns = *name_start_ns(name);
            f.pcap_ref = std::move(found.pcap_key);
            f.index_ref = std::move(found.index_key);
            f.index_size = found.index_size;
            out.push_back(std::move(f));
        }
        return out;
    }

    Result<std::string> read_range(const CaptureFile& file, uint64_t offset, uint64_t length) override {
        ++requests;
        auto got = client_.get_object_range(file.pcap_ref, offset, offset + length - 1);
        if (!got) return fail(got.error().describe());
        if (got->size() != length)
            return fail("asked for " + std::to_string(length) + " bytes, got " + std::to_string(got->size()));
        bytes_read += length;
        return std::move(got.value());
    }

    Result<std::string> read_index(const CaptureFile& file) override {
        ++requests;
        return get_index(client_, file);
    }

    // A few threads, each with its own client (an S3Client is one thread's),
    // taking the next file as they finish one.
    void read_indexes(const std::vector<const CaptureFile*>& files, std::vector<IndexRead>& out) override {
        out.assign(files.size(), {});
        std::atomic<size_t> next{0};
        const auto work = [&](cloud::S3Client& client) {
            for (size_t i; (i = next.fetch_add(1)) < files.size();)
                out[i] = get_index(client, *files[i]);
        };
        const size_t threads = std::min<size_t>(kIndexThreads, files.size());
        std::vector<std::thread> pool;
        for (size_t t = 1; t < threads; ++t)
            pool.emplace_back([&] {
                cloud::S3Client client(options_, credentials_);
                work(client);
            });
        work(client_);
        for (auto& t : pool) t.join();
        requests += files.size();
    }

private:
    static constexpr size_t kMaxPages = 10'000;  // 10 million keys under one prefix
    static constexpr size_t kIndexThreads = 8;

    // Every object under the prefix, a page (1,000 keys) at a time: no
    // more than one page is held; a listing that does not end is cut off.
    template <typename Each>
    Result<Done> each_object(const std::string& prefix, Each&& each) {
        std::string token;
        for (size_t page_count = 0;; ++page_count) {
            if (page_count == kMaxPages)
                return fail("more than " + std::to_string(kMaxPages) + " pages of keys under " + printable(prefix));
            auto page = client_.list_objects_page(prefix, token);
            if (!page) return fail(page.error().describe());
            for (const auto& o : page->objects) each(o);
            if (page->next_continuation_token.empty() || page->next_continuation_token == token) return Done{};
            token = std::move(page->next_continuation_token);
        }
    }

    // The sessions a tree holds, without reading every key: a page of keys
    // at a time, each page starting past the last session the one before
    // reached (start-after "session=NAME0": '0' follows '/', so every key of
    // NAME sorts before it). One request for a small bucket, about one a
    // session for a large one. (Not delimiter=/: s3rver answers that with
    // nothing for keys more than one level down, and a store that drops
    // names would hide captures.)
    Result<std::set<std::string>> sessions_of(std::string_view tree) {
        std::set<std::string> names;
        const std::string under = tree_prefix(tree) + "session=";
        std::string after;
        for (size_t page_count = 0;; ++page_count) {
            if (page_count == kMaxPages)
                return fail("more than " + std::to_string(kMaxPages) + " pages of keys under " + printable(under));
            auto page = client_.list_objects_page(under, "", 1000, after);
            if (!page) return fail(page.error().describe());
            std::string last;
            for (const auto& o : page->objects) {
                if (!o.key.starts_with(under) || o.key <= after)
                    return fail("the store listed " + printable(o.key) + " for keys under " + printable(under) +
                                " after " + printable(after));
                const std::string_view rest = std::string_view(o.key).substr(under.size());
                const size_t slash = rest.find('/');
                if (slash == 0 || slash == std::string_view::npos) continue;  // no session's key
                last = std::string(rest.substr(0, slash));
                names.insert(last);
            }
            if (page->next_continuation_token.empty() || page->objects.empty()) return names;
            after = last.empty() ? page->objects.back().key : under + last + "0";
        }
    }

    // The size came with the listing: one GET, no HEAD; refused above the
    // cap before a byte is asked for, and the answer checked against it.
    static Result<std::string> get_index(cloud::S3Client& client, const CaptureFile& file) {
        if (file.index_size == 0) return std::string();
        if (file.index_size > kMaxIndexBytes)
            return fail("listed as " + std::to_string(file.index_size) + " bytes, above the cap of " +
                        std::to_string(kMaxIndexBytes));
        auto got = client.get_object_range(file.index_ref, 0, file.index_size - 1);
        if (!got) return fail(got.error().describe());
        if (got->size() != file.index_size)
            return fail("listed as " + std::to_string(file.index_size) + " bytes, got " + std::to_string(got->size()));
        return std::move(got.value());
    }
    std::string tree_prefix(std::string_view tree) const { return prefix_ + std::string(tree) + "/"; }

    // Listing prefixes: one per session, narrowed to dates when the window
    // is bounded (a file is under the date it started: one day earlier is
    // listed too, for files that began before midnight).
    // Without sessions named, a bounded window lists the tree's sessions
    // first (one level), so that only the window's dates are read of each.
    Result<std::vector<std::string>> prefixes(std::string_view tree, const Selection& sel) {
        std::vector<std::string> out;
        const uint64_t until = std::min<uint64_t>(sel.until_ns, now_ns());
        const uint64_t day = 86400 * kSecond;
        const bool by_date = sel.since_ns > day && until >= sel.since_ns && until - sel.since_ns <= 31 * day;
        std::vector<std::string> sessions = sel.sessions;
        if (sessions.empty()) {
            if (!by_date) return std::vector<std::string>{tree_prefix(tree)};
            auto all = sessions_of(tree);
            if (!all) return fail(all.error());
            sessions.assign(all->begin(), all->end());
        }
        for (const auto& s : sessions) {
            const std::string session = tree_prefix(tree) + "session=" + s + "/";
            if (!by_date) {
                out.push_back(session);
                continue;
            }
            for (uint64_t t = sel.since_ns - day; t < until + day; t += day) {
                if (t > until) t = until;
                const std::string p = session + "date=" + date_text(t) + "/";
                if (out.empty() || out.back() != p) out.push_back(p);
            }
        }
        return out;
    }
    static uint64_t now_ns() {
        return uint64_t(std::chrono::duration_cast<std::chrono::nanoseconds>(
                            std::chrono::system_clock::now().time_since_epoch())
                            .count());
    }

    std::string url_;
    std::string prefix_;  // "" or "a/b/"
    cloud::S3ClientOptions options_;
    std::shared_ptr<cloud::CredentialProvider> credentials_;
    cloud::S3Client client_;
};

}  // namespace

std::unique_ptr<Store> local_store(const std::string& dir) { return std::make_unique<LocalStore>(dir); }

Result<std::unique_ptr<Store>> s3_store(const S3Settings& settings) {
    auto access = s3_access(settings);
    if (!access) return fail(access.error());
    return std::unique_ptr<Store>(std::make_unique<S3Store>(settings.url, std::move(access->prefix),
                                                            std::move(access->options), std::move(access->credentials)));
}

Result<S3Access> s3_access(const S3Settings& settings) {
    std::string_view rest = settings.url;
    rest.remove_prefix(std::string_view("s3://").size());
    const size_t slash = rest.find('/');
    cloud::S3ClientOptions options;
    options.location.bucket = std::string(rest.substr(0, slash));
    std::string prefix(slash == std::string_view::npos ? "" : rest.substr(slash + 1));
    while (prefix.starts_with('/')) prefix.erase(0, 1);
    while (prefix.ends_with('/')) prefix.pop_back();
    if (!prefix.empty()) prefix += "/";
    const auto env = cloud::process_environment();
    options.location.region = !settings.region.empty() ? settings.region
                              : env("AWS_REGION")       ? *env("AWS_REGION")
                              : env("AWS_DEFAULT_REGION") ? *env("AWS_DEFAULT_REGION")
                                                        : "us-east-1";
    std::string endpoint = settings.endpoint;
    if (endpoint.empty()) endpoint = env("AWS_ENDPOINT_URL_S3").value_or(env("AWS_ENDPOINT_URL").value_or(""));
    if (!endpoint.empty()) {
        const auto parsed = parse_endpoint_url(endpoint);
        if (!parsed) return fail("endpoint " + endpoint + ": " + parsed.error());
        options.location.endpoint = *parsed;
        if (cloud::plain_http_to_another_host(*parsed)) {
            if (!settings.allow_insecure)
                return fail("endpoint " + printable(*parsed) + ": plain http:// to another host would carry signed "
                            "requests and captures in clear; use https://, a loopback address, or "
                            "--allow-insecure-endpoint");
            std::fprintf(stderr, "mirrortap-find: warning: --allow-insecure-endpoint: %s is plain http:// to another "
                                 "host: signed requests and captures cross the network in clear\n",
                         printable(*parsed).c_str());
        }
    }
    if (const auto location = cloud::check_location(options.location); !location)
        return fail(settings.url + ": " + location.error());
    // A person waits on this: fewer, shorter retries than the uploader's.
    options.retry.max_attempts = 3;
    options.retry.base = std::chrono::milliseconds(200);
    options.retry.cap = std::chrono::milliseconds(2000);
    options.limits.connect_timeout = std::chrono::milliseconds(5000);
    options.limits.max_response_bytes = 16 << 20;
    auto source = cloud::choose_credential_source(env);
    if (!source) return fail("no AWS credentials: " + source.error());
    auto credentials = std::make_shared<cloud::CredentialProvider>(std::move(*source));
    return S3Access{std::move(options), std::move(credentials), std::move(prefix)};
}

void drop_files_before(std::vector<CaptureFile>& files, uint64_t since_ns) {
    if (since_ns == 0) return;
    std::sort(files.begin(), files.end(), [](const CaptureFile& a, const CaptureFile& b) {
        return std::tie(a.store, a.session, a.collector, a.name) < std::tie(b.store, b.session, b.collector, b.name);
    });
    std::vector<CaptureFile> kept;
    for (size_t i = 0; i < files.size(); ++i) {
        const bool has_next = i + 1 < files.size() && files[i + 1].store == files[i].store &&
                              files[i + 1].session == files[i].session && files[i + 1].collector == files[i].collector;
        // The successor's first record is before start + 1 s; this file's last is at or before it.
        if (has_next && files[i + 1].start_ns + kSecond <= since_ns) continue;
        kept.push_back(std::move(files[i]));
    }
    files = std::move(kept);
}

Result<std::vector<std::unique_ptr<Store>>> open_stores(const Sources& sources, std::FILE* log) {
    std::vector<std::unique_ptr<Store>> stores;
    for (const auto& f : sources.from) {
        if (f.starts_with("s3://")) {
            auto s = s3_store({f, sources.endpoint, sources.region, sources.allow_insecure});
            if (!s) return fail(s.error());
            stores.push_back(std::move(*s));
        } else {
            stores.push_back(local_store(f));
        }
        for (size_t i = 0; i + 1 < stores.size(); ++i) {
            if (stores[i]->identity() != stores.back()->identity()) continue;
            if (log)
                std::fprintf(log, "mirrortap-find: %s is the same source as %s: read once\n",
                             printable(stores.back()->describe()).c_str(), printable(stores[i]->describe()).c_str());
            stores.pop_back();
            break;
        }
    }
    return stores;
}

}  // namespace mirrortap::find
