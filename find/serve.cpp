#include "find/serve.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include <boost/asio/buffer.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/parser.hpp>

#include <cctype>
#include <cerrno>
#include <condition_variable>
#include <cstdio>
#include <cstring>
#include <list>
#include <map>
#include <mutex>
#include <system_error>
#include <thread>

#include "find/bpf_prune.hpp"
#include "find/page.hpp"
#include "find/pcap_output.hpp"
#include "find/search.hpp"
#include "cloud/digest.hpp"
#include "support/file.hpp"
#include "support/http_server.hpp"
#include "support/json.hpp"
#include "support/text.hpp"
#include "support/unique_fd.hpp"

namespace mirrortap::find {

namespace {

using Clock = std::chrono::steady_clock;

// Connections served at once, each by its own thread: beyond this a client
// is answered 503 at once, so a flood costs sockets for a moment, not threads.
constexpr size_t kMaxConnections = 64;
constexpr size_t kMaxRequestBytes = 8192;  // request line and headers
constexpr size_t kMaxFlowsLimit = 10000;
constexpr size_t kDefaultFlowsLimit = 100;
// The stream's buffer: what a client receives per chunk, at most.
constexpr size_t kStreamBufferBytes = 64 << 10;
// ...or sooner, once a packet comes this long after the last chunk: a
// trickle of matches reaches Wireshark as it is found.
constexpr auto kStreamFlushEvery = std::chrono::milliseconds(200);

// The words of a line, split at spaces and tabs.
std::vector<std::string_view> split_words(std::string_view line) {
    std::vector<std::string_view> out;
    size_t i = 0;
    while (i < line.size()) {
        while (i < line.size() && (line[i] == ' ' || line[i] == '\t' || line[i] == '\r')) ++i;
        const size_t start = i;
        while (i < line.size() && line[i] != ' ' && line[i] != '\t' && line[i] != '\r') ++i;
        if (i > start) out.push_back(line.substr(start, i - start));
    }
    return out;
}

bool is_hex64(std::string_view s) {
    if (s.size() != 64) return false;
    for (const char c : s)
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
    return true;
}

}  // namespace

Result<Tokens> Tokens::load(const std::string& path) {
    const uid_t owners[] = {geteuid(), 0};
    if (auto trusted = check_trusted_file(path, owners, "--serve-tokens file"); !trusted) return fail(trusted.error());
    const auto text = read_regular_file(path, kMaxConfigFileBytes, "--serve-tokens file");
    if (!text) return fail(path + ": " + text.error());
    Tokens tokens;
    size_t line_no = 0;
    for (std::string_view rest = *text; !rest.empty();) {
        const size_t eol = rest.find('\n');
        std::string_view line = rest.substr(0, eol);
        rest = eol == std::string_view::npos ? std::string_view() : rest.substr(eol + 1);
        ++line_no;
        const auto words = split_words(line);
        if (words.empty() || words[0].starts_with('#')) continue;
        const std::string where = path + " line " + std::to_string(line_no) + ": ";
        if (words.size() != 2 || !is_hex64(words[1]))
            return fail(where + "expected NAME SHA256-HEX (64 lower-case hex digits: printf %s TOKEN | sha256sum)");
        for (const auto& c : tokens.clients_)
            if (c.name == words[0]) return fail(where + "client " + quote(words[0]) + " is named twice");
        tokens.clients_.push_back({std::string(words[0]), std::string(words[1])});
    }
    if (tokens.clients_.empty()) return fail(path + ": no clients (NAME SHA256-HEX lines)");
    return tokens;
}

std::optional<std::string> Tokens::who(std::string_view authorization) const {
    constexpr std::string_view kScheme = "Bearer ";
    if (authorization.size() <= kScheme.size() || authorization.substr(0, kScheme.size()) != kScheme) return std::nullopt;
    // Compared as hashes: the file holds no token, and every comparison is
    // of 64 characters whatever the token's length.
    const std::string given = cloud::sha256_hex(authorization.substr(kScheme.size()));
    const Client* found = nullptr;
    for (const auto& c : clients_)
        if (same_secret(given, c.sha256_hex) && !found) found = &c;
    if (!found) return std::nullopt;
    return found->name;
}

Result<std::shared_ptr<const TlsContext>> TlsContext::load(const std::string& certificate, const std::string& key) {
    const uid_t owners[] = {geteuid(), 0};
    for (const auto& [path, what] : {std::pair{&certificate, "--serve-tls-cert file"}, {&key, "--serve-tls-key file"}})
        if (auto trusted = check_trusted_file(*path, owners, what); !trusted) return fail(trusted.error());
    SSL_CTX* ctx = SSL_CTX_new(TLS_server_method());
    if (!ctx) return fail("cannot make a TLS context");
    std::shared_ptr<const TlsContext> out(new TlsContext(ctx));
    const auto openssl_error = [](const std::string& what) {
        char text[256];
        ERR_error_string_n(ERR_get_error(), text, sizeof text);
        ERR_clear_error();
        return what + ": " + text;
    };
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    // A write retried after WANT_WRITE may come from a moved buffer (the chunk string is rebuilt).
    SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
    if (SSL_CTX_use_certificate_chain_file(ctx, certificate.c_str()) != 1)
        return fail(openssl_error("--serve-tls-cert " + certificate));
    if (SSL_CTX_use_PrivateKey_file(ctx, key.c_str(), SSL_FILETYPE_PEM) != 1)
        return fail(openssl_error("--serve-tls-key " + key));
    if (SSL_CTX_check_private_key(ctx) != 1)
        return fail(openssl_error("--serve-tls-key " + key + " is not the key of " + certificate));
    return out;
}

TlsContext::~TlsContext() { SSL_CTX_free(ctx_); }

bool is_loopback(const Endpoint& e) {
    if (e.family() == AF_INET) {
        const auto& in = reinterpret_cast<const sockaddr_in&>(e.addr);
        return (ntohl(in.sin_addr.s_addr) >> 24) == 127;
    }
    if (e.family() == AF_INET6) {
        const auto& a = reinterpret_cast<const sockaddr_in6&>(e.addr).sin6_addr;
        if (IN6_IS_ADDR_LOOPBACK(&a)) return true;
        return IN6_IS_ADDR_V4MAPPED(&a) && a.s6_addr[12] == 127;
    }
    return false;
}

namespace {

namespace http = boost::beast::http;

// ---- HTTP on one non-blocking socket ------------------------------------------

struct Request {
    std::string method, path, query, authorization;
    std::string target() const { return query.empty() ? path : path + "?" + query; }
};

// An HTTP status and the JSON error body that explains it.
struct Refusal {
    int status;
    std::string message;
    std::vector<std::pair<std::string, std::string>> headers = {};
};

const char* reason(int status) {
    switch (status) {
        case 200: return "OK";
        case 400: return "Bad Request";
        case 401: return "Unauthorized";
        case 404: return "Not Found";
        case 405: return "Method Not Allowed";
        case 408: return "Request Timeout";
        case 413: return "Content Too Large";
        case 429: return "Too Many Requests";
        case 431: return "Request Header Fields Too Large";
        case 502: return "Bad Gateway";
        case 503: return "Service Unavailable";
        default: return "Internal Server Error";
    }
}

// One client's socket (non-blocking), plain or TLS: every wait is a poll
// with a deadline, so no client can hold its thread longer than the timeouts.
class Connection {
public:
    // Owns `fd`. With `tls`, the handshake is the first thing read_request does.
    Connection(int fd, std::chrono::milliseconds timeout, SSL_CTX* tls = nullptr) : fd_(fd), timeout_(timeout) {
        if (!tls) return;
        ssl_ = SSL_new(tls);
        if (ssl_) SSL_set_fd(ssl_, fd);
    }
    ~Connection() {
        if (!ssl_) return;
        if (handshaken_) SSL_shutdown(ssl_);  // our close_notify, not waiting for the client's
        SSL_free(ssl_);
    }
    Connection(const Connection&) = delete;
    Connection& operator=(const Connection&) = delete;

