// libFuzzer target: the request path as a connection drives it. Bytes go
// through the llhttp adapter in pieces of varying size (so every split of a
// head or a chunk boundary gets exercised), each head through the router and
// the request helpers the handlers use.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "http/parser.h"
#include "http/router.h"
#include "registry/routes.h"

namespace {

using wharf::http::ParserEvents;
using wharf::http::Request;

class Events : public ParserEvents {
 public:
  explicit Events(const wharf::http::Router* r) : router_(r) {}
  Action OnHead(Request& req) override {
    wharf::http::Router::Match m;
    router_->Find(req.method, req.path, &m);
    (void)req.QueryParam("digest");
    (void)req.QueryParams("scope");
    (void)req.Joined("accept");
    (void)req.ClientIp();
    return Action::kContinue;
  }
  Action OnBody(std::string_view chunk) override {
    body_ += chunk.size();
    return Action::kContinue;
  }
  void OnMessageComplete(Request&) override {}

 private:
  const wharf::http::Router* router_;
  size_t body_ = 0;
};

const wharf::http::Router& TheRouter() {
  static wharf::http::Router* r = [] {
    auto* router = new wharf::http::Router;
    wharf::registry::BuildRouter(router);
    return router;
  }();
  return *r;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  // First byte: the feed step (1..256), so splits land everywhere.
  const size_t step = static_cast<size_t>(data[0]) + 1;
  std::string_view in(reinterpret_cast<const char*>(data + 1), size - 1);
  wharf::Limits limits;
  limits.max_header_bytes = 4096;
  limits.max_request_line = 1024;
  limits.max_headers = 32;
  Events ev(&TheRouter());
  wharf::http::RequestParser p(limits, &ev);
  size_t off = 0;
  std::string pending;  // unconsumed bytes, as the connection keeps them
  while (off < in.size() || !pending.empty()) {
    size_t take = std::min(step, in.size() - off);
    pending.append(in.substr(off, take));
    off += take;
    size_t used = 0;
    auto st = p.Feed(pending, &used);
    if (used > pending.size()) __builtin_trap();  // the adapter's contract
    pending.erase(0, used);
    if (st == wharf::http::RequestParser::State::kError ||
        st == wharf::http::RequestParser::State::kStopped)
      break;
    if (st == wharf::http::RequestParser::State::kPaused) {
      p.Resume();
      continue;
    }
    if (take == 0) break;  // need more and nothing left
  }
  return 0;
}
