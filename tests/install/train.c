/* A program outside dbx's tree, built by tests/test_install.sh against an installed dbx (the
 * shared library through pkg-config and through find_package(dbx), the static one through
 * pkg-config): include/dbx/dbx.h only. A two-layer classifier of 4-vectors into 3 classes,
 * trained for a few steps on the CPU; exits 0 when the loss falls, 1 otherwise.
 * Per sample: h = tanh(W1 x + b1) (8), logits = W2 h + b2 (3), softmax cross-entropy. */
#include <stdio.h>

#include "dbx/dbx.h"

enum { D = 4, H = 8, C = 3, N = 24, STEPS = 30 };

#define CHECK(x)                                                                             \
    do {                                                                                     \
        dbx_status s_ = (x);                                                                 \
        if (s_ != DBX_OK) {                                                                  \
            fprintf(stderr, "train: %s: %s (%s)\n", #x, dbx_status_str(s_), dbx_last_error()); \
            return 1;                                                                        \
        }                                                                                    \
    } while (0)

int main(void)
{
    /* Inputs from a fixed linear congruential sequence; the label is the largest of three
     * fixed linear functions of x, so a linear model can learn it. */
    float x[N][D];
    int label[N];
    unsigned r = 12345;
    for (int i = 0; i < N; i++) {
        float s[C] = {0};
        for (int j = 0; j < D; j++) {
            r = r * 1103515245u + 12345u;
            x[i][j] = (float)((r >> 8) & 0xffff) / 32768.0f - 1.0f;
            s[0] += x[i][j] * (j == 0 ? 1.0f : 0.2f);
            s[1] += x[i][j] * (j == 1 ? 1.0f : -0.3f);
            s[2] += x[i][j] * (j >= 2 ? 0.8f : 0.1f);
        }
        label[i] = s[0] >= s[1] && s[0] >= s[2] ? 0 : (s[1] >= s[2] ? 1 : 2);
    }

    dbx_model *m = NULL;
    dbx_param W1, b1, W2, b2;
    CHECK(dbx_model_new(&m));
    CHECK(dbx_model_add(m, "W1", H, D, DBX_INIT_GLOROT, 0, &W1));
    CHECK(dbx_model_add(m, "b1", H, 1, DBX_INIT_ZERO, 0, &b1));
    CHECK(dbx_model_add(m, "W2", C, H, DBX_INIT_GLOROT, 0, &W2));
    CHECK(dbx_model_add(m, "b2", C, 1, DBX_INIT_ZERO, 0, &b2));
    CHECK(dbx_model_init(m, 42));

    dbx_graph *g = NULL;
    dbx_exec *ex = NULL;
    CHECK(dbx_graph_new(m, 1, &g));
    CHECK(dbx_exec_new(NULL, &ex));
    dbx_optim opt = dbx_optim_default(DBX_OPT_ADAM);
    opt.lr = 0.05f;
    opt.grad_scale = 1.0f / N;

    double first = 0, last = 0;
    for (int step = 0; step < STEPS; step++) {
        dbx_graph_clear(g);
        for (int i = 0; i < N; i++) {
            dbx_graph_begin_sample(g);
            dbx_node in = dbx_input(g, D, x[i]);
            dbx_term t1[2] = {{b1, DBX_NONE, 0}, {W1, in, 0}};
            dbx_node h = dbx_tanh(g, dbx_affine(g, H, 2, t1));
            dbx_term t2[2] = {{b2, DBX_NONE, 0}, {W2, h, 0}};
            dbx_softmax_xent(g, dbx_affine(g, C, 2, t2), label[i]);
        }
        CHECK(dbx_graph_status(g));
        double loss = 0;
        CHECK(dbx_exec_forward(ex, g, &loss));
        CHECK(dbx_exec_backward(ex, g, 1.0f));
        CHECK(dbx_model_update(m, &opt));
        loss /= N;
        if (step == 0) first = loss;
        last = loss;
    }
    printf("train: loss per sample %.4f -> %.4f over %d steps (%d nodes)\n", first, last, STEPS,
           dbx_graph_num_nodes(g));
    dbx_exec_free(ex);
    dbx_graph_free(g);
    dbx_model_free(m);
    if (!(last < 0.8 * first)) {
        fprintf(stderr, "train: the loss did not fall\n");
        return 1;
    }
    return 0;
}
