// A thin command line over cloud/ for the integration tests: each run does
// one thing against a real server (s3rver, a recording proxy, IMDS and STS
// stand-ins) and prints what it got as one JSON object per line.
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iostream>
#include <string>
#include <thread>
#include <vector>

#include "cloud/cloudwatch.hpp"
#include "cloud/credentials.hpp"
#include "cloud/imds.hpp"
#include "cloud/s3_client.hpp"

using namespace mirrortap::cloud;

namespace {

std::string json(std::string_view text) {
    std::string out = "\"";
    for (const char ch : text) {
        const auto c = static_cast<unsigned char>(ch);
        if (c == '"' || c == '\\') {
            out += '\\';
            out += ch;
        } else if (c < 0x20) {
            char buf[8];
            std::snprintf(buf, sizeof buf, "\\u%04x", c);
            out += buf;
        } else {
            out += ch;
        }
    }
    return out + "\"";
}

int usage() {
    std::fputs(
        "usage: cloud_driver [--bucket B --region R --endpoint URL --max-attempts N --backoff-base-ms N]\n"
        "  upload FILE KEY [--meta NAME=VALUE]... [--storage-class C] [--content-type T] [--part-size N] [--threshold N]\n"
        "  head KEY | list PREFIX [--page-size N] [--max N] | get KEY FIRST LAST OUTFILE\n"
        "  credentials [--until-change TRIES] | imds instance-id|region|lifecycle\n"
        "  put-metrics NAMESPACE N   (N figures Figure0..; --region and --endpoint as for S3)\n",
        stderr);
    return 2;
}

int fail(const AwsError& e) {
    std::printf("{\"ok\": false, \"code\": %s, \"status\": %d, \"error\": %s}\n", json(e.code).c_str(), e.http_status,
                json(e.describe()).c_str());
    return 1;
}

std::shared_ptr<CredentialProvider> credentials_or_exit() {
    auto source = choose_credential_source(process_environment());
    if (!source) {
        std::printf("{\"ok\": false, \"code\": \"NoCredentials\", \"error\": %s}\n", json(source.error()).c_str());
        std::exit(1);
    }
    return std::make_shared<CredentialProvider>(std::move(*source));
}

std::string print_credentials(const CredentialProvider& provider, const Credentials& c) {
    std::string expiration;
    if (c.expiration)
        expiration = std::to_string(std::chrono::duration_cast<std::chrono::seconds>(c.expiration->time_since_epoch()).count());
    std::printf("{\"ok\": true, \"source\": %s, \"key\": %s, \"token\": %s, \"expiration\": %s, \"fetches\": %llu}\n",
                json(provider.describe()).c_str(), json(c.access_key_id).c_str(), json(c.session_token).c_str(),
                expiration.empty() ? "null" : expiration.c_str(), static_cast<unsigned long long>(provider.fetches()));
    std::fflush(stdout);
    return c.access_key_id;
}

}  // namespace

