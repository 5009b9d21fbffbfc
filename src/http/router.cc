#include "http/router.h"

namespace wharf::http {
namespace {

// Splits "/a/b/" into {"a","b",""}: the leading '/' is dropped, a trailing
// one gives an empty last segment. Returns false past `max` segments.
template <size_t N>
bool Split(std::string_view path, std::array<std::string_view, N>* out, size_t* n) {
  *n = 0;
  if (path.empty() || path[0] != '/') return false;
  path.remove_prefix(1);
  while (true) {
    if (*n == N) return false;
    size_t slash = path.find('/');
    (*out)[(*n)++] = path.substr(0, slash);
    if (slash == std::string_view::npos) return true;
    path.remove_prefix(slash + 1);
  }
}

}  // namespace

uint32_t MethodBit(std::string_view m) {
  if (m == "GET") return kGet;
  if (m == "HEAD") return kHead;
  if (m == "POST") return kPost;
  if (m == "PUT") return kPut;
  if (m == "PATCH") return kPatch;
  if (m == "DELETE") return kDelete;
  if (m == "OPTIONS") return kOptions;
  return 0;
}

bool Router::Add(std::string_view pattern, uint32_t methods, int id) {
  std::array<std::string_view, 32> parts;
  size_t n;
  if (!Split(pattern, &parts, &n)) return false;
  Route r;
  r.methods = methods;
  r.id = id;
  int params = 0;
  for (size_t i = 0; i < n; ++i) {
    std::string_view s = parts[i];
    Segment seg;
    if (s.size() >= 2 && s.front() == '<' && s.back() == '>') {
      seg.param = true;
      seg.greedy = s.size() > 5 && s.substr(s.size() - 4) == "...>";
      if (seg.greedy) {
        if (r.greedy_at >= 0) return false;
        r.greedy_at = static_cast<int>(i);
      }
      if (++params > kMaxParams) return false;
    } else {
      seg.literal = std::string(s);
    }
    r.segs.push_back(std::move(seg));
  }
  routes_.push_back(std::move(r));
  return true;
}

bool Router::MatchRoute(const Route& r, const std::string_view* parts, size_t n, Match* m) {
  const size_t k = r.segs.size();
  if (r.greedy_at < 0 ? n != k : n < k) return false;
  int pi = 0;
  auto one = [&](const Segment& s, std::string_view part) {
    if (!s.param) return s.literal == part;
    if (part.empty()) return false;
    m->params[pi++] = part;
    return true;
  };
  const size_t g = r.greedy_at < 0 ? k : static_cast<size_t>(r.greedy_at);
  for (size_t i = 0; i < g; ++i)
    if (!one(r.segs[i], parts[i])) return false;
  if (r.greedy_at < 0) return true;
  // The greedy parameter spans parts[g .. g + extra]; the rest match from the right.
  const size_t tail = k - g - 1;
  const size_t last = n - tail;  // one past the greedy span
  const char* begin = parts[g].data();
  const char* end = parts[last - 1].data() + parts[last - 1].size();
  for (size_t i = g; i < last; ++i)
    if (parts[i].empty()) return false;  // no empty name components ("a//b")
  m->params[pi++] = std::string_view(begin, end - begin);
  for (size_t i = 0; i < tail; ++i)
    if (!one(r.segs[g + 1 + i], parts[last + i])) return false;
  return true;
}

Router::Outcome Router::Find(std::string_view method, std::string_view path, Match* m) const {
  // A 255-character name has at most 128 components; a few more for the rest.
  std::array<std::string_view, 136> parts;
  size_t n;
  if (!Split(path, &parts, &n)) return Outcome::kNotFound;
  const uint32_t bit = MethodBit(method);
  uint32_t allowed = 0;
  for (const Route& r : routes_) {
    Match tmp;
    if (!MatchRoute(r, parts.data(), n, &tmp)) continue;
    if (r.methods & bit) {
      *m = tmp;
      m->route = r.id;
      return Outcome::kFound;
    }
    allowed |= r.methods;
  }
  if (allowed) {
    m->allowed = allowed;
    return Outcome::kMethodNotAllowed;
  }
  return Outcome::kNotFound;
}

}  // namespace wharf::http
