// chunk_list: the intrusive doubly-linked list of chunk records (src/core/chunk_list.hpp).
#include "core/chunk.hpp"
#include "core/chunk_list.hpp"

#include <array>
#include <cstddef>
#include <gtest/gtest.h>
#include <vector>

namespace {

using pinpool::detail::chunk;
using pinpool::detail::chunk_list;

// The list front to back; checks that every back link matches and that size() agrees.
std::vector<chunk*> contents(const chunk_list& l) {
  std::vector<chunk*> out;
  chunk* prev = nullptr;
  for (chunk* c = l.front(); c != nullptr; c = c->next) {
    EXPECT_EQ(c->prev, prev) << "broken back link at position " << out.size();
    out.push_back(c);
    prev = c;
    if (out.size() > 1000) {
      ADD_FAILURE() << "cycle in the list";
      break;
    }
  }
  EXPECT_EQ(out.size(), l.size());
  EXPECT_EQ(l.empty(), out.empty());
  return out;
}

struct chunk_list_test : ::testing::Test {
  std::array<chunk, 6> c{};
  chunk_list l;
  chunk* at(std::size_t i) { return &c[i]; }
};

TEST_F(chunk_list_test, starts_empty) {
  EXPECT_TRUE(l.empty());
  EXPECT_EQ(l.size(), 0u);
  EXPECT_EQ(l.front(), nullptr);
  EXPECT_EQ(l.pop_front(), nullptr);
  EXPECT_EQ(l.size(), 0u);
}

TEST_F(chunk_list_test, push_back_keeps_insertion_order) {
  for (std::size_t i = 0; i < 4; ++i) l.push_back(at(i));
  EXPECT_EQ(contents(l), (std::vector<chunk*>{at(0), at(1), at(2), at(3)}));
  EXPECT_EQ(l.front(), at(0));
  EXPECT_EQ(at(3)->next, nullptr);
}

TEST_F(chunk_list_test, push_front_reverses_insertion_order) {
  for (std::size_t i = 0; i < 4; ++i) l.push_front(at(i));
  EXPECT_EQ(contents(l), (std::vector<chunk*>{at(3), at(2), at(1), at(0)}));
  EXPECT_EQ(at(3)->prev, nullptr);
  EXPECT_EQ(at(0)->next, nullptr);
}

TEST_F(chunk_list_test, mixed_pushes_go_to_either_end) {
  l.push_back(at(0));
  l.push_front(at(1));
  l.push_back(at(2));
  l.push_front(at(3));
  EXPECT_EQ(contents(l), (std::vector<chunk*>{at(3), at(1), at(0), at(2)}));
}

TEST_F(chunk_list_test, pushes_overwrite_stale_links) {
  at(0)->prev = at(5);
  at(0)->next = at(4);
  l.push_back(at(0));
  EXPECT_EQ(at(0)->prev, nullptr);
  EXPECT_EQ(at(0)->next, nullptr);
  at(1)->prev = at(5);
  at(1)->next = at(4);
  l.push_front(at(1));
  EXPECT_EQ(contents(l), (std::vector<chunk*>{at(1), at(0)}));
}

TEST_F(chunk_list_test, pop_front_takes_from_the_head_in_order) {
  for (std::size_t i = 0; i < 4; ++i) l.push_back(at(i));
  for (std::size_t i = 0; i < 4; ++i) {
    chunk* p = l.pop_front();
    ASSERT_EQ(p, at(i));
    EXPECT_EQ(p->prev, nullptr);
    EXPECT_EQ(p->next, nullptr);
    EXPECT_EQ(l.size(), 3 - i);
    if (!l.empty()) {
      EXPECT_EQ(l.front(), at(i + 1));
      EXPECT_EQ(l.front()->prev, nullptr);
    }
  }
  EXPECT_TRUE(l.empty());
  EXPECT_EQ(l.pop_front(), nullptr);
}

TEST_F(chunk_list_test, erase_middle) {
  for (std::size_t i = 0; i < 5; ++i) l.push_back(at(i));
  l.erase(at(2));
  EXPECT_EQ(at(2)->prev, nullptr);
  EXPECT_EQ(at(2)->next, nullptr);
  EXPECT_EQ(contents(l), (std::vector<chunk*>{at(0), at(1), at(3), at(4)}));
  EXPECT_EQ(at(1)->next, at(3));
  EXPECT_EQ(at(3)->prev, at(1));
}

TEST_F(chunk_list_test, erase_head) {
  for (std::size_t i = 0; i < 3; ++i) l.push_back(at(i));
  l.erase(at(0));
  EXPECT_EQ(l.front(), at(1));
  EXPECT_EQ(contents(l), (std::vector<chunk*>{at(1), at(2)}));
  l.push_front(at(3));  // the new head links to the old one
  EXPECT_EQ(contents(l), (std::vector<chunk*>{at(3), at(1), at(2)}));
}

TEST_F(chunk_list_test, erase_tail_then_push_back_appends_after_the_new_tail) {
  for (std::size_t i = 0; i < 3; ++i) l.push_back(at(i));
  l.erase(at(2));
  EXPECT_EQ(contents(l), (std::vector<chunk*>{at(0), at(1)}));
  EXPECT_EQ(at(1)->next, nullptr);
  l.push_back(at(3));
  EXPECT_EQ(contents(l), (std::vector<chunk*>{at(0), at(1), at(3)}));
}

TEST_F(chunk_list_test, erase_the_only_element_empties_the_list) {
  l.push_back(at(0));
  l.erase(at(0));
  EXPECT_TRUE(l.empty());
  EXPECT_EQ(l.front(), nullptr);
  EXPECT_EQ(l.size(), 0u);
  // Head and tail both reset: either push starts a fresh list.
  l.push_back(at(1));
  l.push_back(at(2));
  EXPECT_EQ(contents(l), (std::vector<chunk*>{at(1), at(2)}));
  l.erase(at(1));
  l.erase(at(2));
  l.push_front(at(3));
  l.push_back(at(4));
  EXPECT_EQ(contents(l), (std::vector<chunk*>{at(3), at(4)}));
}

TEST_F(chunk_list_test, erased_chunks_can_move_to_another_list) {
  chunk_list other;
  for (std::size_t i = 0; i < 4; ++i) l.push_back(at(i));
  l.erase(at(1));
  other.push_back(at(1));
  l.erase(at(3));
  other.push_front(at(3));
  EXPECT_EQ(contents(l), (std::vector<chunk*>{at(0), at(2)}));
  EXPECT_EQ(contents(other), (std::vector<chunk*>{at(3), at(1)}));
}

}  // namespace
