#include "common/tenancy.h"

#include <gtest/gtest.h>

#include <string>

namespace skua::common {
namespace {

TEST(TenancyTest, OffIgnoresTheHeader) {
  Tenancy off(TenancyConfig{});
  std::string value = "acme";
  EXPECT_EQ(*off.Resolve(nullptr), "");
  EXPECT_EQ(*off.Resolve(&value), "");
}

TEST(TenancyTest, MissingIsUnauthenticatedUnknownIsDenied) {
  TenancyConfig c;
  c.enabled = true;
  c.header = "X-Scope-OrgID";
  c.tenants = {"acme", "globex"};
  Tenancy t(c);
  EXPECT_EQ(t.header(), "x-scope-orgid");
  std::string empty, acme = "acme", other = "initech", bad = "acme/../x";
  EXPECT_EQ(t.Resolve(nullptr).status().code(), absl::StatusCode::kUnauthenticated);
  EXPECT_EQ(t.Resolve(&empty).status().code(), absl::StatusCode::kUnauthenticated);
  EXPECT_EQ(*t.Resolve(&acme), "acme");
  auto denied = t.Resolve(&other);
  EXPECT_EQ(denied.status().code(), absl::StatusCode::kPermissionDenied);
  // Nothing of the value or the list is told to the caller.
  EXPECT_EQ(denied.status().message(), "unknown tenant");
  EXPECT_EQ(t.Resolve(&bad).status().code(), absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(TenantRefusalHttpStatus(t.Resolve(nullptr).status()), 401);
  EXPECT_EQ(TenantRefusalHttpStatus(denied.status()), 403);
}

TEST(TenancyTest, AnyWellFormedTenantWithoutAList) {
  TenancyConfig c;
  c.enabled = true;
  Tenancy t(c);
  for (std::string ok : {std::string("a"), std::string("Team-7_prod.eu"), std::string("!*'()"),
                         std::string(150, 'x')}) {
    EXPECT_EQ(*t.Resolve(&ok), ok);
  }
  for (std::string bad :
       {std::string("."), std::string(".."), std::string(151, 'x'), std::string("a b"),
        std::string("a/b"), std::string("é"), std::string("a\0b", 3)}) {
    EXPECT_EQ(t.Resolve(&bad).status().code(), absl::StatusCode::kPermissionDenied) << bad;
  }
}

TEST(TenancyTest, ConfigChecksNameTheKey) {
  TenancyConfig c;
  EXPECT_TRUE(CheckTenancyConfig(c, {}).ok());
  c.header = "x tenant";
  EXPECT_NE(CheckTenancyConfig(c, {}).message().find("tenancy.header"), std::string::npos);
  c.header = "x-tenant";
  c.tenants = {"ok", "not ok"};
  EXPECT_NE(CheckTenancyConfig(c, {}).message().find("tenancy.tenants"), std::string::npos);
  c.tenants = {};
  c.rate_overrides = {{"a/b", 5}};
  EXPECT_NE(CheckTenancyConfig(c, {}).message().find("tenancy.rate_overrides"), std::string::npos);
  c.rate_overrides = {};
  EXPECT_NE(CheckTenancyConfig(c, {".."}).message().find("tenancy.retention_overrides"),
            std::string::npos);
}

}  // namespace
}  // namespace skua::common
