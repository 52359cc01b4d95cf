#include "frame_plan.hpp"

#include <pinpool/io/image_io.hpp>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <set>
#include <system_error>

namespace pinpool::pipeline {
namespace fs = std::filesystem;
namespace {

std::string extension_list() {
  std::string list;
  for (const char* e : io::supported_extensions) list += (list.empty() ? "" : " ") + std::string(e);
  return list;
}

// A directory's supported image files, sorted (not recursive); any other path as it is.
// @throws usage_error for a directory that cannot be read or holds no such file.
std::vector<std::string> expand(const std::string& input) {
  std::error_code ec;
  if (!fs::is_directory(input, ec)) return {input};
  std::vector<std::string> files;
  fs::directory_iterator it(input, ec);
  for (; !ec && it != fs::directory_iterator(); it.increment(ec)) {
    std::error_code type_ec;
    if (it->is_regular_file(type_ec) && io::is_supported_extension(it->path().string())) {
      files.push_back(it->path().string());
    }
  }
  if (ec) throw usage_error("--input " + input + ": cannot read the directory: " + ec.message());
  if (files.empty()) {
    throw usage_error("--input " + input + ": no image files in the directory (looked for " +
                      extension_list() + ", not in subdirectories)");
  }
  std::sort(files.begin(), files.end());
  return files;
}

std::string unique_output(const fs::path& dir, const std::string& stem, const std::string& ext,
                          std::set<std::string>& taken) {
  std::string name = stem + ext;
  for (int n = 2; taken.count(name) != 0; ++n) name = stem + "_" + std::to_string(n) + ext;
  taken.insert(name);
  return (dir / name).string();
}

}  // namespace

std::vector<frame_source> plan_frames(const options& o) {
  std::vector<frame_source> plan;
  const fs::path dir(o.output_dir);
  std::set<std::string> taken;
  // Every stage writes a grey image: PNM output is PGM.
  const std::string ext = io::extension_of(o.output_format, 1);
  if (o.inputs.empty()) {
    for (int i = 0; i < o.frames; ++i) {
      char name[32];
      std::snprintf(name, sizeof name, "frame_%04d", i);
      plan.push_back(
          {"synthetic frame " + std::to_string(i), unique_output(dir, name, ext, taken), i});
    }
    return plan;
  }
  for (const std::string& input : o.inputs) {
    for (const std::string& file : expand(input)) {
      plan.push_back({file, unique_output(dir, fs::path(file).stem().string(), ext, taken), -1});
    }
  }
  return plan;
}

bool is_renamed(const frame_source& src) {
  return src.synthetic < 0 && fs::path(src.output).stem() != fs::path(src.input).stem();
}

void prepare_output_dir(const std::string& dir) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) throw usage_error("--output " + dir + ": cannot create the directory: " + ec.message());
  if (!fs::is_directory(dir, ec)) throw usage_error("--output " + dir + ": not a directory");
  const fs::path probe = fs::path(dir) / ".pinpool-write-test";
  std::FILE* f = std::fopen(probe.c_str(), "wb");
  if (f == nullptr) throw usage_error("--output " + dir + ": the directory is not writable");
  std::fclose(f);
  fs::remove(probe, ec);
}

}  // namespace pinpool::pipeline
