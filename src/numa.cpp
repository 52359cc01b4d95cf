#include "numa.hpp"

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstdint>
#include <fstream>
#include <linux/mempolicy.h>
#include <map>
#include <sstream>
#include <stdexcept>
#include <sys/syscall.h>
#include <unistd.h>

namespace pinpool::detail {
namespace {

constexpr int max_nodes = 1024;  // bits in the node masks passed to the kernel
constexpr std::size_t mask_words = max_nodes / (8 * sizeof(unsigned long));

// "0-3,5" -> {0, 1, 2, 3, 5}; malformed text ends the list where it stops making sense.
std::vector<int> parse_node_list(const std::string& text) {
  std::vector<int> nodes;
  std::istringstream in(text);
  std::string range;
  while (std::getline(in, range, ',')) {
    int first = -1;
    int last = -1;
    const char dash = '-';
    std::istringstream r(range);
    if (!(r >> first)) break;
    last = first;
    if (r.peek() == dash) {
      r.get();
      if (!(r >> last)) break;
    }
    for (int n = first; n <= last && n < max_nodes; ++n) nodes.push_back(n);
  }
  return nodes;
}

int current_node() noexcept {
  unsigned cpu = 0;
  unsigned node = 0;
  if (::syscall(SYS_getcpu, &cpu, &node, nullptr) != 0) return -1;
  return static_cast<int>(node);
}

// The most frequent non-negative entry of `status` (a node per page), -1 when none.
int majority_node(const std::vector<int>& status) {
  std::map<int, std::size_t> votes;
  for (const int s : status) {
    if (s >= 0) ++votes[s];
  }
  auto best = std::max_element(votes.begin(), votes.end(),
                               [](const auto& a, const auto& b) { return a.second < b.second; });
  return best == votes.end() ? -1 : best->first;
}

int node_by_policy(const void* p) noexcept {
  int node = -1;
  const long rc = ::syscall(SYS_get_mempolicy, &node, nullptr, 0UL, p, MPOL_F_NODE | MPOL_F_ADDR);
  return rc == 0 ? node : -1;
}

}  // namespace

std::vector<int> numa_nodes_online() {
  std::ifstream in("/sys/devices/system/node/online");
  std::string text;
  std::vector<int> nodes;
  if (std::getline(in, text)) nodes = parse_node_list(text);
  if (nodes.empty()) nodes.push_back(0);
  return nodes;
}

std::string numa_nodes_text(const std::vector<int>& nodes) {
  std::string text;
  for (std::size_t i = 0; i < nodes.size(); ++i) {
    std::size_t j = i;
    while (j + 1 < nodes.size() && nodes[j + 1] == nodes[j] + 1) ++j;
    text += (text.empty() ? "" : ",") + std::to_string(nodes[i]);
    if (j > i) text += "-" + std::to_string(nodes[j]);
    i = j;
  }
  return text;
}

void check_numa_node(int node, const std::string& who) {
  if (node == -1) return;
  const std::vector<int> nodes = numa_nodes_online();
  if (std::find(nodes.begin(), nodes.end(), node) != nodes.end()) return;
  throw std::invalid_argument(who + ": numa_node " + std::to_string(node) +
                              " does not exist (nodes present: " + numa_nodes_text(nodes) +
                              "; -1 = no preference)");
}

bool prefer_numa_node(void* p, std::size_t bytes, int node) noexcept {
  try {
    if (node == -1) {
      if (numa_nodes_online().size() < 2) return true;
      node = current_node();
      if (node < 0) return true;
    }
  } catch (...) {  // allocation failure reading the node list: leave placement to the kernel
    return true;
  }
  if (node < 0 || node >= max_nodes) {
    errno = EINVAL;
    return false;
  }
  std::array<unsigned long, mask_words> mask{};
  const std::size_t bits = 8 * sizeof(unsigned long);
  mask[static_cast<std::size_t>(node) / bits] = 1UL << (static_cast<std::size_t>(node) % bits);
  // maxnode counts one more than the mask's bits (the kernel drops the last, as libnuma passes).
  return ::syscall(SYS_mbind, p, bytes, MPOL_PREFERRED, mask.data(), max_nodes + 1UL, 0U) == 0;
}

int numa_node_of(const void* p, std::size_t bytes) noexcept {
  try {
    const auto page = static_cast<std::size_t>(::sysconf(_SC_PAGESIZE));
    const std::size_t pages = std::max<std::size_t>(1, bytes / page);
    const std::size_t samples = std::min<std::size_t>(64, pages);
    std::vector<void*> addresses(samples);
    std::vector<int> status(samples, -1);
    for (std::size_t i = 0; i < samples; ++i) {
      const std::size_t index = i * pages / samples;
      addresses[i] = const_cast<char*>(static_cast<const char*>(p)) + index * page;
    }
    // Null nodes: move nothing, report each page's node (or -errno) in status.
    if (::syscall(SYS_move_pages, 0, samples, addresses.data(), nullptr, status.data(), 0) == 0) {
      const int node = majority_node(status);
      if (node >= 0) return node;
    }
  } catch (...) {  // allocation failure: try the policy query
  }
  return node_by_policy(p);
}

}  // namespace pinpool::detail
