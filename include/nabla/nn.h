/* nabla modules: layers that own parameters, composed into models; the model zoo; checkpoints;
 * the training and evaluation loops. Included by nabla.h.
 *
 * A module describes a layer (sizes, options). nb_model_new takes a root module (usually a
 * Sequential), creates every parameter in one nb_params slab under PyTorch's state_dict names
 * ("conv1.weight", "fc1.bias", "bn1.running_mean", ...) and initializes them. Modules belong to
 * the model they are added to; nb_model_free frees them all. */
#ifndef NABLA_NN_H
#define NABLA_NN_H

#include <stdint.h>
#include <stdio.h>

#include "nabla.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct nb_module nb_module;
typedef struct nb_model nb_model;

/* ---- layers ------------------------------------------------------------------------------ */
nb_module *nb_linear_new(int in_features, int out_features, bool bias);     /* x (N, in) */
/* Square kernel k; o gives stride/padding/dilation/groups (nb_conv_defaults()). */
nb_module *nb_conv2d_new(int in_channels, int out_channels, int k, nb_conv_opts o, bool bias);
nb_module *nb_maxpool2d_new(int k, int stride); /* stride 0 = k */
nb_module *nb_avgpool2d_new(int k, int stride);
nb_module *nb_batchnorm1d_new(int features);  /* x (N, D); momentum 0.1, eps 1e-5 */
nb_module *nb_batchnorm2d_new(int channels);  /* x (N, C, H, W) */
nb_module *nb_dropout_new(float p);
nb_module *nb_flatten_new(void);              /* (N, ...) -> (N, rest) */
typedef enum nb_act { NB_ACT_RELU, NB_ACT_TANH, NB_ACT_SIGMOID, NB_ACT_GELU, NB_ACT_LEAKY_RELU } nb_act;
nb_module *nb_activation_new(nb_act kind);    /* leaky_relu: slope 0.01 */
nb_module *nb_sequential_new(void);
/* Appends child under name (the state_dict prefix of its parameters). The sequential takes the
 * child, also when this fails (duplicate or empty name, NULL child: NB_ERR_ARG). */
nb_status nb_sequential_add(nb_module *seq, const char *name, nb_module *child);
void nb_module_free(nb_module *m); /* only for a module not given to a model or sequential */

/* ---- models ------------------------------------------------------------------------------ */
typedef enum nb_init {
    NB_INIT_DEFAULT = 0,   /* PyTorch's: kaiming_uniform(a=sqrt(5)) weights, U(+-1/sqrt(fan_in)) biases */
    NB_INIT_XAVIER_UNIFORM, NB_INIT_XAVIER_NORMAL, /* Glorot; biases zero */
    NB_INIT_KAIMING_UNIFORM, NB_INIT_KAIMING_NORMAL, /* He, fan_in, ReLU gain; biases zero */
    NB_INIT_NORMAL,        /* N(0, 0.02) weights; biases zero */
    NB_INIT_ZEROS
} nb_init;
/* Takes root (freed with the model, also on failure), creates and initializes the parameters
 * with the library RNG (nb_seed). A model starts in training mode. */
nb_model *nb_model_new(nb_module *root, nb_init init);
void nb_model_free(nb_model *m);
/* Runs the model on x; the result lives in the step arena. */
nb_tensor *nb_model_forward(nb_model *m, nb_tensor *x);
void nb_model_set_training(nb_model *m, bool training); /* dropout, batch norm */
bool nb_model_training(const nb_model *m);
nb_params *nb_model_params(nb_model *m);   /* trainable parameters */
nb_params *nb_model_buffers(nb_model *m);  /* running statistics (no gradient) */
/* BatchNorm's num_batches_tracked counters, in the order of nb_model_counter_name. */
int nb_model_counter_count(const nb_model *m);
const char *nb_model_counter_name(const nb_model *m, int i);
int64_t *nb_model_counter(nb_model *m, int i);
/* A table of layers, output shapes for an input (c, h, w), and parameter counts (malloc'd).
 * It runs a forward pass on one zero image and then calls nb_step_reset(): call it outside a
 * training step. */
char *nb_model_summary(nb_model *m, int c, int h, int w);

/* ---- the model zoo ----------------------------------------------------------------------- */
/* "mlp" (784-512-256-10, ReLU), "lenet5", "seedcnn" for inputs (c, h, w) and k classes.
 * NULL with an error listing the known names otherwise. */
nb_model *nb_zoo_new(const char *name, int c, int h, int w, int classes);
const char *const *nb_zoo_names(void); /* NULL-terminated */

/* ---- checkpoints (safetensors; see docs/checkpoints.md) --------------------------------- */
typedef struct nb_ckpt_info {
    char model[32];    /* zoo name */
    int c, h, w, classes;
    char dataset[32];  /* e.g. "mnist" */
    int64_t epoch;     /* epochs completed */
    uint64_t seed;
    int64_t batch;
    float mean, std;   /* input normalization used in training */
    /* The training plan (for --resume): the lr schedule ("constant", "step", "cosine"), its
     * base rate, warm-up epochs, the planned number of epochs, and gradient clipping. */
    char schedule[16];
    char optimizer[16]; /* read back from a checkpoint with optimizer state ("" otherwise) */
    float base_lr, clip;
    int64_t warmup, epochs;
    /* The data the run saw: sample limits (0 = all), training samples, threads. */
    int64_t limit_train, limit_test, train_samples;
    int threads;
} nb_ckpt_info;
/* Writes the parameters and buffers under their state_dict names, info in __metadata__ and,
 * when opt is given, the optimizer (its name, lr, steps, state slabs) and the RNG state as
 * tensors under "_nabla." names. Atomic: a failed write keeps the old file. */
nb_status nb_checkpoint_save(const char *path, nb_model *m, nb_optim *opt, const nb_ckpt_info *info);
/* Reads only the info (to build the model before loading it). Every metadata value is
 * checked (known model, optimizer and schedule names; integers and numbers in range; input of
 * at most 64 channels, 1024x1024 and 2^20 values); the error names the file and the key. */
nb_status nb_checkpoint_info(const char *path, nb_ckpt_info *info);
/* Loads every parameter and buffer, checking names, shapes and dtypes (the error names the
 * tensor); with opt, also the optimizer state and the RNG state (an error if absent). */
nb_status nb_checkpoint_load(const char *path, nb_model *m, nb_optim *opt);

/* ---- training and evaluation ------------------------------------------------------------- */
typedef struct nb_epoch_stats {
    double loss;       /* mean loss over samples */
    double accuracy;   /* fraction correct */
    int64_t samples;
    double seconds;
} nb_epoch_stats;
/* Called after each batch: i of n batches, the running mean loss, samples so far. */
typedef void (*nb_progress_fn)(void *ctx, int64_t i, int64_t n, double loss, int64_t samples);
/* One epoch of cross-entropy training over the loader's batches (inputs reshaped to (N,c,h,w)
 * of the dataset). clip > 0 clips gradients by global norm. */
nb_status nb_train_epoch(nb_model *m, nb_optim *opt, nb_loader *l, const nb_dataset *d,
                         int64_t epoch, float clip, nb_progress_fn fn, void *ctx,
                         nb_epoch_stats *out);
/* Evaluates in eval mode without gradients; conf (may be NULL) receives the predictions,
 * probs (may be NULL, n*classes floats) the softmax outputs. */
nb_status nb_evaluate(nb_model *m, const nb_dataset *d, int64_t batch, nb_confusion *conf,
                      float *probs, nb_epoch_stats *out);

#ifdef __cplusplus
}
#endif
#endif
