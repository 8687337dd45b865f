#include <doctest/doctest.h>

#include "sessions/config.hpp"
#include "sessions/settings.hpp"
#include "support/file.hpp"

using namespace mirrortap;
using namespace mirrortap::sessions;

TEST_CASE("selector: --select takes the AWS CLI's shorthand, values after Values= included") {
    auto f = parse_select("Name=tag:tier,Values=web,api");
    REQUIRE(f);
    CHECK(f->name == "tag:tier");
    CHECK(f->values == std::vector<std::string>{"web", "api"});
    f = parse_select("Values=subnet-1,Name=subnet-id");
    REQUIRE(f);
    CHECK(f->name == "subnet-id");
    CHECK(select_text(*f) == "Name=subnet-id,Values=subnet-1");
    for (const char* bad : {"", "tag:tier=web", "Name=tag:tier", "Values=web", "Name=tag:,Values=x",
                            "Name=instance-type,Values=m5.large", "Name=vpc-id,Values=", "Name=a,Name=b,Values=c",
                            "Name=tag:x,Values=a\nb"}) {
        const auto refused = parse_select(bad);
        CHECK_MESSAGE(!refused, bad);
        if (!refused) CHECK(!refused.error().empty());
    }
}

TEST_CASE("selector: target and filter ids, names, session numbers and packet lengths are AWS's") {
    CHECK(parse_target_id("tmt-0123456789abcdef0"));
    CHECK(parse_target_id("tmt-01234567"));
    CHECK_FALSE(parse_target_id("tmf-01234567"));
    CHECK_FALSE(parse_target_id("tmt-0123456G"));
    CHECK(parse_filter_id("tmf-0123456789abcdef0"));
    CHECK_FALSE(parse_filter_id("tmf-012"));
    CHECK(parse_selector_name("web-tier.eu:1"));
    CHECK_FALSE(parse_selector_name("web tier"));
    CHECK_FALSE(parse_session_number("0"));
    CHECK(parse_session_number("32766"));
    CHECK_FALSE(parse_session_number("32767"));
    CHECK_FALSE(parse_packet_length("8501"));
}

TEST_CASE("config: selectors from the file, errors at their line and column, keys given twice refused") {
    const auto good = load_config_text(R"(every: 1m
metrics_textfile: /var/lib/prometheus/node-exporter/mirrortap-sessions.prom
selectors:
  - name: web
    select: ["Name=tag:tier,Values=web", "Name=vpc-id,Values=vpc-1"]
    target: tmt-01234567
    filter: tmf-01234567
    vni: 7
    session_number: 2
    packet_length: 128
)");
    REQUIRE(good.errors.empty());
    CHECK(good.config.every_seconds == 60);
    REQUIRE(good.config.selectors.size() == 1);
    const Selector& s = good.config.selectors[0];
    CHECK(s.select.size() == 2);
    CHECK(s.vni == 7u);
    CHECK(s.session_number == 2);
    CHECK(s.packet_length == 128u);
    CHECK(s.line == 4);
    CHECK(check_config(good.config).empty());

    // One filter as a scalar keeps its commas: its values.
    const auto scalar = load_selectors_text(
        "selectors:\n  - name: a\n    select: Name=tag:tier,Values=web,api\n    target: tmt-01234567\n"
        "    filter: tmf-01234567\n    vni: 1\n");
    REQUIRE(scalar.errors.empty());
    REQUIRE(scalar.selectors.at(0).select.size() == 1);
    CHECK(scalar.selectors[0].select[0].values == std::vector<std::string>{"web", "api"});
    CHECK(load_selectors_text("selectors: []\n").errors.size() == 1);
    CHECK(load_selectors_text("every: 1m\n").errors.at(0).message.find("unknown key 'every'") != std::string::npos);

    const auto bad = load_config_text("selectors:\n  - name: web\n    vni: 1\n    vni: 2\n    colour: red\n");
    REQUIRE(bad.errors.size() >= 2);
    CHECK(bad.errors[0].line == 4);
    bool unknown = false;
    for (const auto& e : bad.errors) unknown = unknown || (e.line == 5 && e.message.find("colour") != std::string::npos);
    CHECK(unknown);
}

