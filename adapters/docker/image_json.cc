#include "adapters/docker/image_json.h"

namespace berth::docker {

ImageInfo ImageFromInspect(const json& j) {
  ImageInfo i;
  i.id = StringField(j, "Id");
  i.repo_tags = StringListField(j, "RepoTags");
  i.labels = StringMapField(Field(j, "Config"), "Labels");
  i.created = StringField(j, "Created");
  i.size_bytes = IntField(j, "Size");
  const json& config = Field(j, "Config");
  for (auto [key, out] : {std::pair{"Cmd", &i.cmd}, std::pair{"Entrypoint", &i.entrypoint}}) {
    if (config.is_object() && config.contains(key) && config[key].is_array())
      *out = StringListField(config, key);
  }
  return i;
}

ImageInfo ImageFromList(const json& j) {
  ImageInfo i;
  i.id = StringField(j, "Id");
  i.repo_tags = StringListField(j, "RepoTags");
  i.labels = StringMapField(j, "Labels");
  i.created = std::to_string(IntField(j, "Created"));
  i.size_bytes = IntField(j, "Size");
  return i;
}

json LabelFilters(const Labels& labels) {
  json list = json::array();
  for (const auto& [k, v] : labels) list.push_back(v.empty() ? k : k + "=" + v);
  return list;
}

std::string ImageListFilters(const ImageFilter& filter) {
  json f = json::object();
  if (!filter.labels.empty()) f["label"] = LabelFilters(filter.labels);
  if (!filter.reference.empty()) f["reference"] = json::array({filter.reference});
  return f.empty() ? "" : f.dump();
}

}  // namespace berth::docker
