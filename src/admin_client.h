// AdminClient: requests to a running server over its admin socket
// (<storage.root>/admin.sock, mode 0600), for the maintenance commands
// (`wharf gc`, `fsck`, `usage`, `import-registry`) and `wharf warm`. The
// socket needs no login: whoever may open it may read the storage anyway.
//
// Thread-safety: Do() may be called from several threads at once, each call
// on a connection of its own (idle ones are kept for the next call).
#pragma once

#include <climits>
#include <string>
#include <utility>
#include <vector>

#include "config/config.h"
#include "proxy/http_client.h"

namespace wharf {

class AdminClient {
 public:
  // No time limit beyond connecting: gc or fsck of a large store may take
  // hours, and a cold blob streams as fast as its upstream sends it.
  static constexpr proxy::Timeouts kPatient{5000, INT_MAX, INT_MAX};

  explicit AdminClient(const Config& cfg);

  // Sends `method target` with `headers`; the answer's head goes to *resp,
  // its body to on_body. kUnavailable when no server answers (none runs on
  // this storage root, or it went away), naming the socket.
  Status Do(const std::string& method, const std::string& target,
            std::vector<std::pair<std::string, std::string>> headers, proxy::ClientResponse* resp,
            const proxy::BodyFn& on_body, const proxy::Timeouts& t = kPatient);

 private:
  std::string socket_;
  proxy::HttpClient http_;
};

}  // namespace wharf
