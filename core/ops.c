/* The op table's columns as arrays, generated from DBX_OP_TABLE. Read-only; thread-safe. */
#include "core/ops.h"

#define DBX__COL(type, var, col)                                                            \
    const type var[DBX_OP_COUNT] = {DBX_OP_TABLE(col)};

#define DBX__C_NAME(N, name, ...) name,
#define DBX__C_NARGS(N, name, nargs, ...) nargs,
#define DBX__C_LOSS(N, name, nargs, loss, ...) loss,
#define DBX__C_GEMM(N, name, nargs, loss, gemm, ...) gemm,
#define DBX__C_VARY(N, name, nargs, loss, gemm, vary, ...) vary,
#define DBX__C_EW(N, name, nargs, loss, gemm, vary, ew, ...) ew,
#define DBX__C_MERGE(N, name, nargs, loss, gemm, vary, ew, merge, ...) merge,
#define DBX__C_SHARED(N, name, nargs, loss, gemm, vary, ew, merge, shared, ...) shared,
#define DBX__C_ATTR(N, name, nargs, loss, gemm, vary, ew, merge, shared, attr, ...) attr,
#define DBX__C_FIN(N, name, nargs, loss, gemm, vary, ew, merge, shared, attr, fin, ...) fin,
#define DBX__C_FOUT(N, name, nargs, loss, gemm, vary, ew, merge, shared, attr, fin, fout, rule) \
    fout,
#define DBX__C_RULE(N, name, nargs, loss, gemm, vary, ew, merge, shared, attr, fin, fout, rule) \
    rule,

DBX__COL(char *const, dbx__op_names, DBX__C_NAME)
DBX__COL(signed char, dbx__op_nargs, DBX__C_NARGS)
DBX__COL(unsigned char, dbx__op_is_loss, DBX__C_LOSS)
DBX__COL(unsigned char, dbx__op_is_gemm, DBX__C_GEMM)
DBX__COL(unsigned char, dbx__op_vary_arity, DBX__C_VARY)
DBX__COL(unsigned char, dbx__op_is_ew, DBX__C_EW)
DBX__COL(unsigned char, dbx__op_merge, DBX__C_MERGE)
DBX__COL(unsigned char, dbx__op_shared, DBX__C_SHARED)
DBX__COL(unsigned char, dbx__op_attr, DBX__C_ATTR)
DBX__COL(float, dbx__op_flops_in, DBX__C_FIN)
DBX__COL(float, dbx__op_flops_out, DBX__C_FOUT)
DBX__COL(char *const, dbx__op_rules, DBX__C_RULE)
