// The explanation a registry puts in an error answer, for messages to the
// mirror's own clients and log lines, e.g. Docker Hub's 429:
//   {"errors":[{"code":"TOOMANYREQUESTS","message":"You have reached your pull rate limit. ..."}]}
#pragma once

#include <string>
#include <string_view>

namespace wharf::proxy {

// "CODE: message" of the first entry of an OCI error body (or whichever of
// the two it has); empty when `body` is not such a body. The text is made
// safe for a log line and a JSON message: control characters become
// spaces, and it is cut to `max_chars` bytes (at a UTF-8 character start).
std::string RegistryErrorMessage(std::string_view body, size_t max_chars = 300);

}  // namespace wharf::proxy
