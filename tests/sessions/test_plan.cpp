#include <doctest/doctest.h>

#include "sessions/config.hpp"
#include "sessions/plan.hpp"

using namespace mirrortap;
using namespace mirrortap::sessions;

namespace {

Selector web() {
    Selector s;
    s.name = "web";
    s.select = {{"tag:tier", {"web"}}};
    s.target_id = "tmt-00000001";
    s.filter_id = "tmf-00000001";
    s.vni = 100;
    return s;
}

cloud::NetworkInterface eni(std::string id, std::string instance = "i-1") {
    cloud::NetworkInterface e;
    e.id = std::move(id);
    e.instance_id = std::move(instance);
    return e;
}

cloud::MirrorSession session(std::string id, std::string eni, std::string target, uint32_t number,
                             std::string selector = "", uint32_t vni = 100) {
    cloud::MirrorSession s;
    s.id = std::move(id);
    s.network_interface_id = std::move(eni);
    s.target_id = std::move(target);
    s.filter_id = "tmf-00000001";
    s.session_number = number;
    s.vni = vni;
    if (!selector.empty()) s.tags = {{std::string(kSelectorTag), selector}};
    return s;
}

const Step* step_for(const Plan& p, std::string_view interface_id, StepKind kind) {
    for (const Step& s : p.steps)
        if (s.interface_id == interface_id && s.kind == kind) return &s;
    return nullptr;
}

const std::vector<std::string> kNone;

}  // namespace

TEST_CASE("plan: a selected interface without a session is created, one with ours is kept") {
    Observed o;
    o.selected = {{eni("eni-a"), eni("eni-b")}};
    o.sessions = {session("tms-b", "eni-b", "tmt-00000001", 1, "web")};
    const Plan p = make_plan({web()}, o, kNone);
    REQUIRE(p.steps.size() == 2);
    CHECK(step_for(p, "eni-a", StepKind::create));
    const Step* keep = step_for(p, "eni-b", StepKind::keep);
    REQUIRE(keep);
    CHECK(keep->session_id == "tms-b");
}

TEST_CASE("plan: our sessions of interfaces no longer selected are removed, others' never") {
    Observed o;
    o.selected = {{}};
    o.sessions = {session("tms-ours", "eni-gone", "tmt-00000001", 1, "web"),
                  session("tms-theirs", "eni-x", "tmt-00000001", 1),
                  session("tms-other-target", "eni-y", "tmt-00000009", 1, "web"),
                  session("tms-old-selector", "eni-z", "tmt-00000001", 2, "retired")};
    const Plan p = make_plan({web()}, o, kNone);
    REQUIRE(p.count(StepKind::remove) == 2);
    CHECK(p.steps[0].session_id == "tms-ours");
    CHECK(p.steps[0].detail == "no longer selected");
    CHECK(p.steps[1].session_id == "tms-old-selector");
    CHECK(p.steps[1].detail == "selector 'retired' is no longer configured");
}

TEST_CASE("plan: a session to the target made by someone else covers the interface and is left alone") {
    Observed o;
    o.selected = {{eni("eni-a")}};
    o.sessions = {session("tms-tf", "eni-a", "tmt-00000001", 5)};
    const Plan p = make_plan({web()}, o, kNone);
    REQUIRE(p.steps.size() == 1);
    CHECK(p.steps[0].kind == StepKind::keep);
    CHECK(p.steps[0].session_id == "tms-tf");
    CHECK(p.steps[0].detail == "not made by mirrortap-sessions");
}

TEST_CASE("plan: changed settings replace our session: remove first, then create") {
    Observed o;
    o.selected = {{eni("eni-a")}};
    o.sessions = {session("tms-a", "eni-a", "tmt-00000001", 1, "web", 99)};
    const Plan p = make_plan({web()}, o, kNone);
    REQUIRE(p.steps.size() == 2);
    CHECK(p.steps[0].kind == StepKind::remove);
    CHECK(p.steps[0].detail.find("replaced: was session number 1, filter tmf-00000001, vni 99") == 0);
    CHECK(p.steps[1].kind == StepKind::create);
}

