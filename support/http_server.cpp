#include "support/http_server.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ip/v6_only.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/write.hpp>

#include <netinet/in.h>
#include <pthread.h>

#include <charconv>
#include <cstring>
#include <list>
#include <mutex>
#include <optional>
#include <thread>
#include <unordered_map>

#include "support/text.hpp"

namespace mirrortap {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = boost::beast::http;
using tcp = asio::ip::tcp;

bool same_secret(std::string_view given, std::string_view expected) {
    unsigned char diff = given.size() == expected.size() ? 0 : 1;
    for (size_t i = 0; i < given.size(); ++i)
        diff |= uint8_t(given[i]) ^ uint8_t(i < expected.size() ? expected[i] : 0);
    return diff == 0;
}

namespace {

// The asio form of an endpoint parse_endpoint read as a literal address.
Result<tcp::endpoint> asio_endpoint(const Endpoint& e) {
    if (e.family() == AF_INET) {
        const auto& in = reinterpret_cast<const sockaddr_in&>(e.addr);
        return tcp::endpoint(asio::ip::address_v4(ntohl(in.sin_addr.s_addr)), e.port);
    }
    if (e.family() == AF_INET6) {
        const auto& in6 = reinterpret_cast<const sockaddr_in6&>(e.addr);
        asio::ip::address_v6::bytes_type bytes;
        std::memcpy(bytes.data(), in6.sin6_addr.s6_addr, bytes.size());
        return tcp::endpoint(asio::ip::address_v6(bytes, in6.sin6_scope_id), e.port);
    }
    return fail(quote(e.text) + " is not a numeric IP address and port");
}

std::string_view view(beast::string_view s) { return {s.data(), s.size()}; }

}  // namespace

namespace http_detail {

// Lets a reply given on another thread reach the server's thread, or be
// dropped once the server has stopped.
struct Gate {
    std::mutex mutex;
    asio::io_context* io = nullptr;  // null once the server stops
};

// The body of every answer: a string shared by the connections sending it,
// never copied for each of them.
struct SharedTextBody {
    using value_type = std::shared_ptr<const std::string>;

    static std::uint64_t size(const value_type& body) { return body ? body->size() : 0; }

    class writer {
    public:
        using const_buffers_type = asio::const_buffer;
        template <bool isRequest, class Fields>
        writer(const http::header<isRequest, Fields>&, const value_type& body) : body_(body) {}
        void init(boost::system::error_code& ec) { ec = {}; }
        boost::optional<std::pair<const_buffers_type, bool>> get(boost::system::error_code& ec) {
            ec = {};
            if (!body_ || body_->empty()) return boost::none;
            return {{const_buffers_type(body_->data(), body_->size()), false}};
        }

    private:
        const value_type& body_;
    };
};

class Server {
public:
    Server(HttpServer::DeferringHandler handler, HttpServerOptions options)
        : handler_(std::move(handler)), opt_(options), gate_(std::make_shared<Gate>()) {
        gate_->io = &io_;
    }

    ~Server() {
        {
            std::lock_guard lock(gate_->mutex);
            gate_->io = nullptr;  // replies given from now on are dropped
        }
        io_.stop();
        if (thread_.joinable()) thread_.join();
        // Handlers that never ran still own their connections; io_'s
        // destructor frees them. The lists hold plain pointers only.
        connections_.clear();
        sending_.clear();
    }

    Result<> start(const Endpoint& listen) {
        if (auto bound = bind(listen); !bound) return bound;
        run();
        return {};
    }

    void run() {
        if (thread_.joinable()) return;
        thread_ = std::thread([this] { io_.run(); });
        pthread_setname_np(thread_.native_handle(), "mt-http");
    }

    Result<> bind(const Endpoint& listen) {
        const auto endpoint = asio_endpoint(listen);
        if (!endpoint) return fail(endpoint.error());
        boost::system::error_code ec;
        acceptor_.open(endpoint->protocol(), ec);
        if (!ec) acceptor_.set_option(asio::socket_base::reuse_address(true), ec);
        if (!ec && endpoint->address().is_v6()) acceptor_.set_option(asio::ip::v6_only(false), ec);
        if (!ec) acceptor_.bind(*endpoint, ec);
        if (!ec) acceptor_.listen(asio::socket_base::max_listen_connections, ec);
        if (ec) return fail(ec.message());
        accept();  // queued: connections wait in the backlog until run()
        return {};
    }

