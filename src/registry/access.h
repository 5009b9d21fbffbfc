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

// Decides for `route` (a RouteId). No-op when auth is off, and for the
// admin socket's requests (`wharf warm`).
Gate CheckAccess(Services& s, http::Exchange& ex, int route);

// The token service, /auth/token (token mode only; 404 otherwise):
//   GET with Basic credentials (or none, for anonymous pulls) and repeated
//     `scope` parameters, as in the Docker token spec; `offline_token=true`
//     (docker login) also gets a refresh token;
//   POST of an OAuth2 form: grant_type=password (username, password;
//     containerd sends it when it has credentials) or refresh_token (docker
//     with a stored login), `scope` (several separated by spaces), and
//     access_type=offline for a refresh token. Another grant_type is
//     answered 400.
// TokenBegin takes every request; a POST's form arrives in TokenFinish.
http::Handler::BodyMode TokenBegin(Services& s, http::Exchange& ex);
void TokenFinish(Services& s, http::Exchange& ex);

}  // namespace wharf::registry
