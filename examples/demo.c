/* The main job for now: train a small MLP (2-64-64-3, ReLU, Adam) on generated spiral data
 * (3 interleaved arms, 300 points) and print the loss falling and the accuracy. */
#include <nabla/nabla.h>

#include <math.h>
#include <stdio.h>

#define N 300
#define K 3

static nb_tensor *linear(nb_params *p, const char *name, int64_t in, int64_t out, nb_tensor **b) {
    char buf[64];
    snprintf(buf, sizeof buf, "%s.weight", name);
    nb_tensor *w = nb_params_add(p, buf, 2, (int64_t[]){in, out}); /* (D_in, D_out) */
    snprintf(buf, sizeof buf, "%s.bias", name);
    *b = nb_params_add(p, buf, 1, (int64_t[]){out});
    float bound = 1.0f / sqrtf((float)in); /* PyTorch's default Linear init range */
    nb_tensor_fill_uniform(w, -bound, bound);
    nb_tensor_fill_uniform(*b, -bound, bound);
    return w;
}

int main(void) {
    nb_seed(0);
    nb_tensor *x = nb_tensor_new(2, (int64_t[]){N, 2}); /* (N, D) */
    nb_tensor *y = nb_index_new(1, (int64_t[]){N});     /* (N) class of each point */
    for (int i = 0; i < N; i++) {
        int k = i % K;
        float r = (float)(i / K) / (N / K), a = 4.0f * r + 2.0944f * k + 0.2f * nb_rng_normal();
        nb_tensor_data(x)[2 * i] = r * sinf(a);
        nb_tensor_data(x)[2 * i + 1] = r * cosf(a);
        nb_tensor_idata(y)[i] = k;
    }
    nb_params *p = nb_params_new();
    nb_tensor *b1, *b2, *b3;
    nb_tensor *w1 = linear(p, "fc1", 2, 64, &b1), *w2 = linear(p, "fc2", 64, 64, &b2);
    nb_tensor *w3 = linear(p, "fc3", 64, K, &b3);
    nb_optim *opt = nb_adam_new(p, nb_adam_defaults(0.01f));
    if (!x || !y || !p || !w1 || !w2 || !w3 || !opt) {
        fprintf(stderr, "demo: %s\n", nb_last_error());
        return 1;
    }
    printf("training a 2-64-64-3 MLP on %d spiral points (%lld parameters)\n", N,
           (long long)nb_params_numel(p));
    for (int step = 1; step <= 300; step++) {
        nb_params_zero_grad(p);
        nb_tensor *h = nb_relu(nb_add(nb_matmul(x, w1), b1));
        h = nb_relu(nb_add(nb_matmul(h, w2), b2));
        nb_tensor *logits = nb_add(nb_matmul(h, w3), b3); /* (N, K) */
        nb_tensor *loss = nb_cross_entropy(logits, y);
        if (!loss || nb_backward(loss) != NB_OK || nb_optim_step(opt) != NB_OK) {
            fprintf(stderr, "demo: %s\n", nb_last_error());
            return 1;
        }
        if (step % 30 == 0 || step == 1) {
            int correct = 0;
            for (int i = 0; i < N; i++) {
                const float *row = nb_tensor_data(logits) + i * K;
                int best = 0;
                for (int k = 1; k < K; k++) best = row[k] > row[best] ? k : best;
                correct += best == nb_tensor_idata(y)[i];
            }
            printf("step %3d  loss %.4f  accuracy %.3f\n", step, nb_tensor_item(loss),
                   (double)correct / N);
        }
        nb_step_reset();
    }
    nb_optim_free(opt);
    nb_params_free(p);
    nb_tensor_free(x);
    nb_tensor_free(y);
    return 0;
}
