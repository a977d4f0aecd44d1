#include "server/http_server.h"

#include <openssl/crypto.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <cerrno>
#include <cstring>
#include <optional>
#include <thread>
#include <vector>

namespace berth::server {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace ssl = asio::ssl;
using Local = asio::local::stream_protocol;
using Tcp = asio::ip::tcp;
using LocalStream = beast::basic_stream<Local, asio::any_io_executor, beast::unlimited_rate_policy>;
using TlsStream = beast::ssl_stream<beast::tcp_stream>;

struct HttpServer::Impl {
  HttpServerOptions options;
  Handler handler;
  // Before io: sessions still queued in io are destroyed with it and count themselves out.
  std::atomic<size_t> connections{0};
  std::atomic<bool> stopped{false};
  std::optional<ssl::context> tls;
  asio::io_context io;
  std::unique_ptr<Local::acceptor> local;
  std::unique_ptr<Tcp::acceptor> tcp;
  uint16_t port = 0;
  std::vector<std::thread> threads;

  template <class Acceptor, class MakeSession>
  void Accept(Acceptor* acceptor, MakeSession make);
  Status ListenTcp();
};

namespace {

// "Bearer <token>" against the token, in time that does not depend on where they differ.
bool TokenMatches(std::string_view header, const std::string& token) {
  constexpr std::string_view kBearer = "Bearer ";
  if (token.empty() || header.size() != kBearer.size() + token.size() || header.substr(0, kBearer.size()) != kBearer)
    return false;
  return CRYPTO_memcmp(header.data() + kBearer.size(), token.data(), token.size()) == 0;
}

// One connection: requests read and answered in turn (kept alive when the client asks),
// each on the connection's strand. S is the unix, TCP or TLS stream.
template <class S>
class Session : public std::enable_shared_from_this<Session<S>> {
 public:
  Session(HttpServer::Impl* server, S stream, bool need_token)
      : server_(server), stream_(std::move(stream)), timer_(stream_.get_executor()), need_token_(need_token) {
    ++server_->connections;
  }
  ~Session() { --server_->connections; }

  void Start() {
    if constexpr (std::is_same_v<S, TlsStream>) {
      Lowest().expires_after(std::chrono::milliseconds(server_->options.read_timeout_ms));
      stream_.async_handshake(ssl::stream_base::server, [self = this->shared_from_this()](beast::error_code ec) {
        if (ec) return self->Close();  // not TLS, a bad handshake, or too slow
        self->Read(true);
      });
    } else {
      Read(true);
    }
  }

 private:
  auto& Lowest() { return beast::get_lowest_layer(stream_); }

  void Read(bool first) {
    parser_.emplace();
    parser_->body_limit(server_->options.body_bytes_max);
    parser_->header_limit(16 * 1024);
    // An idle kept-alive connection, or a client that stops mid-request, is dropped.
    Lowest().expires_after(std::chrono::milliseconds(first ? server_->options.read_timeout_ms
                                                           : server_->options.idle_timeout_ms));
    http::async_read(stream_, buffer_, *parser_,
                     [self = this->shared_from_this()](beast::error_code ec, size_t) { self->OnRead(ec); });
  }

