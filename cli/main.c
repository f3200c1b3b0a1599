/* nabla: command-line tool (train, eval, predict). */
#include <stdio.h>
#include <string.h>

int main(int argc, char **argv) {
    fprintf(stderr, "usage: nabla {train,eval,predict} ...\n");
    return 2;
}
