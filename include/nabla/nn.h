/* nabla modules: layers as small interfaces, composed into models; the model zoo.
 *
 * A layer kind is a table of functions (nb_module_ops) over the layer's own private state:
 * how it declares its parameters and buffers, its forward pass (one or more tensors in and
 * out), a one-line description and how its state is freed. The built-in layers (Linear,
 * Conv2d, pooling, BatchNorm, Dropout, Flatten, activations, Sequential) are such tables, one
 * file each in src/nn/; a layer written in the user's program is the same kind of citizen: it
 * nests in containers, trains with the library's loops and saves and loads by name
 * (docs/layers.md and examples/residual.c show one).
 *
 * Any module may hold named children (nb_module_add_child); a parameter's name is the path of
 * names down to it, as PyTorch's state_dict ("layer1.0.conv1.weight"). nb_model_new takes a
 * root module, asks every module (parents before children) to declare its tensors, which all
 * land in one nb_params slab (parameters) and one for buffers (running statistics), and
 * initializes them. Modules belong to the model; nb_model_free frees them all. */
/* nabla's own headers come before the guard, so that this header compiles on its own
 * even though nabla.h includes it back. */
#include "nabla.h"

#ifndef NABLA_NN_H
#define NABLA_NN_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct nb_module nb_module;
typedef struct nb_model nb_model;

/* Initializers, as PyTorch's nn.init. */
typedef enum nb_init {
    NB_INIT_DEFAULT = 0,   /* PyTorch's: kaiming_uniform(a=sqrt(5)) weights, U(+-1/sqrt(fan_in)) biases */
    NB_INIT_XAVIER_UNIFORM, NB_INIT_XAVIER_NORMAL, /* Glorot; biases zero */
    NB_INIT_KAIMING_UNIFORM, NB_INIT_KAIMING_NORMAL, /* He, fan_in, ReLU gain; biases zero */
    NB_INIT_NORMAL,        /* N(0, 0.02) weights; biases zero */
    NB_INIT_ZEROS
} nb_init;
/* Fills a weight w (and bias b, may be NULL) by init for the given fans, with the library RNG.
 * For layers that declare their own weights. */
void nb_init_weight(nb_tensor *w, nb_tensor *b, nb_init init, double fan_in, double fan_out);

/* ---- the layer interface ------------------------------------------------------------------ */
/* Most tensors one forward call takes or returns. */
#define NB_MODULE_MAX_IO 8

typedef struct nb_module_ops {
    const char *kind; /* "Linear", "ResidualBlock": the summary's type column */
    /* Declares the module's own tensors with nb_module_param / nb_module_buffer /
     * nb_module_counter and initializes them by init. Called once by nb_model_new, parents
     * before their children. NULL: the module has no tensors of its own. */
    nb_status (*bind)(nb_module *m, nb_init init);
    /* Forward of one tensor to one tensor (most layers): NULL with nb_last_error set on error.
     * Inputs and outputs are step tensors (arena). */
    nb_tensor *(*forward)(nb_module *m, nb_tensor *x);
    /* Forward of n_in tensors to *n_out (at most NB_MODULE_MAX_IO) tensors, for layers that
     * take or return several (an LSTM returns its output and states). Give this or forward. */
    nb_status (*forward_n)(nb_module *m, int n_in, nb_tensor *const *in, int *n_out, nb_tensor **out);
    /* Writes a one-line description ("Linear(784, 512)") into buf; NULL: the kind. */
    void (*describe)(const nb_module *m, char *buf, size_t cap);
    /* Frees the state; NULL: free(). Children are freed by the library. */
    void (*free_state)(void *state);
    /* Forgets state carried from one forward call to the next (a stateful recurrent layer's
     * final states, kept for truncated backpropagation through time); NULL: none kept. */
    void (*reset_state)(nb_module *m);
} nb_module_ops;

/* A module of kind ops over state (which it takes: on failure ops->free_state(state) is
 * called). ops must outlive the module (a static table). */
