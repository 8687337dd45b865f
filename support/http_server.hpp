// A small HTTP/1.1 server for /metrics and health checks, shared by both
// programs. One thread serves every connection asynchronously, so idle or
// slow clients cost a socket each, never a thread: a load balancer's health
// check is answered while hundreds of connections sit open. Each request must
// arrive whole within the read timeout, headers are bounded, and past the
// connection cap the connection idle longest is closed to make room.
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
};

struct HttpServerOptions {
    // A whole request (line and headers) must arrive within this; a client
    // that trickles bytes is closed when it runs out, however fast it trickles.
    std::chrono::milliseconds read_timeout{5000};
    std::chrono::milliseconds write_timeout{5000};
    size_t max_header_bytes = 8192;
    size_t max_connections = 512;
};

class HttpServer {
public:
    // Called on the server's thread for each request.
    using Handler = std::function<HttpResponse(const HttpRequest&)>;

    explicit HttpServer(Handler handler, HttpServerOptions options = {});
    ~HttpServer();  // closes every connection and joins the thread
    HttpServer(const HttpServer&) = delete;
    HttpServer& operator=(const HttpServer&) = delete;

    // Binds ADDR:PORT (IPv6 as [ADDR]:PORT; a bare PORT means every IPv4
    // address) and starts serving. "" or a one-line reason for the caller to
    // prefix with what the server was for.
    std::string start(const std::string& listen);
    uint16_t port() const;

private:
    class Impl;
    std::unique_ptr<Impl> impl_;
};

// Compares without an early exit, so response time says nothing about the secret.
bool same_secret(std::string_view given, std::string_view expected);

}  // namespace mirrortap
