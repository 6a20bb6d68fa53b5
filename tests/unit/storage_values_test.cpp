// Bound values, error mapping, transactions and bulk writes, on SQLite and PostgreSQL.

#include <climits>
#include <cmath>
#include <limits>
#include <optional>
#include <set>
#include <typeinfo>

#include "db/bulk.hpp"
#include "db/migrations.hpp"
#include "storage_support.hpp"

namespace evald::db::storage_test {
namespace {

class StorageValues : public EngineTest {
 protected:
  void SetUp() override {
    EngineTest::SetUp();
    if (IsSkipped() || HasFatalFailure()) return;
    db_ = open();
    auto st = db_->write([](Tx& tx) {
      return tx.script(
          "CREATE TABLE rt (id BIGINT PRIMARY KEY, i BIGINT, n INTEGER, d DOUBLE PRECISION, "
          "t TEXT)");
    });
    ASSERT_TRUE(st) << describe(st);
  }

  std::int64_t count(const std::string& table) {
    auto r = db_->query("SELECT COUNT(*) AS n FROM " + table);
    EXPECT_TRUE(r) << describe(r);
    return r ? r->integer(0, "n") : -1;
  }

  std::unique_ptr<Database> db_;
};

Status insert_rt(Tx& tx, const Params& p) {
  auto r = tx.exec("INSERT INTO rt (id, i, n, d, t) VALUES ($1, $2, $3, $4, $5)", p);
  if (!r) return std::move(r).error();
  return Ok{};
}

TEST_P(StorageValues, BoundValuesRoundTripWithTheirTypes) {
  constexpr auto kMin = std::numeric_limits<std::int64_t>::min();
  constexpr auto kMax = std::numeric_limits<std::int64_t>::max();
  const std::vector<Params> rows = {
      {std::int64_t{1}, null(), null(), null(), null()},
      {std::int64_t{2}, kMin, std::int64_t{-2147483648LL}, 4.25, std::string("평가 시스템 🚀✅")},
      {std::int64_t{3}, kMax, std::int64_t{2147483647LL}, 0.1,
       std::string("it's a \"quote\", $1, ?1, $2 and :name")},
      {std::int64_t{4}, std::int64_t{0}, std::int64_t{0}, 1.0 / 3.0, std::string("")},
      {std::int64_t{5}, std::int64_t{-1}, std::int64_t{1}, -2.5e-300,
       std::string("line\nbreak\ttab\\backslash'; DROP TABLE rt; --")},
      {std::int64_t{6}, std::int64_t{9007199254740993LL}, null(), 1.7976931348623157e308,
       std::string("한국어 텍스트와 emoji 👩‍💻 and 中文")},
      {std::int64_t{7}, null(), null(), 123456.78901234568, std::string("$1")},
  };
  auto st = db_->write([&](Tx& tx) -> Status {
    for (const auto& r : rows) {
      if (auto s = insert_rt(tx, r); !s) return s;
    }
    return Ok{};
  });
  ASSERT_TRUE(st) << describe(st);

  for (const auto& expected : rows) {
    auto got = db_->query("SELECT id, i, n, d, t FROM rt WHERE id = $1", {expected[0]});
    ASSERT_TRUE(got) << describe(got);
    ASSERT_EQ(got->size(), 1u);
    EXPECT_EQ(got->columns, (std::vector<std::string>{"id", "i", "n", "d", "t"}));
    const auto& row = got->rows[0];
    for (std::size_t c = 0; c < expected.size(); ++c) {
      EXPECT_EQ(row[c], expected[c])
          << "row " << std::get<std::int64_t>(expected[0]) << " column " << got->columns[c]
          << ": got " << show(row[c]) << ", want " << show(expected[c]);
    }
  }

  // Values bound as parameters match in WHERE clauses too.
  auto by_text = db_->query("SELECT id FROM rt WHERE t = $1", {std::string("평가 시스템 🚀✅")});
  ASSERT_TRUE(by_text) << describe(by_text);
  ASSERT_EQ(by_text->size(), 1u);
  EXPECT_EQ(by_text->rows[0][0], Value{std::int64_t{2}});
  auto by_min = db_->query("SELECT id FROM rt WHERE i = $1", {kMin});
  ASSERT_TRUE(by_min) << describe(by_min);
  ASSERT_EQ(by_min->size(), 1u);
  EXPECT_EQ(by_min->rows[0][0], Value{std::int64_t{2}});
  auto nulls = db_->query("SELECT id FROM rt WHERE t IS NULL");
  ASSERT_TRUE(nulls) << describe(nulls);
  ASSERT_EQ(nulls->size(), 1u) << "the empty string must not become NULL";
  EXPECT_EQ(nulls->rows[0][0], Value{std::int64_t{1}});
}

TEST_P(StorageValues, SubnormalDoublesRoundTrip) {
  const std::vector<double> tiny = {5e-324, 2.5e-310, -1e-315};
  auto st = db_->write([&](Tx& tx) -> Status {
    for (std::size_t i = 0; i < tiny.size(); ++i) {
      auto s = insert_rt(tx, {std::int64_t(i + 1), null(), null(), tiny[i], null()});
      if (!s) return s;
    }
    return Ok{};
  });
  ASSERT_TRUE(st) << describe(st);
  for (std::size_t i = 0; i < tiny.size(); ++i) {
    std::optional<Result<Rows>> got;
    try {
      got.emplace(db_->query("SELECT d FROM rt WHERE id = $1", {std::int64_t(i + 1)}));
    } catch (const std::exception& e) {
      ADD_FAILURE() << "reading " << show(Value{tiny[i]}) << " threw " << typeid(e).name() << ": "
                    << e.what();
      continue;
    }
    ASSERT_TRUE(*got) << describe(*got);
    ASSERT_EQ((*got)->size(), 1u);
    EXPECT_EQ((*got)->rows[0][0], Value{tiny[i]}) << show((*got)->rows[0][0]);
  }
}

TEST_P(StorageValues, ResultsAreTyped) {
  auto st = db_->write([](Tx& tx) {
    return insert_rt(tx, {std::int64_t{1}, std::int64_t{40}, std::int64_t{2}, std::int64_t{5},
                          std::string("x")});
  });
  ASSERT_TRUE(st) << describe(st);
  auto r = db_->query(
      "SELECT id, i, n, d, COUNT(*) OVER () AS c, CAST($1 AS BIGINT) AS b, "
      "CAST($2 AS DOUBLE PRECISION) AS f FROM rt",
      {std::numeric_limits<std::int64_t>::max(), 4.25});
  ASSERT_TRUE(r) << describe(r);
  ASSERT_EQ(r->size(), 1u);
  const auto& row = r->rows[0];
  EXPECT_EQ(row[r->column("id")], Value{std::int64_t{1}});
  EXPECT_EQ(row[r->column("i")], Value{std::int64_t{40}});
  EXPECT_EQ(row[r->column("n")], Value{std::int64_t{2}}) << "INTEGER must come back as int64";
  EXPECT_EQ(row[r->column("d")], Value{5.0})
      << "an integer stored in DOUBLE PRECISION must come back as double, got "
      << show(row[r->column("d")]);
  EXPECT_EQ(row[r->column("c")], Value{std::int64_t{1}}) << show(row[r->column("c")]);
  EXPECT_EQ(row[r->column("b")], Value{std::numeric_limits<std::int64_t>::max()});
  EXPECT_EQ(row[r->column("f")], Value{4.25});
  EXPECT_EQ(r->integer(0, "b"), std::numeric_limits<std::int64_t>::max());
  EXPECT_DOUBLE_EQ(r->real(0, "f"), 4.25);

  auto agg = db_->query("SELECT COUNT(*) AS n, MAX(i) AS mi, MAX(d) AS md FROM rt");
  ASSERT_TRUE(agg) << describe(agg);
  EXPECT_EQ(agg->rows[0][0], Value{std::int64_t{1}});
  EXPECT_EQ(agg->rows[0][1], Value{std::int64_t{40}});
  EXPECT_EQ(agg->rows[0][2], Value{5.0});
}

TEST_P(StorageValues, PlaceholdersInsideQuotedSqlAreNotTranslated) {
  auto r = db_->query("SELECT 'it''s $1 and $2, ?' AS lit, CAST($1 AS TEXT) AS p, 1 AS \"col$1\"",
                      {std::string("bound")});
  ASSERT_TRUE(r) << describe(r);
  ASSERT_EQ(r->size(), 1u);
  EXPECT_EQ(r->text(0, "lit"), "it's $1 and $2, ?");
  EXPECT_EQ(r->text(0, "p"), "bound");
  EXPECT_EQ(r->columns.at(2), "col$1");

  auto st = db_->write([](Tx& tx) -> Status {
    auto ins = tx.exec("INSERT INTO rt (id, t) VALUES ($1, 'price: $2 or $1')", {std::int64_t{9}});
    if (!ins) return std::move(ins).error();
    return Ok{};
  });
  ASSERT_TRUE(st) << describe(st);
  auto back = db_->query("SELECT t FROM rt WHERE id = $1", {std::int64_t{9}});
  ASSERT_TRUE(back) << describe(back);
  ASSERT_EQ(back->size(), 1u);
  EXPECT_EQ(back->text(0, "t"), "price: $2 or $1");
}

// ---------------------------------------------------------------------------------------------
// Errors

class StorageErrors : public EngineTest {
 protected:
  void SetUp() override {
    EngineTest::SetUp();
    if (IsSkipped() || HasFatalFailure()) return;
    db_ = open();
    auto m = migrate(*db_);
    ASSERT_TRUE(m) << describe(m);
  }
  std::unique_ptr<Database> db_;
};

Status insert_user(Tx& tx, const std::string& id, const std::string& login,
                   const std::string& email, const std::string& password_hash = "argon2id$x") {
  auto r = tx.exec(
      "INSERT INTO users (id, login_id, email, user_name, role, password_hash, created_at, "
      "updated_at) VALUES ($1, $2, $3, $4, 'evaluator', $5, $6, $6)",
      {id, login, email, std::string("사용자 ") + id, password_hash,
       std::string("2026-01-15T10:30:00.000Z")});
  if (!r) return std::move(r).error();
  return Ok{};
}

Status insert_project(Tx& tx, const std::string& id) {
  auto r =
      tx.exec("INSERT INTO projects (id, name, created_at, updated_at) VALUES ($1, $2, $3, $3)",
              {id, std::string("사업 ") + id, std::string("2026-01-15T10:30:00.000Z")});
  if (!r) return std::move(r).error();
  return Ok{};
}

Status insert_company(Tx& tx, const std::string& id, const std::string& project,
                      const std::string& reg) {
  auto r = tx.exec(
      "INSERT INTO companies (id, project_id, name, registration_number, created_at, updated_at) "
      "VALUES ($1, $2, $3, $4, $5, $5)",
      {id, project, std::string("회사 ") + id, reg, std::string("2026-01-15T10:30:00.000Z")});
  if (!r) return std::move(r).error();
  return Ok{};
}

// No part of the error a client or a log sees carries the bound value.
void expect_value_absent(const ApiError& e, const std::string& value) {
  EXPECT_EQ(e.message.find(value), std::string::npos) << describe(e);
  for (const auto& d : e.details) {
    EXPECT_EQ(d.field.find(value), std::string::npos) << describe(e);
    EXPECT_EQ(d.message.find(value), std::string::npos) << describe(e);
    EXPECT_EQ(d.code.find(value), std::string::npos) << describe(e);
    EXPECT_FALSE(d.value && d.value->find(value) != std::string::npos) << describe(e);
  }
  EXPECT_EQ(e.internal_detail.find(value), std::string::npos)
      << "the log text carries the value: " << describe(e);
}

std::set<std::string> fields_of(const ApiError& e) {
  std::set<std::string> out;
  for (const auto& d : e.details) out.insert(d.field);
  return out;
}

TEST_P(StorageErrors, UniqueViolationIsAConflictNamingTheField) {
  const std::string secret_email = "secret.person.7781@example.com";
  ASSERT_TRUE(db_->write([&](Tx& tx) { return insert_user(tx, "u1", "kim", secret_email); }));
  auto st =
      db_->write([&](Tx& tx) { return insert_user(tx, "u2", "lee", secret_email, "hash-SECRET"); });
  ASSERT_FALSE(st);
  const ApiError& e = st.error();
  EXPECT_EQ(e.code, ErrorCode::kConflict) << describe(e);
  EXPECT_EQ(e.status(), 409u) << describe(e);
  EXPECT_EQ(fields_of(e), std::set<std::string>{"email"}) << describe(e);
  expect_value_absent(e, secret_email);
  expect_value_absent(e, "hash-SECRET");

  const std::string secret_login = "SECRET-login-4242";
  ASSERT_TRUE(db_->write([&](Tx& tx) { return insert_user(tx, "u3", secret_login, "a@b.c"); }));
  auto again = db_->write([&](Tx& tx) { return insert_user(tx, "u4", secret_login, "d@e.f"); });
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error().code, ErrorCode::kConflict);
  EXPECT_EQ(fields_of(again.error()), std::set<std::string>{"login_id"}) << describe(again);
  expect_value_absent(again.error(), secret_login);
}

TEST_P(StorageErrors, CompositeUniqueViolationNamesBothFields) {
  ASSERT_TRUE(db_->write([](Tx& tx) -> Status {
    if (auto s = insert_project(tx, "p1"); !s) return s;
    return insert_company(tx, "c1", "p1", "123-45-67890");
  }));
  auto st = db_->write([](Tx& tx) { return insert_company(tx, "c2", "p1", "123-45-67890"); });
  ASSERT_FALSE(st);
  EXPECT_EQ(st.error().code, ErrorCode::kConflict) << describe(st);
  EXPECT_EQ(st.error().status(), 409u);
  EXPECT_EQ(fields_of(st.error()), (std::set<std::string>{"project_id", "registration_number"}))
      << describe(st);
  expect_value_absent(st.error(), "123-45-67890");
}

TEST_P(StorageErrors, ForeignKeyViolationIsAConflict) {
  auto st = db_->write([](Tx& tx) { return insert_company(tx, "c1", "no-such-project", "r1"); });
  ASSERT_FALSE(st) << "a company of a missing project was accepted";
  EXPECT_EQ(st.error().code, ErrorCode::kConflict) << describe(st);
  EXPECT_EQ(st.error().status(), 409u);
  expect_value_absent(st.error(), "no-such-project");

  // Deleting a parent that a child still references (no cascade on evaluator_id).
  ASSERT_TRUE(db_->write([](Tx& tx) -> Status {
    if (auto s = insert_user(tx, "u1", "kim", "kim@example.com"); !s) return s;
    if (auto s = insert_project(tx, "p1"); !s) return s;
    if (auto s = insert_company(tx, "c1", "p1", "r1"); !s) return s;
    auto t = tx.exec(
        "INSERT INTO templates (id, project_id, name, status, created_at, updated_at) "
        "VALUES ('t1', 'p1', 'tpl', 'active', 'x', 'x')");
    if (!t) return std::move(t).error();
    auto s = tx.exec(
        "INSERT INTO evaluation_sheets (id, project_id, evaluator_id, company_id, template_id, "
        "status, created_at, updated_at) VALUES ('s1', 'p1', 'u1', 'c1', 't1', 'assigned', 'x', "
        "'x')");
    if (!s) return std::move(s).error();
    return Ok{};
  }));
  auto del = db_->write([](Tx& tx) -> Status {
    auto r = tx.exec("DELETE FROM users WHERE id = $1", {std::string("u1")});
    if (!r) return std::move(r).error();
    return Ok{};
  });
  ASSERT_FALSE(del) << "a referenced user was deleted";
  EXPECT_EQ(del.error().code, ErrorCode::kConflict) << describe(del);
  EXPECT_EQ(del.error().status(), 409u);
}

TEST_P(StorageErrors, SyntaxErrorIsADatabaseError500) {
  auto r = db_->query("SELEC id FROM users WHERE id = $1", {std::string("SECRET-param")});
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, ErrorCode::kDatabaseError) << describe(r);
  EXPECT_EQ(r.error().status(), 500u) << describe(r);
  EXPECT_EQ(r.error().message.find("SECRET-param"), std::string::npos);
  auto w = db_->write([](Tx& tx) { return tx.script("CREATE TABLEX nope (id TEXT)"); });
  ASSERT_FALSE(w);
  EXPECT_EQ(w.error().code, ErrorCode::kDatabaseError) << describe(w);
  EXPECT_EQ(w.error().status(), 500u);
  // The database is usable afterwards.
  EXPECT_TRUE(db_->ping());
}

