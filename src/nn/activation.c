/* Activations as layers: ReLU, Tanh, Sigmoid, GELU, LeakyReLU (slope 0.01 or the caller's). */
#include "nn/nn_impl.h"

typedef struct act {
    nb_act kind;
    float slope; /* LeakyReLU */
} act;

static const char *const g_names[] = {"ReLU", "Tanh", "Sigmoid", "GELU", "LeakyReLU"};

static nb_tensor *act_forward(nb_module *m, nb_tensor *x) {
    const act *s = nb_module_state(m);
    switch (s->kind) {
    case NB_ACT_RELU: return nb_relu(x);
    case NB_ACT_TANH: return nb_tanh(x);
    case NB_ACT_SIGMOID: return nb_sigmoid(x);
    case NB_ACT_GELU: return nb_gelu(x);
    case NB_ACT_LEAKY_RELU: return nb_leaky_relu(x, s->slope);
    }
    return NULL;
}
static void act_describe(const nb_module *m, char *buf, size_t cap) {
    const act *s = nb_module_state(m);
    if (s->kind == NB_ACT_LEAKY_RELU && s->slope != 0.01f) snprintf(buf, cap, "LeakyReLU(%g)", (double)s->slope);
    else snprintf(buf, cap, "%s", g_names[s->kind]);
}
static const nb_module_ops act_ops = {.kind = "Activation", .forward = act_forward, .describe = act_describe};

nb_module *nb_activation_new(nb_act kind) {
    if ((int)kind < NB_ACT_RELU || kind > NB_ACT_LEAKY_RELU) {
        nb__err(NB_ERR_ARG, "nb_activation_new: unknown activation %d", (int)kind);
        return NULL;
    }
    nb_module *m = nb__module_alloc(&act_ops, sizeof(act), "nb_activation_new");
    if (m) *(act *)nb_module_state(m) = (act){.kind = kind, .slope = 0.01f};
    return m;
}

nb_module *nb_leaky_relu_new(float slope) {
    if (!(slope >= 0 && slope < 1)) {
        nb__err(NB_ERR_ARG, "nb_leaky_relu_new: slope must be in [0, 1), got %g", (double)slope);
        return NULL;
    }
    nb_module *m = nb__module_alloc(&act_ops, sizeof(act), "nb_leaky_relu_new");
    if (m) *(act *)nb_module_state(m) = (act){.kind = NB_ACT_LEAKY_RELU, .slope = slope};
    return m;
}

bool nb__activation_is_relu(const nb_module *m) {
    return m && m->ops == &act_ops && ((const act *)nb_module_state((nb_module *)m))->kind == NB_ACT_RELU;
}
