/* A program outside the tree that uses the installed nabla through <nabla/nabla.h> only:
 * y = sum(A B) for A (2,3), B (3,2), then backward. dy/dA[i][j] = B[j][0] + B[j][1]. */
#include <nabla/nabla.h>
#include <stdio.h>

int main(void) {
    const float a[6] = {1, 2, 3, 4, 5, 6}; /* (2, 3) */
    const float b[6] = {1, 2, 3, 4, 5, 6}; /* (3, 2) */
    nb_tensor *A = nb_tensor_from(2, (int64_t[]){2, 3}, a);
    nb_tensor *B = nb_tensor_from(2, (int64_t[]){3, 2}, b);
    if (!A || !B || nb_tensor_set_requires_grad(A, true) != NB_OK) {
        fprintf(stderr, "app: %s\n", nb_last_error());
        return 1;
    }
    nb_tensor *y = nb_sum(nb_matmul(A, B), NB_ALL_AXES, false);
    if (!y || nb_backward(y) != NB_OK) {
        fprintf(stderr, "app: %s\n", nb_last_error());
        return 1;
    }
    const float *g = nb_tensor_grad(A);
    printf("sum %g grad %g %g %g %g %g %g\n", nb_tensor_item(y), g[0], g[1], g[2], g[3], g[4],
           g[5]);
    nb_step_reset();
    nb_tensor_free(A);
    nb_tensor_free(B);
    return 0;
}
