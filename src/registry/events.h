// The registry event (notify::Event) that a finished request stands for, if
// any: a manifest or blob pushed, pulled, mounted or deleted, successfully.
#pragma once

#include <optional>

#include "http/handler.h"
#include "notify/notifier.h"
#include "registry/services.h"

namespace wharf::registry {

// Empty for every other request (a HEAD, an error, a chunk of an upload, a
// listing, the proxy's cache repositories). Reads metadata only for a
// completed upload, whose size the response does not carry; called only
// when webhooks are configured.
std::optional<notify::Event> EventOf(Services& s, const http::Exchange& ex);

}  // namespace wharf::registry