    // The request line and headers, whole within the timeout; or the status
    // to answer (0: the client left, timed out or failed the TLS handshake:
    // nothing to answer).
    Result<Request, Refusal> read_request() {
        const auto deadline = Clock::now() + timeout_;
        if (ssl_ && !handshake(deadline)) return fail(Refusal{0, "TLS handshake failed"});
        std::string in;
        size_t end;
        while ((end = in.find("\r\n\r\n")) == std::string::npos) {
            if (in.size() >= kMaxRequestBytes) return fail(Refusal{431, "request line and headers above 8 KiB"});
            char buf[2048];
            const Io got = receive(buf, std::min(sizeof buf, kMaxRequestBytes - in.size()));
            if (got.n > 0) {
                in.append(buf, size_t(got.n));
                continue;
            }
            if (got.wait == 0) return fail(Refusal{0, "closed"});
            if (!wait(got.wait, deadline)) return fail(Refusal{408, "the request did not arrive in time"});
        }
        // Beast's parser judges the head (the bytes were read above, within
        // the deadline and the size bound): a hostile client meets the same
        // parser as the /metrics server's, not one written here.
        http::request_parser<http::empty_body> parser;
        parser.header_limit(uint32_t(kMaxRequestBytes));
        boost::system::error_code ec;
        parser.put(boost::asio::buffer(in.data(), end + 4), ec);
        if (ec || !parser.is_header_done() || parser.get().version() / 10 != 1) {
            return fail(Refusal{400, "not an HTTP/1 request" + (ec ? ": " + ec.message() : std::string())});
        }
        const auto& head = parser.get();
        // Two credentials in one request: which one counts is a guess, so none does.
        if (head.count(http::field::authorization) > 1) return fail(Refusal{400, "Authorization given twice"});
        Request r;
        r.method = std::string(head.method_string());
        const std::string_view target(head.target().data(), head.target().size());
        const size_t q = target.find('?');
        r.path = target.substr(0, q);
        if (q != std::string_view::npos) r.query = target.substr(q + 1);
        const auto authorization = head.find(http::field::authorization);
        if (authorization != head.end()) r.authorization = trim({authorization->value().data(), authorization->value().size()});
        return r;
    }

