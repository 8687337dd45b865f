// The manifest documents and the chain's state (upload/manifest.hpp), without a store.
#include <doctest/doctest.h>

#include "cloud/digest.hpp"
#include "support/json.hpp"
#include "upload/manifest.hpp"

using namespace mirrortap;

namespace {

ManifestFile a_file(const std::string& name) {
    return {"p/pcap/session=web/date=2026-12-07/hour=16/collector=c1/" + name, 1234, std::string(64, 'a'),
            "q83vEjRWeJA=", "web", 501, 1'000'000'001, 2'000'000'002, 7};
}

ManifestCut a_cut(uint64_t end_ns, std::string_view cause = "interval") {
    return {end_ns, cause, 5'000'000'000, 5'000'000'000, {{"pcap:queue_full", 3}}};
}

}  // namespace

TEST_CASE("manifest: keys sort in chain order under the collector and the chain") {
    CHECK(manifest_key("/fleet/eu/", "i-0abc", "20261207T163317.000000001Z", 7) ==
          "fleet/eu/manifests/collector=i-0abc/chain=20261207T163317.000000001Z/0000000007.json");
    CHECK(manifest_key("", "c", "x", 1) == "manifests/collector=c/chain=x/0000000001.json");
    CHECK(manifest_key("", "c", "x", 9) < manifest_key("", "c", "x", 10));
}

TEST_CASE("manifest: each names the one before by key and the SHA-256 of its bytes") {
    ChainState s = new_chain("c1", 5'000'000'000);
    CHECK(s.chain == "19700101T000005.000000000Z");
    s.files.push_back(a_file("web-1.pcap"));
    cut_manifest(s, "p", a_cut(6'000'000'000));
    REQUIRE(s.unsent.size() == 1);
    const auto first = json::parse(s.unsent[0].body);
    REQUIRE(first);
    CHECK((*first)["sequence"] == 1);
    CHECK((*first)["previous"].is_null());
    CHECK((*first)["files"].size() == 1);
    CHECK((*first)["files"][0]["sha256"] == std::string(64, 'a'));
    CHECK((*first)["files"][0]["first_timestamp"] == "1970-01-01T00:00:01.000000001Z");
    CHECK((*first)["dropped"]["pcap:queue_full"] == 3);
    CHECK((*first)["interval"]["start"] == "1970-01-01T00:00:05.000000000Z");
    CHECK(s.files.empty());
    CHECK(s.previous_sha256 == cloud::sha256_hex(s.unsent[0].body));

    cut_manifest(s, "p", a_cut(7'000'000'000, "drain"));
    const auto second = json::parse(s.unsent[1].body);
    REQUIRE(second);
    CHECK((*second)["sequence"] == 2);
    CHECK((*second)["cause"] == "drain");
    CHECK((*second)["previous"]["key"] == s.unsent[0].key);
    CHECK((*second)["previous"]["sha256"] == cloud::sha256_hex(s.unsent[0].body));
    CHECK((*second)["interval"]["start"] == (*first)["interval"]["end"]);
    CHECK((*second)["files"].empty());
    CHECK((*second)["waiting"]["count"] == 0);
}

TEST_CASE("manifest: captures finished and not yet stored are named, with how many there are") {
    ChainState s = new_chain("c1", 5'000'000'000);
    ManifestCut cut = a_cut(6'000'000'000);
    cut.waiting = {{"web", "web-20261207T160000Z-000001.pcap", 100, 2, 1'000'000'000, 1'500'000'000}};
    cut.waiting_count = 3;  // more than it lists, as when past kMaxWaitingListed
    cut_manifest(s, "p", cut);
    const auto body = json::parse(s.unsent[0].body);
    REQUIRE(body);
    CHECK((*body)["waiting"]["count"] == 3);
    REQUIRE((*body)["waiting"]["files"].size() == 1);
    CHECK((*body)["waiting"]["files"][0]["file"] == "web-20261207T160000Z-000001.pcap");
    CHECK((*body)["waiting"]["files"][0]["last_timestamp"] == "1970-01-01T00:00:01.500000000Z");
    CHECK((*body)["files"].empty());
}

TEST_CASE("manifest: a name that is not UTF-8 is written replaced, never thrown") {
    ChainState s = new_chain("c1", 5'000'000'000);
    s.files.push_back(a_file("web-1.pcap"));
    s.files[0].session = "w\xff";
    cut_manifest(s, "p", a_cut(6'000'000'000));
    const auto body = json::parse(s.unsent[0].body);
    REQUIRE(body);
    CHECK((*body)["files"][0]["session"] == "w\xef\xbf\xbd");
    CHECK(parse_chain_state(chain_state_text(s)));
}

TEST_CASE("manifest: the chain's state reads back as written") {
    ChainState s = new_chain("c1", 5'000'000'000);
    s.files.push_back(a_file("web-1.pcap"));
    cut_manifest(s, "p", a_cut(6'000'000'000));
    s.files.push_back(a_file("web-2.pcap"));
    const auto back = parse_chain_state(chain_state_text(s));
    REQUIRE(back);
    CHECK(back->chain == s.chain);
    CHECK(back->sequence == 1);
    CHECK(back->previous_key == s.previous_key);
    CHECK(back->previous_sha256 == s.previous_sha256);
    CHECK(back->interval_start_ns == 6'000'000'000);
    REQUIRE(back->files.size() == 1);
    CHECK(back->files[0].key == s.files[0].key);
    CHECK(back->files[0].vni == 501);
    REQUIRE(back->unsent.size() == 1);
    CHECK(back->unsent[0].body == s.unsent[0].body);
}

TEST_CASE("manifest: a state that is not whole is refused, never continued") {
    ChainState s = new_chain("c1", 5'000'000'000);
    cut_manifest(s, "p", a_cut(6'000'000'000));
    const std::string text = chain_state_text(s);
    CHECK_FALSE(parse_chain_state(text.substr(0, text.size() / 2)));
    CHECK_FALSE(parse_chain_state(""));
    CHECK_FALSE(parse_chain_state("{}"));
    auto v = json::parse(text);
    REQUIRE(v);
    (*v)["previous_sha256"] = "";  // a chain past its first manifest that names none
    CHECK_FALSE(parse_chain_state(v->dump()));
    (*v) = *json::parse(text);
    (*v)["version"] = 2;
    CHECK_FALSE(parse_chain_state(v->dump()));
    (*v) = *json::parse(text);
    (*v)["files"] = json::Value::array({{{"key", "k"}}});
    CHECK_FALSE(parse_chain_state(v->dump()));
}
