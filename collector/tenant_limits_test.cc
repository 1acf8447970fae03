#include "collector/tenant_limits.h"

#include <gtest/gtest.h>

namespace skua::collector {
namespace {

constexpr int64_t kT0 = 1'700'000'000'000'000'000;

TEST(TenantLimitsTest, RatePerTenantWithOverrides) {
  common::FakeClock clock(kT0);
  common::TenancyConfig c;
  c.enabled = true;
  c.max_spans_per_second = 100;
  c.rate_overrides = {{"big", 0}, {"small", 10}};
  TenantLimits limits(c, clock, {});
  // A second's worth at once, then charged in full: the next request waits for the debt.
  EXPECT_TRUE(limits.Admit("acme", 60).ok());
  EXPECT_TRUE(limits.Admit("acme", 60).ok());
  auto over = limits.Admit("acme", 1);
  EXPECT_EQ(over.code(), absl::StatusCode::kResourceExhausted);
  EXPECT_NE(over.message().find("100 spans/s"), std::string::npos);
  // Other tenants are not held up by acme.
  EXPECT_TRUE(limits.Admit("globex", 100).ok());
  for (int i = 0; i < 100; ++i) EXPECT_TRUE(limits.Admit("big", 100'000).ok());
  EXPECT_TRUE(limits.Admit("small", 500).ok());
  EXPECT_FALSE(limits.Admit("small", 1).ok());
  // acme owes 20 spans: admitted again after 0.2 s, not before.
  clock.Advance(std::chrono::milliseconds(150));
  EXPECT_FALSE(limits.Admit("acme", 1).ok());
  clock.Advance(std::chrono::milliseconds(100));
  EXPECT_TRUE(limits.Admit("acme", 1).ok());
  // Over a long run a tenant averages its rate: 10 s admit about 1,000 spans.
  common::FakeClock clock2(kT0);
  TenantLimits fresh(c, clock2, {});
  uint64_t admitted = 0;
  for (int ms = 0; ms < 10'000; ms += 10) {
    if (fresh.Admit("acme", 7).ok()) admitted += 7;
    clock2.Advance(std::chrono::milliseconds(10));
  }
  EXPECT_GE(admitted, 1000u);
  EXPECT_LE(admitted, 1100u + 7);
}

TEST(TenantLimitsTest, NewTenantsPastMaxTenantsAreDenied) {
  common::FakeClock clock(kT0);
  common::TenancyConfig c;
  c.enabled = true;
  c.max_tenants = 3;
  // Two tenants have data already ("" is data from before tenancy: no tenant).
  TenantLimits limits(c, clock, {"", "old-1", "old-2"});
  EXPECT_TRUE(limits.Admit("old-1", 5).ok());
  EXPECT_TRUE(limits.Admit("new-1", 5).ok());
  auto denied = limits.Admit("new-2", 5);
  EXPECT_EQ(denied.code(), absl::StatusCode::kPermissionDenied);
  EXPECT_NE(denied.message().find("tenancy.max_tenants"), std::string::npos);
  EXPECT_TRUE(limits.Admit("new-1", 5).ok());
  // With an allowed list, the list is the bound.
  c.tenants = {"a", "b", "c", "d"};
  TenantLimits listed(c, clock, {});
  for (const char* t : {"a", "b", "c", "d"}) EXPECT_TRUE(listed.Admit(t, 1).ok()) << t;
}

}  // namespace
}  // namespace skua::collector
