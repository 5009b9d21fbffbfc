// Manifest parsing and validation, independent of storage and HTTP.
//
// ParseManifest() accepts the four manifest kinds a registry stores: Docker
// schema 2 manifest and manifest list, OCI image manifest and image index,
// including OCI artifacts (artifactType, or a custom config.mediaType). It
// checks the JSON shape and every descriptor, and lists what the manifest
// references so the caller can check that it exists. It never throws.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "registry/errors.h"

namespace wharf::registry {

namespace media {
constexpr char kDockerManifest[] = "application/vnd.docker.distribution.manifest.v2+json";
constexpr char kDockerList[] = "application/vnd.docker.distribution.manifest.list.v2+json";
constexpr char kOciManifest[] = "application/vnd.oci.image.manifest.v1+json";
constexpr char kOciIndex[] = "application/vnd.oci.image.index.v1+json";
// An Accept header for any of them, indexes first: what a client that
// walks images itself (the proxy, `wharf warm`) asks for.
constexpr char kAnyManifest[] =
    "application/vnd.oci.image.index.v1+json, application/vnd.oci.image.manifest.v1+json, "
    "application/vnd.docker.distribution.manifest.list.v2+json, "
    "application/vnd.docker.distribution.manifest.v2+json";
}  // namespace media

struct ParsedManifest {
  std::string media_type;              // effective media type
  bool is_index = false;
  std::vector<std::string> blobs;      // config and (distributable) layers
  std::vector<std::string> children;   // manifests of an index
  std::string subject;                 // subject digest, or empty
  std::string artifact_type;           // as the referrers API reports it
  std::string annotations_json;        // top-level annotations, or empty
};

struct ManifestError {
  Err code = Err::kManifestInvalid;
  std::string message;
};

// `content_type` is the request's Content-Type (may be empty). Returns false
// and fills *err when the manifest is not acceptable.
bool ParseManifest(std::string_view body, std::string_view content_type, ParsedManifest* out,
                   ManifestError* err);

// The descriptor a referrers response lists for a manifest.
std::string ReferrerDescriptor(const ParsedManifest& m, const std::string& digest, uint64_t size);

// True if `accept` (the joined Accept headers) allows `media_type`. An empty
// header, "*/*" and "application/*" allow everything.
bool Accepts(std::string_view accept, std::string_view media_type);

bool IsIndexType(std::string_view media_type);

// The entry of an index that a client which cannot take the index gets when
// it asks by tag, as the reference registry and Docker Hub answer it: the
// first linux/amd64 manifest whose media type `accept` allows. Returns its
// digest, or an empty string when `index_body` has no such valid entry.
std::string DefaultPlatformEntry(std::string_view index_body, std::string_view accept);

}  // namespace wharf::registry
