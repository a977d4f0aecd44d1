// The `static` host driver: hosts that exist already, at endpoints the user lists. Provision
// only checks that the engine answers; Deprovision forgets nothing on the host (Berth did
// not make it).
#pragma once

#include <memory>

#include "adapters/hosts/host_driver.h"

namespace berth::hosts {

std::unique_ptr<HostDriver> MakeStaticDriver();

}  // namespace berth::hosts
