// Image answers in Engine API JSON.
#pragma once

#include "adapters/docker/docker_types.h"
#include "adapters/docker/json_fields.h"

namespace berth::docker {

// GET /images/{name}/json -> ImageInfo.
ImageInfo ImageFromInspect(const json& j);

// One element of GET /images/json -> ImageInfo (`created` is unix seconds as text).
ImageInfo ImageFromList(const json& j);

// The `filters` query value for GET /images/json; "" when the filter is empty.
std::string ImageListFilters(const ImageFilter& filter);

// The `filters` value matching every label in `labels` ("k=v", or "k" for an empty value).
json LabelFilters(const Labels& labels);

}  // namespace berth::docker
