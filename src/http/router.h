// Router: routes declared as data, matched without allocation.
//
// A pattern is a '/'-separated list of segments. "<x>" matches exactly one
// non-empty segment; "<x...>" matches one or more segments and may appear
// once. Literal segments after a greedy parameter are matched from the right,
// as in the OCI distribution API, where a repository name has several
// components ("/v2/<name...>/manifests/<reference>"). A trailing "/" in a
// pattern matches a trailing "/" in the path.
//
// Contract: Add() is called while building the server, never after Match()
// runs on worker threads; Match() is then read-only and thread-safe.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace wharf::http {

// Bit mask of methods a route accepts.
enum Method : uint32_t {
  kGet = 1, kHead = 2, kPost = 4, kPut = 8, kPatch = 16, kDelete = 32, kOptions = 64,
};
uint32_t MethodBit(std::string_view method);  // 0 for unknown methods

class Router {
 public:
  static constexpr int kMaxParams = 3;
  enum class Outcome { kFound, kMethodNotAllowed, kNotFound };

  struct Match {
    int route = 0;  // the id given to Add()
    std::array<std::string_view, kMaxParams> params{};
    uint32_t allowed = 0;  // on kMethodNotAllowed: the methods the path takes
  };

  // Adds a route. Returns false if the pattern is malformed (more than one
  // greedy parameter, or more than kMaxParams parameters).
  bool Add(std::string_view pattern, uint32_t methods, int id);

  // Matches the first route (in Add order) whose pattern fits `path`. `path`
  // must outlive the Match's params.
  Outcome Find(std::string_view method, std::string_view path, Match* m) const;

 private:
  struct Segment {
    std::string literal;
    bool param = false;
    bool greedy = false;
  };
  struct Route {
    std::vector<Segment> segs;
    int greedy_at = -1;
    uint32_t methods = 0;
    int id = 0;
  };
  static bool MatchRoute(const Route& r, const std::string_view* parts, size_t n, Match* m);
  std::vector<Route> routes_;
};

}  // namespace wharf::http
