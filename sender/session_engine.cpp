#include "sender/session_engine.hpp"

#include <algorithm>

namespace mirrortap::sender {

std::string Session::name() const {
    return description.empty() ? "session-" + std::to_string(session_number) : description;
}

SessionEngine::SessionEngine(std::vector<Session> sessions) : sessions_(std::move(sessions)) {
    std::stable_sort(sessions_.begin(), sessions_.end(),
                     [](const Session& a, const Session& b) { return a.session_number < b.session_number; });
    any_amazon_dns_ = std::any_of(sessions_.begin(), sessions_.end(), [](const Session& s) { return s.filter.amazon_dns; });
}

Classification SessionEngine::classify(Direction dir, const InnerFrame& packet, uint64_t interface) const {
    Classification c;
    if (packet.flow.kind == FlowKind::non_ip) {
        c.not_mirrored = NotMirrored::non_ip;
        return c;
    }
    const AwsService service = aws_service(packet, resolvers_);
    if (service != AwsService::none && (service != AwsService::amazon_dns || !any_amazon_dns_)) {
        c.not_mirrored = NotMirrored::aws_service;
        c.service = service;
        return c;
    }
    for (size_t i = 0; i < sessions_.size(); ++i) {
        if (sessions_[i].interfaces != 0 && (sessions_[i].interfaces & interface) == 0) continue;
        // Amazon DNS traffic is only for the filters that name the service.
        if (service == AwsService::amazon_dns && !sessions_[i].filter.amazon_dns) continue;
        const FilterVerdict v = sessions_[i].filter.evaluate(dir, packet);
        if (v.accepted()) {
            c.session_index = int(i);
            c.rule = v.rule;
            c.rule_session_index = int(i);
            return c;
        }
        if (v.rule && !c.rule) {
            c.rule = v.rule;
            c.rule_session_index = int(i);
            c.not_mirrored = NotMirrored::rejected;
        }
    }
    return c;
}

Truncation truncate_frame(uint32_t frame_bytes, std::optional<uint32_t> packet_length,
                          uint32_t max_inner_bytes) {
    Truncation t{frame_bytes};
    if (packet_length && t.length > *packet_length) {
        t.length = *packet_length;
        t.by_packet_length = true;
    }
    if (t.length > max_inner_bytes) {
        t.length = max_inner_bytes;
        t.by_mtu = true;
        t.by_packet_length = false;  // the tighter limit is the one that counted
    }
    return t;
}

}  // namespace mirrortap::sender