    // Everything, or false when the client left or took nothing for the
    // timeout (or past the query's deadline, end_by).
    bool send_all(std::string_view data) {
        while (!data.empty()) {
            const Io put = transmit(data.data(), data.size());
            if (put.n > 0) {
                data.remove_prefix(size_t(put.n));
                sent_ += uint64_t(put.n);
                continue;
            }
            if (put.wait == 0 || !wait(put.wait, std::min(Clock::now() + timeout_, end_by_))) return false;
        }
        return true;
    }

    uint64_t sent() const { return sent_; }

    // A query's deadline: a client that reads slowly or not at all cannot
    // keep a query (and its slot) past it by making every write wait.
    void end_by(Clock::time_point deadline) { end_by_ = deadline; }
    bool past_end() const { return Clock::now() >= end_by_; }

    // After refusing a request not read whole (headers too long): closing
    // with its rest unread would send a reset that can destroy the answer
    // before the client reads it. So: end our side, and read what the client
    // still sends for a moment (at most 64 KiB, 200 ms), as web servers do.
    void close_gracefully() {
        if (ssl_) return;  // TLS: the close_notify of the destructor
        ::shutdown(fd_.get(), SHUT_WR);
        const auto deadline = Clock::now() + std::chrono::milliseconds(200);
        char buf[4096];
        for (size_t drained = 0; drained < (64u << 10) && wait(POLLIN, deadline);) {
            const ssize_t n = ::recv(fd_.get(), buf, sizeof buf, 0);
            if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) return;
            if (n > 0) drained += size_t(n);
        }
    }

private:
    // One read or write: n bytes moved, or what to wait for (POLLIN,
    // POLLOUT; a TLS read may need to write and the other way round), or
    // neither: the connection is closed or failed.
    struct Io {
        ssize_t n = 0;
        short wait = 0;
    };

    Io tls_result(int r) {
        if (r > 0) return {r, 0};
        switch (SSL_get_error(ssl_, r)) {
            case SSL_ERROR_WANT_READ: return {0, POLLIN};
            case SSL_ERROR_WANT_WRITE: return {0, POLLOUT};
            default: ERR_clear_error(); return {};
        }
    }

    Io receive(char* buf, size_t size) {
        if (ssl_) return tls_result(SSL_read(ssl_, buf, int(size)));
        const ssize_t n = ::recv(fd_.get(), buf, size, 0);
        if (n > 0) return {n, 0};
        if (n < 0 && (errno == EAGAIN || errno == EINTR)) return {0, POLLIN};
        return {};
    }

    Io transmit(const char* data, size_t size) {
        if (ssl_) return tls_result(SSL_write(ssl_, data, int(std::min<size_t>(size, 1 << 20))));
        const ssize_t n = ::send(fd_.get(), data, size, MSG_NOSIGNAL);
        if (n > 0) return {n, 0};
        if (n < 0 && (errno == EAGAIN || errno == EINTR)) return {0, POLLOUT};
        return {};
    }

    bool handshake(Clock::time_point deadline) {
        if (!ssl_) return false;  // SSL_new failed
        for (;;) {
            const Io r = tls_result(SSL_accept(ssl_));
            if (r.n > 0) return handshaken_ = true;
            if (r.wait == 0 || !wait(r.wait, deadline)) return false;
        }
    }