TEST_CASE("config: a selector misses nothing, and two of one name or one claim are refused") {
    SessionsConfig c;
    CHECK(check_config(c).size() == 1);  // no selector
    Selector s;
    s.name = "web";
    c.selectors = {s};
    CHECK(check_config(c).size() == 4);  // select, target, filter, vni
    s.select = {{"tag:tier", {"web"}}};
    s.target_id = "tmt-01234567";
    s.filter_id = "tmf-01234567";
    s.vni = 1;
    Selector twin = s;
    c.selectors = {s, twin};
    REQUIRE(check_config(c).size() == 1);
    CHECK(check_config(c)[0].find("the name is taken") != std::string::npos);
    twin.name = "twin";
    c.selectors = {s, twin};
    REQUIRE(check_config(c).size() == 1);
    CHECK(check_config(c)[0].find("select the same interfaces with session number 1") != std::string::npos);
}

TEST_CASE("config: instance type patterns match a family by prefix and a type exactly") {
    const auto d = SessionsConfig::default_unsupported_instance_types();
    CHECK(instance_type_listed("t2.micro", d));
    CHECK(instance_type_listed("m3.xlarge", d));
    CHECK_FALSE(instance_type_listed("t3.micro", d));
    CHECK_FALSE(instance_type_listed("m5.large", d));
    // AWS's list: virtualized Nitro families it does not mirror, and every bare-metal size.
    CHECK(instance_type_listed("m6i.large", d));
    CHECK(instance_type_listed("c6in.xlarge", d));
    CHECK(instance_type_listed("m7i-flex.large", d));
    CHECK_FALSE(instance_type_listed("m6g.large", d));  // Graviton2 M6g is mirrored
    CHECK_FALSE(instance_type_listed("c5n.large", d));
    CHECK(instance_type_listed("m5.metal", d));
    CHECK(instance_type_listed("m7i.metal-24xl", d));
    CHECK_FALSE(instance_type_listed("metal.large", d));
    CHECK_FALSE(instance_type_listed("m5.xlarge", {"*.metal"}));
    CHECK(instance_type_listed("c5n.18xlarge", {"c5n.18xlarge"}));
    CHECK_FALSE(instance_type_listed("c5n.9xlarge", {"c5n.18xlarge"}));
}

TEST_CASE("settings: the table has no key or flag twice and every setting has help") {
    CHECK(table_problems(sessions_settings(), sessions_action_docs(), sessions_setting_groups()).empty());
}

TEST_CASE("config: sessions/example.yaml loads, and names every key of the table") {
    const auto load = load_config_file(MIRRORTAP_SOURCE_DIR "/sessions/example.yaml");
    for (const auto& e : load.errors) FAIL_CHECK(e.line << ":" << e.column << ": " << e.message);
    CHECK(check_config(load.config).empty());
    CHECK(load.config.selectors.size() == 2);
    CHECK(load.config.unsupported_instance_types == SessionsConfig::default_unsupported_instance_types());
    std::string text;
    text = *read_config_file(MIRRORTAP_SOURCE_DIR "/sessions/example.yaml");
    for (const auto& s : sessions_settings())
        CHECK_MESSAGE(text.find(std::string(s.key) + ":") != std::string::npos, s.key);
}

TEST_CASE("settings: docs/sessions.md's table is the one the declarations make") {
    const auto doc = read_regular_file(MIRRORTAP_SOURCE_DIR "/docs/sessions.md", 1 << 20, "docs/sessions.md");
    REQUIRE_MESSAGE(doc, (doc ? std::string() : doc.error()));
    const std::string begin = "<!-- settings table: begin -->\n", end = "<!-- settings table: end -->";
    const size_t from = doc->find(begin), to = doc->find(end);
    REQUIRE(from != std::string::npos);
    REQUIRE(to != std::string::npos);
    const std::string want = markdown_table(sessions_docs());
    CHECK_MESSAGE(doc->substr(from + begin.size(), to - from - begin.size()) == want,
                  "docs/sessions.md's settings table differs from sessions/settings.cpp; it should read:\n" << want);
}
