#include "viz/model/png.h"

#include <zlib.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <vector>

namespace mg::viz {

namespace {

void be32(std::string& o, uint32_t v) {
  for (int i = 3; i >= 0; i--) o.push_back(char((v >> (8 * i)) & 0xff));
}

// A chunk: length, type, data, and the CRC of type and data.
void chunk(std::string& o, const char type[4], const std::string& data) {
  be32(o, uint32_t(data.size()));
  std::string td(type, 4);
  td += data;
  o += td;
  be32(o, uint32_t(crc32(0, reinterpret_cast<const Bytef*>(td.data()), uInt(td.size()))));
}

}  // namespace

std::string encode_png(const uint8_t* rgba, int width, int height) {
  if (!rgba || width <= 0 || height <= 0) return "";
  // Each row is preceded by its filter type (0: none).
  const size_t row = size_t(width) * 4;
  std::vector<uint8_t> raw;
  raw.reserve((row + 1) * size_t(height));
  for (int y = 0; y < height; y++) {
    raw.push_back(0);
    raw.insert(raw.end(), rgba + size_t(y) * row, rgba + size_t(y + 1) * row);
  }
  uLongf zlen = compressBound(uLong(raw.size()));
  std::string z(zlen, '\0');
  if (compress2(reinterpret_cast<Bytef*>(z.data()), &zlen, raw.data(), uLong(raw.size()), 6) != Z_OK) return "";
  z.resize(zlen);

  std::string o = "\x89PNG\r\n\x1a\n";
  std::string ihdr;
  be32(ihdr, uint32_t(width));
  be32(ihdr, uint32_t(height));
  ihdr += std::string("\x08\x06\x00\x00\x00", 5);  // 8 bits, RGBA, deflate, adaptive filters, no interlace
  chunk(o, "IHDR", ihdr);
  chunk(o, "IDAT", z);
  chunk(o, "IEND", "");
  return o;
}

bool save_png(const uint8_t* rgba, int width, int height, const std::string& path, std::string* error) {
  const std::string png = encode_png(rgba, width, height);
  if (png.empty()) {
    if (error) *error = "cannot encode a " + std::to_string(width) + "x" + std::to_string(height) + " PNG";
    return false;
  }
  FILE* f = std::fopen(path.c_str(), "wb");
  if (!f) {
    if (error) *error = "cannot open " + path + " for writing: " + std::strerror(errno);
    return false;
  }
  const bool ok = std::fwrite(png.data(), 1, png.size(), f) == png.size();
  if (std::fclose(f) != 0 || !ok) {
    if (error) *error = "cannot write " + path;
    return false;
  }
  return true;
}

}  // namespace mg::viz