// ---------------------------------------------------------------------------------------------
// Transactions

TEST_P(StorageValues, AnErrorReturnedAfterWritingRollsEverythingBack) {
  auto st = db_->write([](Tx& tx) -> Status {
    if (auto s = insert_rt(tx, {std::int64_t{1}, null(), null(), null(), std::string("a")}); !s) {
      return s;
    }
    if (auto s = insert_rt(tx, {std::int64_t{2}, null(), null(), null(), std::string("b")}); !s) {
      return s;
    }
    return ApiError::validation("changed my mind");
  });
  ASSERT_FALSE(st);
  EXPECT_EQ(st.error().message, "changed my mind");
  EXPECT_EQ(count("rt"), 0);
  auto other = open();
  auto r = other->query("SELECT COUNT(*) AS n FROM rt");
  ASSERT_TRUE(r) << describe(r);
  EXPECT_EQ(r->integer(0, "n"), 0);
}

TEST_P(StorageValues, AnExceptionPropagatesAndNothingIsWritten) {
  EXPECT_THROW(db_->write([](Tx& tx) -> Status {
    if (auto s = insert_rt(tx, {std::int64_t{1}, null(), null(), null(), std::string("a")}); !s) {
      return s;
    }
    throw std::runtime_error("bug in the caller");
  }),
               std::runtime_error);
  EXPECT_EQ(count("rt"), 0);
  // The writer is free again: a later write goes through and is seen.
  auto st = db_->write([](Tx& tx) {
    return insert_rt(tx, {std::int64_t{2}, null(), null(), null(), null()});
  });
  ASSERT_TRUE(st) << describe(st);
  EXPECT_EQ(count("rt"), 1);
}

