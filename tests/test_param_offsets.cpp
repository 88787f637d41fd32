// Named parameter views (ParamOffsets): every tensor of every architecture's layout is named by
// exactly one view, at the offset of the tensor of that name, whatever the layout's order.
#include <gtest/gtest.h>

#include <algorithm>
#include <map>

#include "tinyfront/model/model.hpp"

using namespace tinyfront;

namespace {

std::vector<ModelConfig> every_architecture() {
  ModelConfig base;
  base.vocab = 11;
  base.context = 6;
  base.d_model = 8;
  base.heads = 2;
  base.ff = 12;
  std::vector<ModelConfig> v;
  ModelConfig c = base;
  c.arch = Arch::linear;
  v.push_back(c);
  c.one_hot = true;
  v.push_back(c);
  c = base;
  c.arch = Arch::mlp;
  c.hidden = {7, 5, 3};
  v.push_back(c);
  c = base;
  c.arch = Arch::attention;
  v.push_back(c);
  c.arch = Arch::transformer;
  c.layers = 3;
  v.push_back(c);
  c.positions = Positions::rope;
  c.norm = Norm::pre;
  v.push_back(c);
  return v;
}

}  // namespace

TEST(ParamOffsets, EveryTensorNamedOnceAtItsOffset) {
  for (const ModelConfig& cfg : every_architecture()) {
    SCOPED_TRACE(std::string(to_string(cfg.arch)) + (cfg.one_hot ? " one-hot" : "") + " " +
                 to_string(cfg.positions));
    const std::vector<ParamTensor> layout = param_layout(cfg);
    const ParamOffsets at = param_offsets(cfg, layout);
    // (view name, offset) of every view the architecture has
    std::map<std::string, long> named;
    auto add = [&](const std::string& name, long offset) {
      if (offset >= 0) named[name] = offset;
    };
    auto linear = [&](const std::string& name, const LinearParams& p) {
      add(name + ".weight", p.w), add(name + ".bias", p.b);
    };
    auto norm = [&](const std::string& name, const NormParams& p) {
      add(name + ".weight", p.g), add(name + ".bias", p.b);
    };
    add("wte", at.wte);
    add("wpe", at.wpe);
    for (size_t i = 0; i < at.hidden.size(); ++i) linear("fc" + std::to_string(i), at.hidden[i]);
    for (size_t l = 0; l < at.blocks.size(); ++l) {
      const std::string p = "block" + std::to_string(l) + ".";
      const BlockParams& b = at.blocks[l];
      norm(p + "ln1", b.ln1), linear(p + "qkv", b.qkv), linear(p + "proj", b.proj);
      norm(p + "ln2", b.ln2), linear(p + "fc", b.fc), linear(p + "fc2", b.fc2);
    }
    norm("lnf", at.lnf);
    linear("head", at.head);
    ASSERT_EQ(named.size(), layout.size());
    for (const ParamTensor& t : layout) {
      auto it = named.find(t.name);
      ASSERT_NE(it, named.end()) << t.name << " has no view";
      EXPECT_EQ(it->second, t.offset) << t.name;
    }
    EXPECT_EQ(at.blocks.size(), size_t(cfg.is_attention_family() ? cfg.blocks() : 0));
    EXPECT_EQ(at.hidden.size(), cfg.arch == Arch::mlp ? cfg.hidden.size() : 0u);
  }
}

// The views follow names, not positions: a layout in another order gives the same tensors.
TEST(ParamOffsets, FollowNamesNotTheOrderOfTheLayout) {
  ModelConfig cfg = every_architecture().back();
  std::vector<ParamTensor> layout = param_layout(cfg);
  const ParamOffsets in_order = param_offsets(cfg, layout);
  std::reverse(layout.begin(), layout.end());
  const ParamOffsets reversed = param_offsets(cfg, layout);
  EXPECT_EQ(reversed.wte, in_order.wte);
  EXPECT_EQ(reversed.head.w, in_order.head.w);
  EXPECT_EQ(reversed.lnf.b, in_order.lnf.b);
  EXPECT_EQ(reversed.blocks[2].fc2.w, in_order.blocks[2].fc2.w);
  EXPECT_EQ(reversed.blocks[0].ln1.g, in_order.blocks[0].ln1.g);
  // A layout without a tensor the architecture needs is an error, not a silent misread.
  layout.erase(layout.begin());
  EXPECT_THROW(param_offsets(cfg, layout), std::logic_error);
}
