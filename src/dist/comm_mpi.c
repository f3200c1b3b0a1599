/* The world and the communication primitives over MPI: the only file of nabla that includes
 * mpi.h (compiled when CMake's NABLA_MPI is on; comm_none.c otherwise). */
#include "dist/dist_impl.h"

#include <limits.h>
#include <mpi.h>

static bool g_init;
static int g_rank = 0, g_size = 1, g_local = 1;
static MPI_Datatype g_pair_type = MPI_DATATYPE_NULL; /* (weight, stop) as two doubles */
static MPI_Op g_pair_op = MPI_OP_NULL;

/* Counts per MPI call: MPI's counts are int. */
#define CHUNK ((int64_t)1 << 30)

static nb_status mpi_fail(int rc, const char *what) {
    char msg[MPI_MAX_ERROR_STRING] = "";
    int len = 0;
    if (MPI_Error_string(rc, msg, &len) != MPI_SUCCESS) len = 0;
    return nb__err(NB_ERR_STATE, "%s: MPI error %d%s%.*s", what, rc, len ? ": " : "", len, msg);
}

/* The hook's pairs: the weights add up, the stop requests take the largest. */
static void pair_op(void *in, void *inout, int *len, MPI_Datatype *type) {
    (void)type;
    const double *a = in;
    double *b = inout;
    for (int i = 0; i < *len; i++) {
        b[2 * i] += a[2 * i];
        if (a[2 * i + 1] > b[2 * i + 1]) b[2 * i + 1] = a[2 * i + 1];
    }
}

bool nb_dist_built(void) { return true; }

nb_status nb_dist_init(void) {
    if (g_init) return NB_OK;
    int inited = 0, finished = 0, rc;
    MPI_Initialized(&inited);
    MPI_Finalized(&finished);
    if (finished) return nb__err(NB_ERR_STATE, "nb_dist_init: MPI was finalized already");
    if (!inited) {
        int provided = 0;
        rc = MPI_Init_thread(NULL, NULL, MPI_THREAD_FUNNELED, &provided);
        if (rc != MPI_SUCCESS) return nb__err(NB_ERR_STATE, "nb_dist_init: MPI_Init_thread failed (error %d)", rc);
    }
    MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
    MPI_Comm node = MPI_COMM_NULL;
    if ((rc = MPI_Comm_rank(MPI_COMM_WORLD, &g_rank)) != MPI_SUCCESS ||
        (rc = MPI_Comm_size(MPI_COMM_WORLD, &g_size)) != MPI_SUCCESS ||
        (rc = MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, 0, MPI_INFO_NULL, &node)) != MPI_SUCCESS ||
        (rc = MPI_Comm_size(node, &g_local)) != MPI_SUCCESS || (rc = MPI_Comm_free(&node)) != MPI_SUCCESS ||
        (rc = MPI_Type_contiguous(2, MPI_DOUBLE, &g_pair_type)) != MPI_SUCCESS ||
        (rc = MPI_Type_commit(&g_pair_type)) != MPI_SUCCESS || (rc = MPI_Op_create(pair_op, 1, &g_pair_op)) != MPI_SUCCESS) {
        g_rank = 0, g_size = 1, g_local = 1;
        return mpi_fail(rc, "nb_dist_init");
    }
    g_init = true;
    return NB_OK;
}

bool nb_dist_initialized(void) { return g_init; }

void nb_dist_finalize(void) {
    if (!g_init) return;
    if (g_pair_op != MPI_OP_NULL) MPI_Op_free(&g_pair_op);
    if (g_pair_type != MPI_DATATYPE_NULL) MPI_Type_free(&g_pair_type);
    int finished = 0;
    MPI_Finalized(&finished);
    if (!finished) MPI_Finalize();
    g_init = false;
    g_rank = 0, g_size = 1, g_local = 1;
}

int nb_dist_rank(void) { return g_rank; }
int nb_dist_size(void) { return g_size; }
int nb_dist_local_size(void) { return g_local; }

void nb_dist_abort(int code) {
    if (!g_init) return;
    fflush(stdout);
    fflush(stderr);
    MPI_Abort(MPI_COMM_WORLD, code);
}

double nb__dist_now(void) { return MPI_Wtime(); }

nb_status nb_dist_broadcast(void *buf, size_t bytes) {
    if (!g_init || g_size == 1) return NB_OK;
    if (!buf && bytes) return nb__err(NB_ERR_ARG, "nb_dist_broadcast: buf is NULL");
    for (size_t off = 0; off < bytes; off += (size_t)CHUNK) {
        size_t n = bytes - off < (size_t)CHUNK ? bytes - off : (size_t)CHUNK;
        int rc = MPI_Bcast((char *)buf + off, (int)n, MPI_BYTE, 0, MPI_COMM_WORLD);
        if (rc != MPI_SUCCESS) return mpi_fail(rc, "nb_dist_broadcast");
    }
    return NB_OK;
}

static nb_status reduce_f64(double *x, int n, MPI_Op op, const char *fn) {
    if (!g_init || g_size == 1 || n <= 0) return NB_OK;
    if (!x) return nb__err(NB_ERR_ARG, "%s: x is NULL", fn);
    int rc = MPI_Allreduce(MPI_IN_PLACE, x, n, MPI_DOUBLE, op, MPI_COMM_WORLD);
    return rc == MPI_SUCCESS ? NB_OK : mpi_fail(rc, fn);
}

nb_status nb_dist_sum(double *x, int n) { return reduce_f64(x, n, MPI_SUM, "nb_dist_sum"); }
nb_status nb_dist_max(double *x, int n) { return reduce_f64(x, n, MPI_MAX, "nb_dist_max"); }

nb_status nb__dist_sum_f32(float *x, int64_t n) {
    if (!g_init || g_size == 1) return NB_OK;
    for (int64_t off = 0; off < n; off += CHUNK) {
        int64_t k = n - off < CHUNK ? n - off : CHUNK;
        int rc = MPI_Allreduce(MPI_IN_PLACE, x + off, (int)k, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD);
        if (rc != MPI_SUCCESS) return mpi_fail(rc, "the gradient all-reduce");
    }
    return NB_OK;
}

nb_status nb__dist_weight_stop(double *weight, int *stop) {
    if (!g_init || g_size == 1) return NB_OK;
    double pair[2] = {*weight, (double)*stop};
    int rc = MPI_Allreduce(MPI_IN_PLACE, pair, 1, g_pair_type, g_pair_op, MPI_COMM_WORLD);
    if (rc != MPI_SUCCESS) return mpi_fail(rc, "the all-reduce of the step's weights");
    *weight = pair[0];
    *stop = (int)pair[1];
    return NB_OK;
}

nb_status nb__dist_same_u64(uint64_t h, bool *same) {
    *same = true;
    if (!g_init || g_size == 1) return NB_OK;
    /* the largest h and the largest ~h (the complement of the smallest h) */
    uint64_t v[2] = {h, ~h};
    int rc = MPI_Allreduce(MPI_IN_PLACE, v, 2, MPI_UINT64_T, MPI_MAX, MPI_COMM_WORLD);
    if (rc != MPI_SUCCESS) return mpi_fail(rc, "nb_dist_check_same");
    *same = v[0] == h && v[1] == ~h;
    return NB_OK;
}
