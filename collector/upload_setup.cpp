#include "collector/upload_setup.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstring>

#include "cloud/environment.hpp"
#include "cloud/imds.hpp"
#include "cloud/s3_address.hpp"
#include "sinks/capture_dir.hpp"
#include "sinks/capture_files.hpp"
#include "support/unique_fd.hpp"

namespace mirrortap {

namespace {

// A chain state larger than this is not one we wrote (it holds one interval's
// files and the manifests not yet sent).
constexpr off_t kMaxChainStateBytes = 256 << 20;
constexpr const char* kChainStatePart = ".mirrortap-chain.part";

std::string errno_text(const std::string& what) { return what + ": " + std::strerror(errno); }

// The VNI a session directory's captures came from: a named session's, or
// the one an automatic name carries; 0 when the name says nothing.
uint32_t vni_of_session(const Config& config, const std::string& session) {
    for (const auto& s : config.sessions)
        if (s.name == session) return s.vni;
    return automatic_name_vni(session).value_or(0);
}

class CaptureDirAccess final : public CaptureFileAccess {
public:
    explicit CaptureDirAccess(Config config) : config_(std::move(config)) {}

    Result<int, CaptureOpenError> open(const FinishedCapture& capture, const std::string& name) override {
        auto fd = open_capture_file(capture, name);
        if (!fd) return fail(CaptureOpenError{errno, std::move(fd).error()});  // errno: the failed call's
        return *fd;
    }
    Result<> settle(const FinishedCapture& capture, bool remove) override {
        return settle_uploaded_capture(capture, remove);
    }
    std::vector<FinishedCapture> pending() override {
        std::vector<FinishedCapture> found = pending_captures(config_.pcap.dir);
        for (auto& c : found) c.vni = vni_of_session(config_, c.session);
        return found;
    }