TEST_P(StorageValues, ACommittedWriteIsVisibleToLaterReads) {
  auto st = db_->write([](Tx& tx) {
    return insert_rt(tx, {std::int64_t{1}, std::int64_t{7}, null(), 4.25, std::string("가")});
  });
  ASSERT_TRUE(st) << describe(st);
  std::int64_t seen = -1;
  ASSERT_TRUE(db_->read([&](Tx& tx) -> Status {
    auto r = tx.query("SELECT i FROM rt WHERE id = 1");
    if (!r) return std::move(r).error();
    seen = r->empty() ? -2 : r->integer(0, "i");
    return Ok{};
  }));
  EXPECT_EQ(seen, 7);
  auto other = open();
  auto r = other->query("SELECT t FROM rt WHERE id = $1", {std::int64_t{1}});
  ASSERT_TRUE(r) << describe(r);
  ASSERT_EQ(r->size(), 1u);
  EXPECT_EQ(r->text(0, "t"), "가");
}

TEST_P(StorageValues, AReadSeesOneSnapshot) {
  ASSERT_TRUE(db_->write([](Tx& tx) {
    return insert_rt(tx, {std::int64_t{1}, null(), null(), null(), null()});
  }));
  std::int64_t before = -1, after = -1;
  auto st = db_->read([&](Tx& tx) -> Status {
    auto a = tx.query("SELECT COUNT(*) AS n FROM rt");
    if (!a) return std::move(a).error();
    before = a->integer(0, "n");
    auto w = db_->write([](Tx& w) {
      return insert_rt(w, {std::int64_t{2}, null(), null(), null(), null()});
    });
    if (!w) return w;
    auto b = tx.query("SELECT COUNT(*) AS n FROM rt");
    if (!b) return std::move(b).error();
    after = b->integer(0, "n");
    return Ok{};
  });
  ASSERT_TRUE(st) << describe(st);
  EXPECT_EQ(before, 1);
  EXPECT_EQ(after, 1) << "a write committed during read() leaked into its snapshot";
  EXPECT_EQ(count("rt"), 2);
}

