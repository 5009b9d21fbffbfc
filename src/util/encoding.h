// Text encodings used on the wire: percent-encoding for URLs and base64
// (standard, and URL-safe without padding) through the TLS library's codec.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace wharf {

// Percent-encodes everything but RFC 3986 unreserved characters.
std::string UrlEncode(std::string_view s);
// Decodes %XX escapes; invalid escapes stay literal. `plus_is_space`: '+'
// means ' ', as in a query component (form encoding); elsewhere it is a '+'.
std::string UrlDecode(std::string_view s, bool plus_is_space);
// Every decoded value of `key` in an application/x-www-form-urlencoded
// string (a URL's query, or a form body), in order; a key without '='
// has the value "".
std::vector<std::string> FormValues(std::string_view form, std::string_view key);

std::string Base64Encode(std::string_view in, bool url);
// False on characters outside the alphabet or a bad length.
bool Base64Decode(std::string_view in, bool url, std::string* out);

}  // namespace wharf
