// `wharf gc`: garbage collection from the command line.
//
// If no server holds the storage root, the collection runs in this process.
// If a server is running (RocksDB's lock is held), the request goes to the
// server's admin socket and the server collects, so it is safe while the
// registry serves. Prints the report as JSON. Returns the exit code.
#pragma once

#include "config/config.h"

namespace wharf {

int GcCommand(const Config& cfg, bool dry_run, bool delete_untagged);

}  // namespace wharf
