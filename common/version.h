#pragma once
namespace tether {
inline constexpr const char* kTetherVersion = "0.1.0";
}
