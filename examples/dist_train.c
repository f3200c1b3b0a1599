/* Data-parallel training with the library (docs/distributed.md): the same program on every
 * process of an MPI job, each training on its share of every global batch, the gradients
 * averaged before each step, rank 0 printing and saving.
 *
 *   mpirun -np 2 dist_train [MNIST_DIR [OUT_DIR]]   (default: tests/fixtures/mnist-small, /tmp)
 *   dist_train [MNIST_DIR [OUT_DIR]]                (without a launcher: one process)
 * Exits 1 if a step fails (ending the whole job) or the test accuracy after two epochs of LeNet-5
 * is below 0.6 (it reaches 0.75 on the slice; chance is 0.1). */
#include <nabla/nabla.h>

#include <stdio.h>

static int fail(const char *what) {
    fprintf(stderr, "dist_train (process %d of %d): %s: %s\n", nb_dist_rank(), nb_dist_size(), what, nb_last_error());
    nb_dist_abort(1); /* never leave the other processes waiting in a collective */
    return 1;
}

int main(int argc, char **argv) {
    const char *dir = argc > 1 ? argv[1] : "tests/fixtures/mnist-small", *out = argc > 2 ? argv[2] : "/tmp";
    if (nb_dist_launched() && nb_dist_init()) return fail("MPI");
    const int rank = nb_dist_rank();
    nb_dataset *train = nb_mnist_load(dir, 1), *test = train ? nb_mnist_load(dir, 0) : NULL;
    if (!test) return fail("the data");
    const uint64_t seed = 1;
    nb_seed(seed); /* the same model on every process ... */
    nb_model *m = nb_zoo_new("lenet5", 1, 28, 28, 10);
    nb_optim *opt = m ? nb_adam_new(nb_model_params(m), nb_adam_defaults(1e-3f)) : NULL;
    if (!opt || nb_dist_broadcast_model(m, opt)) return fail("the model"); /* ... and rank 0's, to be sure */
    /* every process draws the same global batches; each takes its rows of every one */
    nb_loader *l = nb_loader_new(train, 64, 1, seed, 0), *lt = l ? nb_loader_new(test, 250, 0, 0, 0) : NULL;
    if (!lt) return fail("the loaders");
    nb_batch_source global = nb_loader_source(l), global_test = nb_loader_source(lt);
    nb_dist_shard *sh = nb_dist_shard_new(&global, NB_TASK_CLASSIFY, true);
    nb_dist_shard *sht = sh ? nb_dist_shard_new(&global_test, NB_TASK_CLASSIFY, false) : NULL;
    if (!sht) return fail("the shards");
    nb_batch_source mine = nb_dist_shard_source(sh), mine_test = nb_dist_shard_source(sht);
    nb_dist_sync sync = {0}; /* the gradient all-reduce, and a stop every process agrees on */
    nb_train_opts o = {.grad_hook = nb_dist_grad_hook, .grad_hook_ctx = &sync, .stop = nb_dist_stop, .stop_ctx = &sync};
    nb_task task = nb_task_new(NB_TASK_CLASSIFY);
    nb_epoch_stats tr, te = {0};
    for (int e = 0; e < 2; e++) {
        if (nb_train_epoch(m, opt, &task, &mine, e, &o, &tr) || nb_dist_reduce_stats(&tr, task.kind) ||
            nb_dist_average_buffers(m) || nb_evaluate(m, &task, &mine_test, NULL, NULL, &te) ||
            nb_dist_reduce_stats(&te, task.kind))
            return fail("training");
        if (rank == 0)
            printf("epoch %d: train loss %.4f, test accuracy %.4f over %lld images (%d processes, %.3f s in the all-"
                   "reduce so far)\n", e + 1, tr.loss, te.accuracy, (long long)te.samples, nb_dist_size(),
                   sync.comm_seconds);
    }
    char path[4096];
    snprintf(path, sizeof path, "%s/dist_train.safetensors", out);
    if (rank == 0 && nb_checkpoint_save(path, m, opt, NULL)) return fail("saving");
    nb_dist_shard_free(sht);
    nb_dist_shard_free(sh);
    nb_loader_free(lt);
    nb_loader_free(l);
    nb_optim_free(opt);
    nb_model_free(m);
    nb_dataset_free(test);
    nb_dataset_free(train);
    nb_dist_finalize();
    return te.accuracy >= 0.6 ? 0 : 1;
}