  void OnRead(beast::error_code ec) {
    if (ec == http::error::body_limit) {
      Respond(413, R"({"error":"the request body is over the limit of )" +
                       std::to_string(server_->options.body_bytes_max) + R"( bytes","code":"too_large"})" "\n",
              false);
      return;
    }
    if (ec) return;  // closed, timed out or malformed: nothing to answer on
    auto& req = parser_->get();
    auto auth = req[http::field::authorization];
    if (need_token_ && !TokenMatches(std::string_view(auth.data(), auth.size()), server_->options.token)) {
      if (server_->options.on_refused) server_->options.on_refused(401);
      Respond(401, R"({"error":"missing or wrong bearer token: send 'Authorization: Bearer <token>' with the token from berth serve's token file","code":"unauthenticated"})" "\n",
              req.keep_alive());
      return;
    }
    ApiRequest r{std::string(req.method_string()), std::string(req.target()), req.body()};
    ApiResponse out = server_->handler(r);
    if (out.stream) return StartStream(std::move(out), req.keep_alive());
    Respond(out.status, std::move(out.body), req.keep_alive(), out.content_type);
  }

  void Respond(int status, std::string body, bool keep_alive,
               const std::string& content_type = "application/json") {
    auto res = std::make_shared<http::response<http::string_body>>(http::int_to_status(status), 11);
    res->set(http::field::content_type, content_type);
    res->set(http::field::server, "berth");
    if (status == 401) res->set(http::field::www_authenticate, "Bearer");
    res->keep_alive(keep_alive);
    res->body() = std::move(body);
    res->prepare_payload();
    Lowest().expires_after(std::chrono::milliseconds(server_->options.read_timeout_ms));
    http::async_write(stream_, *res, [self = this->shared_from_this(), res, keep_alive](beast::error_code ec, size_t) {
      if (ec || !keep_alive || self->server_->stopped) return self->Close();
      self->Read(false);
    });
  }

  // A chunked response: the head, then Pump until the stream ends or its time is up.
  void StartStream(ApiResponse out, bool keep_alive) {
    stream_api_ = std::move(out.stream);
    keep_alive_ = keep_alive;
    stream_end_ = std::chrono::steady_clock::now() + std::chrono::milliseconds(server_->options.stream_max_ms);
    head_.emplace(http::int_to_status(out.status), 11);
    head_->set(http::field::content_type, out.content_type);
    head_->set(http::field::server, "berth");
    head_->keep_alive(keep_alive);
    head_->chunked(true);
    head_serializer_.emplace(*head_);
    Lowest().expires_after(std::chrono::milliseconds(server_->options.read_timeout_ms));
    http::async_write_header(stream_, *head_serializer_, [self = this->shared_from_this()](beast::error_code ec, size_t) {
      if (ec) return self->Close();
      self->Pump();
    });
  }

  void Pump() {
    if (server_->stopped) return Close();
    chunk_.clear();
    bool more = stream_api_->Next(&chunk_) && std::chrono::steady_clock::now() < stream_end_;
    if (chunk_.empty() && more) {
      Lowest().expires_never();  // nothing pending on the socket while we wait
      timer_.expires_after(std::chrono::milliseconds(server_->options.stream_poll_ms));
      timer_.async_wait([self = this->shared_from_this()](beast::error_code ec) {
        if (ec) return self->Close();
        self->Pump();
      });
      return;
    }
    if (chunk_.empty()) return EndStream();
    Lowest().expires_after(std::chrono::milliseconds(server_->options.read_timeout_ms));
    asio::async_write(stream_, http::make_chunk(asio::buffer(chunk_)),
                      [self = this->shared_from_this(), more](beast::error_code ec, size_t) {
                        if (ec) return self->Close();
                        if (more) return self->Pump();
                        self->EndStream();
                      });
  }

  void EndStream() {
    Lowest().expires_after(std::chrono::milliseconds(server_->options.read_timeout_ms));
    asio::async_write(stream_, http::make_chunk_last(), [self = this->shared_from_this()](beast::error_code ec, size_t) {
      self->stream_api_.reset();
      if (ec || !self->keep_alive_ || self->server_->stopped) return self->Close();
      self->Read(false);
    });
  }

  void Close() {
    beast::error_code ignored;
    Lowest().socket().shutdown(asio::socket_base::shutdown_both, ignored);
  }

  HttpServer::Impl* server_;
  S stream_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  asio::steady_timer timer_;
  bool need_token_;
  // A streamed response (StartStream): its head, the serializer writing it, the stream,
  // the chunk being written and when the response ends at the latest.
  std::shared_ptr<ApiStream> stream_api_;
  std::optional<http::response<http::empty_body>> head_;
  std::optional<http::response_serializer<http::empty_body>> head_serializer_;
  std::string chunk_;
  bool keep_alive_ = false;
  std::chrono::steady_clock::time_point stream_end_;
};

// "127.0.0.1:8080", "[::1]:8080" -> address and port; false on anything else.
bool ParseListen(const std::string& s, asio::ip::address* addr, uint16_t* port) {
  size_t colon = s.rfind(':');
  if (colon == std::string::npos || colon + 1 == s.size()) return false;
  std::string host = s.substr(0, colon), p = s.substr(colon + 1);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  beast::error_code ec;
  *addr = asio::ip::make_address(host, ec);
  if (ec || p.size() > 5 || p.find_first_not_of("0123456789") != std::string::npos) return false;
  unsigned long n = std::stoul(p);
  if (n > 65535) return false;
  *port = uint16_t(n);
  return true;
}

}  // namespace

template <class Acceptor, class MakeSession>
void HttpServer::Impl::Accept(Acceptor* acceptor, MakeSession make) {
  // Each connection on a strand of its own: its reads, writes and timeout never run at once
  // on the two threads.
  acceptor->async_accept(asio::make_strand(io), [this, acceptor, make](beast::error_code ec, auto socket) {
    if (stopped) return;
    if (!ec) {
      if (connections.load() >= options.connections_max) {
        beast::error_code ignored;
        socket.close(ignored);  // over the limit: closed at once, the others keep being served
      } else {
        make(std::move(socket));
      }
    }
    Accept(acceptor, make);
  });
}

