#include "common/json_parse.h"

#include <fmt/format.h>
#include <rapidjson/error/en.h>
#include <rapidjson/reader.h>

namespace skua::common {
namespace {

// Forwards SAX events to a Document while counting nesting; refuses to go deeper than the bound.
class DepthLimited {
 public:
  DepthLimited(rapidjson::Document& doc, int max_depth) : doc_(doc), max_depth_(max_depth) {}
  bool too_deep() const { return too_deep_; }

  bool Null() { return doc_.Null(); }
  bool Bool(bool b) { return doc_.Bool(b); }
  bool Int(int i) { return doc_.Int(i); }
  bool Uint(unsigned u) { return doc_.Uint(u); }
  bool Int64(int64_t i) { return doc_.Int64(i); }
  bool Uint64(uint64_t u) { return doc_.Uint64(u); }
  bool Double(double d) { return doc_.Double(d); }
  bool RawNumber(const char* s, rapidjson::SizeType n, bool copy) {
    return doc_.RawNumber(s, n, copy);
  }
  bool String(const char* s, rapidjson::SizeType n, bool copy) { return doc_.String(s, n, copy); }
  bool Key(const char* s, rapidjson::SizeType n, bool copy) { return doc_.Key(s, n, copy); }
  bool StartObject() { return Enter() && doc_.StartObject(); }
  bool EndObject(rapidjson::SizeType n) {
    --depth_;
    return doc_.EndObject(n);
  }
  bool StartArray() { return Enter() && doc_.StartArray(); }
  bool EndArray(rapidjson::SizeType n) {
    --depth_;
    return doc_.EndArray(n);
  }

 private:
  bool Enter() {
    if (++depth_ <= max_depth_) return true;
    too_deep_ = true;
    return false;
  }

  rapidjson::Document& doc_;
  const int max_depth_;
  int depth_ = 0;
  bool too_deep_ = false;
};

}  // namespace

std::optional<JsonError> ParseJson(std::string_view text, rapidjson::Document& doc, int max_depth,
                                   bool nan_and_inf) {
  rapidjson::MemoryStream ms(text.data(), text.size());
  rapidjson::EncodedInputStream<rapidjson::UTF8<>, rapidjson::MemoryStream> in(ms);
  rapidjson::Reader reader;
  bool too_deep = false;
  auto generate = [&](rapidjson::Document& d) {
    DepthLimited handler(d, max_depth);
    constexpr unsigned kBase = rapidjson::kParseIterativeFlag;
    if (nan_and_inf) {
      reader.Parse<kBase | rapidjson::kParseNanAndInfFlag>(in, handler);
    } else {
      reader.Parse<kBase>(in, handler);
    }
    too_deep = handler.too_deep();
    return !reader.HasParseError();
  };
  doc.Populate(generate);
  if (too_deep) {
    return JsonError{reader.GetErrorOffset(),
                     fmt::format("nested deeper than {} levels", max_depth)};
  }
  if (reader.HasParseError()) {
    return JsonError{reader.GetErrorOffset(),
                     rapidjson::GetParseError_En(reader.GetParseErrorCode())};
  }
  return std::nullopt;
}

}  // namespace skua::common