    bool wait(short events, Clock::time_point deadline) {
        for (;;) {
            // Rounded up: truncated, the last millisecond read as 0 and a wait
            // ended before its deadline, so a query cut by its time limit was
            // logged as a reader that left (past_end() was not yet true).
            const auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline - Clock::now()).count();
            if (left <= 0) return false;
            pollfd p{fd_.get(), events, 0};
            const int r = ::poll(&p, 1, int(std::min<long long>(left, 1000)));
            if (r > 0) return true;
            if (r < 0 && errno != EINTR) return false;
        }
    }

    UniqueFd fd_;
    std::chrono::milliseconds timeout_;
    SSL* ssl_ = nullptr;
    bool handshaken_ = false;
    Clock::time_point end_by_ = Clock::time_point::max();
    uint64_t sent_ = 0;
};

std::string head(int status, std::string_view content_type, std::optional<size_t> length,
                 const std::vector<std::pair<std::string, std::string>>& extra = {}) {
    std::string h = "HTTP/1.1 " + std::to_string(status) + " " + reason(status) + "\r\n";
    h += "Content-Type: " + std::string(content_type) + "\r\n";
    h += length ? "Content-Length: " + std::to_string(*length) + "\r\n" : "Transfer-Encoding: chunked\r\n";
    h += "Cache-Control: no-store\r\nConnection: close\r\nX-Content-Type-Options: nosniff\r\n";
    for (const auto& [name, value] : extra) h += name + ": " + value + "\r\n";
    return h + "\r\n";
}

// A whole answer: what happened to the request, for the log.
struct Outcome {
    int status = 0;
    std::string note;  // why a stream was cut, or a refusal's message
};

Outcome answer(Connection& c, int status, std::string_view content_type, std::string_view body,
               const std::vector<std::pair<std::string, std::string>>& extra = {}) {
    c.send_all(head(status, content_type, body.size(), extra) + std::string(body));
    return {status, ""};
}

Outcome refuse(Connection& c, const Refusal& r) {
    std::string body = "{\"error\":" + json::quoted(r.message) + "}\n";
    answer(c, r.status, "application/json", body, r.headers);
    return {r.status, r.message};
}

// ---- the query string ---------------------------------------------------------

std::optional<std::string> percent_decoded(std::string_view s) {
    std::string out;
    for (size_t i = 0; i < s.size(); ++i) {
        if (s[i] == '+') {
            out += ' ';
        } else if (s[i] == '%') {
            if (i + 2 >= s.size() || !std::isxdigit(uint8_t(s[i + 1])) || !std::isxdigit(uint8_t(s[i + 2])))
                return std::nullopt;
            out += char(std::stoi(std::string(s.substr(i + 1, 2)), nullptr, 16));
            i += 2;
        } else {
            out += s[i];
        }
    }
    return out;
}

using Params = std::multimap<std::string, std::string>;

// The parameters, each among `known` (a typing error is an answer, not ignored).
Result<Params, Refusal> parse_query(std::string_view query, std::initializer_list<std::string_view> known) {
    Params out;
    while (!query.empty()) {
        const size_t amp = query.find('&');
        const std::string_view pair = query.substr(0, amp);
        query = amp == std::string_view::npos ? "" : query.substr(amp + 1);
        if (pair.empty()) continue;
        const size_t eq = pair.find('=');
        const auto key = percent_decoded(pair.substr(0, eq));
        const auto value = percent_decoded(eq == std::string_view::npos ? "" : pair.substr(eq + 1));
        if (!key || !value) return fail(Refusal{400, "bad percent-encoding in the query string"});
        bool ok = false;
        for (const auto k : known) ok |= k == *key;
        if (!ok) {
            std::string names;
            for (const auto k : known) names += (names.empty() ? "" : ", ") + std::string(k);
            return fail(Refusal{400, "unknown parameter " + quote(*key) + " (this endpoint takes " + names + ")"});
        }
        // Only session is a list; two of another would leave one of them unheeded.
        if (*key != "session" && out.count(*key)) return fail(Refusal{400, "parameter " + quote(*key) + " given twice"});
        out.emplace(*key, *value);
    }
    return out;
}

std::optional<std::string> single(const Params& p, const std::string& key) {
    const auto it = p.find(key);
    return it == p.end() ? std::nullopt : std::optional(it->second);
}

// ---- one query's search -----------------------------------------------------------

// What sessions, window and filter a request asks for: the command line's
// --session, --since, --until and expression, read the same way.
struct Query {
    SearchOptions options;
    CompiledFilter filter;
};

