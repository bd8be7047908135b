/* The op table: every op dbx knows, listed once. Each row gives the op's name, its argument
 * count (-1: variadic), whether it is a loss, whether its GEMM operands need contiguity,
 * whether its arity may vary inside one batch, and its batching rule: node arguments are
 * always concatenated across the batch (one column per node); parameters named by the op
 * (affine terms, lookup tables) are shared, so they are part of the signature.
 * An op whose arity varies (vary = 1) has all arguments of one dim; its signature holds that
 * dim and no argument count, so nodes with 1 and 3 arguments share a batch; the batch's nargs
 * is the largest of its nodes', and a node with fewer has offset -1 for the arguments it lacks
 * (kernels/backend.h). Switches over enum dbx_op have no default case. */
#ifndef DBX_CORE_OPS_H
#define DBX_CORE_OPS_H

/*  X(NAME,    name,           nargs, loss, gemm, vary, batching rule)                     */
#define DBX_OP_TABLE(X)                                                                      \
    X(INPUT,   "input",        0,  0, 0, 0, "per-node data; batch = concatenated columns")   \
    X(LOOKUP,  "lookup",       0,  0, 0, 0, "table shared; rows gathered per node")          \
    X(AFFINE,  "affine",       -1, 0, 1, 0, "W, bias terms shared; x concatenated (GEMM)")   \
    X(ADD,     "add",          2,  0, 0, 0, "both args concatenated")                        \
    X(CMULT,   "cmult",        2,  0, 0, 0, "both args concatenated")                        \
    X(TANH,    "tanh",         1,  0, 0, 0, "arg concatenated")                              \
    X(SIGMOID, "sigmoid",      1,  0, 0, 0, "arg concatenated")                              \
    X(RELU,    "relu",         1,  0, 0, 0, "arg concatenated")                              \
    X(CONCAT,  "concat",       -1, 0, 0, 0, "args concatenated; arg dims in signature")      \
    X(SUM,     "sum",          -1, 0, 0, 1, "args concatenated; any count per node")         \
    X(SLICE,   "slice",        1,  0, 0, 0, "arg concatenated; range in signature")          \
    X(LSTM_C,  "lstm_c",       -1, 0, 0, 0, "gates and cells concatenated; k in signature")  \
    X(LSTM_H,  "lstm_h",       2,  0, 0, 0, "gates and cell concatenated")                   \
    X(XENT,    "softmax_xent", 1,  1, 0, 0, "logits concatenated; labels per node")

enum dbx_op {
#define DBX__OP_ENUM(NAME, name, nargs, loss, gemm, vary, rule) DBX_OP_##NAME,
    DBX_OP_TABLE(DBX__OP_ENUM)
#undef DBX__OP_ENUM
};

#define DBX__OP_ONE(NAME, name, nargs, loss, gemm, vary, rule) +1
enum { DBX_OP_COUNT = 0 DBX_OP_TABLE(DBX__OP_ONE) };

extern const char *const dbx__op_names[DBX_OP_COUNT];
extern const signed char dbx__op_nargs[DBX_OP_COUNT];
extern const unsigned char dbx__op_is_loss[DBX_OP_COUNT];
extern const unsigned char dbx__op_is_gemm[DBX_OP_COUNT];
extern const unsigned char dbx__op_vary_arity[DBX_OP_COUNT];

#endif /* DBX_CORE_OPS_H */
