// Maintenance commands: `wharf gc`, `wharf fsck`, `wharf import-registry`
// and `wharf usage`.
//
// If no server holds the storage root, the work runs in this process. If a
// server is running (RocksDB's lock is held), the request goes to the
// server's admin socket (<root>/admin.sock, 0600) and the server does the
// work, so both are safe while the registry serves. Each prints its report as
// JSON on stdout and returns the process exit code.
#pragma once

#include "config/config.h"

namespace wharf {

// Exit code 0 on success, 1 if it could not run.
int GcCommand(const Config& cfg, bool dry_run, bool delete_untagged);

// Exit code 0 if the store is consistent, 1 if problems were found (after
// --repair: if any could not be repaired), 2 if fsck could not run.
int FsckCommand(const Config& cfg, bool repair);

// Imports the reference registry's storage at `dir` (see registry/import.h),
// as hosted content or, with `cache_registry`, as the proxy's cache of that
// registry, which must be one the proxy serves. Exit code 0 if everything
// was imported, 1 if something was skipped (the report names it) or the
// import could not run, 2 for a registry the proxy does not serve.
int ImportCommand(const Config& cfg, const std::string& dir, const std::string& cache_registry);

// What the hosted repositories under `prefix` ("" for all) hold, and each
// quota's usage; with `cached`, what the pull-through cache holds (see
// registry/usage.h). Exit code 0, or 1 if it could not run.
int UsageCommand(const Config& cfg, const std::string& prefix, bool cached);

}  // namespace wharf
