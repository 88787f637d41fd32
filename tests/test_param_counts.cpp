// The study's parameter counts, exactly.
#include <gtest/gtest.h>

#include "tinyfront/model/model.hpp"

using namespace tinyfront;

static ModelConfig study(Arch arch, int vocab = 65, int T = 128) {
  ModelConfig c;
  c.arch = arch;
  c.vocab = vocab;
  c.context = T;
  c.d_model = 128;
  c.heads = 4;
  return c;
}

TEST(ParamCounts, StudyCharacterLevel) {
  EXPECT_EQ(count_params(study(Arch::linear)), 1'073'345);
  ModelConfig mlp = study(Arch::mlp);
  mlp.hidden = {256, 256};
  EXPECT_EQ(count_params(mlp), 4'285'377);
  ModelConfig att = study(Arch::attention);
  att.ff = 512;
  EXPECT_EQ(count_params(att), 231'617);
  ModelConfig tr = study(Arch::transformer);
  tr.ff = 256;
  tr.layers = 2;
  EXPECT_EQ(count_params(tr), 298'305);
  tr.layers = 3;
  EXPECT_EQ(count_params(tr), 430'785);
  tr.layers = 4;
  EXPECT_EQ(count_params(tr), 563'265);
  tr.layers = 3;
  tr.norm = Norm::pre;
  tr.positions = Positions::rope;
  EXPECT_EQ(count_params(tr), 414'401);
}

TEST(ParamCounts, StudyWordLevel) {
  ModelConfig ptb = study(Arch::transformer, 9'999, 64);
  ptb.ff = 256;
  ptb.layers = 3;
  EXPECT_EQ(count_params(ptb), 2'975'631);
  ModelConfig wt2 = ptb;
  wt2.vocab = 33'277;
  EXPECT_EQ(count_params(wt2), 8'958'077);
}

TEST(ParamCounts, EmbeddingsCountedApart) {
  ModelConfig tr = study(Arch::transformer);
  tr.ff = 256;
  EXPECT_EQ(count_embedding_params(tr), 65 * 128 + 128 * 128);
}