TEST_CASE("plan: each reason an interface cannot be mirrored, checked before any request") {
    Observed o;
    o.selected = {{eni("eni-loose", ""), eni("eni-t2", "i-t2"), eni("eni-full"), eni("eni-taken")}};
    o.instance_types = {{"i-t2", "t2.micro"}, {"i-1", "m5.large"}};
    o.sessions = {session("s1", "eni-full", "tmt-0000000a", 2), session("s2", "eni-full", "tmt-0000000b", 3),
                  session("s3", "eni-full", "tmt-0000000c", 4), session("s4", "eni-taken", "tmt-0000000a", 1)};
    const Plan p = make_plan({web()}, o, SessionsConfig::default_unsupported_instance_types());
    CHECK(step_for(p, "eni-loose", StepKind::cannot)->reason == Reason::not_attached);
    CHECK(step_for(p, "eni-t2", StepKind::cannot)->reason == Reason::unsupported_instance_type);
    CHECK(step_for(p, "eni-full", StepKind::cannot)->reason == Reason::interface_session_limit);
    CHECK(step_for(p, "eni-taken", StepKind::cannot)->reason == Reason::session_number_taken);
    CHECK(p.count(StepKind::create) == 0);
}

TEST_CASE("plan: creates of two selectors on one interface count toward its three sessions") {
    std::vector<Selector> selectors;
    for (uint32_t n = 1; n <= 3; ++n) {
        Selector s = web();
        s.name = "s" + std::to_string(n);
        s.target_id = "tmt-0000000" + std::to_string(n);
        s.session_number = n;
        selectors.push_back(s);
    }
    Observed o;
    o.selected = {{eni("eni-a")}, {eni("eni-a")}, {eni("eni-a")}};
    o.sessions = {session("s0", "eni-a", "tmt-0000000f", 9)};
    const Plan p = make_plan(selectors, o, kNone);
    CHECK(p.count(StepKind::create) == 2);
    REQUIRE(p.steps.size() == 3);
    CHECK(p.steps[2].reason == Reason::interface_session_limit);
}

TEST_CASE("plan: two selectors claiming one interface with one session number to one target is an error") {
    Selector a = web(), b = web();
    b.name = "api";
    b.select = {{"tag:team", {"a"}}};
    b.line = 9;
    Observed o;
    o.selected = {{eni("eni-a"), eni("eni-b")}, {eni("eni-b")}};
    const auto errors = claim_conflicts({a, b}, o);
    REQUIRE(errors.size() == 1);
    CHECK(errors[0] == "selector 'api' (line 9) and selector 'web' both claim eni-b with session number 1 to tmt-00000001");
    b.session_number = 2;
    CHECK(claim_conflicts({a, b}, o).empty());
}

TEST_CASE("plan: the ClientToken is the same for the same session and differs for any other") {
    const Selector s = web();
    const std::string token = client_token(s, "eni-a");
    CHECK(token.size() <= 64);
    CHECK(token.starts_with("mirrortap-"));
    CHECK(client_token(s, "eni-a") == token);
    CHECK(client_token(s, "eni-b") != token);
    Selector other = s;
    other.session_number = 2;
    CHECK(client_token(other, "eni-a") != token);
    other = s;
    other.vni = 101;
    CHECK(client_token(other, "eni-a") != token);
    other = s;
    other.target_id = "tmt-00000002";
    CHECK(client_token(other, "eni-a") != token);
    // After a stale answer: another token, the same for every reconciler.
    CHECK(renewed_client_token(token, "tms-1") != token);
    CHECK(renewed_client_token(token, "tms-1") == renewed_client_token(token, "tms-1"));
    CHECK(renewed_client_token(token, "tms-1") != renewed_client_token(token, "tms-2"));
    CHECK(renewed_client_token(token, "tms-1").size() <= 64);
    other = s;
    other.name = "renamed";  // the name is a tag, not a property of the session EC2 compares
    CHECK(client_token(other, "eni-a") == token);
}

TEST_CASE("plan: coverage counts mirrored (kept and made) and each reason, per selector") {
    Observed o;
    o.selected = {{eni("eni-a"), eni("eni-b"), eni("eni-c", "")}};
    o.sessions = {session("tms-b", "eni-b", "tmt-00000001", 1, "web")};
    Plan p = make_plan({web()}, o, kNone);
    auto c = coverage_of({web()}, p);
    CHECK(c[0].selected == 3);
    CHECK(c[0].mirrored == 1);  // the create is not made yet
    for (Step& s : p.steps)
        if (s.kind == StepKind::create) s.done = true;
    c = coverage_of({web()}, p);
    CHECK(c[0].mirrored == 2);
    CHECK(c[0].created == 1);
    CHECK(c[0].not_mirrored[Reason::not_attached] == 1);
}
