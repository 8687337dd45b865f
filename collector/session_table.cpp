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

size_t SessionTable::KeyHash::operator()(const Key& k) const {
    FlowKey f;
    f.src = k.source;
    f.src_port = uint16_t(k.vni);
    f.dst_port = uint16_t(k.vni >> 16);
    return FlowHash::symmetric(f);
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
        auto it = index_.find(key);
        s = it != index_.end() ? it->second : create(key);
        if (!s) return nullptr;
        last_key_ = key;
        last_ = s;
    }
    remember_source(*s, source);
    return s;
}

Session* SessionTable::create(const Key& key) {
    const uint32_t id = published_.load(std::memory_order_relaxed);
    if (id >= capacity_ || !budget_.take()) return nullptr;
    auto& block = blocks_[id / kBlockSessions];
    if (!block) block = std::make_unique<Session[]>(kBlockSessions);
    Session& s = block[id % kBlockSessions];
    s.id = id;
    s.vni = key.vni;
    const bool by_source = config_->session_key == SessionKeyMode::vni_and_source;
    s.set_name(std::make_shared<const std::string>(name_for(*config_, key.vni, by_source ? &key.source : nullptr)));
    s.sink_mask.store(config_->sink_mask_for(key.vni), std::memory_order_relaxed);
    index_.emplace(key, &s);
    published_.store(id + 1, std::memory_order_release);
    return &s;
}

void SessionTable::apply(const Config& config) {
    config_ = &config;
    const bool by_source = config.session_key == SessionKeyMode::vni_and_source;
    for (uint32_t i = 0; i < size(); ++i) {
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