    uint16_t port() const {
        boost::system::error_code ec;
        return acceptor_.local_endpoint(ec).port();
    }

private:
    friend class Connection;
    void accept();
    void make_room();
    // Counts `body` as unsent for `c`, first closing the connections that have
    // left their answers untaken longest while it would not fit.
    void hold_unsent(Connection& c, const std::shared_ptr<const std::string>& body);
    void release_unsent(Connection& c);

    HttpServer::DeferringHandler handler_;
    HttpServerOptions opt_;
    asio::io_context io_{1};
    tcp::acceptor acceptor_{io_};
    asio::steady_timer retry_{io_};
    std::shared_ptr<Gate> gate_;
    // Oldest progress first: a connection moves to the back when a request
    // arrives, when its answer begins and when it has been taken, so the front
    // is the one idle, or leaving its answer untaken, longest.
    std::list<Connection*> connections_;
    // Connections whose answer is not all taken yet, the one sending longest first.
    std::list<Connection*> sending_;
    // Each body being sent, and how many connections send it: a body counts once.
    std::unordered_map<const std::string*, size_t> senders_of_;
    size_t unsent_bytes_ = 0;
    std::thread thread_;
};

class Connection : public std::enable_shared_from_this<Connection> {
public:
    Connection(Server& server, tcp::socket socket)
        : server_(server), stream_(std::move(socket)), reply_deadline_(server.io_) {}

    void begin() {
        server_.connections_.push_back(this);
        place_ = std::prev(server_.connections_.end());
        read();
    }

    // Its request read, its answer not given yet.
    bool awaiting_answer() const { return !answered_; }

    void close() {
        if (closed_) return;
        closed_ = true;
        server_.connections_.erase(place_);
        if (sending_) server_.release_unsent(*this);
        reply_deadline_.cancel();
        boost::system::error_code ignored;
        stream_.socket().shutdown(tcp::socket::shutdown_both, ignored);
        stream_.socket().close(ignored);
    }

    // On the server's thread: sends the answer to the request read last.
    void respond(HttpResponse out) {
        if (closed_ || answered_) return;
        answered_ = true;
        reply_deadline_.cancel();
        response_ = {};
        response_.version(11);
        response_.result(unsigned(out.status));
        response_.set(http::field::content_type, out.content_type);
        response_.set(http::field::cache_control, "no-store");
        for (const auto& [name, value] : out.headers) response_.set(name, value);
        response_.body() = out.shared_body ? std::move(out.shared_body)
                                           : std::make_shared<const std::string>(std::move(out.body));
        response_.keep_alive(keep_alive_);
        response_.prepare_payload();
        server_.hold_unsent(*this, response_.body());
        touch();  // from now on idle, if the client does not read
        stream_.expires_after(server_.opt_.write_timeout);
        http::async_write(stream_, response_, [self = shared_from_this()](boost::system::error_code ec, size_t) {
            if (self->sending_) self->server_.release_unsent(*self);
            if (self->closed_) return;
            if (ec || !self->keep_alive_) return self->close();
            self->touch();
            self->read();
        });
    }

private:
    friend class Server;

    void touch() {
        auto& list = server_.connections_;
        list.splice(list.end(), list, place_);
    }

    void read() {
        parser_.emplace();
        parser_->header_limit(uint32_t(server_.opt_.max_header_bytes));
        // One deadline for the whole request, not per byte.
        stream_.expires_after(server_.opt_.read_timeout);
        http::async_read(stream_, buffer_, *parser_,
                         [self = shared_from_this()](boost::system::error_code ec, size_t) { self->on_read(ec); });
    }

    void on_read(boost::system::error_code ec) {
        if (closed_) return;
        if (ec) return close();
        answered_ = false;
        touch();
        const auto& req = parser_->get();
        keep_alive_ = req.keep_alive();
        if (req.method() != http::verb::get) {
            HttpResponse out{405, "text/plain; charset=utf-8", "only GET is served\n", {{"Allow", "GET"}}, {}};
            return respond(std::move(out));
        }
        const beast::string_view target = req.target();
        const size_t query = target.find('?');
        const HttpRequest request{view(req.method_string()),
                                  view(query == beast::string_view::npos ? target : target.substr(0, query)),
                                  view(req[http::field::authorization])};
        try {
            server_.handler_(request, HttpReply(weak_from_this(), server_.gate_));
        } catch (const std::exception& e) {
            // One bad answer must not end the thread that answers every check.
            respond({500, "text/plain; charset=utf-8", std::string("internal error: ") + e.what() + "\n", {}, {}});
        }
        if (answered_ || closed_) return;
        // Answered later from another thread: a handler that never answers
        // costs the connection, not the server.
        reply_deadline_.expires_after(server_.opt_.write_timeout);
        reply_deadline_.async_wait([self = shared_from_this()](boost::system::error_code e) {
            if (!e && !self->answered_) self->close();
        });
    }

