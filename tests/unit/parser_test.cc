#include "http/parser.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace wharf::http {
namespace {

struct Seen {
  std::string method, target, body;
  std::vector<std::pair<std::string, std::string>> headers;
  bool chunked = false, keep_alive = false, expect = false;
  uint64_t content_length = 0;
};

class Recorder : public ParserEvents {
 public:
  Action OnHead(Request& r) override {
    Seen s;
    s.method = std::string(r.method);
    s.target = r.target;
    for (size_t i = 0; i < r.header_count; ++i)
      s.headers.emplace_back(r.headers[i].name, r.headers[i].value);
    s.chunked = r.chunked;
    s.keep_alive = r.keep_alive;
    s.expect = r.expect_continue;
    s.content_length = r.content_length;
    seen.push_back(s);
    return stop_at_head ? Action::kStop : Action::kContinue;
  }
  Action OnBody(std::string_view c) override {
    seen.back().body.append(c);
    return pause_in_body ? Action::kPause : Action::kContinue;
  }
  void OnMessageComplete(Request&) override { ++completed; }

  std::vector<Seen> seen;
  int completed = 0;
  bool stop_at_head = false;
  bool pause_in_body = false;
};

// Feeds `input` in pieces of `step` bytes, resuming after each message.
RequestParser::State FeedAll(RequestParser& p, const std::string& input, size_t step) {
  std::string pending;
  RequestParser::State st = RequestParser::State::kNeedMore;
  for (size_t off = 0; off < input.size(); off += step) {
    pending += input.substr(off, step);
    while (!pending.empty()) {
      size_t used = 0;
      st = p.Feed(pending, &used);
      pending.erase(0, used);
      if (st == RequestParser::State::kPaused) {
        p.Resume();
        st = RequestParser::State::kNeedMore;
        continue;
      }
      if (st != RequestParser::State::kNeedMore) return st;
      break;
    }
  }
  return st;
}

class ParserTest : public ::testing::Test {
 protected:
  Limits limits;
  Recorder rec;
};

TEST_F(ParserTest, SimpleGet) {
  RequestParser p(limits, &rec);
  size_t used;
  std::string in = "GET /v2/ HTTP/1.1\r\nHost: x\r\n\r\n";
  EXPECT_EQ(p.Feed(in, &used), RequestParser::State::kPaused);
  EXPECT_EQ(used, in.size());
  ASSERT_EQ(rec.seen.size(), 1u);
  EXPECT_EQ(rec.seen[0].method, "GET");
  EXPECT_EQ(rec.seen[0].target, "/v2/");
  EXPECT_TRUE(rec.seen[0].keep_alive);
  EXPECT_EQ(p.request().path, "/v2/");
  EXPECT_EQ(rec.completed, 1);
}

TEST_F(ParserTest, SplitReadsAtEveryByte) {
  std::string in =
      "PUT /v2/a/b/manifests/latest?x=1 HTTP/1.1\r\nHost: h\r\nContent-Type: application/json\r\n"
      "Content-Length: 11\r\n\r\nhello world";
  for (size_t step : {1u, 2u, 3u, 7u, 64u}) {
    Recorder r;
    RequestParser p(limits, &r);
    EXPECT_EQ(FeedAll(p, in, step), RequestParser::State::kNeedMore) << step;
    ASSERT_EQ(r.seen.size(), 1u) << step;
    EXPECT_EQ(r.seen[0].target, "/v2/a/b/manifests/latest?x=1");
    EXPECT_EQ(r.seen[0].body, "hello world");
    EXPECT_EQ(r.seen[0].content_length, 11u);
    ASSERT_EQ(r.seen[0].headers.size(), 3u);
    EXPECT_EQ(r.seen[0].headers[1].first, "Content-Type");
    EXPECT_EQ(r.seen[0].headers[1].second, "application/json");
    EXPECT_EQ(r.completed, 1);
  }
}

TEST_F(ParserTest, PipelinedRequestsPauseAfterEachMessage) {
  RequestParser p(limits, &rec);
  std::string in =
      "GET /a HTTP/1.1\r\nHost: x\r\n\r\n"
      "HEAD /b HTTP/1.1\r\nHost: x\r\n\r\n"
      "POST /c HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc";
  size_t used = 0;
  std::string_view rest = in;
  std::vector<std::string> order;
  while (!rest.empty()) {
    auto st = p.Feed(rest, &used);
    ASSERT_EQ(st, RequestParser::State::kPaused);
    order.push_back(rec.seen.back().target);
    EXPECT_EQ(rec.completed, static_cast<int>(order.size()));
    rest.remove_prefix(used);
    p.Resume();
  }
  EXPECT_EQ(order, (std::vector<std::string>{"/a", "/b", "/c"}));
  EXPECT_EQ(rec.seen[2].body, "abc");
}

TEST_F(ParserTest, ChunkedBodyIsStreamed) {
  std::string in =
      "PATCH /v2/x/blobs/uploads/u HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
      "5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n";
  for (size_t step : {1u, 5u, 1000u}) {
    Recorder r;
    RequestParser p(limits, &r);
    FeedAll(p, in, step);
    ASSERT_EQ(r.seen.size(), 1u);
    EXPECT_TRUE(r.seen[0].chunked);
    EXPECT_EQ(r.seen[0].body, "hello world");
    EXPECT_EQ(r.completed, 1);
  }
}

TEST_F(ParserTest, ExpectContinueAndConnectionClose) {
  RequestParser p(limits, &rec);
  size_t used;
  std::string in =
      "PUT /x HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nConnection: close\r\n"
      "Content-Length: 0\r\n\r\n";
  EXPECT_EQ(p.Feed(in, &used), RequestParser::State::kPaused);
  EXPECT_TRUE(rec.seen[0].expect);
  EXPECT_FALSE(rec.seen[0].keep_alive);
}

TEST_F(ParserTest, Http10DefaultsToClose) {
  RequestParser p(limits, &rec);
  size_t used;
  EXPECT_EQ(p.Feed("GET / HTTP/1.0\r\n\r\n", &used), RequestParser::State::kPaused);
  EXPECT_FALSE(rec.seen[0].keep_alive);
}

TEST_F(ParserTest, MalformedRequestsAre400) {
  for (std::string bad : {
           std::string("GARBAGE\r\n\r\n"),
           std::string("GET / HTTP/1.1\r\nBad Header\r\n\r\n"),
           std::string("GET / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n"),
           std::string("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nZZ\r\n"),
           std::string("GET / HTTP/1.1\r\nHost: a\nb\r\n\r\n") + std::string(1, '\0'),
       }) {
    Recorder r;
    RequestParser p(limits, &r);
    size_t used;
    EXPECT_EQ(p.Feed(bad, &used), RequestParser::State::kError) << bad;
    EXPECT_EQ(p.error().status, 400) << bad;
    EXPECT_EQ(p.error().code, "BAD_REQUEST");
    // A failed parser stays failed.
    EXPECT_EQ(p.Feed("GET / HTTP/1.1\r\n\r\n", &used), RequestParser::State::kError);
  }
}

TEST_F(ParserTest, LongRequestLineIs414) {
  limits.max_request_line = 256;
  RequestParser p(limits, &rec);
  size_t used;
  std::string in = "GET /" + std::string(300, 'a') + " HTTP/1.1\r\n\r\n";
  EXPECT_EQ(p.Feed(in, &used), RequestParser::State::kError);
  EXPECT_EQ(p.error().status, 414);
}

TEST_F(ParserTest, TooManyHeadersIs431) {
  limits.max_headers = 8;
  RequestParser p(limits, &rec);
  std::string in = "GET / HTTP/1.1\r\n";
  for (int i = 0; i < 9; ++i) in += "X-H" + std::to_string(i) + ": v\r\n";
  in += "\r\n";
  size_t used;
  EXPECT_EQ(p.Feed(in, &used), RequestParser::State::kError);
  EXPECT_EQ(p.error().status, 431);
}

TEST_F(ParserTest, HugeHeaderIs431EvenWhenSplit) {
  limits.max_header_bytes = 1024;
  RequestParser p(limits, &rec);
  std::string in = "GET / HTTP/1.1\r\nX-Big: " + std::string(2000, 'v') + "\r\n\r\n";
  EXPECT_EQ(FeedAll(p, in, 10), RequestParser::State::kError);
  EXPECT_EQ(p.error().status, 431);
}

TEST_F(ParserTest, StopAtHeadStopsParsing) {
  rec.stop_at_head = true;
  RequestParser p(limits, &rec);
  size_t used;
  std::string in = "PUT /x HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello";
  EXPECT_EQ(p.Feed(in, &used), RequestParser::State::kStopped);
  EXPECT_TRUE(rec.seen[0].body.empty());
  EXPECT_EQ(rec.completed, 0);
}

TEST_F(ParserTest, ConnectIsRejected) {
  RequestParser p(limits, &rec);
  size_t used;
  EXPECT_EQ(p.Feed("CONNECT a:443 HTTP/1.1\r\nHost: a\r\n\r\n", &used),
            RequestParser::State::kError);
  EXPECT_EQ(p.error().status, 501);
}

TEST_F(ParserTest, ClearReusesStorageAcrossRequests) {
  RequestParser p(limits, &rec);
  size_t used;
  ASSERT_EQ(p.Feed("GET /a HTTP/1.1\r\nA: 1\r\nB: 2\r\n\r\n", &used), RequestParser::State::kPaused);
  p.Resume();
  ASSERT_EQ(p.Feed("GET /b HTTP/1.1\r\nC: 3\r\n\r\n", &used), RequestParser::State::kPaused);
  EXPECT_EQ(p.request().header_count, 1u);
  EXPECT_EQ(*p.request().Find("c"), "3");
  EXPECT_EQ(p.request().Find("A"), nullptr);
}

// A sink that pauses mid-body (e.g. to make room on a full disk) gets each
// chunk once; while paused, Feed() consumes nothing, whatever buffer it is
// given (llhttp's error position then points into an older one); after
// Resume() the body continues where it stopped, and the message completes
// even when no input is left.
TEST_F(ParserTest, PauseInBodyResumesAfterTheChunk) {
  for (const std::string head : {"PATCH /u HTTP/1.1\r\nContent-Length: 10\r\n\r\n",
                                 "PATCH /u HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"}) {
    const bool chunked = head.find("chunked") != std::string::npos;
    Recorder r;
    r.pause_in_body = true;
    RequestParser p(limits, &r);
    // What the connection holds: the bytes read and not yet consumed.
    std::string pending = head + (chunked ? "4\r\n0123\r\n" : "0123");
    size_t used = 0;
    ASSERT_EQ(p.Feed(pending, &used), RequestParser::State::kPaused) << head;
    pending.erase(0, used);
    EXPECT_EQ(r.seen.back().body, "0123");
    pending += chunked ? "6\r\n456789\r\n0\r\n\r\n" : "456789";
    const std::string moved = pending;  // the same bytes, elsewhere in memory
    EXPECT_EQ(p.Feed(moved, &used), RequestParser::State::kPaused);
    EXPECT_EQ(used, 0u);
    EXPECT_EQ(r.seen.back().body, "0123");
    while (r.completed == 0) {
      p.Resume();
      RequestParser::State st = p.Feed(pending, &used);
      ASSERT_NE(st, RequestParser::State::kError) << head << p.error().message;
      pending.erase(0, used);
    }
    EXPECT_EQ(r.seen.back().body, "0123456789") << head;
    EXPECT_EQ(pending, "") << head;
  }
}

}  // namespace
}  // namespace wharf::http
