// notifications.endpoints: the reference registry's webhook list, in JSON.
//
//   [{"name": "ci", "url": "https://ci.example/hook",
//     "headers": {"Authorization": ["Bearer x"]}, "timeout": "1s",
//     "threshold": 10, "backoff": "1s", "disabled": false,
//     "ignoredmediatypes": ["application/octet-stream"],
//     "ignore": {"mediatypes": [...], "actions": ["pull"]}}]
//
// Keys are the reference registry's (lower case, as its YAML has them).
// Disabled endpoints are dropped here.
#pragma once

#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "config/config.h"

namespace wharf {

// Fills *out from `v`. kInvalid names the endpoint and the key at fault.
Status ParseNotifyEndpoints(const nlohmann::json& v, std::vector<NotifyEndpointConfig>* out);

}  // namespace wharf
