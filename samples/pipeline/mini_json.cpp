#include "mini_json.hpp"

#include <cstdlib>
#include <cstring>

namespace pinpool::pipeline {
namespace {

class reader {
 public:
  explicit reader(std::string_view text) : text_(text) {}

  json_value document() {
    json_value v = value();
    skip_space();
    if (pos_ != text_.size()) fail("trailing characters");
    return v;
  }

 private:
  [[noreturn]] void fail(const char* what) const {
    throw std::runtime_error("JSON: " + std::string(what) + " at offset " + std::to_string(pos_));
  }
  void skip_space() {
    while (pos_ < text_.size() && std::strchr(" \t\r\n", text_[pos_]) != nullptr) ++pos_;
  }
  char peek() {
    skip_space();
    return pos_ < text_.size() ? text_[pos_] : '\0';
  }
  void expect(char c) {
    if (peek() != c) fail("unexpected character");
    ++pos_;
  }
  bool consume(std::string_view word) {
    if (text_.substr(pos_, word.size()) != word) return false;
    pos_ += word.size();
    return true;
  }

  json_value value() {
    json_value v;
    const char c = peek();
    if (c == '{') return object();
    if (c == '[') return array();
    if (c == '"') {
      v.kind = json_value::type::string;
      v.text = string();
    } else if (consume("true")) {
      v.kind = json_value::type::boolean;
      v.boolean = true;
    } else if (consume("false")) {
      v.kind = json_value::type::boolean;
    } else if (consume("null")) {
      v.kind = json_value::type::null;
    } else {
      v.kind = json_value::type::number;
      v.number = number();
    }
    return v;
  }

  json_value object() {
    json_value v;
    v.kind = json_value::type::object;
    expect('{');
    if (peek() == '}') {
      ++pos_;
      return v;
    }
    do {
      if (peek() != '"') fail("expected a member name");
      std::string key = string();
      expect(':');
      v.members.emplace_back(std::move(key), value());
    } while (next_item('}'));
    return v;
  }

  json_value array() {
    json_value v;
    v.kind = json_value::type::array;
    expect('[');
    if (peek() == ']') {
      ++pos_;
      return v;
    }
    do {
      v.items.push_back(value());
    } while (next_item(']'));
    return v;
  }

  // After an item: true at ',', false at `close` (consumed either way).
  bool next_item(char close) {
    const char c = peek();
    if (c != ',' && c != close) fail("expected ',' or the end of the list");
    ++pos_;
    return c == ',';
  }

  double number() {
    const std::string digits(text_.substr(pos_, 64));
    char* end = nullptr;
    const double v = std::strtod(digits.c_str(), &end);
    if (end == digits.c_str()) fail("expected a value");
    pos_ += static_cast<std::size_t>(end - digits.c_str());
    return v;
  }

  std::string string() {
    expect('"');
    std::string out;
    while (pos_ < text_.size() && text_[pos_] != '"') {
      const char c = text_[pos_++];
      if (c == '\\') {
        escape(out);
      } else {
        out += c;
      }
    }
    if (pos_ >= text_.size()) fail("unterminated string");
    ++pos_;
    return out;
  }

  void escape(std::string& out) {
    if (pos_ >= text_.size()) fail("unterminated escape");
    const char c = text_[pos_++];
    switch (c) {
      case '"':
      case '\\':
      case '/':
        out += c;
        break;
      case 'b':
        out += '\b';
        break;
      case 'f':
        out += '\f';
        break;
      case 'n':
        out += '\n';
        break;
      case 'r':
        out += '\r';
        break;
      case 't':
        out += '\t';
        break;
      case 'u':
        unicode(out);
        break;
      default:
        fail("bad escape");
    }
  }

  // \uXXXX (basic plane), written as UTF-8.
  void unicode(std::string& out) {
    if (pos_ + 4 > text_.size()) fail("short \\u escape");
    const std::string hex(text_.substr(pos_, 4));
    char* end = nullptr;
    const unsigned long cp = std::strtoul(hex.c_str(), &end, 16);
    if (end != hex.c_str() + 4) fail("bad \\u escape");
    pos_ += 4;
    if (cp < 0x80) {
      out += static_cast<char>(cp);
    } else if (cp < 0x800) {
      out += static_cast<char>(0xC0 | (cp >> 6));
      out += static_cast<char>(0x80 | (cp & 0x3F));
    } else {
      out += static_cast<char>(0xE0 | (cp >> 12));
      out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
      out += static_cast<char>(0x80 | (cp & 0x3F));
    }
  }

  std::string_view text_;
  std::size_t pos_ = 0;
};

}  // namespace

const json_value* json_value::find(std::string_view key) const {
  for (const auto& [name, v] : members) {
    if (name == key) return &v;
  }
  return nullptr;
}

double json_value::number_at(std::string_view key, double fallback) const {
  const json_value* v = find(key);
  return v != nullptr && v->kind == type::number ? v->number : fallback;
}

std::string json_value::text_at(std::string_view key) const {
  const json_value* v = find(key);
  return v != nullptr && v->kind == type::string ? v->text : std::string();
}

json_value parse_json(std::string_view text) {
  return reader(text).document();
}

}  // namespace pinpool::pipeline
