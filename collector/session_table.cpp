#include "collector/session_table.hpp"

#include <arpa/inet.h>

#include <algorithm>
#include <cstring>

#include "decap/flow.hpp"

namespace mirrortap {

namespace {
bool is_v4_mapped(const SourceAddress& a) {
    static constexpr uint8_t prefix[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xFF, 0xFF};
    return std::memcmp(a.data(), prefix, 12) == 0;
}
}  // namespace

uint32_t SessionTable::hash(const Key& k) {
    uint64_t a, b;
    std::memcpy(&a, k.source.data(), 8);
    std::memcpy(&b, k.source.data() + 8, 8);
    // Two multiply-xorshift rounds (splitmix64's finaliser): every input bit reaches the low bits the table uses.
    uint64_t h = (a * 0x9E3779B97F4A7C15ull) ^ (b + k.vni) * 0xC2B2AE3D27D4EB4Full;
    h ^= h >> 31;
    h *= 0xBF58476D1CE4E5B9ull;
    h ^= h >> 29;
    return uint32_t(h);
}

Session* SessionTable::Index::find(const Key& key) const {
    if (entries_.empty()) return nullptr;
    const size_t mask = entries_.size() - 1;
    const uint32_t h = hash(key);
    for (size_t i = h & mask;; i = (i + 1) & mask) {  // ends: the table is at most half full
        const Entry& e = entries_[i];
        if (!e.session) return nullptr;
        if (e.hash == h && e.key == key) return e.session;
    }
}

void SessionTable::Index::insert(const Key& key, Session* s) {
    if ((used_ + 1) * 2 > entries_.size()) grow();
    const size_t mask = entries_.size() - 1;
    const uint32_t h = hash(key);
    size_t i = h & mask;
    while (entries_[i].session) i = (i + 1) & mask;
    entries_[i] = Entry{key, h, s};
    ++used_;
}

void SessionTable::Index::grow() {
    std::vector<Entry> old(std::max<size_t>(64, entries_.size() * 2));
    old.swap(entries_);
    used_ = 0;
    for (const Entry& e : old)
        if (e.session) insert(e.key, e.session);
}

void SessionTable::Index::erase(const Key& key) {
    if (entries_.empty()) return;
    const size_t mask = entries_.size() - 1;
    size_t i = hash(key) & mask;
    while (entries_[i].session && !(entries_[i].key == key)) i = (i + 1) & mask;
    if (!entries_[i].session) return;
    // Backward shift: an entry after the hole moves into it unless its home
    // slot lies after the hole (cyclically), so every probe still finds it.
    for (size_t j = (i + 1) & mask; entries_[j].session; j = (j + 1) & mask) {
        const size_t home = entries_[j].hash & mask;
        const bool stays = i <= j ? (home > i && home <= j) : (home > i || home <= j);
        if (stays) continue;
        entries_[i] = entries_[j];
        i = j;
    }
    entries_[i] = Entry{};
    --used_;
}

SessionTable::SessionTable(const Config& config, SessionBudget& budget)
    : config_(&config),
      budget_(budget),
      capacity_(config.max_sessions),
      blocks_(std::make_unique<std::unique_ptr<Session[]>[]>((capacity_ + kBlockSessions - 1) / kBlockSessions)) {}

std::string SessionTable::format_source(const SourceAddress& a) {
    char buf[INET6_ADDRSTRLEN] = {};
    if (is_v4_mapped(a)) inet_ntop(AF_INET, a.data() + 12, buf, sizeof buf);
    else inet_ntop(AF_INET6, a.data(), buf, sizeof buf);
    return buf;
}

std::string SessionTable::name_for(const Config& config, uint32_t vni, const SourceAddress* source) {
    const std::string* named = config.name_for(vni);
    std::string name = named ? *named : "vni-" + std::to_string(vni);
    if (source) {
        // Session names are directory names: IPv6 colons would trouble shells and Windows shares.
        std::string src = format_source(*source);
        std::replace(src.begin(), src.end(), ':', '_');
        name += "-" + src;
    }
    return name;
}

Session* SessionTable::route(uint32_t vni, const SourceAddress& source) {
    Key key{vni, {}};
    if (config_->session_key == SessionKeyMode::vni_and_source) key.source = source;
    Session* s = last_;
    if (!s || !(key == last_key_)) {
        s = index_.find(key);
        if (!s) s = create(key);
        if (!s) return nullptr;
        last_key_ = key;
        last_ = s;
    }
    remember_source(*s, source);
    return s;
}

Session* SessionTable::create(const Key& key) {
    const uint32_t fresh = published_.load(std::memory_order_relaxed);
    if ((free_.empty() && fresh >= capacity_) || !budget_.take()) return nullptr;
    Session* s;
    if (!free_.empty()) {
        // A released slot: nobody reads it (in_use is false), its counters are zero.
        s = &at(free_.back());
        free_.pop_back();
    } else {
        auto& block = blocks_[fresh / kBlockSessions];
        if (!block) block = std::make_unique<Session[]>(kBlockSessions);
        s = &block[fresh % kBlockSessions];
        s->id = fresh;
        slots_.emplace_back();
    }
    s->vni = key.vni;
    const bool by_source = config_->session_key == SessionKeyMode::vni_and_source;
    s->set_name(std::make_shared<const std::string>(name_for(*config_, key.vni, by_source ? &key.source : nullptr)));
    s->sink_mask.store(config_->sink_mask_for(key.vni), std::memory_order_relaxed);
    slots_[s->id] = Slot{key, SlotState::live, 0, 0};
    index_.insert(key, s);
    s->in_use.store(true, std::memory_order_release);
    if (s->id == fresh) published_.store(fresh + 1, std::memory_order_release);
    return s;
}

void SessionTable::end(Session& s) {
    Slot& slot = slots_[s.id];
    slot.state = SlotState::ending;
    index_.erase(slot.key);
    if (last_ == &s) last_ = nullptr;
}

void SessionTable::end_idle(uint64_t now_ns, uint64_t idle_ns, uint32_t scan, size_t limit,
                            std::vector<Session*>& ended) {
    const uint32_t n = size();
    for (uint32_t looked = 0; looked < std::min(scan, n) && limit > 0; ++looked) {
        if (scan_at_ >= n) scan_at_ = 0;
        Session& s = at(scan_at_++);
        Slot& slot = slots_[s.id];
        if (slot.state != SlotState::live) continue;
        // Idle is "its packet count did not move": nothing on the hot path.
        const uint64_t packets = s.packets.get();
        if (packets != slot.seen_packets || slot.idle_since_ns == 0) {
            slot.seen_packets = packets;
            slot.idle_since_ns = now_ns;
        } else if (now_ns - slot.idle_since_ns >= idle_ns) {
            end(s);
            ended.push_back(&s);
            --limit;
        }
    }
}

void SessionTable::end_refused(const Allowlist& allow, size_t limit, std::vector<Session*>& ended) {
    for (uint32_t i = 0; i < size() && limit > 0; ++i) {
        Session& s = at(i);
        if (slots_[i].state == SlotState::live && !allow.vni_allowed(s.vni)) {
            end(s);
            ended.push_back(&s);
            --limit;
        }
    }
}

bool SessionTable::release(std::span<Session* const> ended) {
    std::unique_lock lock(release_mutex_, std::try_to_lock);
    if (!lock.owns_lock()) return false;
    for (Session* s : ended) {
        forget(*s);
        s->in_use.store(false, std::memory_order_relaxed);  // under the lock: readers see it with the totals
        slots_[s->id].state = SlotState::free;
        free_.push_back(s->id);
        budget_.give_back();
    }
    return true;
}

// Its counters into expired_ (or expired_in_other_), and back to zero for the slot's next session.
void SessionTable::forget(Session& s) {
    ExpiredSessions& into =
        SeriesPlace(s.series_place.load(std::memory_order_relaxed)) == SeriesPlace::other ? expired_in_other_ : expired_;
    s.series_place.store(uint8_t(SeriesPlace::undecided), std::memory_order_relaxed);
    const uint64_t packets = s.packets.get();
    into.sessions.add();
    into.packets.add(packets);
    into.bytes.add(s.bytes.get());
    const uint32_t feeds = s.sink_mask.load(std::memory_order_relaxed);
    for (size_t kind = 0; kind < kMaxSinks; ++kind)
        if ((feeds >> kind) & 1) into.fed[kind].add(packets);
    for (size_t i = 0; i < kMaxSinks; ++i) {
        SinkCounters& from = s.sinks[i];
        SinkCounters& to = into.sinks[i];
        to.written.add(from.written.get());
        from.written.set(0);
        for (size_t r = 0; r < kSinkDropReasonNames.size(); ++r) {
            to.dropped[r].add(from.dropped[r].get());
            from.dropped[r].set(0);
        }
        to.buffered.add(from.buffered.get());
        from.buffered.set(0);
    }
    s.packets.set(0);
    s.bytes.set(0);
    s.sources_overflow.set(0);
    s.source_count.store(0, std::memory_order_relaxed);
}

void SessionTable::apply(const Config& config) {
    config_ = &config;
    const bool by_source = config.session_key == SessionKeyMode::vni_and_source;
    for (uint32_t i = 0; i < size(); ++i) {
        if (slots_[i].state == SlotState::free) continue;
        Session& s = at(i);
        s.sink_mask.store(config.sink_mask_for(s.vni), std::memory_order_relaxed);
        // The source that keyed this session is its first one. A reader
        // holding the old name keeps it until done; then it is freed.
        std::string name = name_for(config, s.vni, by_source ? &s.sources[0] : nullptr);
        if (name != s.name()) s.set_name(std::make_shared<const std::string>(std::move(name)));
    }
}

void SessionTable::remember_source(Session& s, const SourceAddress& source) {
    const uint32_t n = s.source_count.load(std::memory_order_relaxed);
    // The newest source is the likeliest: look from the back.
    for (uint32_t i = n; i > 0; --i)
        if (s.sources[i - 1] == source) return;
    if (n < kMaxSourcesPerSession) {
        s.sources[n] = source;
        s.source_count.store(n + 1, std::memory_order_release);
    } else {
        s.sources_overflow.add();
    }
}

}  // namespace mirrortap
