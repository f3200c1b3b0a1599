/* A layer written in the user's own program: a ResNet basic block (conv-bn-relu-conv-bn plus
 * the input, then relu). It nests in Sequential containers, trains with the library's loop
 * on the MNIST slice, and saves and loads by name ("layer1.0.conv1.weight", as PyTorch's
 * state_dict of the same model).
 *
 * usage: residual [MNIST_DIR [OUT_DIR]]   (default: tests/fixtures/mnist-small, /tmp)
 * Exits 1 if the test accuracy after two epochs is below 0.85 or the reloaded model differs. */
#include <nabla/nabla.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- the user's layer ------------------------------------------------------------------------ */
typedef struct resblock {
    nb_module *conv1, *bn1, *conv2, *bn2; /* children, also reachable by name */
} resblock;

static nb_tensor *resblock_forward(nb_module *m, nb_tensor *x) {
    resblock *s = nb_module_state(m);
    nb_tensor *y = nb_relu(nb_module_forward(s->bn1, nb_module_forward(s->conv1, x)));
    y = nb_module_forward(s->bn2, nb_module_forward(s->conv2, y));
    return nb_relu(nb_add(y, x));
}

static const nb_module_ops resblock_ops = {
    .kind = "ResidualBlock", .forward = resblock_forward}; /* no tensors of its own: no bind */

/* A block of c channels: 3x3 convolutions with padding 1 keep the shape. */
static nb_module *resblock_new(int c) {
    resblock *s = calloc(1, sizeof *s);
    nb_module *m = nb_module_new(&resblock_ops, s); /* takes s */
    if (!m) return NULL;
    nb_conv_opts o = nb_conv_defaults();
    o.padding[0] = o.padding[1] = 1;
    s->conv1 = nb_conv2d_new(c, c, 3, o, false);
    s->bn1 = nb_batchnorm2d_new(c);
    s->conv2 = nb_conv2d_new(c, c, 3, o, false);
    s->bn2 = nb_batchnorm2d_new(c);
    if (nb_module_add_child(m, "conv1", s->conv1) || nb_module_add_child(m, "bn1", s->bn1) ||
        nb_module_add_child(m, "conv2", s->conv2) || nb_module_add_child(m, "bn2", s->bn2)) {
        nb_module_free(m);
        return NULL;
    }
    return m;
}

/* stem conv 1->8 (stride 2), layer1 = two blocks, average pool, fc 8*7*7 -> 10. */
static nb_model *small_resnet(void) {
    nb_module *net = nb_sequential_new(), *layer1 = nb_sequential_new();
    nb_conv_opts stem = nb_conv_defaults();
    stem.stride[0] = stem.stride[1] = 2;
    stem.padding[0] = stem.padding[1] = 1;
    nb_sequential_add(layer1, "0", resblock_new(8));
    nb_sequential_add(layer1, "1", resblock_new(8));
    nb_sequential_add(net, "conv1", nb_conv2d_new(1, 8, 3, stem, true));
    nb_sequential_add(net, "relu", nb_activation_new(NB_ACT_RELU));
    nb_sequential_add(net, "layer1", layer1);
    nb_sequential_add(net, "pool", nb_avgpool2d_new(2, 2));
    nb_sequential_add(net, "flatten", nb_flatten_new());
    nb_sequential_add(net, "fc", nb_linear_new(8 * 7 * 7, 10, true));
    return nb_model_new(net, NB_INIT_DEFAULT);
}

static int fail(const char *what) {
    fprintf(stderr, "residual: %s: %s\n", what, nb_last_error());
    return 1;
}

int main(int argc, char **argv) {
    const char *dir = argc > 1 ? argv[1] : "tests/fixtures/mnist-small", *out = argc > 2 ? argv[2] : "/tmp";
    nb_set_threads(2);
    nb_seed(1);
    nb_model *m = small_resnet();
    nb_dataset *train = nb_mnist_load(dir, 1), *test = nb_mnist_load(dir, 0);
    if (!m || !train || !test) return fail("setup");
    train->mean = test->mean = 0.1307f;
    train->std = test->std = 0.3081f;
    if (!nb_params_find(nb_model_params(m), "layer1.0.conv1.weight") ||
        !nb_params_find(nb_model_buffers(m), "layer1.1.bn2.running_var"))
        return fail("PyTorch's nested names");
    char *summary = nb_model_summary(m, 3, (int64_t[]){1, 28, 28});
    if (!summary) return fail("summary");
    fputs(summary, stdout);
    free(summary);

    nb_optim *opt = nb_adam_new(nb_model_params(m), nb_adam_defaults(3e-3f));
    nb_loader *l = nb_loader_new(train, 32, 1, 7, 0), *lt = nb_loader_new(test, 250, 0, 0, 0);
    nb_batch_source src = nb_loader_source(l), tsrc = nb_loader_source(lt);
    nb_task task = nb_task_new(NB_TASK_CLASSIFY);
    nb_epoch_stats tr, te;
    for (int e = 0; e < 2; e++) {
        if (nb_train_epoch(m, opt, &task, &src, e, NULL, &tr) || nb_evaluate(m, &task, &tsrc, NULL, NULL, &te))
            return fail("training");
        printf("epoch %d: train loss %.4f acc %.4f, test loss %.4f acc %.4f\n", e + 1, tr.loss, tr.accuracy, te.loss,
               te.accuracy);
    }

    /* Save, then load into a model built anew (another seed), and compare the outputs. */
    char path[4096];
    snprintf(path, sizeof path, "%s/residual-example.safetensors", out);
    nb_meta *meta = nb_meta_new();
    nb_meta_set(meta, "model", "small-resnet");
    if (nb_checkpoint_save(path, m, NULL, meta)) return fail("save");
    nb_seed(99);
    nb_model *m2 = small_resnet();
    if (!m2 || nb_checkpoint_load(path, m2, NULL, NULL, NULL)) return fail("load");
    nb_epoch_stats te2;
    if (nb_evaluate(m2, &task, &tsrc, NULL, NULL, &te2)) return fail("evaluate the loaded model");
    printf("reloaded from %s: test loss %.6f acc %.4f\n", path, te2.loss, te2.accuracy);
    int rc = 0;
    if (te.accuracy < 0.85) rc = fprintf(stderr, "residual: accuracy %.4f < 0.85\n", te.accuracy) > 0;
    if (te2.loss != te.loss || te2.accuracy != te.accuracy)
        rc = fprintf(stderr, "residual: the reloaded model gives loss %.9g, not %.9g\n", te2.loss, te.loss) > 0;
    remove(path);
    nb_meta_free(meta);
    nb_model_free(m2);
    nb_loader_free(lt);
    nb_loader_free(l);
    nb_optim_free(opt);
    nb_model_free(m);
    nb_dataset_free(train);
    nb_dataset_free(test);
    return rc;
}
