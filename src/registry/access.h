// The authentication gate in front of every registry route, and the token
// endpoint. See auth/authenticator.h for the rules.
#pragma once

#include "http/handler.h"
#include "registry/services.h"

namespace wharf::registry {

enum class Gate {
  kPass,      // go on with the request
  kAnswered,  // ex.res holds a 401/403/429
  kPaused,    // a password check runs; Begin() will be called again
};

// Decides for `route` (a RouteId). No-op when auth is off.
Gate CheckAccess(Services& s, http::Exchange& ex, int route);

// GET /auth/token (token mode only).
http::Handler::BodyMode TokenBegin(Services& s, http::Exchange& ex);

}  // namespace wharf::registry