Status HttpServer::CheckListen(const HttpServerOptions& options) {
  bool with_tls = !options.tls_cert.empty() || !options.tls_key.empty();
  if (options.listen.empty())
    return with_tls ? InvalidArgument("--tls-cert and --tls-key are for a TCP listener: add --listen ADDRESS:PORT")
                    : Status::Ok();
  asio::ip::address addr;
  uint16_t port = 0;
  if (!ParseListen(options.listen, &addr, &port))
    return InvalidArgument("--listen '" + options.listen + "' is not ADDRESS:PORT (e.g. 127.0.0.1:7070 or [::1]:7070)");
  if (with_tls && (options.tls_cert.empty() || options.tls_key.empty()))
    return InvalidArgument("TLS needs both --tls-cert and --tls-key (PEM files)");
  if (!addr.is_loopback() && !with_tls)
    return InvalidArgument("--listen " + options.listen + " is not a loopback address: serving it needs TLS "
                           "(--tls-cert FILE --tls-key FILE), or listen on 127.0.0.1");
  return Status::Ok();
}

Status HttpServer::Impl::ListenTcp() {
  if (Status s = CheckListen(options); !s.ok()) return s;
  asio::ip::address addr;
  uint16_t want = 0;
  ParseListen(options.listen, &addr, &want);  // checked above
  bool with_tls = !options.tls_cert.empty();
  if (options.token.empty()) return InvalidArgument("a TCP listener needs a bearer token");
  if (with_tls) {
    tls.emplace(ssl::context::tls_server);
    tls->set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 | ssl::context::no_sslv3 |
                     ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1);
    beast::error_code ec;
    tls->use_certificate_chain_file(options.tls_cert, ec);
    if (ec) return InvalidArgument("cannot load the TLS certificate " + options.tls_cert + ": " + ec.message());
    tls->use_private_key_file(options.tls_key, ssl::context::pem, ec);
    if (ec) return InvalidArgument("cannot load the TLS key " + options.tls_key + ": " + ec.message());
  }
  beast::error_code ec;
  auto acc = std::make_unique<Tcp::acceptor>(io);
  Tcp::endpoint ep(addr, want);
  acc->open(ep.protocol(), ec);
  if (!ec) acc->set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) acc->bind(ep, ec);
  if (!ec) acc->listen(asio::socket_base::max_listen_connections, ec);
  if (ec) return Status(Code::kIOError, "cannot listen on " + options.listen + ": " + ec.message());
  port = acc->local_endpoint().port();
  tcp = std::move(acc);
  if (tls)
    Accept(tcp.get(), [this](Tcp::socket s) {
      std::make_shared<Session<TlsStream>>(this, TlsStream(beast::tcp_stream(std::move(s)), *tls), true)->Start();
    });
  else
    Accept(tcp.get(), [this](Tcp::socket s) {
      std::make_shared<Session<beast::tcp_stream>>(this, beast::tcp_stream(std::move(s)), true)->Start();
    });
  return Status::Ok();
}

HttpServer::HttpServer(HttpServerOptions options, Handler handler) : impl_(std::make_unique<Impl>()) {
  impl_->options = std::move(options);
  impl_->handler = std::move(handler);
}

HttpServer::~HttpServer() { Stop(); }

uint16_t HttpServer::tcp_port() const { return impl_->port; }

Status HttpServer::Start() {
  const std::string& path = impl_->options.socket_path;
  if (path.size() >= sizeof(sockaddr_un{}.sun_path))
    return InvalidArgument("the server's socket path " + path + " is " + std::to_string(path.size()) +
                           " bytes, over the " + std::to_string(sizeof(sockaddr_un{}.sun_path) - 1) +
                           " a unix socket allows: use a shorter --data-dir");
  if (!impl_->options.listen.empty())
    if (Status s = impl_->ListenTcp(); !s.ok()) return s;
  ::unlink(path.c_str());  // a stale socket of a server that was killed (the caller holds the data directory)
  beast::error_code ec;
  auto acc = std::make_unique<Local::acceptor>(impl_->io);
  acc->open(Local(), ec);
  if (!ec) acc->bind(Local::endpoint(path), ec);
  if (!ec && ::chmod(path.c_str(), 0600) != 0) ec = beast::error_code(errno, beast::system_category());
  if (!ec) acc->listen(asio::socket_base::max_listen_connections, ec);
  if (ec) return Status(Code::kIOError, "cannot listen on " + path + ": " + ec.message());
  impl_->local = std::move(acc);
  impl_->Accept(impl_->local.get(), [impl = impl_.get()](Local::socket s) {
    std::make_shared<Session<LocalStream>>(impl, LocalStream(std::move(s)), false)->Start();
  });
  for (unsigned i = 0; i < std::max(1u, impl_->options.threads); ++i)
    impl_->threads.emplace_back([this] { impl_->io.run(); });
  return Status::Ok();
}

void HttpServer::Stop() {
  if (!impl_ || impl_->threads.empty()) return;
  impl_->stopped = true;
  asio::post(impl_->io, [this] {
    beast::error_code ignored;
    impl_->local->close(ignored);
    if (impl_->tcp) impl_->tcp->close(ignored);
  });
  impl_->io.stop();  // open sessions are dropped with the io_context
  for (auto& t : impl_->threads) t.join();
  impl_->threads.clear();
  ::unlink(impl_->options.socket_path.c_str());
}

}  // namespace berth::server
