// The score computation of evaluation sheets (docs/DOMAIN.md): total, weighted, required items;
// and the deadline normalisation.

#include <gtest/gtest.h>

#include "domain/evaluations.hpp"

namespace evald::domain {
namespace {

ItemScore item(std::string id, double max, double weight, bool required,
               std::optional<double> score) {
  return ItemScore{std::move(id), max, weight, required, score};
}

TEST(Scoring, TotalIsTheSumOfTheScoresGiven) {
  const auto s = compute_scores(
      {item("a", 30, 2, true, 27), item("b", 20, 1, true, 15.5), item("c", 5, 0, false, 5)});
  EXPECT_DOUBLE_EQ(s.total_score, 47.5);
  EXPECT_TRUE(s.missing_required.empty());
}

TEST(Scoring, WeightedIsTheWeightedMeanOfTheFractionsTimes100) {
  // (27/30*2 + 15/20*1) / 3 * 100 = (1.8 + 0.75) / 3 * 100 = 85
  const auto s = compute_scores({item("a", 30, 2, true, 27), item("b", 20, 1, true, 15)});
  ASSERT_TRUE(s.weighted_score.has_value());
  EXPECT_NEAR(*s.weighted_score, 85.0, 1e-9);
}

TEST(Scoring, TemplatesWithDifferentScalesCompare) {
  const auto ten = compute_scores({item("a", 10, 1, true, 8)});
  const auto hundred = compute_scores({item("a", 100, 1, true, 80)});
  ASSERT_TRUE(ten.weighted_score && hundred.weighted_score);
  EXPECT_NEAR(*ten.weighted_score, *hundred.weighted_score, 1e-9);
  EXPECT_NEAR(*ten.weighted_score, 80.0, 1e-9);
}

TEST(Scoring, UnscoredOptionalItemsAreLeftOutOfTheWeightedScore) {
  // Only "a" counts: 6/10*1 / 1 * 100 = 60; "b" (optional, unscored) adds no weight.
  const auto s = compute_scores({item("a", 10, 1, true, 6), item("b", 10, 5, false, std::nullopt)});
  EXPECT_TRUE(s.missing_required.empty());
  EXPECT_DOUBLE_EQ(s.total_score, 6);
  ASSERT_TRUE(s.weighted_score.has_value());
  EXPECT_NEAR(*s.weighted_score, 60.0, 1e-9);
}

TEST(Scoring, MissingRequiredItemsAreListedInOrder) {
  const auto s =
      compute_scores({item("a", 10, 1, true, std::nullopt), item("b", 10, 1, true, 3),
                      item("c", 10, 1, false, std::nullopt), item("d", 10, 1, true, std::nullopt)});
  EXPECT_EQ(s.missing_required, (std::vector<std::string>{"a", "d"}));
}

TEST(Scoring, ZeroIsAScore) {
  const auto s = compute_scores({item("a", 10, 1, true, 0.0)});
  EXPECT_TRUE(s.missing_required.empty());
  ASSERT_TRUE(s.weighted_score.has_value());
  EXPECT_DOUBLE_EQ(*s.weighted_score, 0.0);
}

TEST(Scoring, FullMarksAreOneHundred) {
  const auto s = compute_scores({item("a", 7, 3, true, 7), item("b", 1000, 0.5, true, 1000)});
  ASSERT_TRUE(s.weighted_score.has_value());
  EXPECT_NEAR(*s.weighted_score, 100.0, 1e-9);
  EXPECT_DOUBLE_EQ(s.total_score, 1007);
}

TEST(Scoring, NoWeightNoWeightedScore) {
  EXPECT_FALSE(compute_scores({}).weighted_score.has_value());
  EXPECT_FALSE(compute_scores({item("a", 10, 0, true, 5)}).weighted_score.has_value());
  EXPECT_FALSE(compute_scores({item("a", 10, 1, false, std::nullopt)}).weighted_score.has_value());
  EXPECT_DOUBLE_EQ(compute_scores({item("a", 10, 0, true, 5)}).total_score, 5);
}

TEST(Scoring, ZeroWeightItemsCountInTheTotalOnly) {
  // (4/8*2) / 2 * 100 = 50; the weight-0 item adds 3 to the total and nothing to the mean.
  const auto s = compute_scores({item("a", 8, 2, true, 4), item("b", 10, 0, true, 3)});
  EXPECT_DOUBLE_EQ(s.total_score, 7);
  ASSERT_TRUE(s.weighted_score.has_value());
  EXPECT_NEAR(*s.weighted_score, 50.0, 1e-9);
}

}  // namespace
}  // namespace evald::domain