Result<Done, Refusal> read_query(const Params& p, const ServeLimits& limits, Query& q) {
    const uint64_t now = uint64_t(std::chrono::duration_cast<std::chrono::nanoseconds>(
                                      std::chrono::system_clock::now().time_since_epoch())
                                      .count());
    auto& sel = q.options.selection;
    for (auto [it, end] = p.equal_range("session"); it != end; ++it) sel.sessions.push_back(it->second);
    for (const auto& [key, at] : {std::pair{"since", &sel.since_ns}, std::pair{"until", &sel.until_ns}}) {
        const auto text = single(p, key);
        if (!text) continue;
        const auto arg = parse_time_arg(*text);
        const auto t = arg ? arg->at(now) : Result<uint64_t>(fail(arg.error()));
        if (!t) return fail(Refusal{400, std::string("bad ") + key + ": " + t.error()});
        *at = *t;
    }
    if (sel.until_ns < sel.since_ns) return fail(Refusal{400, "until is before since"});
    // One compile at a time: libpcap's compiler kept its state in globals
    // before 1.8, and serializing what takes microseconds rules that out.
    static std::mutex compiling;
    std::lock_guard lock(compiling);
    const std::string expression = single(p, "filter").value_or("");
    if (auto compiled = q.filter.compile(expression); !compiled)
        return fail(Refusal{400, "libpcap refuses the filter " + quote(expression) + ": " + compiled.error()});
    q.options.max_read_bytes = limits.max_read_bytes;
    q.options.deadline = Clock::now() + limits.max_seconds;
    return Done{};
}

// The search's log, gathered per request and said on stderr under its
// request number once it ends, so concurrent queries do not interleave.
class QueryLog {
public:
    QueryLog() : file_(open_memstream(&text_, &size_)) {}
    ~QueryLog() {
        if (file_) std::fclose(file_);
        std::free(text_);
    }
    // Without memory for the buffer, the lines go to stderr as they come.
    std::FILE* file() { return file_ ? file_ : stderr; }
    void say(uint64_t id) {
        if (!file_) return;
        std::fflush(file_);
        std::string_view rest(text_ ? text_ : "", size_);
        constexpr std::string_view kPrefix = "mirrortap-find: ";
        while (!rest.empty()) {
            const size_t eol = rest.find('\n');
            std::string_view line = rest.substr(0, eol);
            rest = eol == std::string_view::npos ? "" : rest.substr(eol + 1);
            if (line.starts_with(kPrefix)) line.remove_prefix(kPrefix.size());
            std::fprintf(stderr, "mirrortap-find: #%llu %.*s\n", static_cast<unsigned long long>(id), int(line.size()),
                         line.data());
        }
    }

private:
    char* text_ = nullptr;
    size_t size_ = 0;
    std::FILE* file_;
};

Refusal refusal_for(SearchEnd end, const std::string& why) {
    switch (end) {
        case SearchEnd::unknown_session: return {404, why};
        case SearchEnd::too_large: return {413, why};
        case SearchEnd::timed_out: return {503, why};
        case SearchEnd::not_listed: return {502, why};
        default: return {500, why};
    }
}

// The HTTP body of a pcap answer: each buffer-full written as one chunk,
// the response's head sent before the first. Until then a search that is
// refused (an unknown session, too large) can still answer with a status.
struct ChunkedBody {
    Connection& connection;
    std::string head;
    bool head_sent = false;
    bool discard = false;  // the answer is a refusal: what is buffered goes nowhere

    static ssize_t write(void* cookie, const char* data, size_t size) {
        auto& self = *static_cast<ChunkedBody*>(cookie);
        if (self.discard || size == 0) return ssize_t(size);
        char line[24];
        std::snprintf(line, sizeof line, "%zx\r\n", size);
        std::string out = self.head_sent ? "" : self.head;
        self.head_sent = true;
        out += line;
        // One send of head, size line and data: a small answer is one segment.
        out.append(data, size);
        out += "\r\n";
        if (!self.connection.send_all(out)) {
            errno = EPIPE;  // PcapOutput takes this as the reader gone: the search stops
            return -1;
        }
        return ssize_t(size);
    }
};

// ---- the server ---------------------------------------------------------------

class Server {
public:
    Server(const ServeOptions& options, Page page) : opt_(options), page_(std::move(page)) {}

