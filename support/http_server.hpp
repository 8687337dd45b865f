// A small HTTP/1.1 server for /metrics and health checks, shared by both
// programs. One thread serves every connection asynchronously, so idle or
// slow clients cost a socket each, never a thread: a load balancer's health
// check is answered while hundreds of connections sit open. Each request must
// arrive whole within the read timeout and each answer be taken within the
// write timeout, headers are bounded, and past the connection cap the
// connection that has made no progress for longest (idle, or leaving its
// answer untaken) is closed to make room. A handler that would take long (a metrics page
// of thousands of series) answers later, from another thread, so that the
// server's thread never waits for it.
#pragma once
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "support/parse.hpp"

namespace mirrortap {

struct HttpRequest {
    std::string_view method;
    std::string_view path;           // the target without its query string
    std::string_view authorization;  // the Authorization header, empty when absent
};

struct HttpResponse {
    int status = 200;
    std::string content_type = "text/plain; charset=utf-8";
    std::string body;
    std::vector<std::pair<std::string, std::string>> headers;  // extra ones
    // Sent instead of `body` when set: a page many clients read at once, held
    // once however many connections are still sending it.
    std::shared_ptr<const std::string> shared_body;
};

struct HttpServerOptions {
    // A whole request (line and headers) must arrive within this; a client
    // that trickles bytes is closed when it runs out, however fast it trickles.
    std::chrono::milliseconds read_timeout{5000};
    // A whole answer must be taken within this, and a deferred answer given
    // within it: a client that never reads is closed when it runs out.
    std::chrono::milliseconds write_timeout{5000};
    size_t max_header_bytes = 8192;
    size_t max_connections = 512;
    // Memory that answers not yet taken by their clients may hold, a body
    // shared by several connections counted once; past it the connection that
    // has left its answer untaken longest is closed.
    size_t max_unsent_bytes = 64u << 20;
    // SO_SNDBUF of each connection (the kernel doubles it). Autotuning would
    // let a client that never reads make the server copy megabytes into the
    // kernel per connection (on loopback ~2.6 MB at once), in one go on the
    // thread that answers health checks; 128 KiB still moves a page at tens
    // of MB/s over a 10 ms round trip. 0 leaves the kernel's autotuning.
    int send_buffer_bytes = 128 << 10;
};

namespace http_detail {
class Connection;
struct Gate;
}  // namespace http_detail

// The answer to one request, given once, later and from any thread. Given
// after the connection was closed or the server stopped, it is dropped.
class HttpReply {
public:
    void send(HttpResponse response) const;

private:
    friend class http_detail::Connection;
    HttpReply(std::weak_ptr<http_detail::Connection> connection, std::shared_ptr<http_detail::Gate> gate)
        : connection_(std::move(connection)), gate_(std::move(gate)) {}
    std::weak_ptr<http_detail::Connection> connection_;
    std::shared_ptr<http_detail::Gate> gate_;
};

class HttpServer {
public:
    // Called on the server's thread for each request, and must not wait: every
    // other client, health checks included, waits while it runs.
    using Handler = std::function<HttpResponse(const HttpRequest&)>;
    // The same for a handler that may answer later: it calls reply.send once,
    // now or from another thread; until then the connection waits, at most
    // the write timeout.
    using DeferringHandler = std::function<void(const HttpRequest&, HttpReply)>;

    explicit HttpServer(Handler handler, HttpServerOptions options = {});
    explicit HttpServer(DeferringHandler handler, HttpServerOptions options = {});
    ~HttpServer();  // closes every connection and joins the thread
    HttpServer(const HttpServer&) = delete;
    HttpServer& operator=(const HttpServer&) = delete;

    // Binds the address parse_endpoint read (a literal address: a name is
    // refused) and starts serving; [::] takes IPv4 too. Refused: a one-line
    // reason for the caller to prefix with what the server was for.
    Result<> start(const Endpoint& listen);
    // start() in two steps: bind() takes the address (a port below 1024 needs
    // root), run() starts the thread, which a process dropping root makes
    // after the drop so that no thread keeps root's identity.
    Result<> bind(const Endpoint& listen);
    void run();
    uint16_t port() const;

private:
    class Impl;
    std::unique_ptr<Impl> impl_;
};

// Compares without an early exit, so response time says nothing about the secret.
bool same_secret(std::string_view given, std::string_view expected);

}  // namespace mirrortap
