#include "sessions/plan.hpp"

#include <algorithm>
#include <set>

#include "cloud/digest.hpp"
#include "sessions/config.hpp"
#include "support/text.hpp"

namespace mirrortap::sessions {

namespace {

constexpr size_t kNoSelector = static_cast<size_t>(-1);

bool settings_match(const Selector& s, const cloud::MirrorSession& m) {
    return m.filter_id == s.filter_id && s.vni && m.vni == *s.vni && m.session_number == s.session_number &&
           m.packet_length == s.packet_length.value_or(0);
}

std::string settings_text(uint32_t number, std::string_view filter, uint32_t vni, uint32_t packet_length) {
    return "session number " + std::to_string(number) + ", filter " + std::string(filter) + ", vni " +
           std::to_string(vni) + ", packet length " + (packet_length ? std::to_string(packet_length) : "whole");
}

// What the plan knows of one interface's sessions as it goes: those listed,
// less the ones it removes, plus the ones it creates.
struct InterfaceSlots {
    std::vector<const cloud::MirrorSession*> listed;
    std::set<std::string> removed;
    std::vector<uint32_t> created_numbers;

    size_t count() const { return listed.size() - removed.size() + created_numbers.size(); }
    bool number_taken(uint32_t n) const {
        for (const auto* s : listed)
            if (!removed.contains(s->id) && s->session_number == n) return true;
        return std::find(created_numbers.begin(), created_numbers.end(), n) != created_numbers.end();
    }
};

std::string interface_text(const Step& s) {
    return s.interface_id + (s.instance_id.empty() ? "" : " (" + s.instance_id + ")");
}

// The mirrortap-sender command that covers a host AWS cannot mirror from.
std::string sender_hint(const Selector& s, const Step& step) {
    std::string cmd = "mirrortap-sender -i IFACE -t ADDRESS-OF-" + s.target_id + ":4789 --import-aws-filter " +
                      s.filter_id + ".json --vni " + std::to_string(s.vni.value_or(0)) + " --session-number " +
                      std::to_string(s.session_number);
    if (s.packet_length) cmd += " --packet-length " + std::to_string(*s.packet_length);
    return "      cover it with mirrortap-sender on " + (step.instance_id.empty() ? step.interface_id : step.instance_id) +
           " (IFACE: the interface " + step.interface_id + " is there):\n" +
           "        aws ec2 describe-traffic-mirror-filters --traffic-mirror-filter-ids " + s.filter_id + " > " +
           s.filter_id + ".json\n        " + cmd + "\n";
}

std::string step_line(const Step& st, bool applied) {
    switch (st.kind) {
        case StepKind::create:
            if (applied) return "  + " + interface_text(st) + ": created " + st.session_id + "\n";
            return "  + " + interface_text(st) + ": create\n";
        case StepKind::keep: return "  = " + interface_text(st) + ": keep " + st.session_id +
                                    (st.detail.empty() ? "" : " (" + st.detail + ")") + "\n";
        case StepKind::remove:
            return "  - " + st.session_id + " on " + interface_text(st) + ": " +
                   (applied ? (st.done ? "removed" : "NOT removed") : "remove") + " (" + printable(st.detail) + ")\n";
        case StepKind::cannot:
            return "  ! " + interface_text(st) + ": cannot, " + std::string(kReasonNames(st.reason)) +
                   (st.detail.empty() ? "" : ": " + printable(st.detail)) + "\n";
    }
    return "";
}

}  // namespace

size_t Plan::count(StepKind kind) const {
    return static_cast<size_t>(std::count_if(steps.begin(), steps.end(), [kind](const Step& s) { return s.kind == kind; }));
}

std::vector<std::string> claim_conflicts(const std::vector<Selector>& selectors, const Observed& observed) {
    std::vector<std::string> problems;
    // (target, session number, interface) -> the first selector that claims it.
    std::map<std::tuple<std::string, uint32_t, std::string>, size_t> claimed;
    for (size_t i = 0; i < selectors.size() && i < observed.selected.size(); ++i) {
        for (const auto& eni : observed.selected[i]) {
            const auto key = std::make_tuple(selectors[i].target_id, selectors[i].session_number, eni.id);
            const auto [it, fresh] = claimed.emplace(key, i);
            if (!fresh && it->second != i)
                problems.push_back(selectors[i].describe() + " and " + selectors[it->second].describe() +
                                   " both claim " + eni.id + " with session number " +
                                   std::to_string(selectors[i].session_number) + " to " + selectors[i].target_id);
        }
    }
    return problems;
}

Plan make_plan(const std::vector<Selector>& selectors, const Observed& observed,
               const std::vector<std::string>& unsupported_instance_types) {
    std::map<std::string, InterfaceSlots> slots;
    for (const auto& s : observed.sessions) slots[s.network_interface_id].listed.push_back(&s);
    std::set<std::string> targets, kept;
    for (const Selector& s : selectors) targets.insert(s.target_id);

    std::vector<Step> removes, others;
    auto remove = [&](const cloud::MirrorSession& m, size_t selector, std::string detail) {
        slots[m.network_interface_id].removed.insert(m.id);
        Step st{StepKind::remove, selector, m.tag(kSelectorTag).value_or(""), m.network_interface_id, "", m.id,
                Reason::none, std::move(detail), false};
        removes.push_back(std::move(st));
    };

    for (size_t i = 0; i < selectors.size() && i < observed.selected.size(); ++i) {
        const Selector& sel = selectors[i];
        std::set<std::string> seen;
        for (const auto& eni : observed.selected[i]) {
            if (!seen.insert(eni.id).second) continue;
            InterfaceSlots& on = slots[eni.id];
            Step st{StepKind::keep, i, sel.name, eni.id, eni.instance_id, "", Reason::none, "", false};
            const cloud::MirrorSession* ours = nullptr;
            const cloud::MirrorSession* other = nullptr;
            for (const auto* m : on.listed) {
                if (on.removed.contains(m->id) || m->target_id != sel.target_id) continue;
                if (m->tag(kSelectorTag) == sel.name) ours = ours ? ours : m;
                else other = other ? other : m;
            }
            if (ours && settings_match(sel, *ours)) {
                st.session_id = ours->id;
                kept.insert(ours->id);
                others.push_back(std::move(st));
                continue;
            }
            if (ours) {
                // Changed settings: a session cannot be modified into another
                // number or VNI here; it is replaced.
                remove(*ours, i, "replaced: was " + settings_text(ours->session_number, ours->filter_id, ours->vni,
                                                                  ours->packet_length));
            } else if (other) {
                st.session_id = other->id;
                st.detail = other->tag(kSelectorTag) ? "made by selector " + quote(*other->tag(kSelectorTag))
                                                     : "not made by mirrortap-sessions";
                kept.insert(other->id);
                others.push_back(std::move(st));
                continue;
            }
            st.kind = StepKind::cannot;
            const auto type = observed.instance_types.find(eni.instance_id);
            if (eni.instance_id.empty()) {
                st.reason = Reason::not_attached;
                st.detail = "no instance is attached (status " + (eni.status.empty() ? "unknown" : eni.status) + ")";
            } else if (type != observed.instance_types.end() &&
                       instance_type_listed(type->second, unsupported_instance_types)) {
                st.reason = Reason::unsupported_instance_type;
                st.detail = "instance type " + type->second + " is not a Traffic Mirroring source";
            } else if (on.count() >= kMaxSessionsPerInterface) {
                st.reason = Reason::interface_session_limit;
                st.detail = std::to_string(on.count()) + " sessions on it already (AWS allows " +
                            std::to_string(kMaxSessionsPerInterface) + ")";
            } else if (on.number_taken(sel.session_number)) {
                st.reason = Reason::session_number_taken;
                st.detail = "another session on it has session number " + std::to_string(sel.session_number);
            } else {
                st.kind = StepKind::create;
                on.created_numbers.push_back(sel.session_number);
            }
            others.push_back(std::move(st));
        }
    }

    // Sessions of ours on a configured target that no selector kept.
    for (const auto& m : observed.sessions) {
        const auto tag = m.tag(kSelectorTag);
        if (!tag || !targets.contains(m.target_id) || kept.contains(m.id) ||
            slots[m.network_interface_id].removed.contains(m.id))
            continue;
        const auto sel = std::find_if(selectors.begin(), selectors.end(), [&](const Selector& s) { return s.name == *tag; });
        if (sel == selectors.end()) {
            remove(m, kNoSelector, "selector " + quote(*tag) + " is no longer configured");
            continue;
        }
        const size_t i = static_cast<size_t>(sel - selectors.begin());
        const bool selected = i < observed.selected.size() &&
                              std::any_of(observed.selected[i].begin(), observed.selected[i].end(),
                                          [&](const auto& eni) { return eni.id == m.network_interface_id; });
        remove(m, i, selected ? "a second session of the selector on the interface" : "no longer selected");
    }

    Plan plan;
    plan.steps = std::move(removes);
    for (Step& s : others) plan.steps.push_back(std::move(s));
    return plan;
}

std::string client_token(const Selector& s, std::string_view interface_id) {
    const std::string identity = std::string(interface_id) + "|" + s.target_id + "|" + std::to_string(s.session_number) +
                                 "|" + s.filter_id + "|" + std::to_string(s.vni.value_or(0)) + "|" +
                                 std::to_string(s.packet_length.value_or(0));
    // EC2 takes at most 64 ASCII characters.
    return "mirrortap-" + cloud::sha256_hex(identity).substr(0, 48);
}

std::string renewed_client_token(std::string_view token, std::string_view stale_session_id) {
    return "mirrortap-" + cloud::sha256_hex(std::string(token) + "|" + std::string(stale_session_id)).substr(0, 48);
}

cloud::NewMirrorSession session_request(const Selector& s, const Step& step) {
    cloud::NewMirrorSession r;
    r.network_interface_id = step.interface_id;
    r.target_id = s.target_id;
    r.filter_id = s.filter_id;
    r.session_number = s.session_number;
    r.vni = s.vni.value_or(0);
    r.packet_length = s.packet_length;
    r.description = "mirrortap-sessions selector " + s.name;
    r.client_token = client_token(s, step.interface_id);
    r.tags = {{std::string(kSelectorTag), s.name}};
    return r;
}

std::string render_plan(const std::vector<Selector>& selectors, const Plan& plan, bool applied) {
    std::string out;
    const std::vector<Coverage> coverage = coverage_of(selectors, plan);
    for (size_t i = 0; i < selectors.size(); ++i) {
        const Selector& s = selectors[i];
        out += s.describe() + ": target " + s.target_id + ", filter " + s.filter_id + ", vni " +
               std::to_string(s.vni.value_or(0)) + ", session number " + std::to_string(s.session_number) + "\n";
        for (const auto& f : s.select) out += "  select " + printable(select_text(f)) + "\n";
        out += "  " + std::to_string(coverage[i].selected) + " interfaces selected\n";
        for (const Step& st : plan.steps) {
            if (st.selector != i) continue;
            out += step_line(st, applied);
            if (st.kind == StepKind::cannot && st.reason == Reason::unsupported_instance_type) out += sender_hint(s, st);
        }
    }
    bool orphans = false;
    for (const Step& st : plan.steps) {
        if (st.selector < selectors.size()) continue;
        if (!orphans) out += "sessions of selectors no longer configured:\n";
        orphans = true;
        out += step_line(st, applied);
    }
    const size_t cannot = plan.count(StepKind::cannot);
    out += std::string(applied ? "Applied: " : "Plan: ") + std::to_string(plan.count(StepKind::create)) +
           (applied ? " created, " : " to create, ") + std::to_string(plan.count(StepKind::keep)) +
           (applied ? " kept, " : " to keep, ") + std::to_string(plan.count(StepKind::remove)) +
           (applied ? " removed, " : " to remove, ") + std::to_string(cannot) + " cannot be mirrored.\n";
    return out;
}

std::vector<Coverage> coverage_of(const std::vector<Selector>& selectors, const Plan& plan) {
    std::vector<Coverage> out(selectors.size());
    for (size_t i = 0; i < selectors.size(); ++i) out[i].selector = selectors[i].name;
    for (const Step& st : plan.steps) {
        if (st.selector >= selectors.size()) continue;
        Coverage& c = out[st.selector];
        switch (st.kind) {
            case StepKind::keep: ++c.selected; ++c.mirrored; break;
            case StepKind::create:
                ++c.selected;
                if (st.done) {
                    ++c.mirrored;
                    ++c.created;
                }
                break;
            case StepKind::cannot: ++c.selected; ++c.not_mirrored[st.reason]; break;
            case StepKind::remove:
                if (st.done) ++c.removed;
                break;
        }
    }
    return out;
}

}  // namespace mirrortap::sessions
