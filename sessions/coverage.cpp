#include "sessions/coverage.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstdio>
#include <cstring>

#include "support/unique_fd.hpp"

namespace mirrortap::sessions {

namespace {

std::string number(double v) {
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.3f", v);
    return buf;
}

void header(std::string& out, std::string_view name, std::string_view help) {
    out += "# HELP " + std::string(name) + " " + std::string(help) + "\n# TYPE " + std::string(name) + " gauge\n";
}

std::string labels(std::string_view selector) { return "{selector=\"" + std::string(selector) + "\"}"; }

// The directory part and the file name of an absolute path.
std::pair<std::string, std::string> split_path(const std::string& path) {
    const size_t slash = path.rfind('/');
    return {slash == 0 ? "/" : path.substr(0, slash), path.substr(slash + 1)};
}

}  // namespace

std::string coverage_text(const CoverageRun& run) {
    std::string out;
    // Selector names are [A-Za-z0-9_.:-] (parse_selector_name): nothing to escape in a label.
    if (!run.selectors.empty()) {
        header(out, kMetricSelected, "Network interfaces the selector's filters name.");
        for (const auto& c : run.selectors) out += std::string(kMetricSelected) + labels(c.selector) + " " + std::to_string(c.selected) + "\n";
        header(out, kMetricMirrored, "Selected interfaces with a session to the selector's target.");
        for (const auto& c : run.selectors) out += std::string(kMetricMirrored) + labels(c.selector) + " " + std::to_string(c.mirrored) + "\n";
        header(out, kMetricNotMirrored, "Selected interfaces without a session, by reason.");
        for (const auto& c : run.selectors)
            for (const auto& [r, name] : kReasonNames) {
                if (r == Reason::none) continue;
                const auto it = c.not_mirrored.find(r);
                out += std::string(kMetricNotMirrored) + "{selector=\"" + c.selector + "\",reason=\"" +
                       std::string(name) + "\"} " + std::to_string(it == c.not_mirrored.end() ? 0 : it->second) + "\n";
            }
        header(out, kMetricCreated, "Sessions the last run created.");
        for (const auto& c : run.selectors) out += std::string(kMetricCreated) + labels(c.selector) + " " + std::to_string(c.created) + "\n";
        header(out, kMetricRemoved, "Sessions the last run removed.");
        for (const auto& c : run.selectors) out += std::string(kMetricRemoved) + labels(c.selector) + " " + std::to_string(c.removed) + "\n";
    }
    header(out, kMetricRunSuccess, "1 when the last run planned and made every change, else 0.");
    out += std::string(kMetricRunSuccess) + " " + (run.success ? "1" : "0") + "\n";
    header(out, kMetricRunTime, "When the last run ended (Unix time).");
    out += std::string(kMetricRunTime) + " " + number(run.now_seconds) + "\n";
    if (run.last_success_seconds) {
        header(out, kMetricSuccessTime, "When a run last succeeded (Unix time).");
        out += std::string(kMetricSuccessTime) + " " + number(*run.last_success_seconds) + "\n";
    }
    return out;
}

std::vector<cloud::MetricDatum> coverage_figures(const CoverageRun& run, const std::string& fleet) {
    std::vector<cloud::MetricDatum> out;
    if (run.selectors.empty()) return out;
    double not_mirrored_all = 0;
    for (const Coverage& c : run.selectors) {
        double not_mirrored = 0;
        for (const auto& [reason, n] : c.not_mirrored) not_mirrored += double(n);
        not_mirrored_all += not_mirrored;
        const std::vector<cloud::MetricDimension> dims{{"Fleet", fleet}, {"Selector", c.selector}};
        out.push_back({"InterfacesSelected", "Count", double(c.selected), dims});
        out.push_back({"InterfacesMirrored", "Count", double(c.mirrored), dims});
        out.push_back({"InterfacesNotMirrored", "Count", not_mirrored, dims});
    }
    out.push_back({"InterfacesNotMirrored", "Count", not_mirrored_all, {{"Fleet", fleet}}});
    return out;
}

std::optional<double> last_success_in(std::string_view text) {
    const std::string prefix = std::string(kMetricSuccessTime) + " ";
    for (size_t at = 0; at < text.size();) {
        const size_t end = std::min(text.find('\n', at), text.size());
        const std::string_view line = text.substr(at, end - at);
        if (line.starts_with(prefix)) {
            const std::string value(line.substr(prefix.size()));
            char* stop = nullptr;
            const double v = std::strtod(value.c_str(), &stop);
            if (stop && *stop == '\0' && v > 0) return v;
        }
        at = end + 1;
    }
    return std::nullopt;
}

Result<> write_textfile(const std::string& path, std::string_view text) {
    const auto [dir, name] = split_path(path);
    UniqueFd dirfd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    if (dirfd.get() < 0) return fail(dir + ": " + std::strerror(errno));
    // node_exporter reads *.prom only: the file being written is not one.
    const std::string temp = "." + name + ".new";
    ::unlinkat(dirfd.get(), temp.c_str(), 0);
    UniqueFd fd(::openat(dirfd.get(), temp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644));
    if (fd.get() < 0) return fail(dir + "/" + temp + ": " + std::strerror(errno));
    size_t written = 0;
    for (int guard = 0; written < text.size() && guard < 1000; ++guard) {
        const ssize_t n = ::write(fd.get(), text.data() + written, text.size() - written);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;
        written += static_cast<size_t>(n);
    }
    if (written != text.size() || ::fchmod(fd.get(), 0644) != 0 || ::fsync(fd.get()) != 0) {
        const std::string why = dir + "/" + temp + ": " + std::strerror(errno);
        ::unlinkat(dirfd.get(), temp.c_str(), 0);
        return fail(why);
    }
    if (::renameat(dirfd.get(), temp.c_str(), dirfd.get(), name.c_str()) != 0) {
        const std::string why = path + ": " + std::strerror(errno);
        ::unlinkat(dirfd.get(), temp.c_str(), 0);
        return fail(why);
    }
    return {};
}

std::string read_textfile(const std::string& path) {
    UniqueFd fd(::open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC));
    if (fd.get() < 0) return "";
    std::string text;
    char buf[4096];
    // Our own file is small; a larger one is not ours and only its start is read.
    for (int guard = 0; guard < 256; ++guard) {
        const ssize_t n = ::read(fd.get(), buf, sizeof buf);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;
        text.append(buf, static_cast<size_t>(n));
    }
    return text;
}

}  // namespace mirrortap::sessions