nb_module *nb_module_new(const nb_module_ops *ops, void *state);
void *nb_module_state(const nb_module *m);
const nb_module_ops *nb_module_ops_of(const nb_module *m);
/* Adds child under name (a state_dict path element: 1-48 characters, no '.'); the parent
 * takes the child, also when this fails (duplicate or bad name, NULL child: NB_ERR_ARG).
 * Only before the module is given to nb_model_new. */
nb_status nb_module_add_child(nb_module *m, const char *name, nb_module *child);
int nb_module_child_count(const nb_module *m);
nb_module *nb_module_child(const nb_module *m, int i);
const char *nb_module_child_name(const nb_module *m, int i);
nb_module *nb_module_find_child(const nb_module *m, const char *name); /* NULL if none */
/* Frees a module and its children; only for a module not given to a model or a parent. */
void nb_module_free(nb_module *m);

/* In ops->bind only: a new parameter (trainable, zero-filled) or buffer (no gradient; saved
 * in checkpoints) named "<path>.<name>", or an int64 counter (BatchNorm's
 * num_batches_tracked). The pointers stay valid for the model's life. */
nb_tensor *nb_module_param(nb_module *m, const char *name, int ndim, const int64_t *shape);
nb_tensor *nb_module_buffer(nb_module *m, const char *name, int ndim, const int64_t *shape);
int64_t *nb_module_counter(nb_module *m, const char *name);

/* Runs a module (its forward or forward_n); what layers call on their children. */
nb_tensor *nb_module_forward(nb_module *m, nb_tensor *x);
nb_status nb_module_forward_n(nb_module *m, int n_in, nb_tensor *const *in, int *n_out, nb_tensor **out);
/* Whether the module's model is in training mode (dropout, batch norm). */
bool nb_module_training(const nb_module *m);
/* The module's state_dict prefix ("layer1.0"; "" for the root) once bound. */
const char *nb_module_path(const nb_module *m);

/* ---- built-in layers ------------------------------------------------------------------------ */
nb_module *nb_linear_new(int in_features, int out_features, bool bias);     /* x (N, in) or (N, ..., in) */
/* Square kernel k; o gives stride/padding/dilation/groups (nb_conv_defaults()). */
nb_module *nb_conv2d_new(int in_channels, int out_channels, int k, nb_conv_opts o, bool bias);
/* ConvTranspose2d: weight (in, out/groups, k, k), bias (out), PyTorch's names, shapes and init;
 * o.output_padding adds rows/columns on the far side (e.g. 7 -> 14 with k 3, s 2, p 1, op 1). */
nb_module *nb_conv_transpose2d_new(int in_channels, int out_channels, int k, nb_conv_opts o, bool bias);
nb_module *nb_maxpool2d_new(int k, int stride); /* stride 0 = k */
nb_module *nb_avgpool2d_new(int k, int stride);
/* x (N, D); momentum 0.1, eps 1e-5; weight 1, bias 0 (NB_INIT_NORMAL: weight N(1, 0.02)) */
nb_module *nb_batchnorm1d_new(int features);
nb_module *nb_batchnorm2d_new(int channels);  /* x (N, C, H, W) */
nb_module *nb_dropout_new(float p);
nb_module *nb_flatten_new(void);              /* (N, ...) -> (N, rest) */
nb_module *nb_unflatten_new(int ndim, const int64_t *shape); /* (N, D) -> (N, shape...) */
typedef enum nb_act { NB_ACT_RELU, NB_ACT_TANH, NB_ACT_SIGMOID, NB_ACT_GELU, NB_ACT_LEAKY_RELU } nb_act;
nb_module *nb_activation_new(nb_act kind);    /* leaky_relu: slope 0.01 */
nb_module *nb_leaky_relu_new(float slope);    /* LeakyReLU(slope), slope in [0, 1) */
/* Runs its children in order, each output the next one's input (several tensors flow
 * through when children take and return several). */
