// Reads of repositories that are not hosted here, answered through the
// pull-through cache. Follows the http::Handler Begin() contract.
#pragma once

#include "http/handler.h"
#include "proxy/upstream.h"
#include "registry/services.h"

namespace wharf::registry {

// For GET/HEAD of manifests, blobs, tags and referrers. `repo` is the name
// upstream; ex.scratch carries the upstream job across a kPause.
http::Handler::BodyMode ProxiedBegin(Services& s, http::Exchange& ex, proxy::Upstream* up,
                                     const std::string& repo);

}  // namespace wharf::registry
