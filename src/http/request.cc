#include "http/request.h"

#include "util/encoding.h"

namespace wharf::http {

void Request::Clear() {
  method = {};
  target.clear();
  path = query = {};
  http_minor = 1;
  for (size_t i = 0; i < header_count; ++i) {
    headers[i].name.clear();
    headers[i].value.clear();
  }
  header_count = 0;
  id_len = 0;
  has_content_length = false;
  content_length = 0;
  chunked = false;
  keep_alive = true;
  expect_continue = false;
  body.clear();
  route = 0;
  params = {};
}

bool IEquals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    char x = a[i], y = b[i];
    if (x >= 'A' && x <= 'Z') x = static_cast<char>(x + 32);
    if (y >= 'A' && y <= 'Z') y = static_cast<char>(y + 32);
    if (x != y) return false;
  }
  return true;
}

const std::string* Request::Find(std::string_view name) const {
  for (size_t i = 0; i < header_count; ++i)
    if (IEquals(headers[i].name, name)) return &headers[i].value;
  return nullptr;
}

std::string Request::Joined(std::string_view name) const {
  std::string out;
  for (size_t i = 0; i < header_count; ++i) {
    if (!IEquals(headers[i].name, name)) continue;
    if (!out.empty()) out += ", ";
    out += headers[i].value;
  }
  return out;
}

std::vector<std::string> Request::QueryParams(std::string_view key) const {
  return FormValues(query, key);
}

std::string Request::QueryParam(std::string_view key, bool* found) const {
  std::vector<std::string> all = QueryParams(key);
  if (found) *found = !all.empty();
  return all.empty() ? std::string() : std::move(all.front());
}

std::string Request::ClientIp() const {
  size_t colon = peer.rfind(':');
  std::string ip = colon == std::string::npos ? peer : peer.substr(0, colon);
  if (ip.size() >= 2 && ip.front() == '[' && ip.back() == ']') ip = ip.substr(1, ip.size() - 2);
  return ip;
}

}  // namespace wharf::http
