#include "admin_client.h"

#include "registry/app.h"

namespace wharf {

AdminClient::AdminClient(const Config& cfg) : socket_(registry::Registry::AdminSocketPath(cfg)) {}

Status AdminClient::Do(const std::string& method, const std::string& target,
                       std::vector<std::pair<std::string, std::string>> headers, proxy::ClientResponse* resp,
                       const proxy::BodyFn& on_body, const proxy::Timeouts& t) {
  proxy::ClientRequest req;
  req.method = method;
  req.url.tls = false;
  req.url.host = "wharf";
  req.url.port = 80;
  req.url.path = target;
  req.url.unix_socket = socket_;
  req.headers = std::move(headers);
  return http_.Do(req, t, resp, on_body);
}

}  // namespace wharf
