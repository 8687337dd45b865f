// What a call to AWS gives back: a value, or an AwsError that says what went
// wrong and whether trying again can help.
#pragma once
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include "base/result.hpp"

namespace mirrortap::cloud {

struct AwsError {
    int http_status = 0;     // 0 when no HTTP answer came (connection, timeout, local)
    std::string code;        // AWS's Code ("SlowDown", "NoSuchKey"), or ours for the transport ("ConnectionFailed")
    std::string message;     // AWS's Message, or what failed
    std::string request_id;  // x-amz-request-id, when the service gave one
    bool retryable = false;  // the same request may succeed later
    std::string context;     // what was being done: "UploadPart 2 of 'a/b.pcap'"

    // One line for logs: "PutObject 'a.pcap': 503 SlowDown: Please reduce your
    // request rate. (request id 4442587FB7D0A2F9)".
    std::string describe() const;
};

// Done is the value of calls that return nothing but success.
using mirrortap::Done;

template <class T>
using Result = mirrortap::Result<T, AwsError>;

}  // namespace mirrortap::cloud
