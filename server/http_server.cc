#include "server/http_server.h"

#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <cerrno>
#include <cstring>
#include <optional>
#include <thread>
#include <vector>

namespace berth::server {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using Local = asio::local::stream_protocol;
using Stream = beast::basic_stream<Local, asio::any_io_executor, beast::unlimited_rate_policy>;

struct HttpServer::Impl {
  HttpServerOptions options;
  Handler handler;
  // Before io: sessions still queued in io are destroyed with it and count themselves out.
  std::atomic<size_t> connections{0};
  std::atomic<bool> stopped{false};
  asio::io_context io;
  std::unique_ptr<Local::acceptor> acceptor;
  std::vector<std::thread> threads;

  void Accept();
};

namespace {

class Session : public std::enable_shared_from_this<Session> {
 public:
  Session(HttpServer::Impl* server, Local::socket socket)
      : server_(server), stream_(std::move(socket)), timer_(stream_.get_executor()) {
    ++server_->connections;
  }
  ~Session() { --server_->connections; }

  void Read(bool first) {
    parser_.emplace();
    parser_->body_limit(server_->options.body_bytes_max);
    parser_->header_limit(16 * 1024);
    // An idle kept-alive connection, or a client that stops mid-request, is dropped.
    stream_.expires_after(std::chrono::milliseconds(first ? server_->options.read_timeout_ms
                                                          : server_->options.idle_timeout_ms));
    http::async_read(stream_, buffer_, *parser_,
                     [self = shared_from_this()](beast::error_code ec, size_t) { self->OnRead(ec); });
  }

 private:
  void OnRead(beast::error_code ec) {
    if (ec == http::error::body_limit) {
      Respond(413, R"({"error":"the request body is over the limit of )" +
                       std::to_string(server_->options.body_bytes_max) + R"( bytes","code":"too_large"})" "\n",
              false);
      return;
    }
    if (ec) return;  // closed, timed out or malformed: nothing to answer on
    auto& req = parser_->get();
    ApiRequest r{std::string(req.method_string()), std::string(req.target()), req.body()};
    ApiResponse out = server_->handler(r);
    if (out.stream) return StartStream(std::move(out), req.keep_alive());
    Respond(out.status, std::move(out.body), req.keep_alive(), out.content_type);
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
    stream_.expires_after(std::chrono::milliseconds(server_->options.read_timeout_ms));
    http::async_write_header(stream_, *head_serializer_, [self = shared_from_this()](beast::error_code ec, size_t) {
      if (ec) return self->Close();
      self->Pump();
    });
  }

  void Pump() {
    if (server_->stopped) return Close();
    chunk_.clear();
    bool more = stream_api_->Next(&chunk_) && std::chrono::steady_clock::now() < stream_end_;
    if (chunk_.empty() && more) {
      stream_.expires_never();  // nothing pending on the socket while we wait
      timer_.expires_after(std::chrono::milliseconds(server_->options.stream_poll_ms));
      timer_.async_wait([self = shared_from_this()](beast::error_code ec) {
        if (ec) return self->Close();
        self->Pump();
      });
      return;
    }
    auto after = [self = shared_from_this(), more](beast::error_code ec, size_t) {
      if (ec) return self->Close();
      if (more) return self->Pump();
      self->EndStream();
    };
    stream_.expires_after(std::chrono::milliseconds(server_->options.read_timeout_ms));
    if (chunk_.empty()) return EndStream();
    asio::async_write(stream_, http::make_chunk(asio::buffer(chunk_)), std::move(after));
  }

  void EndStream() {
    stream_.expires_after(std::chrono::milliseconds(server_->options.read_timeout_ms));
    asio::async_write(stream_, http::make_chunk_last(), [self = shared_from_this()](beast::error_code ec, size_t) {
      self->stream_api_.reset();
      if (ec || !self->keep_alive_ || self->server_->stopped) return self->Close();
      self->Read(false);
    });
  }

  void Close() {
    beast::error_code ignored;
    stream_.socket().shutdown(Local::socket::shutdown_both, ignored);
  }

  void Respond(int status, std::string body, bool keep_alive,
               const std::string& content_type = "application/json") {
    auto res = std::make_shared<http::response<http::string_body>>(http::int_to_status(status), 11);
    res->set(http::field::content_type, content_type);
    res->set(http::field::server, "berth");
    res->keep_alive(keep_alive);
    res->body() = std::move(body);
    res->prepare_payload();
    stream_.expires_after(std::chrono::milliseconds(server_->options.read_timeout_ms));
    http::async_write(stream_, *res, [self = shared_from_this(), res, keep_alive](beast::error_code ec, size_t) {
      if (ec || !keep_alive || self->server_->stopped) {
        beast::error_code ignored;
        self->stream_.socket().shutdown(Local::socket::shutdown_both, ignored);
        return;
      }
      self->Read(false);
    });
  }

  HttpServer::Impl* server_;
  Stream stream_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  // A streamed response (StartStream): its head, the serializer writing it, the stream,
  // the chunk being written and when the response ends at the latest.
  asio::steady_timer timer_;
  std::shared_ptr<ApiStream> stream_api_;
  std::optional<http::response<http::empty_body>> head_;
  std::optional<http::response_serializer<http::empty_body>> head_serializer_;
  std::string chunk_;
  bool keep_alive_ = false;
  std::chrono::steady_clock::time_point stream_end_;
};

}  // namespace

