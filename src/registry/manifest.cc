#include "registry/manifest.h"

#include <nlohmann/json.hpp>

#include "registry/names.h"
#include "registry/platform.h"
#include "util/digest.h"

namespace wharf::registry {
namespace {

using json = nlohmann::json;

bool Bad(ManifestError* err, std::string msg, Err code = Err::kManifestInvalid) {
  err->code = code;
  err->message = std::move(msg);
  return false;
}

std::string_view BaseType(std::string_view ct) {
  ct = ct.substr(0, ct.find(';'));
  while (!ct.empty() && (ct.back() == ' ' || ct.back() == '\t')) ct.remove_suffix(1);
  while (!ct.empty() && (ct.front() == ' ' || ct.front() == '\t')) ct.remove_prefix(1);
  return ct;
}

// Checks one descriptor object; returns its digest in *digest.
bool CheckDescriptor(const json& d, const char* where, std::string* digest, std::string* mt,
                     ManifestError* err) {
  if (!d.is_object()) return Bad(err, std::string(where) + ": descriptor must be an object");
  auto m = d.find("mediaType");
  if (m == d.end() || !m->is_string() || !ValidMediaType(m->get<std::string>()))
    return Bad(err, std::string(where) + ": invalid or missing mediaType");
  auto dg = d.find("digest");
  if (dg == d.end() || !dg->is_string())
    return Bad(err, std::string(where) + ": missing digest");
  auto parsed = Digest::Parse(dg->get<std::string>());
  if (!parsed.ok())
    return Bad(err, std::string(where) + ": " + parsed.status().message(), Err::kDigestInvalid);
  auto sz = d.find("size");
  if (sz == d.end() || !sz->is_number_integer() || (sz->is_number_integer() && !sz->is_number_unsigned() && sz->get<int64_t>() < 0))
    return Bad(err, std::string(where) + ": size must be a non-negative integer");
  *digest = dg->get<std::string>();
  *mt = m->get<std::string>();
  return true;
}

bool Foreign(const std::string& mt) {
  return mt.find("foreign") != std::string::npos || mt.find("nondistributable") != std::string::npos;
}

}  // namespace

bool ParseManifest(std::string_view body, std::string_view content_type, ParsedManifest* out,
                   ManifestError* err) {
  json doc = json::parse(body, nullptr, false);
  if (doc.is_discarded() || !doc.is_object()) return Bad(err, "manifest is not a JSON object");
  auto sv = doc.find("schemaVersion");
  if (sv != doc.end()) {
    if (!sv->is_number_integer()) return Bad(err, "schemaVersion must be an integer");
    if (sv->get<int64_t>() == 1) return Bad(err, "schema 1 manifests are not supported");
    if (sv->get<int64_t>() != 2) return Bad(err, "schemaVersion must be 2");
  }
  std::string field_type;
  if (auto mt = doc.find("mediaType"); mt != doc.end()) {
    if (!mt->is_string()) return Bad(err, "mediaType must be a string");
    field_type = mt->get<std::string>();
  }
  std::string header_type(BaseType(content_type));
  if (header_type == "application/json" || header_type == "application/octet-stream")
    header_type.clear();  // generic types say nothing about the manifest kind
  if (!field_type.empty() && !header_type.empty() && field_type != header_type)
    return Bad(err, "Content-Type '" + header_type + "' does not match mediaType '" + field_type + "'");
  std::string type = !field_type.empty() ? field_type : header_type;
  if (type.empty()) type = doc.contains("manifests") ? media::kOciIndex : media::kOciManifest;
  if (IsIndexType(type)) {
    out->is_index = true;
  } else if (type != media::kOciManifest && type != media::kDockerManifest) {
    return Bad(err, "unsupported manifest media type '" + type + "'");
  }
  if (sv == doc.end()) return Bad(err, "schemaVersion is missing");
  out->media_type = type;

  std::string digest, mt;
  if (out->is_index) {
    auto ms = doc.find("manifests");
    if (ms == doc.end() || !ms->is_array()) return Bad(err, "index needs a manifests array");
    for (const json& d : *ms) {
      if (!CheckDescriptor(d, "manifests[]", &digest, &mt, err)) return false;
      out->children.push_back(digest);
    }
  } else {
    auto cfg = doc.find("config");
    if (cfg == doc.end()) return Bad(err, "image manifest needs a config descriptor");
    if (!CheckDescriptor(*cfg, "config", &digest, &mt, err)) return false;
    out->blobs.push_back(digest);
    out->artifact_type = mt;  // the referrers API falls back to config.mediaType
    auto layers = doc.find("layers");
    if (layers == doc.end() || !layers->is_array()) return Bad(err, "image manifest needs a layers array");
    for (const json& d : *layers) {
      if (!CheckDescriptor(d, "layers[]", &digest, &mt, err)) return false;
      if (!Foreign(mt) || !(d.contains("urls"))) out->blobs.push_back(digest);
    }
  }
  if (auto at = doc.find("artifactType"); at != doc.end()) {
    if (!at->is_string() || !ValidMediaType(at->get<std::string>()))
      return Bad(err, "artifactType must be a media type");
    out->artifact_type = at->get<std::string>();
  }
  if (auto subj = doc.find("subject"); subj != doc.end()) {
    if (!CheckDescriptor(*subj, "subject", &digest, &mt, err)) return false;
    out->subject = digest;
  }
  if (auto ann = doc.find("annotations"); ann != doc.end()) {
    if (!ann->is_object()) return Bad(err, "annotations must be an object");
    for (auto it = ann->begin(); it != ann->end(); ++it)
      if (!it.value().is_string()) return Bad(err, "annotation values must be strings");
    out->annotations_json = ann->dump();
  }
  return true;
}

std::string ReferrerDescriptor(const ParsedManifest& m, const std::string& digest, uint64_t size) {
  json d = {{"mediaType", m.media_type}, {"digest", digest}, {"size", size}};
  if (!m.artifact_type.empty()) d["artifactType"] = m.artifact_type;
  if (!m.annotations_json.empty())
    d["annotations"] = json::parse(m.annotations_json, nullptr, false);
  return d.dump();
}

bool Accepts(std::string_view accept, std::string_view media_type) {
  if (accept.empty()) return true;
  while (!accept.empty()) {
    size_t comma = accept.find(',');
    std::string_view one = BaseType(accept.substr(0, comma));
    if (one == media_type || one == "*/*" || one == "application/*") return true;
    if (comma == std::string_view::npos) break;
    accept.remove_prefix(comma + 1);
  }
  return false;
}

bool IsIndexType(std::string_view media_type) {
  return media_type == media::kOciIndex || media_type == media::kDockerList;
}

std::string DefaultPlatformEntry(std::string_view index_body, std::string_view accept) {
  json doc = json::parse(index_body, nullptr, false);
  if (!doc.is_object()) return {};
  auto ms = doc.find("manifests");
  if (ms == doc.end() || !ms->is_array()) return {};
  static const Platform kDefault{"linux", "amd64", ""};
  for (const json& d : *ms) {
    if (!d.is_object()) continue;
    auto platform = d.find("platform");
    if (platform == d.end() || !PlatformMatches(*platform, kDefault)) continue;
    auto mt = d.find("mediaType");
    auto dg = d.find("digest");
    if (mt == d.end() || !mt->is_string() || IsIndexType(mt->get<std::string>()) ||
        !Accepts(accept, mt->get<std::string>()) || dg == d.end() || !dg->is_string() ||
        !Digest::Parse(dg->get<std::string>()).ok())
      continue;
    return dg->get<std::string>();
  }
  return {};
}

}  // namespace wharf::registry
