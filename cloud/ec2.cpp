#include "cloud/ec2.hpp"

#include "cloud/aws_error.hpp"
#include "cloud/query_api.hpp"
#include "support/text.hpp"

namespace mirrortap::cloud {

namespace {

constexpr std::string_view kEc2ApiVersion = "2016-11-15";

AwsError local_error(std::string code, std::string message) {
    return AwsError{0, std::move(code), std::move(message), "", false, ""};
}

uint32_t number_of(const XmlTree& node, std::string_view name) {
    const std::string text = xml_text(node, name);
    uint64_t value = 0;
    for (const char c : text) {
        if (c < '0' || c > '9' || value > UINT32_MAX) return 0;
        value = value * 10 + static_cast<uint64_t>(c - '0');
    }
    return value > UINT32_MAX ? 0 : static_cast<uint32_t>(value);
}

std::vector<Ec2Tag> tags_of(const XmlTree& node) {
    std::vector<Ec2Tag> tags;
    if (const XmlTree* set = xml_child(node, "tagSet"))
        for (const auto& [name, item] : *set)
            if (name == "item") tags.push_back({xml_text(item, "key"), xml_text(item, "value")});
    return tags;
}

// The <item>s of the list `set` in `response`.
template <typename Each>
void for_each_item(const XmlTree& response, std::string_view set, Each each) {
    if (const XmlTree* list = xml_child(response, set))
        for (const auto& [name, item] : *list)
            if (name == "item") each(item);
}

// A *.NotFound answer about one of the ids asked for: the id does not exist.
bool not_found(const AwsError& e) { return e.http_status == 400 && e.code.ends_with(".NotFound"); }

}  // namespace

mirrortap::Result<std::string> ec2_endpoint(std::string_view region) {
    return regional_endpoint("ec2", region);
}

std::optional<std::string> MirrorSession::tag(std::string_view key) const {
    for (const Ec2Tag& t : tags)
        if (t.key == key) return t.value;
    return std::nullopt;
}

std::vector<QueryParam> ec2_form(std::string_view action, std::vector<QueryParam> params,
                                 const std::vector<Ec2Filter>& filters) {
    params.insert(params.begin(), {{"Action", std::string(action)}, {"Version", std::string(kEc2ApiVersion)}});
    for (size_t i = 0; i < filters.size(); ++i) {
        const std::string prefix = "Filter." + std::to_string(i + 1) + ".";
        params.push_back({prefix + "Name", filters[i].name});
        for (size_t j = 0; j < filters[i].values.size(); ++j)
            params.push_back({prefix + "Value." + std::to_string(j + 1), filters[i].values[j]});
    }
    return params;
}

std::vector<QueryParam> create_session_params(const NewMirrorSession& s) {
    std::vector<QueryParam> p{{"NetworkInterfaceId", s.network_interface_id},
                              {"TrafficMirrorTargetId", s.target_id},
                              {"TrafficMirrorFilterId", s.filter_id},
                              {"SessionNumber", std::to_string(s.session_number)},
                              {"VirtualNetworkId", std::to_string(s.vni)}};
    if (s.packet_length) p.push_back({"PacketLength", std::to_string(*s.packet_length)});
    if (!s.description.empty()) p.push_back({"Description", s.description});
    if (!s.client_token.empty()) p.push_back({"ClientToken", s.client_token});
    if (!s.tags.empty()) {
        p.push_back({"TagSpecification.1.ResourceType", "traffic-mirror-session"});
        for (size_t i = 0; i < s.tags.size(); ++i) {
            const std::string prefix = "TagSpecification.1.Tag." + std::to_string(i + 1) + ".";
            p.push_back({prefix + "Key", s.tags[i].key});
            p.push_back({prefix + "Value", s.tags[i].value});
        }
    }
    return p;
}

const XmlTree* ec2_response(const XmlTree& doc, std::string_view action) {
    return xml_child(doc, std::string(action) + "Response");
}

std::vector<NetworkInterface> parse_network_interfaces(const XmlTree& response) {
    std::vector<NetworkInterface> out;
    for_each_item(response, "networkInterfaceSet", [&](const XmlTree& item) {
        NetworkInterface eni;
        eni.id = xml_text(item, "networkInterfaceId");
        eni.status = xml_text(item, "status");
        if (const XmlTree* attachment = xml_child(item, "attachment")) eni.instance_id = xml_text(*attachment, "instanceId");
        eni.subnet_id = xml_text(item, "subnetId");
        eni.vpc_id = xml_text(item, "vpcId");
        eni.availability_zone = xml_text(item, "availabilityZone");
        eni.private_ip = xml_text(item, "privateIpAddress");
        eni.interface_type = xml_text(item, "interfaceType");
        eni.tags = tags_of(item);
        if (!eni.id.empty()) out.push_back(std::move(eni));
    });
    return out;
}

MirrorSession parse_mirror_session(const XmlTree& item) {
    MirrorSession s;
    s.id = xml_text(item, "trafficMirrorSessionId");
    s.network_interface_id = xml_text(item, "networkInterfaceId");
    s.target_id = xml_text(item, "trafficMirrorTargetId");
    s.filter_id = xml_text(item, "trafficMirrorFilterId");
    s.session_number = number_of(item, "sessionNumber");
    s.vni = number_of(item, "virtualNetworkId");
    s.packet_length = number_of(item, "packetLength");
    s.description = xml_text(item, "description");
    s.tags = tags_of(item);
    return s;
}

std::vector<MirrorSession> parse_mirror_sessions(const XmlTree& response) {
    std::vector<MirrorSession> out;
    for_each_item(response, "trafficMirrorSessionSet", [&](const XmlTree& item) {
        MirrorSession s = parse_mirror_session(item);
        if (!s.id.empty()) out.push_back(std::move(s));
    });
    return out;
}

std::vector<Instance> parse_instances(const XmlTree& response) {
    std::vector<Instance> out;
    for_each_item(response, "reservationSet", [&](const XmlTree& reservation) {
        for_each_item(reservation, "instancesSet", [&](const XmlTree& item) {
            Instance i{xml_text(item, "instanceId"), xml_text(item, "instanceType")};
            if (!i.id.empty()) out.push_back(std::move(i));
        });
    });
    return out;
}

std::vector<std::string> parse_ids(const XmlTree& response, std::string_view set, std::string_view id) {
    std::vector<std::string> out;
    for_each_item(response, set, [&](const XmlTree& item) {
        if (std::string v = xml_text(item, id); !v.empty()) out.push_back(std::move(v));
    });
    return out;
}

Ec2Client::Ec2Client(Ec2Options options, std::shared_ptr<CredentialProvider> credentials)
    : options_(std::move(options)), credentials_(std::move(credentials)) {
    http_.set_cancel_flag(options_.cancel);
}

Result<XmlTree> Ec2Client::call(std::string_view action, const std::vector<QueryParam>& form) {
    const std::string body = canonical_query(form);
    QueryApiCall call;
    call.request = [&](const Credentials& credentials) {
        return query_api_request(options_.endpoint, options_.region, "ec2", body, credentials, options_.limits);
    };
    call.done_despite = [this](const AwsError& e, bool) {
        if (e.code == "RequestLimitExceeded") ++throttled_;
        return false;
    };
    auto answer = perform_with_retries({http_, *credentials_, options_.retry, options_.cancel, &retries_}, call);
    if (!answer) {
        answer.error().context = std::string(action);
        return fail(answer.error());
    }
    auto doc = parse_xml(answer.value()->body, options_.limits.max_response_bytes);
    if (doc && ec2_response(*doc, action)) return std::move(*doc);
    return fail(
        local_error("MalformedAnswer", doc ? "no <" + std::string(action) + "Response> in the answer" : doc.error()));
}

Result<std::vector<XmlTree>> Ec2Client::pages(std::string_view action, std::vector<QueryParam> params,
                                              const std::vector<Ec2Filter>& filters) {
    std::vector<XmlTree> out;
    std::string token;
    for (int page = 0; page < std::max(1, options_.max_pages); ++page) {
        std::vector<QueryParam> form = ec2_form(action, params, filters);
        form.push_back({"MaxResults", std::to_string(options_.page_size)});
        if (!token.empty()) form.push_back({"NextToken", token});
        auto doc = call(action, form);
        if (!doc) return fail(doc.error());
        const XmlTree& response = *ec2_response(doc.value(), action);
        std::string next = xml_text(response, "nextToken");
        out.push_back(response);
        if (next.empty()) return out;
        // The same token twice would page forever.
        if (next == token)
            return fail(local_error("MalformedAnswer", std::string(action) + " gave the same NextToken twice"));
        token = std::move(next);
    }
    return fail(local_error("TooManyPages", std::string(action) + " still had more after " +
                                                std::to_string(options_.max_pages) + " pages"));
}

Result<std::vector<NetworkInterface>> Ec2Client::describe_network_interfaces(const std::vector<Ec2Filter>& filters) {
    auto answers = pages("DescribeNetworkInterfaces", {}, filters);
    if (!answers) return fail(answers.error());
    std::vector<NetworkInterface> out;
    for (const XmlTree& a : answers.value())
        for (NetworkInterface& eni : parse_network_interfaces(a)) out.push_back(std::move(eni));
    return out;
}

Result<std::vector<MirrorSession>> Ec2Client::describe_mirror_sessions(const std::vector<Ec2Filter>& filters) {
    auto answers = pages("DescribeTrafficMirrorSessions", {}, filters);
    if (!answers) return fail(answers.error());
    std::vector<MirrorSession> out;
    for (const XmlTree& a : answers.value())
        for (MirrorSession& s : parse_mirror_sessions(a)) out.push_back(std::move(s));
    return out;
}

Result<std::vector<Instance>> Ec2Client::describe_instances(const std::vector<std::string>& ids) {
    if (ids.empty()) return std::vector<Instance>{};
    // By filter rather than InstanceId.N: one id of an instance terminated
    // meanwhile would fail the whole call (InvalidInstanceID.NotFound), and
    // EC2 refuses MaxResults beside InstanceId.N.
    auto answers = pages("DescribeInstances", {}, {{"instance-id", ids}});
    if (!answers) return fail(answers.error());
    std::vector<Instance> out;
    for (const XmlTree& a : answers.value())
        for (Instance& i : parse_instances(a)) out.push_back(std::move(i));
    return out;
}

Result<std::vector<std::string>> Ec2Client::existing(std::string_view action, std::string_view id_param,
                                                     std::string_view set, std::string_view id,
                                                     const std::vector<std::string>& ids) {
    // One at a time: a *.NotFound answer then names the one that is missing.
    std::vector<std::string> found;
    for (const std::string& wanted : ids) {
        auto doc = call(action, ec2_form(action, {{std::string(id_param) + ".1", wanted}}));
        if (!doc) {
            if (not_found(doc.error())) continue;
            return fail(doc.error());
        }
        for (std::string& got : parse_ids(*ec2_response(doc.value(), action), set, id))
            if (got == wanted) found.push_back(std::move(got));
    }
    return found;
}

Result<std::vector<std::string>> Ec2Client::existing_mirror_targets(const std::vector<std::string>& ids) {
    return existing("DescribeTrafficMirrorTargets", "TrafficMirrorTargetId", "trafficMirrorTargetSet",
                    "trafficMirrorTargetId", ids);
}

Result<std::vector<std::string>> Ec2Client::existing_mirror_filters(const std::vector<std::string>& ids) {
    return existing("DescribeTrafficMirrorFilters", "TrafficMirrorFilterId", "trafficMirrorFilterSet",
                    "trafficMirrorFilterId", ids);
}

Result<MirrorSession> Ec2Client::create_mirror_session(const NewMirrorSession& session) {
    // Retrying is safe: the ClientToken makes a second create of the same
    // session answer with the first one's session.
    auto doc = call("CreateTrafficMirrorSession", ec2_form("CreateTrafficMirrorSession", create_session_params(session)));
    if (!doc) {
        doc.error().context = "CreateTrafficMirrorSession for " + quote(session.network_interface_id);
        return fail(doc.error());
    }
    const XmlTree* item = xml_child(*ec2_response(doc.value(), "CreateTrafficMirrorSession"), "trafficMirrorSession");
    if (!item)
        return fail(local_error("MalformedAnswer", "CreateTrafficMirrorSession: no <trafficMirrorSession> in the answer"));
    return parse_mirror_session(*item);
}

Result<Done> Ec2Client::delete_mirror_session(const std::string& id) {
    auto doc = call("DeleteTrafficMirrorSession",
                    ec2_form("DeleteTrafficMirrorSession", {{"TrafficMirrorSessionId", id}}));
    // Gone already: AWS deletes a session with its source interface, and a
    // retry after a lost answer finds it deleted.
    if (doc || not_found(doc.error())) return Done{};
    doc.error().context = "DeleteTrafficMirrorSession " + quote(id);
    return fail(doc.error());
}

}  // namespace mirrortap::cloud