nb_module *nb_sequential_new(void);
/* nb_module_add_child on a sequential (kept for the README's examples). */
nb_status nb_sequential_add(nb_module *seq, const char *name, nb_module *child);

/* ---- sequences -----------------------------------------------------------------------------
 * Sequences are batch-first: x (N, T, D) floats, or token ids (N, T) for an embedding. */
/* A lookup table weight (V, D), N(0, 1) initialized as PyTorch's nn.Embedding; ids (any shape)
 * -> (..., D). padding_idx (-1: none) names a row that starts at zero and gets no gradient. */
nb_module *nb_embedding_new(int num_embeddings, int dim, int padding_idx);

typedef enum nb_rnn_mode { NB_RNN_TANH = 0, NB_RNN_RELU, NB_RNN_LSTM, NB_RNN_GRU } nb_rnn_mode;
typedef struct nb_rnn_opts {
    int num_layers;     /* >= 1 */
    bool bias;          /* b_ih and b_hh */
    bool bidirectional;
    float dropout;      /* on each layer's output but the last, in training */
    /* Truncated backpropagation through time: a call without initial states starts from the
     * final states of the previous call (detached: no gradient flows into the earlier batch)
     * when the batch size is the same, else from zeros. nb_model_reset_states forgets them. */
    bool stateful;
} nb_rnn_opts;
nb_rnn_opts nb_rnn_defaults(void); /* 1 layer, bias, one direction, no dropout, not stateful */
/* PyTorch's nn.RNN (tanh or relu), nn.LSTM and nn.GRU with batch_first=True: the same gate
 * order (LSTM i, f, g, o; GRU r, z, n), parameter names (weight_ih_l0, weight_hh_l0,
 * bias_ih_l0, bias_hh_l0, ..._l1, ..._reverse) and initialization U(+-1/sqrt(hidden)).
 * forward_n inputs: x (N, T, D); then optionally the lengths, an int64 (N) tensor of values in
 * 1..T (steps from a sample's length on are padding: they change nothing); then h0 (L*dirs, N,
 * H) and, for the LSTM, c0. Outputs: the last layer's output (N, T, dirs*H), zero at padded
 * steps as PyTorch's pad_packed_sequence gives it; h_n (L*dirs, N, H), each sample's state after
 * its last real step; for the LSTM c_n. */
nb_module *nb_rnn_new(nb_rnn_mode mode, int input_size, int hidden_size, nb_rnn_opts o);

/* How a recurrent layer's output (N, T, F) becomes one vector per sample: LAST the output at
 * the sample's last real step (for a bidirectional layer, the forward half there and the
 * backward half at step 0, as h_n holds them), MEAN the mean over its real steps, MAX the
 * maximum over them; NONE keeps every step. */
typedef enum nb_seq_pool { NB_SEQ_NONE = 0, NB_SEQ_LAST, NB_SEQ_MEAN, NB_SEQ_MAX } nb_seq_pool;
/* y (N, T, F), lengths int64 (N) or NULL (every sample T steps), directions 1 or 2 (halves of
 * F, for LAST) -> (N, F); gradients flow back to the pooled steps. */
nb_tensor *nb_seq_pool_apply(nb_tensor *y, nb_tensor *lengths, nb_seq_pool mode, int directions);
/* The usual recurrent model: [embedding ->] rnn -> pooled (or every step) -> head. Children
 * "embedding" (may be NULL: x is then (N, T, D) floats), "rnn" / "lstm" / "gru" after the
 * rnn's mode, and "fc" (the head, e.g. a Linear). forward_n takes x and optionally the
 * lengths (int64 (N)); returns (N, K), or (N, T, K) with NB_SEQ_NONE. */
nb_module *nb_recurrent_new(nb_module *embedding, nb_module *rnn, nb_seq_pool pool, nb_module *head);

/* ---- transformers --------------------------------------------------------------------------
 * Batch-first like the sequences above; the modules are PyTorch 1.13's, parameter for parameter
 * (names, shapes, initialization), so a state_dict loads both ways strictly (docs/transformer.md
 * gives the PyTorch twins). Where a forward_n takes lengths, it is an int64 (N) tensor of values
 * in 1..T: keys at steps t >= length are masked (PyTorch's key_padding_mask True there); the
 * outputs at those padded steps are computed (from the real keys) but mean nothing. */
