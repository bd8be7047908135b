/* Tables generated from DBX_OP_TABLE. Read-only; thread-safe. */
#include "core/ops.h"

const char *const dbx__op_names[DBX_OP_COUNT] = {
#define DBX__OP_NAME(NAME, name, nargs, loss, gemm, vary, rule) name,
    DBX_OP_TABLE(DBX__OP_NAME)
#undef DBX__OP_NAME
};
const signed char dbx__op_nargs[DBX_OP_COUNT] = {
#define DBX__OP_NARGS(NAME, name, nargs, loss, gemm, vary, rule) nargs,
    DBX_OP_TABLE(DBX__OP_NARGS)
#undef DBX__OP_NARGS
};
const unsigned char dbx__op_is_loss[DBX_OP_COUNT] = {
#define DBX__OP_LOSS(NAME, name, nargs, loss, gemm, vary, rule) loss,
    DBX_OP_TABLE(DBX__OP_LOSS)
#undef DBX__OP_LOSS
};
const unsigned char dbx__op_is_gemm[DBX_OP_COUNT] = {
#define DBX__OP_GEMM(NAME, name, nargs, loss, gemm, vary, rule) gemm,
    DBX_OP_TABLE(DBX__OP_GEMM)
#undef DBX__OP_GEMM
};
const unsigned char dbx__op_vary_arity[DBX_OP_COUNT] = {
#define DBX__OP_VARY(NAME, name, nargs, loss, gemm, vary, rule) vary,
    DBX_OP_TABLE(DBX__OP_VARY)
#undef DBX__OP_VARY
};
