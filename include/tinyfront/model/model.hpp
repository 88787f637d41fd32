// One small model file: the parameter layout of every architecture of the study, and its forward
// and backward passes composed from the layers in layers.hpp.
//
// Memory: parameters, gradients and every activation buffer are allocated once, in model_create,
// for a maximum batch size; forward/backward never allocate.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "tinyfront/model/config.hpp"
#include "tinyfront/util/rng.hpp"

namespace tinyfront {

// How a tensor is initialised (PyTorch's defaults for the matching module).
enum class ParamInit { normal, fan_in_uniform, one, zero };

// A named slice of the flat parameter buffer, a [rows, cols] row-major matrix (cols=1 for vectors).
struct ParamTensor {
  std::string name;
  long offset = 0;
  int rows = 0;
  int cols = 0;
  bool embedding = false;  // token/position embedding tables (counted apart: "non-embedding")
  bool decay = false;      // AdamW weight decay applies (weight matrices only)
  ParamInit init = ParamInit::zero;
  int fan_in = 0;  // for fan_in_uniform: bound 1/sqrt(fan_in)
  long size() const { return long(rows) * cols; }
};

std::vector<ParamTensor> param_layout(const ModelConfig& cfg);
int64_t count_params(const ModelConfig& cfg);            // all parameters
int64_t count_embedding_params(const ModelConfig& cfg);  // token + position tables

// How many next-token targets one window of `context` tokens trains: 1 (paper protocol, and the
// fixed-context linear and MLP models) or T (causal protocol on attention models).
int targets_per_window(const ModelConfig& cfg, Protocol protocol);

template <typename S>
struct Model {
  ModelConfig cfg;
  Protocol protocol = Protocol::paper;
  int max_batch = 0;
  std::vector<ParamTensor> tensors;
  std::vector<S> params;
  std::vector<S> grads;

  // Activations of the last forward pass (sized for max_batch). Names follow the data flow.
  struct Block {
    std::vector<S> ln1, ln1_mean, ln1_rstd, qkv, att, atty, attproj, res1;
    std::vector<S> ln2, ln2_mean, ln2_rstd, fch, fcact, fcproj, res2;
    std::vector<S> attproj_mask, fcproj_mask;  // dropout masks (empty when dropout is 0)
  };
  std::vector<S> emb, emb_mask;                 // embeddings (after dropout, in place)
  std::vector<Block> blocks;                    // transformer blocks
  std::vector<std::vector<S>> hid, hid_pre, hid_mask;  // mlp hidden layers (post, pre activation)
  std::vector<S> lnf_in, lnf, lnf_mean, lnf_rstd;   // final LayerNorm (attention models)
  std::vector<S> logits, probs, losses;
  // Gradient scratch for backward, reused across blocks.
  std::vector<S> g_stream, g_a, g_b, g_qkv, g_f1, g_f2, g_logits, g_lnf;
  std::vector<std::vector<S>> g_hid;
  std::vector<int32_t> inputs;   // copy of the last forward's inputs [B, T]
  std::vector<int32_t> targets;  // copy of the last forward's targets
  int batch = 0;                 // batch size of the last forward pass
  bool last_training = false;    // whether the last forward used dropout

  S* param(size_t tensor_index) { return params.data() + tensors[tensor_index].offset; }
};

template <typename S>
Model<S> model_create(const ModelConfig& cfg, Protocol protocol, int max_batch);

// PyTorch's default initialisation: embeddings N(0, 1); linear layers U(+-1/sqrt(fan_in)) for
// weights and biases; LayerNorm gain 1, bias 0.
template <typename S>
void model_init(Model<S>& m, Rng& rng);

// inputs: [B, T] token ids. targets: [B] or [B, T] (see targets_per_window). Returns the mean NLL
// over targets (nats). training=true applies dropout, drawing masks from rng.
template <typename S>
S model_forward(Model<S>& m, const int32_t* inputs, const int32_t* targets, int B, bool training,
                Rng* rng);

template <typename S>
void model_zero_grad(Model<S>& m);

// Accumulates d(mean loss)/d(params) of the last forward pass into m.grads.
template <typename S>
void model_backward(Model<S>& m);

}  // namespace tinyfront