int main(int argc, char** argv) {
    std::vector<std::string> args(argv + 1, argv + argc);
    S3ClientOptions options;
    ObjectWrite write;
    std::vector<std::string> positional;
    size_t page_size = 1000, max_objects = 100000;
    int until_change = 0;
    for (size_t i = 0; i < args.size(); ++i) {
        const std::string& a = args[i];
        const auto value = [&]() -> std::string {
            if (i + 1 >= args.size()) std::exit(usage());
            return args[++i];
        };
        if (a == "--bucket") options.location.bucket = value();
        else if (a == "--region") options.location.region = value();
        else if (a == "--endpoint") options.location.endpoint = value();
        else if (a == "--max-attempts") options.retry.max_attempts = std::stoi(value());
        else if (a == "--backoff-base-ms") options.retry.base = std::chrono::milliseconds(std::stoi(value()));
        else if (a == "--meta") {
            const std::string v = value();
            const size_t eq = v.find('=');
            if (eq == std::string::npos) return usage();
            write.metadata.emplace_back(v.substr(0, eq), v.substr(eq + 1));
        } else if (a == "--storage-class") write.storage_class = value();
        else if (a == "--content-type") write.content_type = value();
        else if (a == "--part-size") write.part_size = std::stoull(value());
        else if (a == "--threshold") write.multipart_threshold = std::stoull(value());
        else if (a == "--page-size") page_size = std::stoul(value());
        else if (a == "--max") max_objects = std::stoul(value());
        else if (a == "--until-change") until_change = std::stoi(value());
        else if (a.starts_with("--")) return usage();
        else positional.push_back(a);
    }
    if (positional.empty()) return usage();
    const std::string command = positional[0];

    if (command == "credentials") {
        auto provider = credentials_or_exit();
        auto first = provider->get();
        if (!first) return fail(first.error());
        const std::string key = print_credentials(*provider, first.value());
        for (int i = 0; i < until_change; ++i) {
            std::this_thread::sleep_for(std::chrono::milliseconds(250));
            auto now = provider->get();
            if (!now) return fail(now.error());
            if (now->access_key_id != key) {
                print_credentials(*provider, now.value());
                return 0;
            }
        }
        return until_change > 0 ? 3 : 0;
    }
    if (command == "imds") {
        if (positional.size() != 2) return usage();
        const auto settings = imds_settings_from_environment(process_environment());
        if (!settings || !*settings) {
            const std::string why = settings ? "" : settings.error();
            std::printf("{\"ok\": false, \"code\": \"ImdsDisabled\", \"error\": %s}\n", json(why).c_str());
            return 1;
        }
        ImdsClient imds(**settings);
        const std::string& what = positional[1];
        auto answer = what == "instance-id" ? imds.instance_id()
                      : what == "region"    ? imds.region()
                      : what == "lifecycle" ? imds.target_lifecycle_state()
                                            : Result<std::string>(mirrortap::fail(AwsError{0, "Usage", "unknown item"}));
        if (!answer) return fail(answer.error());
        std::printf("{\"ok\": true, \"value\": %s}\n", json(answer.value()).c_str());
        return 0;
    }

    if (command == "put-metrics" && positional.size() == 3) {
        // N figures, each a Count with the dimension Fleet, one also with Reason: the shape the collector sends.
        std::vector<MetricDatum> data;
        for (size_t i = 0; i < std::stoul(positional[2]); ++i)
            data.push_back({"Figure" + std::to_string(i), "Count", double(i) + 0.5, {{"Fleet", "test fleet"}}});
        if (!data.empty()) data[0].dimensions.push_back({"Reason", "pcap:queue_full"});
        CloudWatchClient client({.endpoint = options.location.endpoint, .region = options.location.region,
                                 .retry = options.retry},
                                credentials_or_exit());
        auto r = client.put_metric_data(positional[1], data, std::chrono::system_clock::from_time_t(1765097379));
        if (!r) return fail(r.error());
        std::printf("{\"ok\": true, \"requests\": %llu, \"retries\": %llu}\n",
                    static_cast<unsigned long long>(client.requests()), static_cast<unsigned long long>(client.retries()));
        return 0;
    }

    if (options.location.region.empty()) {
        auto region = default_region(process_environment());
        if (!region) return fail(region.error());
        options.location.region = region.value();
    }
    if (const auto location = check_location(options.location); !location) {
        std::fprintf(stderr, "cloud_driver: %s\n", location.error().c_str());
        return 2;
    }
    S3Client client(options, credentials_or_exit());
    if (command == "upload" && positional.size() == 3) {
        auto r = client.upload_file(positional[1], positional[2], write);
        if (!r) return fail(r.error());
        std::printf("{\"ok\": true, \"etag\": %s, \"parts\": %u, \"retries\": %u, \"body_bytes_sent\": %llu, "
                    "\"sha256\": %s, \"checksum\": %s}\n",
                    json(r->etag).c_str(), r->parts, r->retries, static_cast<unsigned long long>(r->body_bytes_sent),
                    json(r->sha256_hex).c_str(), json(r->checksum_sha256).c_str());
        return 0;
    }
    if (command == "head" && positional.size() == 2) {
        auto r = client.head_object(positional[1]);
        if (!r) return fail(r.error());
        std::string meta = "{";
        for (const auto& [n, v] : r->metadata) meta += (meta.size() > 1 ? ", " : "") + json(n) + ": " + json(v);
        std::printf("{\"ok\": true, \"size\": %llu, \"etag\": %s, \"content_type\": %s, \"storage_class\": %s, "
                    "\"metadata\": %s}}\n",
                    static_cast<unsigned long long>(r->size), json(r->etag).c_str(), json(r->content_type).c_str(),
                    json(r->storage_class).c_str(), meta.c_str());
        return 0;
    }
    if (command == "list" && positional.size() == 2) {
        std::vector<ListedObject> objects;
        std::string token;
        size_t pages = 0;
        // Page by page, so that the test sees continuation at work.
        do {
            auto page = client.list_objects_page(positional[1], token, static_cast<uint32_t>(page_size));
            if (!page) return fail(page.error());
            ++pages;
            for (auto& o : page->objects) objects.push_back(std::move(o));
            token = page->next_continuation_token;
        } while (!token.empty() && objects.size() < max_objects && pages < 10000);
        std::string keys = "[";
        for (const auto& o : objects) keys += (keys.size() > 1 ? ", " : "") + json(o.key);
        std::printf("{\"ok\": true, \"pages\": %zu, \"keys\": %s]}\n", pages, keys.c_str());
        return 0;
    }
    if (command == "get" && positional.size() == 5) {
        auto r = client.get_object_range(positional[1], std::stoull(positional[2]), std::stoull(positional[3]));
        if (!r) return fail(r.error());
        std::ofstream(positional[4], std::ios::binary) << r.value();
        std::printf("{\"ok\": true, \"bytes\": %zu}\n", r->size());
        return 0;
    }
    return usage();
}
