// One small model file: the parameter layout of every architecture of the study, and its forward
// and backward passes composed from the layers in layers.hpp.
//
// Memory: parameters, gradients and every activation buffer are allocated once, in model_create,
// for a maximum batch size; forward/backward never allocate (Eigen's products may take packing
// space of their own for the duration of one product).
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
  int fan_in = 0;             // for fan_in_uniform: bound 1/sqrt(fan_in)
  bool residual_out = false;  // a projection that writes into the residual stream (GPT-2 init)
  long size() const { return long(rows) * cols; }
};

std::vector<ParamTensor> param_layout(const ModelConfig& cfg);

// Named views of the parameters (llm.c's ParameterTensors): where each tensor starts in the flat
// buffer. Offsets rather than pointers, because the same offsets index the parameters, the
// gradients and each thread's private gradient buffer. Built once, by name, from param_layout,
// so that forward and backward do not depend on the order of the layout. -1: the architecture
// has no such tensor.
struct LinearParams {
  long w = -1, b = -1;  // weight [in, out], bias [out]
};
struct NormParams {
  long g = -1, b = -1;  // LayerNorm gain and bias [C]
};
struct BlockParams {
  NormParams ln1;
  LinearParams qkv, proj;
  NormParams ln2;
  LinearParams fc, fc2;
};
struct ParamOffsets {
  long wte = -1, wpe = -1;           // token and (learned) position embeddings
  std::vector<LinearParams> hidden;  // MLP hidden layers fc0, fc1, ...
  std::vector<BlockParams> blocks;   // transformer blocks
  NormParams lnf;                    // final LayerNorm
  LinearParams head;                 // output layer
};
// Throws std::logic_error if the layout lacks a tensor the architecture needs.
ParamOffsets param_offsets(const ModelConfig& cfg, const std::vector<ParamTensor>& layout);
int64_t count_params(const ModelConfig& cfg);            // all parameters
int64_t count_embedding_params(const ModelConfig& cfg);  // token + position tables

// How many next-token targets one window of `context` tokens trains: 1 (paper protocol, and the
// fixed-context linear and MLP models) or T (causal protocol on attention models).
int targets_per_window(const ModelConfig& cfg, Protocol protocol);

// How the attention models split a batch between threads: tiles of whole sequences, about
// kTileRows rows each (at least one sequence). Every step of forward and backward except the
// weight-gradient sum is independent per sequence, so a thread takes a tile through the whole
// network while its rows are in cache, with no barrier between layers.
constexpr int kTileRows = 256;
inline int sequences_per_tile(int T) {
  return T >= kTileRows ? 1 : kTileRows / T;
}

template <typename S>
struct Model {
  ModelConfig cfg;
  Protocol protocol = Protocol::paper;
  int max_batch = 0;
  std::vector<ParamTensor> tensors;
  ParamOffsets at;  // where each named tensor sits in params and grads
  std::vector<S> params;
  std::vector<S> grads;

  // Activations of the last forward pass (sized for max_batch). Names follow the data flow.
  // Under the paper protocol only the last position of each window is predicted, so the last
  // block computes keys and values for every position but everything after them (query,
  // attention, projection, LayerNorms, feed-forward) for the last position only: those buffers
  // hold one row per window there, and x_last / q_last that row's block input and query.
  struct Block {
    std::vector<S> ln1, ln1_mean, ln1_rstd, qkv, att, atty, res1;
    std::vector<S> ln2, ln2_mean, ln2_rstd, fch, fcact, res2;
    std::vector<S> attproj, fcproj;                   // before dropout (only when dropout > 0)
    std::vector<uint32_t> attproj_mask, fcproj_mask;  // dropout bit masks (empty: no dropout)
    std::vector<S> x_last, q_last;                    // last-position-only block (paper protocol)
  };
  std::vector<S> emb;                           // embeddings (after dropout, in place)
  std::vector<uint32_t> emb_mask;               // their dropout bit mask
  std::vector<Block> blocks;                    // transformer blocks
  std::vector<std::vector<S>> hid;              // mlp hidden layers (after ReLU and dropout)
  std::vector<std::vector<uint32_t>> hid_mask;  // their dropout bit masks
  std::vector<S> lnf, lnf_mean, lnf_rstd;       // final LayerNorm (attention models)
  // [R, V]: the logits of the last forward. With targets they are replaced in place by the
  // softmax probabilities, and model_backward replaces those by d loss / d logits.
  std::vector<S> logits;
  std::vector<S> losses;
  std::vector<S> rope_cs;  // cos and sin of every position's rotary angles [T, head dim]
  // Gradient scratch of the linear and MLP models.
  std::vector<S> g_a, g_b;
  std::vector<std::vector<S>> g_hid;
  // Per-thread backward scratch of the attention models, sized for one tile, and a private
  // gradient buffer for threads after the first (thread 0 accumulates into grads directly);
  // the private buffers are added into grads in thread order, so results are deterministic for a
  // given thread count. Allocated by model_create for omp_get_max_threads() threads (and grown
  // once if a later call runs with more).
  struct Workspace {
    std::vector<S> grads;
    std::vector<S> g_stream, g_a, g_b, g_qkv, g_f, g_att, g_last, g_q;
  };
  std::vector<Workspace> work;
  std::vector<int32_t> inputs;   // copy of the last forward's inputs [B, T]
  std::vector<int32_t> targets;  // copy of the last forward's targets
  int batch = 0;                 // batch size of the last forward pass
  bool last_training = false;    // whether the last forward used dropout
  uint64_t dropout_key = 0;      // the last training forward's dropout key (layers::Dropout)
};

template <typename S>
Model<S> model_create(const ModelConfig& cfg, Protocol protocol, int max_batch);

// Initialisation by m.cfg.init. torch (PyTorch's defaults): embeddings N(0, 1); linear layers
// U(+-1/sqrt(fan_in)) for weights and biases; LayerNorm gain 1, bias 0. gpt2: weights and
// embeddings N(0, 0.02), the residual output projections (proj, fc2) N(0, 0.02 / sqrt(2 L)),
// biases 0, LayerNorm gain 1, bias 0.
template <typename S>
void model_init(Model<S>& m, Rng& rng);

// inputs: [B, T] token ids. targets: [B] or [B, T] (see targets_per_window). Returns the mean NLL
// over targets (nats). training=true applies dropout: one key is drawn from rng (one call of
// rng->next()) and every mask of the step is derived from it by a counter-based generator.
template <typename S>
S model_forward(Model<S>& m, const int32_t* inputs, const int32_t* targets, int B, bool training,
                Rng* rng);

template <typename S>
void model_zero_grad(Model<S>& m);

// Accumulates d(mean loss)/d(params) of the last forward pass into m.grads.
template <typename S>
void model_backward(Model<S>& m);

}  // namespace tinyfront
