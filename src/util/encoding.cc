#include "util/encoding.h"

#include <openssl/evp.h>

namespace wharf {

std::string UrlEncode(std::string_view s) {
  static const char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
        c == '.' || c == '_' || c == '~') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  return out;
}

namespace {

int HexVal(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

}  // namespace

std::string UrlDecode(std::string_view s, bool plus_is_space) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size() && HexVal(s[i + 1]) >= 0 && HexVal(s[i + 2]) >= 0) {
      out += static_cast<char>(HexVal(s[i + 1]) * 16 + HexVal(s[i + 2]));
      i += 2;
    } else if (s[i] == '+' && plus_is_space) {
      out += ' ';
    } else {
      out += s[i];
    }
  }
  return out;
}

std::vector<std::string> FormValues(std::string_view form, std::string_view key) {
  std::vector<std::string> out;
  while (!form.empty()) {
    size_t amp = form.find('&');
    std::string_view kv = form.substr(0, amp);
    form = amp == std::string_view::npos ? std::string_view() : form.substr(amp + 1);
    size_t eq = kv.find('=');
    if (UrlDecode(kv.substr(0, eq), /*plus_is_space=*/true) != key) continue;
    out.push_back(eq == std::string_view::npos ? std::string() : UrlDecode(kv.substr(eq + 1), /*plus_is_space=*/true));
  }
  return out;
}

std::string Base64Encode(std::string_view in, bool url) {
  std::string out(4 * ((in.size() + 2) / 3) + 1, '\0');
  size_t n = static_cast<size_t>(EVP_EncodeBlock(reinterpret_cast<uint8_t*>(out.data()),
                                                 reinterpret_cast<const uint8_t*>(in.data()),
                                                 in.size()));
  out.resize(n);
  if (url) {
    while (!out.empty() && out.back() == '=') out.pop_back();
    for (char& c : out) c = c == '+' ? '-' : c == '/' ? '_' : c;
  }
  return out;
}

bool Base64Decode(std::string_view in, bool url, std::string* out) {
  std::string s(in);
  if (url) {
    for (char& c : s) {
      if (c == '+' || c == '/') return false;
      c = c == '-' ? '+' : c == '_' ? '/' : c;
    }
    while (s.size() % 4) s += '=';
  }
  if (s.size() % 4) return false;
  size_t pad = 0;
  if (!s.empty() && s.back() == '=') ++pad;
  if (s.size() > 1 && s[s.size() - 2] == '=') ++pad;
  out->assign(s.size() / 4 * 3, '\0');
  int n = EVP_DecodeBlock(reinterpret_cast<uint8_t*>(out->data()),
                          reinterpret_cast<const uint8_t*>(s.data()), s.size());
  if (n < 0) return false;
  out->resize(static_cast<size_t>(n) - pad);
  return true;
}

}  // namespace wharf
