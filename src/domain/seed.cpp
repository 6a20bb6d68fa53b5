#include "domain/seed.hpp"

#include <algorithm>
#include <array>
#include <numeric>
#include <random>

#include "auth/password.hpp"
#include "core/ids.hpp"
#include "core/time_format.hpp"

namespace evald::domain {
namespace {

constexpr std::array<const char*, 16> kNameHeads{"한빛", "새봄", "미래", "누리", "푸른", "바른",
                                                 "하늘", "다온", "가람", "온새", "한결", "이음",
                                                 "별빛", "도담", "나래", "솔빛"};
constexpr std::array<const char*, 10> kNameTails{"테크",     "바이오",  "소프트",   "에너지",
                                                 "로보틱스", "푸드",    "모빌리티", "헬스케어",
                                                 "랩스",     "네트웍스"};
constexpr std::array<const char*, 12> kSurnames{"김", "이", "박", "최", "정", "강",
                                                "조", "윤", "장", "임", "한", "오"};
constexpr std::array<const char*, 12> kGiven{"민준", "서연", "도윤", "지우", "하준", "서윤",
                                             "예준", "지민", "시우", "수아", "주원", "하은"};
constexpr std::array<const char*, 8> kCities{
    "서울특별시 강남구", "부산광역시 해운대구", "대전광역시 유성구",    "광주광역시 북구",
    "인천광역시 연수구", "대구광역시 수성구",   "경기도 성남시 분당구", "제주특별자치도 제주시"};
struct ItemSeed {
  const char* name;
  const char* category;
  double max;
  double weight;
};
constexpr std::array<ItemSeed, 8> kItems{{{"기술성", "기술", 30, 3},
                                          {"사업성", "사업", 25, 2.5},
                                          {"시장성", "사업", 20, 2},
                                          {"대표자 역량", "역량", 15, 1.5},
                                          {"고용 창출", "정책", 10, 1},
                                          {"지역 기여", "정책", 10, 1},
                                          {"재무 건전성", "재무", 20, 1},
                                          {"혁신성", "기술", 10, 1}}};

}  // namespace

std::string business_number_from(std::uint32_t nine_digits) {
  std::array<int, 10> d{};
  std::uint32_t n = nine_digits % 1'000'000'000u;
  for (int i = 8; i >= 0; --i) {
    d[static_cast<std::size_t>(i)] = static_cast<int>(n % 10);
    n /= 10;
  }
  constexpr std::array<int, 9> kWeights{1, 3, 7, 1, 3, 7, 1, 3, 5};
  int sum = 0;
  for (std::size_t i = 0; i < 9; ++i) sum += d[i] * kWeights[i];
  sum += d[8] * 5 / 10;
  d[9] = (10 - sum % 10) % 10;
  std::string s;
  for (std::size_t i = 0; i < 10; ++i) {
    if (i == 3 || i == 5) s += '-';
    s += static_cast<char>('0' + d[i]);
  }
  return s;
}

Result<SeedReport> seed_demo(db::Database& db, const Clock& clock, const SeedOptions& o) {
  std::mt19937_64 rng(o.seed);
  auto pick = [&](int n) { return static_cast<int>(rng() % static_cast<std::uint64_t>(n)); };
  const auto now = clock.now();
  auto at = [&](std::int64_t ms_ago) {
    return format_iso8601(now - std::chrono::milliseconds(ms_ago), true);
  };
  const std::string tag = random_token_hex(3);
  const std::string hash =
      auth::hash_password(o.password);  // one hash: every account, one password
  const int per_company = std::min(o.sheets_per_company, o.evaluators);
  const int items = std::clamp(o.items, 1, static_cast<int>(kItems.size()));

  SeedReport report;
  report.project_id = new_uuid();
  report.secretary_login = "demo-" + tag + "-secretary";
  report.first_evaluator_login = "demo-" + tag + "-eval-1";
  auto st = db.write([&](db::Tx& tx) -> Status {
    const std::string t0 = at(0);
    const std::string secretary_id = new_uuid();
    if (auto r = tx.exec(
            "INSERT INTO users (id, login_id, email, user_name, phone, role, password_hash, "
            "is_active, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, 'secretary', $6, 1, "
            "$7, $7)",
            {secretary_id, report.secretary_login, report.secretary_login + "@demo.example",
             std::string("데모 간사"), std::string("010-0000-0000"), hash, t0});
        !r) {
      return std::move(r).error();
    }
    std::vector<std::string> evaluator_ids;
    std::vector<db::Params> rows;
    for (int i = 0; i < o.evaluators; ++i) {
      evaluator_ids.push_back(new_uuid());
      const std::string login = "demo-" + tag + "-eval-" + std::to_string(i + 1);
      rows.push_back(
          {evaluator_ids.back(), login, login + "@demo.example",
           std::string(kSurnames[pick(kSurnames.size())]) + kGiven[pick(kGiven.size())],
           "010-" + std::to_string(1000 + pick(9000)) + "-" + std::to_string(1000 + pick(9000)),
           hash, at(o.evaluators - i)});
    }
    if (auto s = tx.exec_many(
            "INSERT INTO users (id, login_id, email, user_name, phone, role, password_hash, "
            "is_active, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, 'evaluator', $6, 1, "
            "$7, $7)",
            rows);
        !s) {
      return s;
    }
    const std::string deadline = format_iso8601(now + std::chrono::hours(24 * 30), true);
    if (auto r = tx.exec(
            "INSERT INTO projects (id, name, description, start_date, end_date, deadline, status, "
            "created_by, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, 'active', $7, "
            "$8, $8)",
            {report.project_id, "2026 중소기업 혁신 바우처 지원사업 (" + tag + ")",
             std::string("데모 데이터: evald seed-demo"), std::string("2026-01-05"),
             std::string("2026-12-18"), deadline, secretary_id, t0});
        !r) {
      return std::move(r).error();
    }
    const std::string template_id = new_uuid();
    if (auto r = tx.exec(
            "INSERT INTO templates (id, project_id, name, description, status, version, "
            "created_by, created_at, updated_at) VALUES ($1, $2, $3, $4, 'active', 1, $5, $6, $6)",
            {template_id, report.project_id, std::string("혁신 바우처 평가표"),
             std::string("데모 평가표"), secretary_id, t0});
        !r) {
      return std::move(r).error();
    }
    std::vector<std::string> item_ids;
    rows.clear();
    for (int i = 0; i < items; ++i) {
      const auto& it = kItems[static_cast<std::size_t>(i)];
      item_ids.push_back(new_uuid());
      rows.push_back({item_ids.back(), template_id, std::string(it.name),
                      std::string(it.name) + " 평가", 0.0, it.max, it.weight,
                      std::string(it.category), std::int64_t{i < items - 1 ? 1 : 0},
                      std::int64_t{i}});
    }
    if (auto s = tx.exec_many(
            "INSERT INTO template_items (id, template_id, name, description, min_score, "
            "max_score, weight, bonus, category, is_required, sort_order) VALUES ($1, $2, $3, $4, "
            "$5, $6, $7, 0, $8, $9, $10)",
            rows);
        !s) {
      return s;
    }
    std::vector<std::string> company_ids;
    rows.clear();
    for (int i = 0; i < o.companies; ++i) {
      company_ids.push_back(new_uuid());
      const std::string name = std::string(kNameHeads[pick(kNameHeads.size())]) +
                               kNameTails[pick(kNameTails.size())] + " 주식회사 " +
                               std::to_string(i + 1);
      // Distinct nine-digit stems: the numbers are unique within the project.
      const auto stem = static_cast<std::uint32_t>(101'810'000 + i * 7);
      rows.push_back(
          {company_ids.back(), report.project_id, name, business_number_from(stem),
           std::string(kSurnames[pick(kSurnames.size())]) + kGiven[pick(kGiven.size())],
           std::string(kCities[pick(kCities.size())]) + " 테헤란로 " +
               std::to_string(1 + pick(500)),
           "contact" + std::to_string(i + 1) + "@company.example",
           "02-" + std::to_string(100 + pick(900)) + "-" + std::to_string(1000 + pick(9000)),
           at(o.companies - i)});
    }
    if (auto s = tx.exec_many(
            "INSERT INTO companies (id, project_id, name, registration_number, representative, "
            "address, contact_email, contact_phone, created_at, updated_at) VALUES ($1, $2, $3, "
            "$4, $5, $6, $7, $8, $9, $9)",
            rows);
        !s) {
      return s;
    }
    // Sheets: each company gets `per_company` distinct evaluators, in every state.
    std::vector<db::Params> sheets;
    std::vector<db::Params> scores;
    std::vector<int> order(static_cast<std::size_t>(o.evaluators));
    std::int64_t n = 0;
    for (std::size_t c = 0; c < company_ids.size(); ++c) {
      std::iota(order.begin(), order.end(), 0);
      std::shuffle(order.begin(), order.end(), rng);
      for (int k = 0; k < per_company; ++k) {
        const std::string sheet_id = new_uuid();
        const int roll = pick(100);
        const std::string status = roll < 60   ? "submitted"
                                   : roll < 65 ? "reviewed"
                                   : roll < 85 ? "in_progress"
                                               : "assigned";
        const bool done = status == "submitted" || status == "reviewed";
        double total = 0, weighted = 0, weights = 0;
        const std::string created = at(1'000'000 - n);
        for (int i = 0; i < items; ++i) {
          if (status == "assigned" || (status == "in_progress" && i >= items / 2)) break;
          const auto& it = kItems[static_cast<std::size_t>(i)];
          // Scores cluster around a company-specific quality, so ranks mean something.
          const double quality = 0.45 + 0.5 * static_cast<double>((c * 37) % 100) / 100.0;
          const double raw =
              std::clamp(quality + (static_cast<double>(pick(41)) - 20) / 100.0, 0.0, 1.0);
          const double score = std::round(raw * it.max);
          total += score;
          weighted += score / it.max * it.weight;
          weights += it.weight;
          scores.push_back({sheet_id, item_ids[static_cast<std::size_t>(i)], score,
                            i == 0 ? db::Value(std::string("기술 완성도가 높음")) : db::null(),
                            created});
        }
        sheets.push_back(
            {sheet_id, report.project_id,
             evaluator_ids[static_cast<std::size_t>(order[static_cast<std::size_t>(k)])],
             company_ids[c], template_id, status, deadline, done ? db::Value(total) : db::null(),
             done ? db::Value(weighted / weights * 100.0) : db::null(),
             done ? db::Value(created) : db::null(), created,
             status == "reviewed" ? db::Value(created) : db::null()});
        report.submitted += done ? 1 : 0;
        ++n;
      }
    }
    if (auto s = tx.exec_many(
            "INSERT INTO evaluation_sheets (id, project_id, evaluator_id, company_id, template_id, "
            "status, deadline, total_score, weighted_score, version, submitted_at, created_at, "
            "updated_at, reviewed_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, 1, $10, $11, "
            "$11, $12)",
            sheets);
        !s) {
      return s;
    }
    if (auto s = tx.exec_many(
            "INSERT INTO scores (sheet_id, item_id, score, opinion, updated_at) VALUES ($1, $2, "
            "$3, $4, $5)",
            scores);
        !s) {
      return s;
    }
    report.companies = static_cast<std::int64_t>(company_ids.size());
    report.evaluators = o.evaluators;
    report.sheets = static_cast<std::int64_t>(sheets.size());
    report.scores = static_cast<std::int64_t>(scores.size());
    return Ok{};
  });
  if (!st) return st.error();
  return report;
}

}  // namespace evald::domain
