/* The op table: every op dbx knows, listed once, with everything the rest of dbx needs to
 * know about it. Nothing outside this table switches over the op enum: the graph builder,
 * the signature hash, the memory planner, the executor and the schedulers read the columns
 * below, and each backend's kernel table is generated from the rows (kernels/backend.h), so
 * a backend that lacks a kernel for an op does not link.
 *
 * Columns of X(NAME, name, nargs, loss, gemm, vary, ew, merge, shared, attr, fl_in, fl_out,
 *              rule):
 *   NAME, name  the enum suffix (DBX_OP_NAME) and the op's canonical name (signature hashes)
 *   nargs   argument count; -1: any count (1..255)
 *   loss    1: a scalar loss term, added to the graph's total loss
 *   gemm    1: runs as GEMMs over the batch (operands should be contiguous: the planner
 *           lays producers out for it)
 *   vary    1: the arity may vary inside one batch: all arguments have one dim, the
 *           signature holds that dim and no count; the batch's nargs is the largest of its
 *           nodes', a node with fewer has offset -1 for the arguments it lacks
 *   ew      1: element-wise: output element i reads element i of each argument only
 *   merge   1: deduplication may merge equal nodes (0: inputs, losses, random ops)
 *   shared  what the node shares with its batch, beyond shapes (the signature's extra items),
 *           and what the planner hands the kernel:
 *             DBX__SH_NONE    nothing
 *             DBX__SH_DATA    per-node data copied in by the executor (node aux: offset)
 *             DBX__SH_TERMS   affine terms: W by name and shape, row offset (kbatch terms)
 *             DBX__SH_TABLE   one parameter by name and shape (node aux; kbatch table/dtable)
 *             DBX__SH_INT     an integer (node aux; kbatch iparam); extra items hashed as ints
 *             DBX__SH_FLOATS  up to 2 floats (extra items, as bits; kbatch fparam)
 *   attr    1: the kernel reads a per-node integer (kbatch attr): label, row, index, key
 *   fl_in, fl_out  forward FLOPs per argument float and per output float (statistics;
 *           backward is counted as twice forward)
 *   rule    how a batch is formed, for people
 * Kernel arithmetic is documented with the builder calls in include/dbx/dbx.h. */
#ifndef DBX_CORE_OPS_H
#define DBX_CORE_OPS_H

enum dbx__shared {
    DBX__SH_NONE,
    DBX__SH_DATA,
    DBX__SH_TERMS,
    DBX__SH_TABLE,
    DBX__SH_INT,
    DBX__SH_FLOATS
};