TEST_P(StorageValues, AReadTransactionCannotWrite) {
  auto st = db_->read([](Tx& tx) {
    return insert_rt(tx, {std::int64_t{1}, null(), null(), null(), std::string("via read")});
  });
  EXPECT_FALSE(st) << "read() is documented as read-only, but an INSERT inside it succeeded";
  EXPECT_EQ(count("rt"), 0) << "read() wrote a row";
}

// ---------------------------------------------------------------------------------------------
// Bulk writes

const char* const kInsertUser =
    "INSERT INTO users (id, login_id, email, user_name, role, password_hash, created_at, "
    "updated_at) VALUES ($1, $2, $3, $4, 'evaluator', 'h', 'x', 'x')";

Params user(const std::string& id, const std::string& login, const std::string& email) {
  return {id, login, email, std::string("이름 ") + id};
}

TEST_P(StorageErrors, BulkWriteReportsEveryFailingItemAndWritesNothing) {
  ASSERT_TRUE(db_->write([](Tx& tx) { return insert_user(tx, "u0", "taken", "taken@x.kr"); }));
  const std::vector<Params> items = {
      user("b0", "b0", "b0@x.kr"),
      user("b1", "b1", "taken@x.kr"),  // conflicts with a stored row
      user("b2", "b2", "b2@x.kr"),
      user("b3", "b0", "b3@x.kr"),  // conflicts with item 0 of the same batch
      user("b4", "b4", "b4@x.kr"),
  };
  auto r = bulk_write(*db_, kInsertUser, items);
  ASSERT_FALSE(r) << "a batch with two conflicting items was accepted";
  const ApiError& e = r.error();
  EXPECT_EQ(e.code, ErrorCode::kConflict) << describe(e);
  EXPECT_EQ(e.status(), 409u);
  std::set<std::string> items_named;
  for (const auto& d : e.details) {
    items_named.insert(d.field.substr(0, d.field.find(']') + 1));
  }
  EXPECT_EQ(items_named, (std::set<std::string>{"items[1]", "items[3]"})) << describe(e);
  EXPECT_TRUE(fields_of(e).count("items[1].email")) << describe(e);
  EXPECT_TRUE(fields_of(e).count("items[3].login_id")) << describe(e);

  auto n = db_->query("SELECT COUNT(*) AS n FROM users");
  ASSERT_TRUE(n) << describe(n);
  EXPECT_EQ(n->integer(0, "n"), 1) << "a failed batch wrote rows";
}