/* nn.LayerNorm(dim, eps) over the last axis: weight (dim) 1s, bias (dim) 0s. x (..., dim). */
nb_module *nb_layernorm_new(int dim, float eps);
/* Self-attention, nn.MultiheadAttention(embed_dim, num_heads, dropout, batch_first=True) called
 * as mha(x, x, x, key_padding_mask, attn_mask): in_proj_weight (3E, E) xavier_uniform,
 * in_proj_bias (3E) zeros, child out_proj (Linear(E, E): out_proj.weight, out_proj.bias zeros).
 * forward_n: x (N, T, E) [, lengths] -> (N, T, E). causal: query t sees keys <= t (PyTorch's
 * generate_square_subsequent_mask). dropout on the attention probabilities in training.
 * embed_dim % num_heads != 0 is NB_ERR_ARG. */
nb_module *nb_mha_new(int embed_dim, int num_heads, float dropout, bool causal);
/* nn.TransformerEncoderLayer(d_model, nhead, dim_ff, dropout, activation, layer_norm_eps=1e-5,
 * batch_first=True, norm_first): children self_attn, linear1, dropout, linear2, norm1, norm2,
 * dropout1, dropout2; act NB_ACT_RELU or NB_ACT_GELU (exact erf form). Post-norm:
 * x = norm1(x + sa(x)); x = norm2(x + ff(x)); pre-norm (norm_first): x = x + sa(norm1(x));
 * x = x + ff(norm2(x)). forward_n: x (N, T, d_model) [, lengths] -> (N, T, d_model). */
nb_module *nb_transformer_layer_new(int d_model, int nhead, int dim_ff, float dropout, nb_act act, bool norm_first,
                                    bool causal);
/* nn.TransformerEncoder(layer, num_layers, norm=LayerNorm(d_model) if final_norm): children
 * "layers" (a ModuleList: "0".."L-1", so layers.0.self_attn.in_proj_weight ...) and, when
 * final_norm, "norm". Each layer is drawn afresh (PyTorch deep-copies one). The lengths go to
 * every layer. forward_n: x [, lengths] -> (N, T, d_model). */
nb_module *nb_transformer_encoder_new(int num_layers, int d_model, int nhead, int dim_ff, float dropout, nb_act act,
                                      bool norm_first, bool causal, bool final_norm);
/* Positions added to x (N, T, D) -> x + P[:T]. LEARNED: a parameter "weight" (max_len, D),
 * N(0, 0.02) (BERT's); SINUSOIDAL: no tensors, PE[p, 2i] = sin(p / 10000^(2i/D)), PE[p, 2i+1] =
 * cos(...) as PyTorch's word_language_model example (D even). T > max_len is NB_ERR_SHAPE. */
typedef enum nb_pos { NB_POS_LEARNED, NB_POS_SINUSOIDAL } nb_pos;
nb_module *nb_positional_new(nb_pos kind, int max_len, int dim);
/* A token model: children "embed" (nn.Embedding(vocab, d_model, padding_idx=0), NOT scaled by
 * sqrt(d_model)), "pos" (nb_positional_new(pos, max_len, d_model)), "drop" (Dropout(dropout)
 * after embedding + position), "encoder" (nb_transformer_encoder_new(..., final_norm =
 * norm_first)), "head" (Linear(d_model, out_features)). forward_n: tokens int64 (N, T) with ids
 * in 0..vocab-1 [, lengths] -> logits (N, T, out_features), at every step. */
nb_module *nb_token_transformer_new(int vocab, int max_len, int d_model, int nhead, int num_layers, int dim_ff,
                                    float dropout, nb_act act, nb_pos pos, bool norm_first, bool causal,
                                    int out_features);

