// Route matching: literals, parameters, the trailing catch-all, and no match.

#include "query/router.h"

#include <gtest/gtest.h>

namespace skua::query {
namespace {

TEST(RouterTest, MatchesLiteralsParametersAndRests) {
  Router r;
  r.Add("/api/traces", 1);
  r.Add("/api/traces/{traceID}", 2);
  r.Add("/api/services/{service}/operations", 3);
  r.Add("/api/v3/traces/{trace_id*}", 4);

  auto m = r.Find("/api/traces");
  ASSERT_TRUE(m);
  EXPECT_EQ(m->id, 1);
  EXPECT_TRUE(m->params.empty());

  m = r.Find("/api/traces/abc");
  ASSERT_TRUE(m);
  EXPECT_EQ(m->id, 2);
  EXPECT_EQ(m->params, std::vector<std::string_view>{"abc"});
  EXPECT_EQ(*m->pattern, "/api/traces/{traceID}");
  EXPECT_FALSE(r.Find("/api/traces/"));         // an empty parameter
  EXPECT_FALSE(r.Find("/api/traces/abc/def"));  // one segment only

  m = r.Find("/api/services/task-api/operations");
  ASSERT_TRUE(m);
  EXPECT_EQ(m->id, 3);
  EXPECT_EQ(m->params, std::vector<std::string_view>{"task-api"});
  EXPECT_FALSE(r.Find("/api/services//operations"));

  m = r.Find("/api/v3/traces/AQID/BAU=");  // base64 with a '/'
  ASSERT_TRUE(m);
  EXPECT_EQ(m->id, 4);
  EXPECT_EQ(m->params, std::vector<std::string_view>{"AQID/BAU="});
  EXPECT_EQ(*m->pattern, "/api/v3/traces/{trace_id}");
  EXPECT_FALSE(r.Find("/api/v3/traces/"));
  EXPECT_FALSE(r.Find("/api/other"));
  EXPECT_FALSE(r.Find(""));
}

}  // namespace
}  // namespace skua::query
