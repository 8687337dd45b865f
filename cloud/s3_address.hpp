// Where a request goes: S3 URLs built so that the path and query curl sends
// are already in SigV4's canonical form (libcurl 7.88 signs them as they
// stand; later versions canonicalize them again, to the same text).
#pragma once
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.hpp"

namespace mirrortap::cloud {

struct S3Location {
    std::string bucket;
    std::string region;    // us-east-1, eu-west-3, ...
    // "" for AWS itself: https://BUCKET.s3.REGION.amazonaws.com/KEY (virtual-hosted).
    // Otherwise an S3-compatible store, "http[s]://HOST[:PORT]", addressed
    // path-style: ENDPOINT/BUCKET/KEY.
    std::string endpoint;
};

// Whether the location can be used; otherwise one line saying why not.
mirrortap::Result<> check_location(const S3Location& location);

// DNS-compatible bucket names, as S3 requires for new buckets: 3 to 63 of
// a-z, 0-9, '.', '-', starting and ending with a letter or digit, not an IPv4 address.
bool valid_bucket_name(std::string_view name);

// Whether requests to the endpoint `url` (http[s]://HOST[:PORT]) would cross
// the network in clear: plain http:// to a host other than this one
// (127.0.0.0/8, ::1, localhost). With `imds`, also not IMDS's link-local
// addresses (169.254.169.254, fd00:ec2::254), whose token cannot leave the
// host's link. Signed requests, session tokens and captures would travel
// readable and changeable, so callers refuse unless told otherwise.
bool plain_http_to_another_host(std::string_view url, bool imds = false);

// Object keys: 1 to 1024 bytes of valid UTF-8 without control characters.
// Whether `key` is one; otherwise why not.
mirrortap::Result<> check_object_key(std::string_view key);

// SigV4's UriEncode: every byte but A-Z a-z 0-9 - . _ ~ as %XX (uppercase
// hex); '/' kept when keep_slash (object key paths), encoded otherwise.
std::string uri_encode(std::string_view text, bool keep_slash);

struct QueryParam {
    std::string name;
    std::string value;  // "" is written as "name=", as SigV4 signs it
};

// name=value pairs, each side UriEncoded, sorted by name then value, joined with '&'.
std::string canonical_query(std::vector<QueryParam> params);

// The URL of an object (key non-empty) or of the bucket itself (key ""),
// with the query in canonical form. Buckets with a '.' in their name go
// path-style on AWS too: a virtual-hosted name would not match the
// *.s3.REGION.amazonaws.com certificate.
std::string s3_url(const S3Location& location, std::string_view key, const std::vector<QueryParam>& query = {});

}  // namespace mirrortap::cloud