/* ---- models ------------------------------------------------------------------------------ */
/* Takes root (freed with the model, also on failure), creates and initializes the parameters
 * with the library RNG (nb_seed). A model starts in training mode. */
nb_model *nb_model_new(nb_module *root, nb_init init);
void nb_model_free(nb_model *m);
/* Runs the model on x (the root's first output); the result lives in the step arena. */
nb_tensor *nb_model_forward(nb_model *m, nb_tensor *x);
/* Runs the model on n_in tensors; *n_out outputs (at most NB_MODULE_MAX_IO). */
nb_status nb_model_forward_n(nb_model *m, int n_in, nb_tensor *const *in, int *n_out, nb_tensor **out);
nb_module *nb_model_root(nb_model *m);
void nb_model_set_training(nb_model *m, bool training); /* dropout, batch norm */
/* Calls every module's reset_state: stateful recurrent layers start the next call from zeros. */
void nb_model_reset_states(nb_model *m);
bool nb_model_training(const nb_model *m);
nb_params *nb_model_params(nb_model *m);   /* trainable parameters */
nb_params *nb_model_buffers(nb_model *m);  /* running statistics (no gradient) */
/* BatchNorm's num_batches_tracked counters, in the order of nb_model_counter_name. */
int nb_model_counter_count(const nb_model *m);
const char *nb_model_counter_name(const nb_model *m, int i);
int64_t *nb_model_counter(nb_model *m, int i);

/* Freezes (or unfreezes) the parameters under each comma-separated prefix ("conv1,conv2":
 * "conv1" matches conv1.weight and conv1.bias, not conv10.weight): a frozen parameter gets no
 * gradient and optimizers leave it untouched. A prefix that names no parameter is an error
 * (NB_ERR_ARG naming it and nothing is changed). Returns the status; *count (may be NULL)
 * receives the number of tensors changed. */
nb_status nb_model_freeze(nb_model *m, const char *prefixes, bool frozen, int *count);
/* Re-initializes every parameter and buffer of the modules under each comma-separated
 * prefix (their bind runs again with init, drawing from the library RNG). */
nb_status nb_model_reinit(nb_model *m, const char *prefixes, nb_init init);

/* A table of the root's children (or the root alone): name, type, output shape for one
 * sample of the given shape (the batch axis 1 is put in front), and parameter counts;
 * malloc'd. It runs one forward pass on zeros and then calls nb_step_reset(): call it outside
 * a training step. A model whose first layer reads token ids (an Embedding) gets id 0
 * everywhere. */
char *nb_model_summary(nb_model *m, int ndim, const int64_t *sample_shape);

/* ---- generative models --------------------------------------------------------------------
 * An autoencoder: forward(x) = decoder(encoder(x)); children "encoder", "decoder". */
nb_module *nb_autoencoder_new(nb_module *encoder, nb_module *decoder);
/* A variational autoencoder: h = encoder(x), mu = fc_mu(h), logvar = fc_logvar(h) (N, L),
 * z = mu + exp(logvar / 2) * eps with eps ~ N(0, 1) from the library RNG (drawn in training and
 * evaluation alike), decoder(z) gives the LOGITS of the pixels. forward_n(x) -> (logits, mu,
 * logvar). Children "encoder", "fc_mu", "fc_logvar", "decoder". Both constructors take the
 * modules (freed on failure). */
nb_module *nb_vae_new(nb_module *encoder, nb_module *fc_mu, nb_module *fc_logvar, nb_module *decoder);
bool nb_model_is_vae(nb_model *m);
/* The code of x: an autoencoder's encoder output, a VAE's mu (no draw). */
nb_tensor *nb_model_encode(nb_model *m, nb_tensor *x);
/* The image of codes z (N, L): an autoencoder's decoder output, a VAE's sigmoid(decoder(z)). */
nb_tensor *nb_model_decode(nb_model *m, nb_tensor *z);
/* The VAE's negative ELBO per sample, averaged over the batch: BCE(sigmoid(logits), x) summed
 * over each sample's values (x in [0, 1], as many values as logits) plus KL(N(mu, exp(logvar))
 * || N(0, 1)) summed over the code. recon and kl (may be NULL) receive the two terms (step
 * tensors that are part of the graph). */