/* X(NAME,   name,        nargs loss gemm vary ew merge shared        attr fl_in fl_out rule) */
#define DBX_OP_TABLE(X)                                                                      \
    X(INPUT,   "input",        0, 0, 0, 0, 0, 0, DBX__SH_DATA,   0, 0, 0,                    \
      "per-node data; batch = concatenated columns")                                         \
    X(LOOKUP,  "lookup",       0, 0, 0, 0, 0, 1, DBX__SH_TABLE,  1, 0, 0,                    \
      "table shared; rows gathered per node")                                                \
    X(AFFINE,  "affine",      -1, 0, 1, 0, 0, 1, DBX__SH_TERMS,  0, 0, 0,                    \
      "W, bias terms shared; x concatenated (GEMM)")                                         \
    X(ADD,     "add",          2, 0, 0, 0, 1, 1, DBX__SH_NONE,   0, 0, 1,                    \
      "both args concatenated")                                                              \
    X(CMULT,   "cmult",        2, 0, 0, 0, 1, 1, DBX__SH_NONE,   0, 0, 1,                    \
      "both args concatenated")                                                              \
    X(TANH,    "tanh",         1, 0, 0, 0, 1, 1, DBX__SH_NONE,   0, 0, 4,                    \
      "arg concatenated")                                                                    \
    X(SIGMOID, "sigmoid",      1, 0, 0, 0, 1, 1, DBX__SH_NONE,   0, 0, 4,                    \
      "arg concatenated")                                                                    \
    X(RELU,    "relu",         1, 0, 0, 0, 1, 1, DBX__SH_NONE,   0, 0, 1,                    \
      "arg concatenated")                                                                    \
    X(CONCAT,  "concat",      -1, 0, 0, 0, 0, 1, DBX__SH_NONE,   0, 0, 0,                    \
      "args concatenated; arg dims in signature")                                            \
    X(SUM,     "sum",         -1, 0, 0, 1, 1, 1, DBX__SH_NONE,   0, 1, -1,                   \
      "args concatenated; any count per node")                                               \
    X(SLICE,   "slice",        1, 0, 0, 0, 0, 1, DBX__SH_INT,    0, 0, 0,                    \
      "arg concatenated; range in signature")                                                \
    X(LSTM_C,  "lstm_c",      -1, 0, 0, 0, 0, 1, DBX__SH_INT,    0, 3, 1,                    \
      "gates and cells concatenated; k in signature")                                        \
    X(LSTM_H,  "lstm_h",       2, 0, 0, 0, 0, 1, DBX__SH_INT,    0, 0, 9,                    \
      "gates and cell concatenated")                                                         \
    X(XENT,    "softmax_xent", 1, 1, 0, 0, 0, 0, DBX__SH_NONE,   1, 4, 0,                    \
      "logits concatenated; labels per node")                                                \
    X(SUB,     "sub",          2, 0, 0, 0, 1, 1, DBX__SH_NONE,   0, 0, 1,                    \
      "both args concatenated")                                                              \
    X(SCALE,   "scale_shift",  1, 0, 0, 0, 1, 1, DBX__SH_FLOATS, 0, 0, 2,                    \
      "arg concatenated; factor and shift in signature")                                     \
    X(EXP,     "exp",          1, 0, 0, 0, 1, 1, DBX__SH_NONE,   0, 0, 4,                    \
      "arg concatenated")                                                                    \
    X(LOG,     "log",          1, 0, 0, 0, 1, 1, DBX__SH_NONE,   0, 0, 4,                    \
      "arg concatenated")                                                                    \
    X(DOT,     "dot",          2, 0, 0, 0, 0, 1, DBX__SH_NONE,   0, 1, 0,                    \
      "both args concatenated; one float per node")                                          \
    X(SUM_ELEMS, "sum_elems",  1, 0, 0, 0, 0, 1, DBX__SH_NONE,   0, 1, 0,                    \
      "arg concatenated; one float per node")                                                \
    X(SOFTMAX, "softmax",      1, 0, 0, 0, 0, 1, DBX__SH_NONE,   0, 0, 6,                    \
      "arg concatenated")                                                                    \
    X(LOG_SOFTMAX, "log_softmax", 1, 0, 0, 0, 0, 1, DBX__SH_NONE, 0, 0, 6,                   \
      "arg concatenated")                                                                    \
    X(PICK,    "pick",         1, 0, 0, 0, 0, 1, DBX__SH_NONE,   1, 0, 0,                    \
      "arg concatenated; index per node")                                                    \
    X(MAX,     "max",         -1, 0, 0, 1, 1, 1, DBX__SH_NONE,   0, 1, -1,                   \
      "args concatenated; any count per node")                                               \
    X(MEAN,    "average",     -1, 0, 0, 1, 1, 1, DBX__SH_NONE,   0, 1, 0,                    \
      "args concatenated; any count per node")                                               \
    X(DROPOUT, "dropout",      1, 0, 0, 0, 1, 0, DBX__SH_FLOATS, 1, 0, 2,                    \
      "arg concatenated; rate in signature; mask key per node")                              \
    X(LAYER_NORM, "layer_norm", 3, 0, 0, 0, 0, 1, DBX__SH_NONE,  0, 0, 8,                    \
      "x, gain and bias concatenated (gain, bias: one node each)")                           \
    X(PARAM,   "parameter",    0, 0, 0, 0, 0, 1, DBX__SH_TABLE,  1, 0, 0,                    \
      "parameter shared; copied per node")                                                   \
    X(MAT_VEC, "mat_vec",      2, 0, 0, 0, 0, 1, DBX__SH_NONE,   0, 2, 0,                    \
      "matrix and vector concatenated; shapes in signature")                                 \
    X(MAT_T_VEC, "mat_t_vec",  2, 0, 0, 0, 0, 1, DBX__SH_NONE,   0, 2, 0,                    \
      "matrix and vector concatenated; shapes in signature")                                 \
    X(NLL,     "nll",          1, 1, 0, 0, 0, 0, DBX__SH_NONE,   1, 0, 1,                    \
      "log-probabilities concatenated; labels per node")                                     \
    X(LOGISTIC, "logistic_loss", 1, 1, 0, 0, 0, 0, DBX__SH_NONE, 1, 6, 0,                    \
      "scores concatenated; 0/1 labels per node")                                            \
    X(SQ_ERR,  "squared_error", 2, 1, 0, 0, 0, 0, DBX__SH_NONE,  0, 1.5, 0,                  \
      "both args concatenated")                                                              \
    X(HINGE,   "hinge",        1, 1, 0, 0, 0, 0, DBX__SH_FLOATS, 1, 3, 0,                    \
      "scores concatenated; margin in signature; labels per node")                           \
    X(CONST,   "constant",     0, 0, 0, 0, 1, 1, DBX__SH_FLOATS, 0, 0, 0,                    \
      "value in signature; filled per node")                                                 \
    X(LOSS,    "loss",         1, 1, 0, 0, 1, 0, DBX__SH_FLOATS, 0, 0, 1,                    \
      "scalars concatenated; weight in signature")

enum dbx_op {
#define DBX__OP_ENUM(NAME, ...) DBX_OP_##NAME,
    DBX_OP_TABLE(DBX__OP_ENUM)
#undef DBX__OP_ENUM
};

#define DBX__OP_ONE(NAME, ...) +1
enum { DBX_OP_COUNT = 0 DBX_OP_TABLE(DBX__OP_ONE) };

/* The columns, indexed by enum dbx_op (core/ops.c). */
extern const char *const dbx__op_names[DBX_OP_COUNT];
extern const signed char dbx__op_nargs[DBX_OP_COUNT];
extern const unsigned char dbx__op_is_loss[DBX_OP_COUNT];
extern const unsigned char dbx__op_is_gemm[DBX_OP_COUNT];
extern const unsigned char dbx__op_vary_arity[DBX_OP_COUNT];
extern const unsigned char dbx__op_is_ew[DBX_OP_COUNT];
extern const unsigned char dbx__op_merge[DBX_OP_COUNT];
extern const unsigned char dbx__op_shared[DBX_OP_COUNT]; /* enum dbx__shared */
extern const unsigned char dbx__op_attr[DBX_OP_COUNT];
extern const float dbx__op_flops_in[DBX_OP_COUNT];
extern const float dbx__op_flops_out[DBX_OP_COUNT];
extern const char *const dbx__op_rules[DBX_OP_COUNT];

#endif /* DBX_CORE_OPS_H */
