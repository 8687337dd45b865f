#include "support/http_server.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ip/v6_only.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>

#include <charconv>
#include <list>
#include <optional>
#include <thread>

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

// "[v6]:port", "v4:port", "localhost:port" or "port"; nullopt with `why`.
std::optional<tcp::endpoint> parse_listen(const std::string& text, std::string& why) {
    std::string host = "0.0.0.0";
    std::string_view port = text;
    if (const size_t colon = text.rfind(':'); colon != std::string::npos) {
        host = text.substr(0, colon);
        port = std::string_view(text).substr(colon + 1);
        if (host.size() >= 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
        if (host == "localhost") host = "127.0.0.1";
    }
    unsigned value = 0;
    const auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
    if (ec != std::errc() || end != port.data() + port.size() || port.empty() || value > 65535) {
        why = "expected ADDR:PORT, [ADDR]:PORT or PORT";
        return std::nullopt;
    }
    boost::system::error_code bad;
    const auto address = asio::ip::make_address(host, bad);
    if (bad) {
        why = "'" + host + "' is not a numeric IP address";
        return std::nullopt;
    }
    return tcp::endpoint(address, uint16_t(value));
}

std::string_view view(beast::string_view s) { return {s.data(), s.size()}; }

}  // namespace

class HttpServer::Impl {
public:
    class Connection;

    Impl(Handler handler, HttpServerOptions options) : handler_(std::move(handler)), opt_(options) {}

    ~Impl() {
        io_.stop();
        if (thread_.joinable()) thread_.join();
        // Handlers that never ran still own their connections; io_'s
        // destructor frees them. The list holds plain pointers only.
        connections_.clear();
    }

    std::string start(const std::string& listen) {
        std::string why;
        const auto endpoint = parse_listen(listen, why);
        if (!endpoint) return why;
        boost::system::error_code ec;
        acceptor_.open(endpoint->protocol(), ec);
        if (!ec) acceptor_.set_option(asio::socket_base::reuse_address(true), ec);
        if (!ec && endpoint->address().is_v6()) acceptor_.set_option(asio::ip::v6_only(false), ec);
        if (!ec) acceptor_.bind(*endpoint, ec);
        if (!ec) acceptor_.listen(asio::socket_base::max_listen_connections, ec);
        if (ec) return ec.message();
        accept();
        thread_ = std::thread([this] { io_.run(); });
        return "";
    }

    uint16_t port() const {
        boost::system::error_code ec;
        return acceptor_.local_endpoint(ec).port();
    }

private:
    void accept();
    void make_room();

    Handler handler_;
    HttpServerOptions opt_;
    asio::io_context io_{1};
    tcp::acceptor acceptor_{io_};
    asio::steady_timer retry_{io_};
    // Oldest activity first: a connection moves to the back each time it is
    // served, so the front is the one idle longest.
    std::list<Connection*> connections_;
    std::thread thread_;
};

class HttpServer::Impl::Connection : public std::enable_shared_from_this<Connection> {
public:
    Connection(Impl& server, tcp::socket socket) : server_(server), stream_(std::move(socket)) {}

    void begin() {
        server_.connections_.push_back(this);
        place_ = std::prev(server_.connections_.end());
        read();
    }

    bool busy() const { return busy_; }

    void close() {
        if (closed_) return;
        closed_ = true;
        server_.connections_.erase(place_);
        boost::system::error_code ignored;
        stream_.socket().shutdown(tcp::socket::shutdown_both, ignored);
        stream_.socket().close(ignored);
    }

private:
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
        const auto& req = parser_->get();
        const beast::string_view target = req.target();
        const size_t query = target.find('?');
        const HttpRequest request{view(req.method_string()),
                                  view(query == beast::string_view::npos ? target : target.substr(0, query)),
                                  view(req[http::field::authorization])};
        HttpResponse out;
        if (req.method() != http::verb::get) {
            out.status = 405;
            out.body = "only GET is served\n";
            out.headers.emplace_back("Allow", "GET");
        } else {
            try {
                out = server_.handler_(request);
            } catch (const std::exception& e) {
                // One bad answer must not end the thread that answers every check.
                out = {500, "text/plain; charset=utf-8", std::string("internal error: ") + e.what() + "\n", {}};
            }
        }
        response_ = {};
        response_.version(11);
        response_.result(unsigned(out.status));
        response_.set(http::field::content_type, out.content_type);
        response_.set(http::field::cache_control, "no-store");
        for (const auto& [name, value] : out.headers) response_.set(name, value);
        response_.body() = std::move(out.body);
        keep_alive_ = req.keep_alive();
        response_.keep_alive(keep_alive_);
        response_.prepare_payload();
        busy_ = true;
        stream_.expires_after(server_.opt_.write_timeout);
        http::async_write(stream_, response_, [self = shared_from_this()](boost::system::error_code ec, size_t) {
            self->busy_ = false;
            if (self->closed_) return;
            if (ec || !self->keep_alive_) return self->close();
            // Served: now the most recently active.
            auto& list = self->server_.connections_;
            list.splice(list.end(), list, self->place_);
            self->read();
        });
    }

    Impl& server_;
    beast::tcp_stream stream_;
    beast::flat_buffer buffer_{16384};  // at most this much is read ahead
    std::optional<http::request_parser<http::empty_body>> parser_;
    http::response<http::string_body> response_;
    std::list<Connection*>::iterator place_;
    bool keep_alive_ = false;
    bool busy_ = false;
    bool closed_ = false;
};

void HttpServer::Impl::make_room() {
    // The connection idle longest goes first; one being answered is skipped.
    for (auto it = connections_.begin(); it != connections_.end() && connections_.size() >= opt_.max_connections;) {
        Connection* c = *it++;
        if (!c->busy()) c->close();
    }
}

void HttpServer::Impl::accept() {
    acceptor_.async_accept([this](boost::system::error_code ec, tcp::socket socket) {
        if (ec == asio::error::operation_aborted) return;
        if (!ec) {
            make_room();
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

HttpServer::HttpServer(Handler handler, HttpServerOptions options)
    : impl_(std::make_unique<Impl>(std::move(handler), options)) {}

HttpServer::~HttpServer() = default;

std::string HttpServer::start(const std::string& listen) { return impl_->start(listen); }

uint16_t HttpServer::port() const { return impl_->port(); }

}  // namespace mirrortap
