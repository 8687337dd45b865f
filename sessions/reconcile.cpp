#include "sessions/reconcile.hpp"

#include <set>

#include "support/text.hpp"

namespace mirrortap::sessions {

namespace {

// Of the selectors' targets (or filters), the errors for those EC2 does not have.
std::vector<std::string> missing_ids(const std::vector<Selector>& selectors, cloud::Ec2Client& ec2, bool targets) {
    std::set<std::string> wanted;
    for (const Selector& s : selectors) wanted.insert(targets ? s.target_id : s.filter_id);
    const std::vector<std::string> ids(wanted.begin(), wanted.end());
    auto found = targets ? ec2.existing_mirror_targets(ids) : ec2.existing_mirror_filters(ids);
    if (!found) return {found.error().describe()};
    const std::set<std::string> exists(found->begin(), found->end());
    std::vector<std::string> errors;
    for (const Selector& s : selectors) {
        const std::string& id = targets ? s.target_id : s.filter_id;
        if (!exists.contains(id))
            errors.push_back(s.describe() + ": " + (targets ? "target " : "filter ") + id +
                             " does not exist in this region and account (" +
                             (targets ? "DescribeTrafficMirrorTargets" : "DescribeTrafficMirrorFilters") + ")");
    }
    return errors;
}

// Creates the session and makes sure it exists. EC2 answers a ClientToken it
// has seen with the session it made then, even when that session has since
// been deleted (ours, when its interface left the selector and came back):
// the create is then made again with a token derived from the stale
// session's id, which every reconciler derives alike. Bounded.
cloud::Result<cloud::MirrorSession> create_live_session(cloud::Ec2Client& ec2, cloud::NewMirrorSession request) {
    constexpr int kMaxStaleAnswers = 3;
    for (int stale = 0;; ++stale) {
        auto made = ec2.create_mirror_session(request);
        if (!made) return made;
        auto found = ec2.describe_mirror_sessions({{"traffic-mirror-session-id", {made->id}}});
        if (!found) return fail(found.error());
        if (!found->empty()) return made;
        if (stale + 1 >= kMaxStaleAnswers)
            return fail(cloud::AwsError{0, "StaleClientToken",
                                        "EC2 kept answering with deleted sessions (last " + made->id + ")", "", false, ""});
        request.client_token = renewed_client_token(request.client_token, made->id);
    }
}

void apply(const std::vector<Selector>& selectors, cloud::Ec2Client& ec2, Plan& plan) {
    for (Step& st : plan.steps) {
        if (st.kind != StepKind::remove) continue;
        auto done = ec2.delete_mirror_session(st.session_id);
        st.done = done.ok();
        if (!done) st.detail += "; " + done.error().describe();
    }
    for (Step& st : plan.steps) {
        if (st.kind != StepKind::create) continue;
        auto made = create_live_session(ec2, session_request(selectors[st.selector], st));
        if (made) {
            st.session_id = made->id;
            st.done = true;
            continue;
        }
        st.kind = StepKind::cannot;
        st.reason = reason_of(made.error());
        st.detail = made.error().describe();
    }
}

bool a_change_failed(const Plan& plan) {
    for (const Step& st : plan.steps) {
        if (st.kind == StepKind::remove && !st.done) return true;
        // A create EC2 refused: the interface's own reasons are no failure of the run.
        if (st.kind == StepKind::cannot &&
            (st.reason == Reason::access_denied || st.reason == Reason::throttled || st.reason == Reason::refused ||
             st.reason == Reason::session_quota))
            return true;
    }
    return false;
}

}  // namespace

Reason reason_of(const cloud::AwsError& e) {
    if (e.code == "TrafficMirrorSessionsPerInterfaceLimitExceeded") return Reason::interface_session_limit;
    if (e.code == "TrafficMirrorSessionLimitExceeded" || e.code == "TrafficMirrorSessionsPerTargetLimitExceeded" ||
        e.code == "TrafficMirrorSourcesPerTargetLimitExceeded")
        return Reason::session_quota;
    if (e.code == "UnauthorizedOperation" || e.code == "AccessDenied" || e.code == "AuthFailure")
        return Reason::access_denied;
    if (e.code == "RequestLimitExceeded") return Reason::throttled;
    if (e.code == "InvalidNetworkInterfaceID.NotFound") return Reason::interface_gone;
    return Reason::refused;
}

RunReport reconcile(const SessionsConfig& config, cloud::Ec2Client& ec2, bool dry_run) {
    RunReport report;
    const std::vector<Selector>& selectors = config.selectors;
    // Unknown targets and filters are the config's fault: said before anything else.
    report.errors = missing_ids(selectors, ec2, true);
    for (std::string& e : missing_ids(selectors, ec2, false)) report.errors.push_back(std::move(e));
    if (!report.errors.empty()) return report;

    Observed observed;
    for (const Selector& s : selectors) {
        auto enis = ec2.describe_network_interfaces(s.select);
        if (!enis) {
            report.errors.push_back(s.describe() + ": listing its interfaces failed: " + enis.error().describe());
            return report;
        }
        observed.selected.push_back(std::move(enis.value()));
    }
    report.errors = claim_conflicts(selectors, observed);
    if (!report.errors.empty()) return report;

    auto sessions = ec2.describe_mirror_sessions({});
    if (!sessions) {
        report.errors.push_back("listing the mirror sessions failed: " + sessions.error().describe());
        return report;
    }
    observed.sessions = std::move(sessions.value());

    std::set<std::string> instances;
    for (const auto& list : observed.selected)
        for (const auto& eni : list)
            if (!eni.instance_id.empty()) instances.insert(eni.instance_id);
    auto described = ec2.describe_instances({instances.begin(), instances.end()});
    if (!described) {
        report.errors.push_back("listing the instances failed: " + described.error().describe());
        return report;
    }
    for (const auto& i : described.value()) observed.instance_types[i.id] = i.type;

    report.plan = make_plan(selectors, observed, config.unsupported_instance_types);
    if (!dry_run) apply(selectors, ec2, report.plan);
    report.outcome = !dry_run && a_change_failed(report.plan) ? RunOutcome::changes_failed : RunOutcome::done;
    return report;
}

}  // namespace mirrortap::sessions