    // The capture directory is the user's (the uploader runs after the drop,
    // as that user): it is opened as the pcap writer opens it (no link but
    // root's followed), and the state file in it without following anything.
    Result<std::string, CaptureOpenError> read_chain_state() override {
        const std::string path = config_.pcap.dir + "/" + kChainStateName;
        auto dir = open_dir_path(config_.pcap.dir, false, 0);
        if (!dir) return fail(CaptureOpenError{errno, std::move(dir).error()});
        const UniqueFd dir_fd(*dir);
        const UniqueFd fd(openat(dir_fd.get(), kChainStateName, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC));
        if (fd.get() < 0) return fail(CaptureOpenError{errno, errno_text(path)});
        struct stat st{};
        if (fstat(fd.get(), &st) != 0) return fail(CaptureOpenError{errno, errno_text(path)});
        if (!S_ISREG(st.st_mode) || st.st_size > kMaxChainStateBytes)
            return fail(CaptureOpenError{EINVAL, path + ": not a regular file of at most 256 MiB"});
        std::string text(size_t(st.st_size), '\0');
        size_t got = 0;
        while (got < text.size()) {
            const ssize_t n = pread(fd.get(), text.data() + got, text.size() - got, off_t(got));
            if (n < 0 && errno == EINTR) continue;
            if (n <= 0) return fail(CaptureOpenError{n < 0 ? errno : EIO, errno_text(path)});
            got += size_t(n);
        }
        return text;
    }
    // A fresh .part (a stale one, or anything planted under its name, is
    // unlinked first, never written through), fsynced, renamed over the
    // state, and the directory fsynced: after a crash the state is the old
    // one or the new one, whole.
    Result<> write_chain_state(const std::string& text) override {
        auto dir = open_dir_path(config_.pcap.dir, false, 0);
        if (!dir) return fail(std::move(dir).error());
        const UniqueFd dir_fd(*dir);
        const std::string part = config_.pcap.dir + "/" + kChainStatePart;
        if (unlinkat(dir_fd.get(), kChainStatePart, 0) != 0 && errno != ENOENT) return fail(errno_text(part));
        const UniqueFd fd(
            openat(dir_fd.get(), kChainStatePart, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600));
        if (fd.get() < 0) return fail(errno_text(part));
        for (size_t done = 0; done < text.size();) {
            const ssize_t n = ::write(fd.get(), text.data() + done, text.size() - done);
            if (n < 0 && errno == EINTR) continue;
            if (n <= 0) return fail(errno_text(part));
            done += size_t(n);
        }
        if (fsync(fd.get()) != 0) return fail(errno_text(part));
        if (renameat(dir_fd.get(), kChainStatePart, dir_fd.get(), kChainStateName) != 0) return fail(errno_text(part));
        if (fsync(dir_fd.get()) != 0) return fail(errno_text(config_.pcap.dir));
        return {};
    }

private:
    const Config config_;  // as at start: the directory scanned and the names of sessions
};

}  // namespace

std::vector<std::string> endpoints_in_clear(const Config& config, const cloud::EnvLookup& env) {
    std::vector<std::string> found;
    const auto check = [&](std::string_view name, const std::string& url, bool imds = false) {
        if (cloud::plain_http_to_another_host(url, imds)) found.push_back(std::string(name) + " " + url);
    };
    check("upload.endpoint", config.upload.endpoint);
    check("lifecycle.endpoint", config.lifecycle.endpoint);
    check("cloudwatch.endpoint", config.cloudwatch.endpoint);
    const bool lifecycle = config.lifecycle.enabled(), upload = config.upload.enabled(),
               cloudwatch = config.cloudwatch.enabled();
    const auto from_env = [&](const char* name, bool used, bool imds = false) {
        if (!used) return;
        if (const auto url = env(name)) check(name, *url, imds);
    };
    from_env("AWS_ENDPOINT_URL_AUTO_SCALING", lifecycle && config.lifecycle.endpoint.empty());
    from_env("AWS_ENDPOINT_URL_CLOUDWATCH", cloudwatch && config.cloudwatch.endpoint.empty());
    from_env("AWS_ENDPOINT_URL_STS", lifecycle || upload || cloudwatch);
    from_env("AWS_EC2_METADATA_SERVICE_ENDPOINT", lifecycle || upload || cloudwatch, true);
    return found;
}

Result<std::string> default_collector_id() {
    if (const auto settings = cloud::imds_settings_from_environment(cloud::process_environment()); settings && *settings) {
        cloud::ImdsClient imds(**settings);
        if (auto id = imds.instance_id(); id && parse_collector_id(id.value())) return id.value();
    }
    char host[HOST_NAME_MAX + 1] = {};
    if (gethostname(host, sizeof host - 1) != 0 || !*host)
        return fail("no collector id: not on EC2 and no host name; give --collector-id");
    if (auto id = parse_collector_id(host); !id)
        return fail("the host name cannot be the collector id (" + id.error() + "); give --collector-id");
    return std::string(host);
}

Result<std::shared_ptr<Uploader>> make_uploader(const Config& config, const LogLine& log) {
    const UploadConfig& u = config.upload;
    const cloud::EnvLookup env = cloud::process_environment();
    UploadOptions options;
    options.s3.location = {u.url.bucket, u.region, u.endpoint};
    if (options.s3.location.region.empty()) {
        auto region = cloud::default_region(env);
        if (region) options.s3.location.region = region.value();
        else if (!u.endpoint.empty()) options.s3.location.region = "us-east-1";  // S3-compatible stores rarely care
        else
            return fail("upload: no region for bucket " + u.url.bucket + ": give --upload-region (" +
                        region.error().describe() + ")");
    }
    if (auto location = cloud::check_location(options.s3.location); !location)
        return fail("upload: " + location.error());
    auto source = cloud::choose_credential_source(env);
    if (!source) return fail("upload: no AWS credentials: " + source.error());
    if (!config.collector_id.empty()) options.collector_id = config.collector_id;
    else if (auto id = default_collector_id()) options.collector_id = std::move(*id);
    else return fail(std::move(id).error());
    options.prefix = u.url.prefix;
    options.storage_class = u.storage_class;
    options.delete_after_upload = u.delete_after_upload;
    options.backoff_cap = std::chrono::seconds(u.retry_cap_seconds);
    options.backoff_base = std::min<std::chrono::milliseconds>(options.backoff_base, options.backoff_cap);
    options.log = log;
    const uint32_t manifest_seconds =
        u.manifest_seconds ? u.manifest_seconds : config.pcap.rotate_seconds ? config.pcap.rotate_seconds : 300;
    options.manifest_interval = std::chrono::seconds(manifest_seconds);
    log("uploading finished pcaps to " + u.url.text + (u.endpoint.empty() ? "" : " at " + u.endpoint) + " (region " +
        options.s3.location.region + ", credentials: " + (*source)->describe() + ", collector " + options.collector_id +
        ")");
    auto credentials = std::make_shared<cloud::CredentialProvider>(std::move(*source));
    return std::make_shared<Uploader>(std::move(options), std::move(credentials),
                                      std::make_unique<CaptureDirAccess>(config));
}

}  // namespace mirrortap
