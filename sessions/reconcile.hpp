// One reconcile run against EC2: check that every selector's target and
// filter exist, list each selector's interfaces, the account's sessions and
// the instances' types, make the plan (plan.hpp) and, unless it is a dry
// run, apply it: removes first, then creates, each failure named and counted
// on its own interface, none stopping the others. Nothing is changed when
// anything before the plan failed: a listing that failed would make a
// selector's sessions look unselected.
#pragma once
#include <functional>
#include <string>
#include <vector>

#include "cloud/ec2.hpp"
#include "sessions/config.hpp"
#include "sessions/plan.hpp"

namespace mirrortap::sessions {

enum class RunOutcome {
    done,            // planned and, unless a dry run, applied
    changes_failed,  // planned; a create or remove failed (its step says why)
    failed,          // nothing planned, nothing changed (`errors` says why)
};

struct RunReport {
    RunOutcome outcome = RunOutcome::failed;
    Plan plan;
    std::vector<std::string> errors;
};

// The reason EC2's refusal of a create gives an interface.
Reason reason_of(const cloud::AwsError& e);

RunReport reconcile(const SessionsConfig& config, cloud::Ec2Client& ec2, bool dry_run);

}  // namespace mirrortap::sessions
