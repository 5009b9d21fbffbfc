// What a registry's answers tell the proxy besides their content: the
// explanation in an error answer, e.g. Docker Hub's 429
//   {"errors":[{"code":"TOOMANYREQUESTS","message":"You have reached your pull rate limit. ..."}]}
// and the pull rate limit it announces (Docker Hub's headers
//   RateLimit-Limit: 100;w=21600
//   RateLimit-Remaining: 76;w=21600
// on manifest answers, HEAD included).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace wharf::proxy {

// "CODE: message" of the first entry of an OCI error body (or whichever of
// the two it has); empty when `body` is not such a body. The text is made
// safe for a log line and a JSON message: control characters become
// spaces, and it is cut to `max_chars` bytes (at a UTF-8 character start).
std::string RegistryErrorMessage(std::string_view body, size_t max_chars = 300);

// The count of a RateLimit-Limit or RateLimit-Remaining value ("76;w=21600"
// or "76"); -1 when `value` is empty or not of that form.
int64_t RateLimitCount(std::string_view value);

}  // namespace wharf::proxy