TEST_P(StorageErrors, BulkWriteAppliesAValidBatch) {
  std::vector<Params> items;
  for (int i = 0; i < 5; ++i) {
    const auto s = std::to_string(i);
    items.push_back(user("b" + s, "login" + s, "e" + s + "@x.kr"));
  }
  auto r = bulk_write(*db_, kInsertUser, items);
  ASSERT_TRUE(r) << describe(r);
  EXPECT_EQ(r->applied, 5u);
  auto n = db_->query("SELECT COUNT(*) AS n FROM users");
  ASSERT_TRUE(n) << describe(n);
  EXPECT_EQ(n->integer(0, "n"), 5);
}

TEST_P(StorageValues, TextPostgreSqlCannotHoldIsAClientErrorNeverCutShort) {
  const std::string with_nul("admin\0x", 7);
  const std::string not_utf8("caf\xff");
  if (engine() == Engine::kSqlite) {
    // SQLite keeps the bytes as they are: nothing is lost, and nothing matches "admin".
    auto st = db_->write([&](Tx& tx) {
      return insert_rt(tx, {std::int64_t{1}, null(), null(), null(), with_nul});
    });
    ASSERT_TRUE(st) << describe(st);
    auto r = db_->query("SELECT t FROM rt WHERE t = $1", {std::string("admin")});
    ASSERT_TRUE(r) << describe(r);
    EXPECT_TRUE(r->empty());
    return;
  }
  // libpq reads a text parameter up to its NUL: refused, not looked up as "admin".
  auto q = db_->query("SELECT t FROM rt WHERE t = $1", {with_nul});
  ASSERT_FALSE(q);
  EXPECT_EQ(q.error().code, ErrorCode::kValidationError);
  EXPECT_EQ(q.error().status(), 400u);
  auto st = db_->write([&](Tx& tx) {
    return insert_rt(tx, {std::int64_t{1}, null(), null(), null(), with_nul});
  });
  ASSERT_FALSE(st);
  EXPECT_EQ(st.error().status(), 400u);
  // Invalid UTF-8: PostgreSQL refuses it (22021), which is the client's fault, not a 500.
  auto bad = db_->query("SELECT t FROM rt WHERE t = $1", {not_utf8});
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().code, ErrorCode::kValidationError) << bad.error().internal_detail;
  // The connections are fine afterwards.
  EXPECT_EQ(count("rt"), 0);
  auto ok = db_->write([&](Tx& tx) {
    return insert_rt(tx, {std::int64_t{2}, null(), null(), null(), std::string("ok")});
  });
  ASSERT_TRUE(ok) << describe(ok);
  EXPECT_EQ(count("rt"), 1);
}

INSTANTIATE_TEST_SUITE_P(Storage, StorageValues,
                         ::testing::Values(Engine::kSqlite, Engine::kPostgres), EngineName{});
INSTANTIATE_TEST_SUITE_P(Storage, StorageErrors,
                         ::testing::Values(Engine::kSqlite, Engine::kPostgres), EngineName{});

}  // namespace
}  // namespace evald::db::storage_test
