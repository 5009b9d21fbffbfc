// `wharf warm IMAGE...`: fills the pull-through cache ahead of the pulls,
// e.g. from cron before a cluster rolls out, or to keep images a site needs
// cached however long nobody pulls them (each warm counts as a pull for
// proxy.cache_max_idle).
//
// It asks the running server, over its admin socket, for what `docker pull`
// would fetch: the manifest by tag (revalidated with the upstream when its
// TTL is over), for an index the manifests of the platforms asked for, then
// every layer and config blob, read to the end and thrown away. The server
// fetches, verifies and stores as for any pull (single-flight, mirrors with
// failover). Hosted repositories are only read.
#pragma once

#include <string>
#include <vector>

#include "config/config.h"

namespace wharf {

// `images`, then those of the files `lists` (one per line; blank lines and
// '#' comments skipped). `platforms`: "os/arch[/variant]" each; none means
// this machine's. With `all_platforms`, every entry of an index. Prints a
// JSON report on stdout: each image's digest and what it took, or its
// error. Exit code 0 when every image is cached, 1 when one failed or no
// server runs, 2 for an image, platform or list that cannot be read.
int WarmCommand(const Config& cfg, std::vector<std::string> images, const std::vector<std::string>& lists,
                const std::vector<std::string>& platforms, bool all_platforms);

}  // namespace wharf
