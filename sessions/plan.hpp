// The reconcile plan, a pure function of what EC2 listed: for each selector,
// each interface it selects is kept (a session to the target is there),
// created, or cannot be mirrored (with the reason); sessions this program
// created (tag mirrortap:selector) on a configured target whose interface
// no longer matches are removed. Sessions without the tag are never touched.
#pragma once
#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "base/enum_names.hpp"
#include "cloud/ec2.hpp"
#include "sessions/selector.hpp"

namespace mirrortap::sessions {

enum class StepKind : uint8_t { create, keep, remove, cannot };

// Why an interface is not mirrored. Each is a `reason` label of the coverage
// metrics; the first five are known from the listing, the rest from EC2's
// answer to the create.
enum class Reason : uint8_t {
    none,
    not_attached,               // no instance: nothing sends through it
    unsupported_instance_type,  // AWS does not mirror from this type
    interface_session_limit,    // 3 sessions on it already (not adjustable)
    session_number_taken,       // another session on it has this number
    session_quota,              // the account's or the target's session quota
    access_denied,              // UnauthorizedOperation
    throttled,                  // RequestLimitExceeded after every retry
    interface_gone,             // deleted between the listing and the create
    refused,                    // any other answer of EC2's
};
// The `reason` labels; every row but none's is a reason an interface is not mirrored.
inline constexpr auto kReasonNames = enum_names<Reason>({
    {Reason::none, "none"},
    {Reason::not_attached, "not_attached"},
    {Reason::unsupported_instance_type, "unsupported_instance_type"},
    {Reason::interface_session_limit, "interface_session_limit"},
    {Reason::session_number_taken, "session_number_taken"},
    {Reason::session_quota, "session_quota"},
    {Reason::access_denied, "access_denied"},
    {Reason::throttled, "throttled"},
    {Reason::interface_gone, "interface_gone"},
    {Reason::refused, "refused"},
});

struct Step {
    StepKind kind = StepKind::keep;
    size_t selector = 0;  // index into the selectors; for a remove, of the selector it belonged to, or npos
    std::string selector_name;
    std::string interface_id;
    std::string instance_id;
    std::string session_id;  // keep, remove: the session; create: once made
    Reason reason = Reason::none;
    std::string detail;      // the why, in words ("instance type t2.micro", EC2's message)
    bool done = false;       // applied: the create or remove succeeded
};

// What EC2 listed, the plan's only input besides the selectors.
struct Observed {
    // Per selector (same index), the interfaces its filters selected.
    std::vector<std::vector<cloud::NetworkInterface>> selected;
    std::vector<cloud::MirrorSession> sessions;           // every session of the account
    std::map<std::string, std::string> instance_types;    // instance id -> type
};

struct Plan {
    std::vector<Step> steps;  // removes before creates: a remove frees a slot a create may need
    size_t count(StepKind kind) const;
};

// Interfaces that two selectors of one target claim with one session
// number: an error each, naming both selectors. Nothing may be created then.
std::vector<std::string> claim_conflicts(const std::vector<Selector>& selectors, const Observed& observed);

Plan make_plan(const std::vector<Selector>& selectors, const Observed& observed,
               const std::vector<std::string>& unsupported_instance_types);

// CreateTrafficMirrorSession's ClientToken: a digest of the interface,
// target and session number, and of the session's settings (filter, VNI,
// packet length), so that every reconciler asking for one session sends
// the same token (EC2 makes it once), while a changed setting is a new
// token rather than an IdempotentParameterMismatch.
std::string client_token(const Selector& s, std::string_view interface_id);

// The token to ask again with when EC2 answered `token` with a session that
// no longer exists (`stale_session_id`): a digest of both, so that every
// reconciler that met the same stale answer asks with the same token.
std::string renewed_client_token(std::string_view token, std::string_view stale_session_id);

// The session a create step asks for, tagged with the selector's name.
cloud::NewMirrorSession session_request(const Selector& s, const Step& step);

// The plan as terraform plan shows one: each selector with its counts, a
// line per step (+ create, = keep, - remove, ! cannot with its reason), and
// for an interface AWS cannot mirror the mirrortap-sender command that
// would cover the host. `applied`: steps say what happened, not what would.
std::string render_plan(const std::vector<Selector>& selectors, const Plan& plan, bool applied);

// Coverage of one selector, as the metrics give it.
struct Coverage {
    std::string selector;
    size_t selected = 0;
    size_t mirrored = 0;
    std::map<Reason, size_t> not_mirrored;
    size_t created = 0;
    size_t removed = 0;
};
std::vector<Coverage> coverage_of(const std::vector<Selector>& selectors, const Plan& plan);

}  // namespace mirrortap::sessions
