#include "find/search.hpp"

#include <algorithm>
#include <chrono>
#include <cstring>
#include <map>
#include <queue>
#include <set>
#include <tuple>

#include "support/text.hpp"

namespace mirrortap::find {

namespace {

// What kept the answer from being whole (a read that failed, a short
// object, a corrupt or truncated file, an index that could not be used):
// each said on the log as it happens, all counted for the exit status.
struct Shortfalls {
    std::FILE* log;
    uint64_t count = 0;
    void report(const std::string& where, const std::string& what) {
        std::fprintf(log, "mirrortap-find: %s: %s\n", printable(where).c_str(), printable(what).c_str());
        ++count;
    }
};

std::string human(uint64_t bytes) {
    char buf[32];
    if (bytes < 10 * 1024) std::snprintf(buf, sizeof buf, "%llu B", static_cast<unsigned long long>(bytes));
    else if (bytes < 10ull << 20) std::snprintf(buf, sizeof buf, "%.1f KiB", bytes / 1024.0);
    else if (bytes < 10ull << 30) std::snprintf(buf, sizeof buf, "%.1f MiB", bytes / 1048576.0);
    else std::snprintf(buf, sizeof buf, "%.2f GiB", bytes / 1073741824.0);
    return buf;
}

// The server's time bound on one query; none for the CLI.
struct Deadline {
    std::optional<std::chrono::steady_clock::time_point> at;
    bool passed() const { return at && std::chrono::steady_clock::now() >= *at; }
};

// A bar on a terminal, redrawn at most ten times a second.
class Progress {
public:
    Progress(std::FILE* log, bool enabled, uint64_t total) : log_(log), enabled_(enabled), total_(total) {}
    void add(uint64_t bytes) {
        done_ += bytes;
        if (!enabled_) return;
        const auto now = std::chrono::steady_clock::now();
        if (now - drawn_ < std::chrono::milliseconds(100) && done_ < total_) return;
        drawn_ = now;
        const double f = total_ ? std::min(1.0, double(done_) / double(total_)) : 1.0;
        const int width = 30, filled = int(f * width);
        std::fprintf(log_, "\r[%.*s%*s] %3d%% %s of %s", filled, "##############################", width - filled,
                     "", int(f * 100), human(done_).c_str(), human(total_).c_str());
        std::fflush(log_);
        shown_ = true;
    }
    void finish() {
        if (shown_) std::fprintf(log_, "\r\033[K");
    }

private:
    std::FILE* log_;
    bool enabled_;
    uint64_t total_;
    uint64_t done_ = 0;
    bool shown_ = false;
    std::chrono::steady_clock::time_point drawn_{};
};

struct ReadPlan {
    CaptureFile file;
    std::vector<ByteRange> ranges;
    bool whole = false;      // no usable index: the whole file is read
    uint64_t lower_ns = 0;   // no packet of the plan is earlier
    // From the index: every record lies in [first_ns, last_ns]; one that
    // does not was not found where the index points (a misaligned index).
    uint64_t index_first_ns = 0, index_last_ns = ~0ull;
    Origin origin;  // the pcapng interface of its packets
    uint64_t bytes() const {
        uint64_t n = 0;
        for (const auto& r : ranges) n += r.end - r.first;
        return n;
    }
};

// The matching packets of one plan, in file order, read chunk by chunk.
class FileCursor {
public:
    // Every plan's first range starts at 0: the file header (magic, snaplen, link type) is read first.
    FileCursor(Store& store, const ReadPlan& plan, const CompiledFilter& filter, const Selection& sel,
               Progress& progress, Shortfalls& shortfalls, const Deadline& deadline)
        : store_(store), plan_(plan), filter_(filter), sel_(sel), progress_(progress), shortfalls_(shortfalls),
          deadline_(deadline) {
        if (!plan_.ranges.empty()) read_off_ = plan_.ranges[0].first;
        header_pending_ = true;
    }