nb_tensor *nb_vae_loss(nb_tensor *logits, nb_tensor *x, nb_tensor *mu, nb_tensor *logvar, nb_tensor **recon,
                       nb_tensor **kl);

/* ---- LoRA ----------------------------------------------------------------------------------
 * Low-rank adapters (Hu et al. 2021, as PEFT's LoraLayer) on a model's Linear layers
 * (docs/lora.md). A Linear W (out, in), b (out) with adapters computes
 *     y = x W^T + b + scaling * (x A^T) B^T,   scaling = alpha / r,
 * with lora_A (r, in) initialized as PEFT (kaiming_uniform(a=sqrt(5)): U(+-1/sqrt(in))) and
 * lora_B (out, r) zeros, so a fresh adapter changes nothing. The Linear keeps its own names
 * (<path>.weight, <path>.bias) and gains <path>.lora_A and <path>.lora_B (PEFT's
 * <path>.lora_A.default.weight and <path>.lora_B.default.weight, same shapes). No dropout on the
 * adapter's input (PEFT's lora_dropout 0, its default).
 *
 * The flow: build the plain model (nb_model_new, the zoo), load pre-trained weights into it,
 * nb_lora_apply, nb_lora_freeze_base, then make the optimizer and train; nb_lora_merge and
 * nb_checkpoint_save_merged write the plain model. A checkpoint of the LoRA model (adapters
 * included, nb_checkpoint_save) is loaded into a model built the same way (plain model, then
 * nb_lora_apply with the same arguments) and resumes bit-identically. nb_checkpoint_load also
 * takes a plain model's file into a LoRA model: when the file holds none of the model's
 * adapters, a strict load lets them keep their values (listed as "missing" in the report). */

/* Adds adapters of rank r (>= 1) and scale alpha (> 0, finite) to every Linear at or under each
 * comma-separated module path of prefixes ("encoder.layers.0.linear1,fc"; NULL or "": every
 * Linear of the model), in place: the module's kind becomes "LoRALinear" and its forward adds
 * the adapter; containers holding it see the same module. The adapters are new parameters
 * appended to the model's slab (A drawn from the library RNG, in module order), so call it
 * after nb_model_new and any load of pre-trained weights, and BEFORE making the optimizer (an
 * optimizer made earlier refuses to step: its slab grew). Errors (NB_ERR_ARG, nothing changed):
 * r < 1, alpha not > 0, a path that names no module, a module that holds no Linear (the
 * message names its kind), a Linear that already has adapters (NB_ERR_STATE). *count (may be
 * NULL) receives the number of Linears given adapters. */
nb_status nb_lora_apply(nb_model *m, const char *prefixes, int r, float alpha, int *count);
/* Freezes every parameter except the adapters (<path>.lora_A, <path>.lora_B) and the
 * parameters under the comma-separated trainable prefixes (e.g. the head "fc"; NULL or "":
 * the adapters alone), which become trainable. A model without adapters is NB_ERR_STATE, a
 * prefix naming no parameter NB_ERR_ARG (nothing changed). *count (may be NULL) receives the
 * number of trainable tensors. */
nb_status nb_lora_freeze_base(nb_model *m, const char *trainable_prefixes, int *count);
/* Folds every adapter into its Linear: W += scaling * B A (summed in double), then B = 0, so
 * the outputs stay the same (within float rounding) and the model equals the plain model with
 * the merged weights; A is kept (training on would start a new adapter from the merged
 * weights). A model without adapters is NB_ERR_STATE. *count (may be NULL): adapters merged. */
nb_status nb_lora_merge(nb_model *m, int *count);
/* Whether a parameter name is an adapter's: "lora_A" or "lora_B", or ends in ".lora_A" or
 * ".lora_B". */