    int run(const std::atomic<bool>& stop) {
        UniqueFd listener(::socket(opt_.listen.family(), SOCK_STREAM | SOCK_CLOEXEC, 0));
        const int one = 1;
        if (listener.get() < 0 || ::setsockopt(listener.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0 ||
            ::bind(listener.get(), reinterpret_cast<const sockaddr*>(&opt_.listen.addr), opt_.listen.len) != 0 ||
            ::listen(listener.get(), 128) != 0) {
            std::fprintf(stderr, "mirrortap-find: cannot serve on %s: %s\n", opt_.listen.text.c_str(), std::strerror(errno));
            return 1;
        }
        sockaddr_storage bound{};
        socklen_t len = sizeof bound;
        ::getsockname(listener.get(), reinterpret_cast<sockaddr*>(&bound), &len);
        std::fprintf(stderr, "mirrortap-find: serving on %s (%s, %s)\n", endpoint_text(bound).c_str(),
                     opt_.tls ? "https" : "http",
                     opt_.tokens ? count_of(opt_.tokens->size(), "client").c_str() : "no authentication, loopback only");
        while (!stop.load()) {
            pollfd p{listener.get(), POLLIN, 0};
            if (::poll(&p, 1, 200) <= 0) continue;
            const int fd = ::accept4(listener.get(), nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
            if (fd < 0) continue;
            std::unique_lock lock(mutex_);
            // Full: the connection that has waited longest for its request
            // makes room (its thread sees the shutdown and ends), so idle or
            // trickling clients cannot lock health checks out. Until that
            // thread has ended there is one more than the cap. Only when
            // every connection is being answered is the newcomer refused.
            if (connections_ >= kMaxConnections && !waiting_.empty()) {
                ::shutdown(waiting_.front(), SHUT_RDWR);
                waiting_.pop_front();
            } else if (connections_ >= kMaxConnections) {
                lock.unlock();
                // Over TLS an answer would need a handshake on this thread: closed instead.
                if (opt_.tls) {
                    ::close(fd);
                    continue;
                }
                Connection c(fd, std::chrono::milliseconds(100));
                refuse(c, {503, "too many connections", {{"Retry-After", "1"}}});
                continue;
            }
            ++connections_;
            waiting_.push_back(fd);
            lock.unlock();
            try {
                std::thread([this, fd] {
                    // One request's failure (out of memory, a library that throws) ends its
                    // connection, not the server: an exception leaving a thread would abort it.
                    try {
                        serve_connection(fd);
                    } catch (const std::exception& e) {
                        std::fprintf(stderr, "mirrortap-find: a request failed: %s\n", e.what());
                    }
                    std::lock_guard done(mutex_);
                    if (--connections_ == 0) idle_.notify_all();
                }).detach();
            } catch (const std::system_error&) {
                // No thread to be had (a process or memory limit): this client is turned away, the rest go on.
                std::lock_guard undo(mutex_);
                waiting_.remove(fd);
                ::close(fd);
                --connections_;
            }
        }
        // Running queries end by their own deadline; past a short wait they are abandoned with the process.
        std::unique_lock lock(mutex_);
        if (!idle_.wait_for(lock, std::chrono::seconds(5), [&] { return connections_ == 0; })) {
            std::fprintf(stderr, "mirrortap-find: stopping with %zu connections still open\n", connections_);
            std::fflush(stderr);
            std::_Exit(0);
        }
        std::fprintf(stderr, "mirrortap-find: stopped serving\n");
        return 0;
    }

private:
    void serve_connection(int fd) {
        const auto began = Clock::now();
        const uint64_t id = ++requests_;
        Connection c(fd, opt_.limits.io_timeout, opt_.tls ? opt_.tls->get() : nullptr);
        std::string who = "-";
        const auto request = c.read_request();
        {
            // Before the socket can be closed (and its number reused): no longer one to make room with.
            std::lock_guard lock(mutex_);
            waiting_.remove(fd);
        }
        if (!request) {
            if (request.error().status == 0) return;  // left before asking: nothing to log
            const Outcome refused = refuse(c, request.error());
            c.close_gracefully();
            return log(id, who, "-", refused, c.sent(), began);
        }
        const Outcome outcome = route(c, *request, who, id);
        log(id, who, request->method + " " + request->target(), outcome, c.sent(), began);
    }

    Outcome route(Connection& c, const Request& r, std::string& who, uint64_t id) {
        if (r.method != "GET")
            return refuse(c, {405, "only GET is served", {{"Allow", "GET"}}});
        // A health check asks no query and reveals nothing: answered without a token.
        if (r.path == "/healthz") return answer(c, 200, "text/plain; charset=utf-8", "ok\n");
        // The page holds no data (it asks the API with the token typed into it): served without one.
        if (r.path == "/") return answer(c, 200, "text/html; charset=utf-8", page_.html, page_.headers);
        if (!r.path.starts_with("/api/v1/")) return refuse(c, {404, "no such endpoint: " + printable(r.path)});
        if (opt_.tokens) {
            const auto name = opt_.tokens->who(r.authorization);
            if (!name)
                return refuse(c, {401, r.authorization.empty() ? "a bearer token is required" : "unknown token",
                                  {{"WWW-Authenticate", "Bearer realm=\"mirrortap-find\""}}});
            who = *name;
        } else {
            who = "anonymous";
        }
        if (r.path != "/api/v1/sessions" && r.path != "/api/v1/flows" && r.path != "/api/v1/pcap")
            return refuse(c, {404, "no such endpoint: " + printable(r.path)});
        QuerySlot slot(*this);
        if (!slot.held())
            return refuse(c, {429, "the server runs " + std::to_string(opt_.limits.max_queries) +
                                       " queries at once already: try again shortly",
                              {{"Retry-After", "1"}}});
        QueryLog qlog;
        Outcome out;
        if (r.path == "/api/v1/sessions") out = sessions(c, r, qlog.file());
        else if (r.path == "/api/v1/flows") out = flows(c, r, qlog.file());
        else out = pcap(c, r, qlog.file());
        qlog.say(id);
        return out;
    }

    // The query slots: at most max_queries held at once.
    class QuerySlot {
    public:
        explicit QuerySlot(Server& s) : s_(s) {
            std::lock_guard lock(s_.mutex_);
            if (s_.queries_ < s_.opt_.limits.max_queries) {
                ++s_.queries_;
                held_ = true;
            }
        }
        ~QuerySlot() {
            if (!held_) return;
            std::lock_guard lock(s_.mutex_);
            --s_.queries_;
        }
        bool held() const { return held_; }

    private:
        Server& s_;
        bool held_ = false;
    };

    Result<std::vector<std::unique_ptr<Store>>, Refusal> stores(std::FILE* log) {
        auto s = open_stores(opt_.sources, log);
        if (!s) return fail(Refusal{502, s.error()});
        return std::move(*s);
    }

    Outcome sessions(Connection& c, const Request& r, std::FILE* log) {
        if (auto p = parse_query(r.query, {}); !p) return refuse(c, p.error());
        auto opened = stores(log);
        if (!opened) return refuse(c, opened.error());
        std::map<std::string, std::vector<std::string>> where;
        for (auto& store : *opened) {
            const auto names = store->sessions();
            if (!names) return refuse(c, {502, "cannot list " + printable(store->describe()) + ": " + names.error()});
            for (const auto& n : *names) where[n].push_back(store->describe());
        }
        json::Value list = json::Value::array();
        for (const auto& [name, sources] : where) list.push_back({{"name", name}, {"sources", sources}});
        return answer(c, 200, "application/json", dump(json::Value{{"sessions", list}}));
    }

    Outcome flows(Connection& c, const Request& r, std::FILE* log) {
        const auto p = parse_query(r.query, {"session", "since", "until", "filter", "limit"});
        if (!p) return refuse(c, p.error());
        size_t limit = kDefaultFlowsLimit;
        if (const auto text = single(*p, "limit")) {
            const auto n = parse_uint(*text, 1, kMaxFlowsLimit);
            if (!n) return refuse(c, {400, "bad limit: " + n.error()});
            limit = size_t(*n);
        }
        Query q;
        if (auto read = read_query(*p, opt_.limits, q); !read) return refuse(c, read.error());
        auto opened = stores(log);
        if (!opened) return refuse(c, opened.error());
        const FlowsReport report = top_flows(*opened, q.options, q.filter, limit, log);
        if (report.end != SearchEnd::done) return refuse(c, refusal_for(report.end, report.why));
        json::Value list = json::Value::array();
        for (const auto& row : report.flows) {
            const IndexedFlow& f = row.flow;
            json::Value v = {{"session", row.session}, {"collector", row.collector}, {"first_ns", f.first_ns},
                             {"last_ns", f.last_ns}, {"packets", f.packets}, {"bytes", f.bytes},
                             {"src", f.src}, {"dst", f.dst}, {"vlans", f.vlans},
                             {"match", row.verdict == FlowVerdict::match ? "yes" : "maybe"}};
            v["ether_type"] = f.ether_type ? json::Value(*f.ether_type) : json::Value();
            v["ip_version"] = f.ip_version ? json::Value(*f.ip_version) : json::Value();
            v["protocol"] = f.protocol ? json::Value(*f.protocol) : json::Value();
            v["src_port"] = f.src_port ? json::Value(*f.src_port) : json::Value();
            v["dst_port"] = f.dst_port ? json::Value(*f.dst_port) : json::Value();
            list.push_back(std::move(v));
        }
        const json::Value body = {{"flows", list},
                                  {"matching_flows", report.matching_flows},
                                  {"limit", limit},
                                  {"files", report.files},
                                  {"unindexed_files", report.unindexed_files},
                                  {"problems", report.shortfalls},
                                  {"complete", report.unindexed_files == 0 && report.shortfalls == 0}};
        return answer(c, 200, "application/json", dump(body));
    }

    Outcome pcap(Connection& c, const Request& r, std::FILE* log) {
        const auto p = parse_query(r.query, {"session", "since", "until", "filter", "format", "partial_ok"});
        if (!p) return refuse(c, p.error());
        OutputFormat format = OutputFormat::pcap;
        if (const auto text = single(*p, "format")) {
            const auto f = parse_output_format(*text);
            if (!f) return refuse(c, {400, "bad format: " + f.error()});
            format = *f;
        }
        bool partial_ok = false;
        if (const auto text = single(*p, "partial_ok")) {
            const auto b = parse_bool(*text);
            if (!b) return refuse(c, {400, "bad partial_ok: " + b.error()});
            partial_ok = *b;
        }
        Query q;
        if (auto read = read_query(*p, opt_.limits, q); !read) return refuse(c, read.error());
        q.options.partial_ok = partial_ok;
        q.options.flush_every = kStreamFlushEvery;
        c.end_by(*q.options.deadline);
        auto opened = stores(log);
        if (!opened) return refuse(c, opened.error());
        const std::string name = format == OutputFormat::pcapng ? "mirrortap.pcapng" : "mirrortap.pcap";
        const char* type = format == OutputFormat::pcapng ? "application/x-pcapng" : "application/vnd.tcpdump.pcap";
        ChunkedBody body{c, head(200, type, std::nullopt,
                                 {{"Content-Disposition", "attachment; filename=\"" + name + "\""}})};
        std::FILE* stream = fopencookie(&body, "w", {nullptr, &ChunkedBody::write, nullptr, nullptr});
        if (!stream) return refuse(c, {500, std::string("cannot make the output stream: ") + std::strerror(errno)});
        std::setvbuf(stream, nullptr, _IOFBF, kStreamBufferBytes);
        PcapOutput out;
        (void)out.attach(stream, format);
        const SearchReport report = search(*opened, q.options, q.filter, out, log);
        if (!body.head_sent) {
            // Refused before any byte went out: an HTTP error, and the buffered file header is dropped.
            body.discard = true;
            std::fclose(stream);
            return refuse(c, refusal_for(report.end, report.why));
        }
        std::fclose(stream);
        const bool whole = report.end == SearchEnd::done && (report.shortfalls == 0 || partial_ok);
        if (whole && c.send_all("0\r\n\r\n")) return {200, count_of(out.packets(), "packet")};
        // Cut without its last chunk: curl and browsers report an incomplete
        // transfer, so an answer that is not whole never passes for one.
        std::string why = report.end == SearchEnd::done
                              ? count_of(report.shortfalls, "problem") + " reading the sources (partial_ok=true accepts them)"
                          : report.end == SearchEnd::reader_gone && c.past_end()
                              ? "the query ran past its time limit while the client was not reading"
                              : report.why;
        return {200, "cut after " + count_of(out.packets(), "packet") + ": " + why};
    }

    static std::string dump(const json::Value& v) {
        return v.dump(-1, ' ', false, json::Value::error_handler_t::replace) + "\n";
    }

    void log(uint64_t id, const std::string& who, const std::string& what, const Outcome& o, uint64_t bytes,
             Clock::time_point began) {
        const double seconds = std::chrono::duration<double>(Clock::now() - began).count();
        std::fprintf(stderr, "mirrortap-find: #%llu %s \"%s\" %d %llu bytes %.3f s%s%s\n",
                     static_cast<unsigned long long>(id), printable(who).c_str(), printable(what).c_str(), o.status,
                     static_cast<unsigned long long>(bytes), seconds, o.note.empty() ? "" : ": ",
                     printable(o.note).c_str());
    }

    const ServeOptions& opt_;
    const Page page_;
    std::mutex mutex_;
    std::condition_variable idle_;
    size_t connections_ = 0;
    std::list<int> waiting_;  // connections whose request has not arrived, oldest first
    size_t queries_ = 0;
    std::atomic<uint64_t> requests_{0};
};

}  // namespace

int serve(const ServeOptions& options, const std::atomic<bool>& stop) {
    auto page = Page::make(kPageHtml);
    if (!page) {
        std::fprintf(stderr, "mirrortap-find: the built-in page is broken: %s\n", page.error().c_str());
        return 1;
    }
    Server server(options, std::move(*page));
    return server.run(stop);
}

}  // namespace mirrortap::find