    // The next matching packet (valid until the next call); false at the end.
    bool next(Packet& p) {
        while (true) {
            if (failed_) return false;
            if (pos_ == buffer_.size() && !range_left()) {
                if (++range_ >= plan_.ranges.size()) return false;
                buffer_.clear();
                pos_ = 0;
                read_off_ = plan_.ranges[range_].first;
            }
            if (header_pending_) {
                if (!read_file_header()) return false;
                continue;  // the header may be a range of its own
            }
            if (!have(16)) return false;
            uint32_t h[4];
            std::memcpy(h, buffer_.data() + pos_, sizeof h);
            // Checked before the record is read: the buffer never grows past a record the output can hold.
            if (h[2] > snaplen_)
                return corrupt("a record of " + std::to_string(h[2]) + " bytes, above the file's snaplen (" +
                               std::to_string(snaplen_) + ")");
            if (h[2] == 0 || h[1] >= 1'000'000'000ull / ns_per_unit_)
                return corrupt("not a record header (caplen " + std::to_string(h[2]) + ", fraction " +
                               std::to_string(h[1]) + ")");
            const uint64_t ts_ns = uint64_t(h[0]) * 1'000'000'000ull + uint64_t(h[1]) * ns_per_unit_;
            if (ts_ns < plan_.index_first_ns || ts_ns > plan_.index_last_ns)
                return corrupt("a record outside the time span its index gives: the index does not point at "
                               "records");
            if (!have(16 + h[2])) return false;
            p.ts_ns = ts_ns;
            p.origin = &plan_.origin;
            p.caplen = h[2];
            p.len = h[3];
            p.data = reinterpret_cast<const uint8_t*>(buffer_.data() + pos_ + 16);
            pos_ += 16 + h[2];
            if (p.ts_ns < sel_.since_ns || p.ts_ns > sel_.until_ns) continue;
            const pcap_pkthdr hdr{{time_t(h[0]), suseconds_t(h[1])}, h[2], h[3]};
            if (filter_.matches(hdr, p.data)) return true;
        }
    }

private:
    bool range_left() const { return range_ < plan_.ranges.size() && read_off_ < plan_.ranges[range_].end; }

    bool corrupt(const std::string& what) {
        shortfalls_.report(plan_.file.where, what + " at byte " + std::to_string(read_off_ - (buffer_.size() - pos_)) +
                                                 "; the rest of this file is skipped");
        failed_ = true;
        return false;
    }

    // `need` bytes from pos_ in the buffer, reading more of the range when short.
    bool have(size_t need) {
        if (buffer_.size() - pos_ >= need) return true;
        buffer_.erase(0, pos_);
        pos_ = 0;
        while (buffer_.size() < need) {
            // Past the deadline the cursor ends; the merge says why.
            if (deadline_.passed()) {
                failed_ = true;
                return false;
            }
            if (!range_left()) {
                if (buffer_.empty() && need == 16) return false;
                // The file being written ends where the writer is: its last whole record is its end for now.
                if (plan_.file.growing && range_ + 1 == plan_.ranges.size()) {
                    failed_ = true;
                    return false;
                }
                return corrupt(plan_.whole ? "the file ends inside a record" : "the range ends inside a record");
            }
            const uint64_t end = plan_.ranges[range_].end;
            const uint64_t want = std::min<uint64_t>(std::max<uint64_t>(store_.chunk_bytes(), need - buffer_.size()),
                                                     end - read_off_);
            const auto chunk = store_.read_range(plan_.file, read_off_, want);
            if (!chunk) return corrupt("read failed: " + chunk.error());
            if (chunk->size() != want)
                return corrupt("asked for " + std::to_string(want) + " bytes, got " + std::to_string(chunk->size()));
            progress_.add(want);
            read_off_ += want;
            buffer_ += *chunk;
        }
        return true;
    }

    bool read_file_header() {
        header_pending_ = false;
        if (!have(24)) return false;
        uint32_t magic, snaplen, linktype;
        std::memcpy(&magic, buffer_.data(), 4);
        std::memcpy(&snaplen, buffer_.data() + 16, 4);
        std::memcpy(&linktype, buffer_.data() + 20, 4);
        snaplen_ = snaplen == 0 ? kMaxRecordBytes : std::min(snaplen, kMaxRecordBytes);
        if (magic == 0xA1B23C4D) ns_per_unit_ = 1;
        else if (magic == 0xA1B2C3D4) ns_per_unit_ = 1000;
        else return corrupt("not a pcap in this machine's byte order");
        if (linktype != 1) return corrupt("not Ethernet (link type " + std::to_string(linktype) + ")");
        pos_ += 24;
        return true;
    }

    Store& store_;
    const ReadPlan& plan_;
    const CompiledFilter& filter_;
    const Selection& sel_;
    Progress& progress_;
    Shortfalls& shortfalls_;
    const Deadline& deadline_;
    std::string buffer_;
    size_t pos_ = 0;
    size_t range_ = 0;
    uint64_t read_off_ = 0;
    uint64_t ns_per_unit_ = 1;
    uint32_t snaplen_ = kMaxRecordBytes;  // the file's, at most kMaxRecordBytes (what the output's header says)
    bool header_pending_ = false;
    bool failed_ = false;
};

struct StoreTally {
    uint64_t files = 0, stored = 0, files_read = 0, index_bytes = 0;
};

// What to read of one file, from its index when it has a usable one.
// A missing index (a file being written has none yet; captures uploaded
// without theirs) and an incomplete one (its flow cap was reached) are the
// format working as documented: said, and the whole pcap read. An index that
// is there but cannot be used (unreadable, corrupt, stale, above a cap) is a
// shortfall of the store, counted as such.
std::optional<ReadPlan> plan_file(const Store& store, const CaptureFile& f, const Store::IndexRead* read,
                                  const CompiledFilter& filter,
                                  const Selection& sel, StoreTally& tally, Shortfalls& shortfalls, std::FILE* log) {
    ReadPlan plan;
    plan.file = f;
    plan.origin.session = f.session;
    plan.origin.collector = f.collector;
    const auto whole = [&](const std::string& why, bool shortfall) {
        if (shortfall) shortfalls.report(f.where, why + ": reading the whole pcap");
        else std::fprintf(log, "mirrortap-find: %s: %s: reading the whole pcap\n", printable(f.where).c_str(), why.c_str());
        plan.whole = true;
        plan.lower_ns = f.start_ns;
        if (f.size > 0) plan.ranges.push_back({0, f.size});
        return plan;
    };
    if (f.size < 24 && !f.growing) {
        shortfalls.report(f.where, std::to_string(f.size) + " bytes: shorter than a pcap file header");
        return std::nullopt;
    }
    if (f.growing) {
        std::fprintf(log, "mirrortap-find: %s: being written: reading it to its last whole record\n",
                     printable(f.where).c_str());
        plan.whole = true;
        plan.lower_ns = f.start_ns;
        if (f.size > 0) plan.ranges.push_back({0, f.size});
        return plan;
    }
    if (!read) return whole("no flow index", false);
    if (!*read) return whole("flow index unreadable (" + read->error() + ")", true);
    tally.index_bytes += read->value().size();
    const auto index = read_flow_index(read->value(), f.size);
    if (!index) return whole("flow index corrupt (" + index.error() + ")", true);
    if (index->flows.empty()) return std::nullopt;
    if (index->file.last_ns < sel.since_ns || index->file.first_ns > sel.until_ns) return std::nullopt;
    if (!index->file.index_complete) return whole("flow index incomplete (its flow cap was reached)", false);
    if (plan.origin.collector.empty()) plan.origin.collector = index->file.collector;
    plan.origin.vni = index->file.vni;
    plan.index_first_ns = index->file.first_ns;
    plan.index_last_ns = index->file.last_ns;
    // The file header first (snaplen, timestamp unit); merged into the first range when that is near.
    std::vector<ByteRange> ranges{{0, 24}};
    uint64_t lower = ~0ull;
    for (const auto& flow : index->flows) {
        if (flow.last_ns < sel.since_ns || flow.first_ns > sel.until_ns) continue;
        if (judge_flow(filter.program(), flow) == FlowVerdict::no_match) continue;
        ranges.push_back({flow.first_offset, flow.end_offset});
        lower = std::min(lower, flow.first_ns);
    }
    if (ranges.size() == 1) return std::nullopt;
    plan.ranges = merge_ranges(std::move(ranges), store.coalesce_gap());
    plan.lower_ns = lower;
    return plan;
}

}  // namespace

std::vector<ByteRange> merge_ranges(std::vector<ByteRange> ranges, uint64_t gap) {
    std::sort(ranges.begin(), ranges.end(), [](const ByteRange& a, const ByteRange& b) { return a.first < b.first; });
    std::vector<ByteRange> out;
    for (const auto& r : ranges) {
        if (!out.empty() && r.first <= out.back().end + gap) out.back().end = std::max(out.back().end, r.end);
        else out.push_back(r);
    }
    return out;
}

namespace {

// Why a search stopped before reading: said on the log and kept for the caller.
struct Stop {
    SearchEnd end;
    std::string why;
};
Stop stop(std::FILE* log, SearchEnd end, const std::string& why) {
    std::fprintf(log, "mirrortap-find: %s\n", why.c_str());
    return {end, why};
}

// Every finished capture of the selection, from every store (CaptureFile::store
// says which); refused when a store cannot be listed or a session is in none
// of them (a typing error, not an empty answer).
Result<std::vector<CaptureFile>, Stop> list_selection(std::vector<std::unique_ptr<Store>>& stores, const Selection& sel,
                                                      Shortfalls& shortfalls, std::FILE* log) {
    std::vector<CaptureFile> files;
    for (size_t i = 0; i < stores.size(); ++i) {
        std::vector<std::string> refused;
        auto listed = stores[i]->list(sel, refused);
        if (!listed)
            return fail(stop(log, SearchEnd::not_listed, "cannot list " + printable(stores[i]->describe()) + ": " +
                                                             printable(listed.error())));
        for (const auto& r : refused) shortfalls.report(stores[i]->describe(), r);
        for (auto& f : *listed) f.store = i;
        files.insert(files.end(), std::make_move_iterator(listed->begin()), std::make_move_iterator(listed->end()));
    }
    for (const auto& s : sel.sessions) {
        if (std::any_of(files.begin(), files.end(), [&](const CaptureFile& f) { return f.session == s; })) continue;
        std::set<std::string> known;
        for (auto& store : stores) {
            const auto sessions = store->sessions();
            if (!sessions)
                return fail(stop(log, SearchEnd::not_listed, "cannot list " + printable(store->describe()) + ": " +
                                                                 printable(sessions.error())));
            known.insert(sessions->begin(), sessions->end());
        }
        if (known.count(s)) continue;
        std::string list;
        for (const auto& k : known) list += (list.empty() ? "" : ", ") + printable(k);
        return fail(stop(log, SearchEnd::unknown_session,
                         "unknown session '" + printable(s) + "' (sessions: " + (list.empty() ? "none" : list) + ")"));
    }
    drop_files_before(files, sel.since_ns);
    return files;
}

// A file read without its index (the one being written, one whose index
// is missing or unusable) takes the collector id and VNI another index of its
// session in the same store gave; else the collector is the store itself.
void name_origins(const std::vector<std::unique_ptr<Store>>& stores, std::vector<ReadPlan>& plans) {
    std::map<std::pair<size_t, std::string>, Origin> known;
    for (const auto& p : plans)
        if (!p.origin.collector.empty() && p.origin.vni) known.try_emplace({p.file.store, p.origin.session}, p.origin);
    for (auto& p : plans) {
        const auto it = known.find({p.file.store, p.origin.session});
        if (it == known.end()) {
            if (p.origin.collector.empty()) p.origin.collector = stores[p.file.store]->describe();
            continue;
        }
        if (p.origin.collector.empty()) p.origin.collector = it->second.collector;
        if (!p.origin.vni && p.origin.collector == it->second.collector) p.origin.vni = it->second.vni;
    }
}

// Calls `each(file, its index read or nullptr when it has none)` for every
// file in order. Indexes are fetched a batch at a time (a store may fetch a
// batch side by side), each used and dropped before the next batch: memory
// stays bounded. Stops early when `each` returns false.
template <class Each>
void for_each_index(std::vector<std::unique_ptr<Store>>& stores, const std::vector<CaptureFile>& files, Each each) {
    constexpr size_t kBatch = 64;
    for (size_t from = 0; from < files.size(); from += kBatch) {
        const size_t to = std::min(files.size(), from + kBatch);
        std::vector<std::vector<const CaptureFile*>> indexed(stores.size());
        for (size_t i = from; i < to; ++i)
            if (!files[i].index_ref.empty()) indexed[files[i].store].push_back(&files[i]);
        std::map<const CaptureFile*, Store::IndexRead> index_reads;
        for (size_t s = 0; s < stores.size(); ++s) {
            if (indexed[s].empty()) continue;
            std::vector<Store::IndexRead> reads;
            stores[s]->read_indexes(indexed[s], reads);
            for (size_t k = 0; k < reads.size(); ++k) index_reads[indexed[s][k]] = std::move(reads[k]);
        }
        for (size_t i = from; i < to; ++i) {
            const auto found = index_reads.find(&files[i]);
            if (!each(files[i], found == index_reads.end() ? nullptr : &found->second)) return;
        }
    }
}

// What to read of each file, in the order of each plan's earliest packet;
// refused when the plan would read more than options.max_read_bytes.
Result<std::vector<ReadPlan>, Stop> plan_reads(std::vector<std::unique_ptr<Store>>& stores,
                                               const std::vector<CaptureFile>& files, const CompiledFilter& filter,
                                               const SearchOptions& options, std::vector<StoreTally>& tally,
                                               Shortfalls& shortfalls, std::FILE* log) {
    std::vector<ReadPlan> plans;
    uint64_t planned = 0;
    const auto too_large = [&] { return options.max_read_bytes > 0 && planned > options.max_read_bytes; };
    for_each_index(stores, files, [&](const CaptureFile& f, const Store::IndexRead* read) {
        tally[f.store].files++;
        tally[f.store].stored += f.size;
        if (auto plan = plan_file(*stores[f.store], f, read, filter, options.selection, tally[f.store], shortfalls, log)) {
            tally[f.store].files_read++;
            planned += plan->bytes();
            plans.push_back(std::move(*plan));
        }
        return !too_large();
    });
    if (too_large())
        return fail(stop(log, SearchEnd::too_large,
                         "the query would read more than " + human(options.max_read_bytes) +
                             " of captures (this server's limit): narrow the window, the sessions or the filter"));
    name_origins(stores, plans);
    std::stable_sort(plans.begin(), plans.end(), [](const ReadPlan& a, const ReadPlan& b) { return a.lower_ns < b.lower_ns; });
    return plans;
}

// Reads the plans and writes their matching packets merged by timestamp
// (a k-way merge); a file joins once the merge reaches its earliest possible
// packet, so only overlapping files hold buffers. Ends with done, or
// reader_gone when the reader of the output went away, or timed_out.
SearchEnd read_merged(std::vector<std::unique_ptr<Store>>& stores, const std::vector<ReadPlan>& plans,
                      const CompiledFilter& filter, const SearchOptions& options, Progress& progress,
                      PcapOutput& out, Shortfalls& shortfalls) {
    const Selection& sel = options.selection;
    const Deadline deadline{options.deadline};
    auto flushed_at = std::chrono::steady_clock::now();
    struct Head {
        uint64_t ts;
        size_t cursor;
        bool operator>(const Head& o) const { return ts != o.ts ? ts > o.ts : cursor > o.cursor; }
    };
    std::priority_queue<Head, std::vector<Head>, std::greater<>> heap;
    std::vector<std::unique_ptr<FileCursor>> cursors(plans.size());
    std::vector<Packet> current(plans.size());
    size_t next_plan = 0;
    for (;;) {
        while (next_plan < plans.size() && (heap.empty() || plans[next_plan].lower_ns <= heap.top().ts)) {
            const size_t i = next_plan++;
            cursors[i] = std::make_unique<FileCursor>(*stores[plans[i].file.store], plans[i], filter, sel, progress,
                                                      shortfalls, deadline);
            if (cursors[i]->next(current[i])) heap.push({current[i].ts_ns, i});
            else cursors[i].reset();
        }
        if (deadline.passed()) return SearchEnd::timed_out;
        if (heap.empty()) return SearchEnd::done;
        const size_t i = heap.top().cursor;
        heap.pop();
        if (!out.write(current[i])) return SearchEnd::reader_gone;
        if (options.flush_every && std::chrono::steady_clock::now() - flushed_at >= *options.flush_every) {
            if (!out.flush()) return SearchEnd::reader_gone;
            flushed_at = std::chrono::steady_clock::now();
        }
        if (cursors[i]->next(current[i])) heap.push({current[i].ts_ns, i});
        else cursors[i].reset();
    }
}

// Per store, then in all: files in the selection, bytes read, requests, index bytes.
void report_tally(const std::vector<std::unique_ptr<Store>>& stores, const std::vector<StoreTally>& tally,
                  const PcapOutput& out, std::FILE* log) {
    uint64_t stored = 0, read = 0, index_bytes = 0, nfiles = 0, nread = 0;
    for (size_t i = 0; i < stores.size(); ++i) {
        const auto& t = tally[i];
        std::fprintf(log, "mirrortap-find: %s: %s in the selection (%s); read %s from %llu of them in %s; %s of indexes\n",
                     printable(stores[i]->describe()).c_str(), count_of(t.files, "file").c_str(), human(t.stored).c_str(),
                     human(stores[i]->bytes_read).c_str(), static_cast<unsigned long long>(t.files_read),
                     count_of(stores[i]->requests, "request").c_str(), human(t.index_bytes).c_str());
        stored += t.stored;
        read += stores[i]->bytes_read;
        index_bytes += t.index_bytes;
        nfiles += t.files;
        nread += t.files_read;
    }
    std::fprintf(log, "mirrortap-find: read %llu of %llu pcap bytes (%.3f%%) from %llu of %s, %llu index bytes; wrote %s\n",
                 static_cast<unsigned long long>(read), static_cast<unsigned long long>(stored),
                 stored ? 100.0 * double(read) / double(stored) : 0.0, static_cast<unsigned long long>(nread),
                 count_of(nfiles, "file").c_str(), static_cast<unsigned long long>(index_bytes),
                 count_of(out.packets(), "packet").c_str());
}

}  // namespace

// List, plan, read: the index narrows the files and ranges before a pcap byte is read.
SearchReport search(std::vector<std::unique_ptr<Store>>& stores, const SearchOptions& options,
                    const CompiledFilter& filter, PcapOutput& out, std::FILE* log) {
    const Selection& sel = options.selection;
    Shortfalls shortfalls{log};
    const auto files = list_selection(stores, sel, shortfalls, log);
    if (!files) return {files.error().end, files.error().why, shortfalls.count};
    std::vector<StoreTally> tally(stores.size());
    const auto plans = plan_reads(stores, *files, filter, options, tally, shortfalls, log);
    if (!plans) return {plans.error().end, plans.error().why, shortfalls.count};
    uint64_t planned = 0;
    for (const auto& p : *plans) {
        std::fprintf(log, "mirrortap-find: reading %s of %s in %s: %s\n", human(p.bytes()).c_str(),
                     human(p.file.size).c_str(), count_of(p.ranges.size(), "range").c_str(), printable(p.file.where).c_str());
        planned += p.bytes();
    }
    if (options.flush_every && !out.flush()) return {SearchEnd::reader_gone, "the reader closed the output", shortfalls.count};
    Progress progress(log, options.progress, planned);
    const SearchEnd end = read_merged(stores, *plans, filter, options, progress, out, shortfalls);
    progress.finish();
    report_tally(stores, tally, out, log);
    if (end == SearchEnd::reader_gone) {
        std::fprintf(log, "mirrortap-find: the reader closed the output\n");
        return {end, "the reader closed the output", shortfalls.count};
    }
    if (end == SearchEnd::timed_out) return {end, stop(log, end, "the query ran past its time limit: stopped").why, shortfalls.count};
    if (auto flushed = out.flush(); !flushed)
        return {SearchEnd::write_failed, stop(log, SearchEnd::write_failed, "writing the output failed: " + flushed.error()).why,
                shortfalls.count};
    return {SearchEnd::done, "", shortfalls.count};
}

int run_search(std::vector<std::unique_ptr<Store>>& stores, const SearchOptions& options, const CompiledFilter& filter,
               PcapOutput& out, std::FILE* log) {
    const SearchReport report = search(stores, options, filter, out, log);
    if (report.end != SearchEnd::done && report.end != SearchEnd::reader_gone) return 1;
    if (report.shortfalls == 0) return 0;
    if (options.partial_ok) {
        std::fprintf(log, "mirrortap-find: warning: %s above: the answer may be incomplete (--partial-ok)\n",
                     count_of(report.shortfalls, "problem").c_str());
        return 0;
    }
    std::fprintf(log, "mirrortap-find: %s above: the answer may be incomplete (--partial-ok accepts it; exit 1)\n",
                 count_of(report.shortfalls, "problem").c_str());
    return 1;
}

namespace {

// A flow's identity in the flows answer: its session and collector, and its key.
using FlowKey = std::tuple<std::string, std::string, std::optional<uint16_t>, std::vector<uint16_t>,
                           std::optional<uint8_t>, std::optional<uint8_t>, std::string, std::string,
                           std::optional<uint16_t>, std::optional<uint16_t>>;

}  // namespace

FlowsReport top_flows(std::vector<std::unique_ptr<Store>>& stores, const SearchOptions& options,
                      const CompiledFilter& filter, size_t limit, std::FILE* log) {
    const Selection& sel = options.selection;
    FlowsReport report;
    Shortfalls shortfalls{log};
    const auto files = list_selection(stores, sel, shortfalls, log);
    if (!files) {
        report.end = files.error().end;
        report.why = files.error().why;
        report.shortfalls = shortfalls.count;
        return report;
    }
    std::map<FlowKey, FlowRow> rows;
    const Deadline deadline{options.deadline};
    for_each_index(stores, *files, [&](const CaptureFile& f, const Store::IndexRead* read) {
        report.files++;
        if (f.growing || !read) {
            report.unindexed_files++;
            return !deadline.passed();
        }
        if (!*read) {
            shortfalls.report(f.where, "flow index unreadable (" + read->error() + ")");
            report.unindexed_files++;
            return !deadline.passed();
        }
        const auto index = read_flow_index(read->value(), f.size);
        if (!index || !index->file.index_complete) {
            if (!index) shortfalls.report(f.where, "flow index corrupt (" + index.error() + ")");
            report.unindexed_files++;
            return !deadline.passed();
        }
        const std::string collector = f.collector.empty() ? index->file.collector : f.collector;
        for (const auto& flow : index->flows) {
            if (flow.last_ns < sel.since_ns || flow.first_ns > sel.until_ns) continue;
            const FlowVerdict verdict = judge_flow(filter.program(), flow);
            if (verdict == FlowVerdict::no_match) continue;
            const FlowKey key{f.session, collector, flow.ether_type, flow.vlans, flow.ip_version, flow.protocol,
                              flow.src, flow.dst, flow.src_port, flow.dst_port};
            const auto [it, added] = rows.try_emplace(key, FlowRow{f.session, collector, flow, verdict});
            if (added) continue;
            IndexedFlow& sum = it->second.flow;
            sum.first_ns = std::min(sum.first_ns, flow.first_ns);
            sum.last_ns = std::max(sum.last_ns, flow.last_ns);
            sum.packets += flow.packets;
            sum.bytes += flow.bytes;
            sum.fragments |= flow.fragments;
            sum.ip6_ext |= flow.ip6_ext;
            if (verdict == FlowVerdict::may_match) it->second.verdict = verdict;
        }
        return !deadline.passed();
    });
    report.shortfalls = shortfalls.count;
    if (deadline.passed()) {
        report.end = SearchEnd::timed_out;
        report.why = stop(log, report.end, "the query ran past its time limit: stopped").why;
        return report;
    }
    report.matching_flows = rows.size();
    for (auto& [key, row] : rows) report.flows.push_back(std::move(row));
    const auto larger = [](const FlowRow& a, const FlowRow& b) { return a.flow.bytes > b.flow.bytes; };
    // Stable: equal flows keep the key order, so one query gives one answer.
    std::stable_sort(report.flows.begin(), report.flows.end(), larger);
    if (report.flows.size() > limit) report.flows.resize(limit);
    return report;
}

}  // namespace mirrortap::find