bool nb_lora_is_adapter_name(const char *name);
/* The number of parameter values (floats) of m, all of them or only the trainable ones
 * (requires_grad on: not frozen); buffers (running statistics) are not counted. 0 for NULL. */
int64_t nb_model_param_count(const nb_model *m, bool trainable_only);

/* ---- the model zoo ----------------------------------------------------------------------- */
/* Image models: "mlp" (784-512-256-10, ReLU), "lenet5", "seedcnn", "lstm-rows" (each image read
 * as c*h steps of w values by an LSTM(w, 128), the last step to a Linear(128, k); state_dict
 * lstm.*, fc.*) for inputs (c, h, w) and k classes. NULL with an error listing the known names
 * otherwise. */
nb_model *nb_zoo_new(const char *name, int c, int h, int w, int classes);
/* Text models over a vocabulary of `vocab` token ids (0 the padding): "spam" (Embedding(V, 64)
 * -> LSTM(64, 128) -> last real step -> Linear(128, k)), "langid" (Embedding(V, 32) -> GRU(32,
 * 128) -> last real step -> Linear(128, k)), "charlm" (Embedding(V, 64) -> 2-layer stateful
 * LSTM(64, 256) -> Linear(256, V) at every step; classes is ignored). Transformers
 * (nb_token_transformer_new: Embedding(V, 128) + learned positions for up to
 * NB_ZOO_TEXT_MAX_LEN steps, 4 pre-norm layers of width 128, 4 heads, feed-forward 512, GELU,
 * dropout 0.1, a final LayerNorm, then "head" at every step): "ner" (head to k tags), "mlm"
 * (head to V; classes ignored), "charlm-transformer" (the same with the causal mask; head to V). */
#define NB_ZOO_TEXT_MAX_LEN 128
nb_model *nb_zoo_text_new(const char *name, int vocab, int classes);
/* Generative image models for inputs (c, h, w) (docs/generative.md gives the PyTorch code):
 * "autoencoder" (MLP D-256-64-256-D, ReLU, sigmoid output, 64-unit code), "conv-autoencoder"
 * (two stride-2 convolutions, a 64-unit code, two transposed convolutions back, sigmoid; h and
 * w divisible by 4), "vae" (D-400-(mu, logvar) of `latent` units, latent-400-D logits).
 * latent is used by "vae" only (1..256). */
nb_model *nb_zoo_gen_new(const char *name, int c, int h, int w, int latent);
/* GANs over images (c, h, w) in [-1, 1] from noise z (N, z_dim): "gan" (generator z-256-D,
 * ReLU, tanh; discriminator D-256-1, LeakyReLU 0.2; default init), "dcgan" (generator
 * ConvTranspose2d + BatchNorm + ReLU from z as a 1x1 image to 7x7 (h/4), 14x14, 28x28, tanh;
 * discriminator strided convolutions + LeakyReLU 0.2 (+ BatchNorm) to one logit; h == w,
 * divisible by 4; init N(0, 0.02), BatchNorm weights N(1, 0.02)). Both models are written to
 * *generator and *discriminator (NULL on failure). */
nb_status nb_zoo_gan_new(const char *name, int c, int h, int w, int z_dim, nb_model **generator,
                         nb_model **discriminator);
const char *const *nb_zoo_names(void); /* NULL-terminated */
typedef enum nb_zoo_input {
    NB_ZOO_UNKNOWN = 0, NB_ZOO_IMAGE, NB_ZOO_TOKENS,
    NB_ZOO_AUTOENCODER, /* autoencoder, conv-autoencoder, vae: images in, images out */
    NB_ZOO_GAN          /* gan, dcgan: noise in, images out */
} nb_zoo_input;
nb_zoo_input nb_zoo_input_kind(const char *name); /* what a zoo model reads */
/* The zoo model's classifier head ("fc3" for lenet5), the layer rebuilt for another number of
 * classes when fine-tuning; NULL for an unknown name. */
const char *nb_zoo_head(const char *name);

#ifdef __cplusplus
}
#endif
#endif
