// A PNG writer for VIZ_SCREENSHOT: 8-bit RGBA, rows top to bottom, deflated by zlib.
#pragma once
#include <cstdint>
#include <string>

namespace mg::viz {

// rgba: width * height * 4 bytes, the first row is the top of the image.
std::string encode_png(const uint8_t* rgba, int width, int height);
bool save_png(const uint8_t* rgba, int width, int height, const std::string& path, std::string* error);

}  // namespace mg::viz
