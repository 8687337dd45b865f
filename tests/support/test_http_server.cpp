// The HTTP server of /metrics and the health checks: answers given later from
// another thread, and the bounds that keep clients that never read from
// holding descriptors and memory.
#include <doctest/doctest.h>
#include <dirent.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <mutex>
#include <optional>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "support/http_server.hpp"

using namespace mirrortap;
using namespace std::chrono_literals;

namespace {

Endpoint loopback_any_port() {
    auto e = parse_endpoint("127.0.0.1:0");
    REQUIRE(e);
    return *e;
}

// Sockets this process holds: the server's and the test's clients.
int open_sockets() {
    int n = 0;
    DIR* d = opendir("/proc/self/fd");
    while (dirent* e = readdir(d)) {
        struct stat st{};
        if (fstatat(dirfd(d), e->d_name, &st, 0) == 0 && S_ISSOCK(st.st_mode)) ++n;
    }
    closedir(d);
    return n - 1;  // opendir's own descriptor is no socket; the listener is
}

// A client on loopback that asks for `path` and reads nothing unless told.
struct Client {
    int fd = -1;
    Client(uint16_t port, const std::string& path, int rcvbuf = 0) {
        fd = socket(AF_INET, SOCK_STREAM, 0);
        if (rcvbuf) setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
        sockaddr_in a{};
        a.sin_family = AF_INET;
        a.sin_port = htons(port);
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        REQUIRE(connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
        const std::string request = "GET " + path + " HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n";
        REQUIRE(send(fd, request.data(), request.size(), MSG_NOSIGNAL) == ssize_t(request.size()));
    }
    ~Client() { close(fd); }
    std::string read_all() {
        timeval t{30, 0};  // a hang fails the test instead of stopping the run
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &t, sizeof t);
        std::string got;
        char buf[65536];
        for (ssize_t n; (n = recv(fd, buf, sizeof buf, 0)) > 0;) got.append(buf, size_t(n));
        return got;
    }
};

// Until the server holds `want` connections (bounded: 10 s); what it holds then.
int wait_server_connections(int clients, int want) {
    int held = open_sockets() - clients;
    for (int i = 0; i < 1000 && held != want; ++i) {
        std::this_thread::sleep_for(10ms);
        held = open_sockets() - clients;
    }
    return held;
}

}  // namespace

TEST_CASE("http server: an answer given later from another thread reaches the client") {
    std::mutex mutex;
    std::vector<std::thread> later;
    HttpServer server(HttpServer::DeferringHandler([&](const HttpRequest& r, HttpReply reply) {
        if (r.path == "/now") return reply.send({200, "text/plain", "at once\n", {}, {}});
        std::lock_guard lock(mutex);
        later.emplace_back([reply] {
            std::this_thread::sleep_for(50ms);
            reply.send({200, "text/plain", {}, {}, std::make_shared<const std::string>("later\n")});
        });
    }));
    REQUIRE(server.start(loopback_any_port()));
    Client slow(server.port(), "/later");
    Client quick(server.port(), "/now");
    const std::string q = quick.read_all(), s = slow.read_all();
    CHECK(q.starts_with("HTTP/1.1 200"));
    CHECK(q.ends_with("\r\n\r\nat once\n"));
    CHECK(s.starts_with("HTTP/1.1 200"));
    CHECK(s.ends_with("\r\n\r\nlater\n"));
    std::lock_guard lock(mutex);
    for (auto& t : later) t.join();
}

TEST_CASE("http server: an answer given after the server stopped is dropped") {
    std::optional<HttpReply> kept;
    std::atomic<bool> asked{false};
    {
        HttpServer server(HttpServer::DeferringHandler([&](const HttpRequest&, HttpReply reply) {
            kept.emplace(std::move(reply));
            asked = true;
        }));
        REQUIRE(server.start(loopback_any_port()));
        Client c(server.port(), "/metrics");
        for (int i = 0; i < 1000 && !asked; ++i) std::this_thread::sleep_for(10ms);
        REQUIRE(asked);
    }
    kept->send({200, "text/plain", "too late\n", {}, {}});  // the server is gone: nothing happens
}

TEST_CASE("http server: past the connection cap the client that leaves its answer untaken longest is closed") {
    HttpServerOptions o;
    o.max_connections = 4;
    o.write_timeout = 60s;  // the cap closes them here, not the timeout
    const auto page = std::make_shared<const std::string>(std::string(8u << 20, 'x'));
    HttpServer server([&](const HttpRequest&) { return HttpResponse{200, "text/plain", {}, {}, page}; }, o);
    REQUIRE(server.start(loopback_any_port()));
    std::vector<std::unique_ptr<Client>> clients;
    for (int i = 0; i < 10; ++i) {
        clients.push_back(std::make_unique<Client>(server.port(), "/metrics", 4096));
        CHECK(wait_server_connections(int(clients.size()), std::min(i + 1, 4)) <= 4);
    }
    CHECK(wait_server_connections(10, 4) == 4);
}

TEST_CASE("http server: one page sent to many clients that never read is held once, and copies are capped") {
    HttpServerOptions o;
    o.max_unsent_bytes = 20u << 20;
    o.write_timeout = 60s;
    // Larger than a loopback socket's send buffer (about 2 MiB there), so that a write stays unfinished.
    const auto shared = std::make_shared<const std::string>(std::string(8u << 20, 's'));
    HttpServer server([&](const HttpRequest& r) {
        if (r.path == "/shared") return HttpResponse{200, "text/plain", {}, {}, shared};
        return HttpResponse{200, "text/plain", std::string(8u << 20, 'c'), {}, {}};  // a copy each
    }, o);
    REQUIRE(server.start(loopback_any_port()));
    {
        std::vector<std::unique_ptr<Client>> clients;
        for (int i = 0; i < 8; ++i) clients.push_back(std::make_unique<Client>(server.port(), "/shared", 4096));
        // 8 x 8 MiB sent, 8 MiB held: all stay.
        CHECK(wait_server_connections(8, 8) == 8);
    }
    CHECK(wait_server_connections(0, 0) == 0);
    std::vector<std::unique_ptr<Client>> clients;
    for (int i = 0; i < 8; ++i) clients.push_back(std::make_unique<Client>(server.port(), "/copies", 4096));
    // A copy each: two fit in 20 MiB; the oldest make room for the next.
    CHECK(wait_server_connections(8, 2) == 2);
}
