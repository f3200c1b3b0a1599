/* Activations as layers: ReLU, Tanh, Sigmoid, GELU, LeakyReLU(0.01). */
#include "nn/nn_impl.h"

typedef struct act {
    nb_act kind;
} act;

static const char *const g_names[] = {"ReLU", "Tanh", "Sigmoid", "GELU", "LeakyReLU"};

static nb_tensor *act_forward(nb_module *m, nb_tensor *x) {
    switch (((act *)nb_module_state(m))->kind) {
    case NB_ACT_RELU: return nb_relu(x);
    case NB_ACT_TANH: return nb_tanh(x);
    case NB_ACT_SIGMOID: return nb_sigmoid(x);
    case NB_ACT_GELU: return nb_gelu(x);
    case NB_ACT_LEAKY_RELU: return nb_leaky_relu(x, 0.01f);
    }
    return NULL;
}
static void act_describe(const nb_module *m, char *buf, size_t cap) {
    snprintf(buf, cap, "%s", g_names[((const act *)nb_module_state(m))->kind]);
}
static const nb_module_ops act_ops = {.kind = "Activation", .forward = act_forward, .describe = act_describe};

nb_module *nb_activation_new(nb_act kind) {
    if ((int)kind < NB_ACT_RELU || kind > NB_ACT_LEAKY_RELU) {
        nb__err(NB_ERR_ARG, "nb_activation_new: unknown activation %d", (int)kind);
        return NULL;
    }
    nb_module *m = nb__module_alloc(&act_ops, sizeof(act), "nb_activation_new");
    if (m) ((act *)nb_module_state(m))->kind = kind;
    return m;
}