    Server& server_;
    beast::tcp_stream stream_;
    asio::steady_timer reply_deadline_;
    beast::flat_buffer buffer_{16384};  // at most this much is read ahead
    std::optional<http::request_parser<http::empty_body>> parser_;
    http::response<SharedTextBody> response_;
    std::list<Connection*>::iterator place_;
    std::list<Connection*>::iterator sending_place_;
    bool keep_alive_ = false;
    bool answered_ = true;
    bool sending_ = false;
    bool closed_ = false;
};

void Server::make_room() {
    // The connection that has made no progress for longest goes: idle since
    // it was accepted or its last answer was taken, or leaving its answer
    // untaken since it began. So a client that never reads goes before one
    // that just connected (a load balancer's check), however many arrive. One
    // waiting for a deferred answer waits on us, and goes only when all do.
    while (!connections_.empty() && connections_.size() >= opt_.max_connections) {
        Connection* victim = connections_.front();
        for (Connection* c : connections_)
            if (!c->awaiting_answer()) {
                victim = c;
                break;
            }
        victim->close();
    }
}

void Server::hold_unsent(Connection& c, const std::shared_ptr<const std::string>& body) {
    // A body another connection sends already costs nothing more.
    const size_t added = senders_of_.count(body.get()) ? 0 : body->size();
    while (added > 0 && unsent_bytes_ + added > opt_.max_unsent_bytes && !sending_.empty())
        sending_.front()->close();
    if (senders_of_[body.get()]++ == 0) unsent_bytes_ += body->size();
    sending_.push_back(&c);
    c.sending_place_ = std::prev(sending_.end());
    c.sending_ = true;
}

void Server::release_unsent(Connection& c) {
    c.sending_ = false;
    sending_.erase(c.sending_place_);
    const auto& body = c.response_.body();
    const auto it = senders_of_.find(body.get());
    if (it != senders_of_.end() && --it->second == 0) {
        unsent_bytes_ -= body->size();
        senders_of_.erase(it);
    }
}

void Server::accept() {
    acceptor_.async_accept([this](boost::system::error_code ec, tcp::socket socket) {
        if (ec == asio::error::operation_aborted) return;
        if (!ec) {
            make_room();
            if (opt_.send_buffer_bytes > 0) {
                boost::system::error_code ignored;
                socket.set_option(asio::socket_base::send_buffer_size(opt_.send_buffer_bytes), ignored);
            }
            std::make_shared<Connection>(*this, std::move(socket))->begin();
            return accept();
        }
        // Out of descriptors (EMFILE) and the like: try again shortly; each
        // request's deadline frees descriptors meanwhile.
        retry_.expires_after(std::chrono::milliseconds(100));
        retry_.async_wait([this](boost::system::error_code e) {
            if (!e) accept();
        });
    });
}

}  // namespace http_detail

void HttpReply::send(HttpResponse response) const {
    std::lock_guard lock(gate_->mutex);
    if (!gate_->io) return;
    if (gate_->io->get_executor().running_in_this_thread()) {
        if (const auto c = connection_.lock()) c->respond(std::move(response));
        return;
    }
    asio::post(*gate_->io, [c = connection_, r = std::move(response)]() mutable {
        if (const auto connection = c.lock()) connection->respond(std::move(r));
    });
}

class HttpServer::Impl : public http_detail::Server {
public:
    using Server::Server;
};

HttpServer::HttpServer(DeferringHandler handler, HttpServerOptions options)
    : impl_(std::make_unique<Impl>(std::move(handler), options)) {}

HttpServer::HttpServer(Handler handler, HttpServerOptions options)
    : HttpServer(DeferringHandler([h = std::move(handler)](const HttpRequest& r, HttpReply reply) { reply.send(h(r)); }),
                 options) {}

HttpServer::~HttpServer() = default;

Result<> HttpServer::start(const Endpoint& listen) { return impl_->start(listen); }

Result<> HttpServer::bind(const Endpoint& listen) { return impl_->bind(listen); }

void HttpServer::run() { impl_->run(); }

uint16_t HttpServer::port() const { return impl_->port(); }

}  // namespace mirrortap
