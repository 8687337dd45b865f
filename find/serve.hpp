// mirrortap-find --serve: the retrieval API. The same searches as the
// command line (search.hpp) over the same sources, asked for over HTTP:
// /api/v1/sessions, /api/v1/flows (from the flow indexes) and /api/v1/pcap
// (the search's output streamed with chunked transfer as it is found, byte
// for byte what mirrortap-find writes for the same query). docs/find.md
// describes each endpoint, its errors and limits.
//
// Each connection is served by a thread of its own, at most
// kMaxConnections at once (more are answered 503 and closed), and at most
// max_queries of them run a query (more: 429), so a query that takes minutes
// never keeps /healthz or another client waiting. Every socket is
// non-blocking: a client that stops reading holds its own thread until the
// write timeout, nothing else.
#pragma once
#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.hpp"
#include "find/store.hpp"
#include "support/parse.hpp"

struct ssl_ctx_st;  // OpenSSL's SSL_CTX, kept out of this header

namespace mirrortap::find {

struct ServeLimits {
    uint64_t max_read_bytes = 1ull << 30;  // capture bytes one query may read; above: 413 before reading
    std::chrono::seconds max_seconds{300};  // one query's run time; then it stops
    size_t max_queries = 4;                 // queries at once; above: 429
    // A request must arrive whole within this, and each part of an answer be
    // taken within it: a client that stops reading is dropped after it.
    std::chrono::milliseconds io_timeout{30000};
};

// The clients allowed in: a name and the SHA-256 of its token, never the
// token itself (a copy of the file lets no one in).
class Tokens {
public:
    // From a file of `NAME SHA256-HEX` lines (# comments and blank lines
    // allowed), which must be a regular file that no group or other user can
    // write (check_trusted_file's rules, owned by this user or root); or why not.
    static Result<Tokens> load(const std::string& path);
    // The client's name for an Authorization header ("Bearer TOKEN"), or
    // nullopt. Every client's hash is compared, each in constant time, so
    // the time taken tells nothing about any of them.
    std::optional<std::string> who(std::string_view authorization) const;
    size_t size() const { return clients_.size(); }

private:
    struct Client {
        std::string name;
        std::string sha256_hex;  // lower case
    };
    std::vector<Client> clients_;
};

// True for 127.0.0.0/8, ::1 and ::ffff:127.0.0.0/104: the only addresses
// --serve-no-auth may listen on.
bool is_loopback(const Endpoint& e);

// The server's TLS certificate (chain) and private key, from PEM files, for
// TLS 1.2 and later; shared by every connection.
class TlsContext {
public:
    // Both files must be trusted (check_trusted_file's rules, like the
    // tokens file); or why not (unreadable, not PEM, a key of another certificate).
    static Result<std::shared_ptr<const TlsContext>> load(const std::string& certificate, const std::string& key);
    ~TlsContext();
    TlsContext(const TlsContext&) = delete;
    TlsContext& operator=(const TlsContext&) = delete;
    ::ssl_ctx_st* get() const { return ctx_; }

private:
    explicit TlsContext(::ssl_ctx_st* ctx) : ctx_(ctx) {}
    ::ssl_ctx_st* ctx_;
};

struct ServeOptions {
    Endpoint listen;
    std::shared_ptr<const TlsContext> tls;  // null: plain HTTP
    std::optional<Tokens> tokens;  // nullopt: --serve-no-auth, checked to be on loopback
    Sources sources;
    ServeLimits limits;
};

// Binds options.listen and serves until `stop`; 0 then, 1 when the address
// cannot be bound. The port bound is said on stderr ("serving on ...").
int serve(const ServeOptions& options, const std::atomic<bool>& stop);

}  // namespace mirrortap::find