void HttpServer::Impl::Accept() {
  // Each connection on a strand of its own: its reads, writes and timeout never run at once
  // on the two threads.
  acceptor->async_accept(asio::make_strand(io), [this](beast::error_code ec, Local::socket socket) {
    if (stopped) return;
    if (!ec) {
      if (connections.load() >= options.connections_max) {
        beast::error_code ignored;
        socket.close(ignored);  // over the limit: closed at once, the others keep being served
      } else {
        std::make_shared<Session>(this, std::move(socket))->Read(true);
      }
    }
    Accept();
  });
}

HttpServer::HttpServer(HttpServerOptions options, Handler handler) : impl_(std::make_unique<Impl>()) {
  impl_->options = std::move(options);
  impl_->handler = std::move(handler);
}

HttpServer::~HttpServer() { Stop(); }

Status HttpServer::Start() {
  const std::string& path = impl_->options.socket_path;
  if (path.size() >= sizeof(sockaddr_un{}.sun_path))
    return InvalidArgument("the server's socket path " + path + " is " + std::to_string(path.size()) +
                           " bytes, over the " + std::to_string(sizeof(sockaddr_un{}.sun_path) - 1) +
                           " a unix socket allows: use a shorter --data-dir");
  ::unlink(path.c_str());  // a stale socket of a server that was killed (the caller holds the data directory)
  beast::error_code ec;
  auto acc = std::make_unique<Local::acceptor>(impl_->io);
  acc->open(Local(), ec);
  if (!ec) acc->bind(Local::endpoint(path), ec);
  if (!ec && ::chmod(path.c_str(), 0600) != 0) ec = beast::error_code(errno, beast::system_category());
  if (!ec) acc->listen(asio::socket_base::max_listen_connections, ec);
  if (ec) return Status(Code::kIOError, "cannot listen on " + path + ": " + ec.message());
  impl_->acceptor = std::move(acc);
  impl_->Accept();
  for (unsigned i = 0; i < std::max(1u, impl_->options.threads); ++i)
    impl_->threads.emplace_back([this] { impl_->io.run(); });
  return Status::Ok();
}

void HttpServer::Stop() {
  if (!impl_ || impl_->threads.empty()) return;
  impl_->stopped = true;
  asio::post(impl_->io, [this] {
    beast::error_code ignored;
    impl_->acceptor->close(ignored);
  });
  impl_->io.stop();  // open sessions are dropped with the io_context
  for (auto& t : impl_->threads) t.join();
  impl_->threads.clear();
  ::unlink(impl_->options.socket_path.c_str());
}

}  // namespace berth::server
