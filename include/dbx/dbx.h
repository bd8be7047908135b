/* dbx: a distributed batching executor for dynamic neural networks. Public C API.
 *
 * A user builds one computation graph per sample (a tree, a sentence) into a shared
 * minibatch graph through expression-style builder calls; dbx merges, deduplicates,
 * schedules (batches), plans memory for, and executes the whole minibatch forward and
 * backward on a backend, then applies an optimizer to one flat parameter buffer.
 *
 * Ownership: every dbx_x_new() result is freed with dbx_x_free(), which accepts NULL.
 * Thread safety: objects are not thread-safe; use one graph/executor per thread.
 * Handles (dbx_node, dbx_param) are small integers, valid for the object that made them.
 */
#ifndef DBX_DBX_H
#define DBX_DBX_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- status ------------------------------------------------------------------------- */
#define DBX_STATUS_MAP(X)                                                                    \
    X(OK, "ok")                                                                              \
    X(ENOMEM, "out of memory")                                                               \
    X(EINVAL, "invalid argument")                                                            \
    X(EPARSE, "malformed input")                                                             \
    X(EIO, "I/O error")                                                                      \
    X(ECUDA, "CUDA error")                                                                   \
    X(ENCCL, "NCCL error")                                                                   \
    X(EMPI, "MPI error")                                                                     \
    X(ENOTSUP, "not supported")

typedef enum dbx_status {
#define DBX__STATUS_ENUM(name, str) DBX_##name,
    DBX_STATUS_MAP(DBX__STATUS_ENUM)
#undef DBX__STATUS_ENUM
} dbx_status;

/* A static string naming the status. */
const char *dbx_status_str(dbx_status s);
/* The detailed message of the last error set on this thread ("" if none); valid until the
 * next failing dbx call on this thread. Parsers put "file:line:col: expected ..." here. */
const char *dbx_last_error(void);
/* Sets this thread's last-error message (printf-style) and returns s: how a model type's
 * callbacks report "file:line:col: expected ..." errors. */
dbx_status dbx_set_error(dbx_status s, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

/* ---- BLAS ------------------------------------------------------------------------------ */
/* Loads the BLAS once per process (idempotent). On x86-64 CPUs with AVX-512 that Debian's
 * OpenBLAS does not recognise, dbx selects the SkylakeX kernels itself before the BLAS
 * initialises (unless OPENBLAS_CORETYPE is already set), and pins it to one thread unless
 * OPENBLAS_NUM_THREADS is set. DBX_CPU_GEMM=onednn (in a build with oneDNN) runs the affine
 * GEMMs through oneDNN instead (README, BLAS); openblas or unset: OpenBLAS. */
dbx_status dbx_blas_init(void);
/* "OpenBLAS 0.3.21 DYNAMIC_ARCH ... core=SkylakeX (set by dbx: CPU has AVX-512); affine
 * GEMMs: OpenBLAS" (or "...: oneDNN 2.6.3, ISA avx512_core_bf16, 1 thread(s)"); valid for
 * the process lifetime. dbx_blas_init() must have succeeded. */
const char *dbx_blas_describe(void);
/* Measures single-precision GEMM speed on an n x n x n product (best of reps), GFLOP/s. */
double dbx_blas_measure_gflops(int n, int reps);

/* ---- parameters and optimizers --------------------------------------------------------- */
typedef int32_t dbx_param;  /* parameter handle; >= 0 */
typedef int32_t dbx_node;   /* node handle in one graph; >= 0; DBX_NONE on error */
#define DBX_NONE ((int32_t)-1)

typedef struct dbx_model dbx_model;  /* parameters, gradients, optimizer state */

typedef enum dbx_init {
    DBX_INIT_ZERO,    /* all zeros */
    DBX_INIT_GLOROT,  /* uniform(+-sqrt(6/(rows+cols))) */
    DBX_INIT_UNIFORM, /* uniform(+-scale) */
    DBX_INIT_CONSTANT /* every value equal to scale (e.g. a layer normalisation's gain: 1) */
} dbx_init;

typedef enum dbx_optim_kind { DBX_OPT_SGD, DBX_OPT_ADAGRAD, DBX_OPT_ADAM } dbx_optim_kind;

typedef struct dbx_optim {
    dbx_optim_kind kind;
    float lr;      /* learning rate */
    float beta1;   /* Adam; default 0.9 */
    float beta2;   /* Adam; default 0.999 */
    float eps;     /* Adam 1e-8, Adagrad 1e-8 */
    float grad_scale; /* gradients are multiplied by this before the update (e.g. 1/batch) */
} dbx_optim;

/* Fills defaults for the kind (lr: sgd 0.1, adagrad 0.1, adam 0.001). */
dbx_optim dbx_optim_default(dbx_optim_kind kind);
/* Parses "sgd" | "adagrad" | "adam". */
dbx_status dbx_optim_parse(const char *name, dbx_optim_kind *out);
const char *dbx_optim_name(dbx_optim_kind kind);

dbx_status dbx_model_new(dbx_model **out);
void dbx_model_free(dbx_model *m);
/* Adds a dense (rows, cols) parameter; vectors are (rows, 1). Must precede dbx_model_init. */
dbx_status dbx_model_add(dbx_model *m, const char *name, int rows, int cols, dbx_init init,
                         float scale, dbx_param *out);
/* Adds a lookup table of `rows` vectors of size `dim` (stored (rows, dim), row-major).
 * Lookup tables get sparse updates: only rows that a step touched are updated. */
dbx_status dbx_model_add_lookup(dbx_model *m, const char *name, int rows, int dim, float scale,
                                dbx_param *out);
/* Allocates the flat parameter, gradient and optimizer buffers and initialises the values
 * deterministically from seed. After this no parameter can be added. */
dbx_status dbx_model_init(dbx_model *m, uint64_t seed);
int dbx_model_num_params(const dbx_model *m);          /* parameter tensors */
size_t dbx_model_num_floats(const dbx_model *m);       /* total scalar parameters */
const char *dbx_model_param_name(const dbx_model *m, dbx_param p);
void dbx_model_param_shape(const dbx_model *m, dbx_param p, int *rows, int *cols);
/* Places the model's buffers on a device before dbx_model_init: "cpu" (default) or "cuda"
 * (GPU `index` of this process). DBX_ENOTSUP when dbx was built without CUDA. */
dbx_status dbx_model_set_device(dbx_model *m, const char *device, int index);
/* Copies all parameter values (dbx_model_param_offset layout, nfloats as allocated) to host
 * memory `out` of capacity cap floats; works on every device. */
dbx_status dbx_model_read_values(const dbx_model *m, float *out, size_t cap);
/* Flat host views of all parameters / gradients (valid until dbx_model_free); NULL for a
 * model on a GPU (use dbx_model_read_values). Parameter p starts at
 * dbx_model_param_offset(m, p) floats. */
float *dbx_model_values(dbx_model *m);
float *dbx_model_grads(dbx_model *m);
size_t dbx_model_param_offset(const dbx_model *m, dbx_param p);
/* Applies one optimizer step to all parameters from the accumulated gradients, then
 * zeroes them. Lookup tables update only touched rows. */
dbx_status dbx_model_update(dbx_model *m, const dbx_optim *opt);
/* Zeroes gradients without updating. */
void dbx_model_zero_grads(dbx_model *m);
/* A 64-bit FNV-1a checksum of all parameter values (compare replicas bit for bit). */
uint64_t dbx_model_checksum(const dbx_model *m);
/* Saves names, shapes and values with a checksum (written to a temporary file, fsync'd and
 * renamed, so a crash never leaves a half-written file). */
dbx_status dbx_model_save(const dbx_model *m, const char *path);
/* Loads values saved by dbx_model_save into a model with the same names and shapes;
 * refuses truncated, corrupted or mismatching files with a clear error. */
dbx_status dbx_model_load(dbx_model *m, const char *path);
/* Compares two saved parameter files of the same model: *max_rel receives the largest
 * normwise relative difference over tensors (max |a - b| / max |a|), worst its name. */
dbx_status dbx_model_file_compare(const char *a, const char *b, double *max_rel, char *worst,
                                  size_t worst_cap);

/* ---- graph building -------------------------------------------------------------------- */
typedef struct dbx_graph dbx_graph;

/* One term of an affine transform: out[row_off : row_off + rows(W)] += W * x; when x is
 * DBX_NONE, out[row_off : row_off + rows(W)] += W (a bias; W must be (rows, 1)); when w is
 * DBX_NONE, out[row_off : row_off + dim(x)] += x (an identity term). */
typedef struct dbx_term {
    dbx_param w;
    dbx_node x;
    int row_off;
} dbx_term;

/* Creates an empty minibatch graph over the parameters of m (borrowed; m must outlive g).
 * dedup: 1 merges structurally identical nodes across samples (common subexpression
 * elimination: the same word's input transform is computed once per minibatch). */
dbx_status dbx_graph_new(dbx_model *m, int dedup, dbx_graph **out);
void dbx_graph_free(dbx_graph *g);
/* Empties the graph, keeping its memory (no allocation in the step loop once warm). */
void dbx_graph_clear(dbx_graph *g);
/* Marks the start of a new sample; nodes built afterwards belong to it. */
void dbx_graph_begin_sample(dbx_graph *g);
/* Builder errors (shape mismatch, bad handle) are sticky: the call returns DBX_NONE, later
 * calls return DBX_NONE, and dbx_graph_status() reports the first error. */
dbx_status dbx_graph_status(const dbx_graph *g);
int dbx_graph_num_nodes(const dbx_graph *g);      /* nodes after deduplication */
int dbx_graph_num_requested(const dbx_graph *g);  /* nodes the model asked for */
int dbx_graph_num_samples(const dbx_graph *g);
int dbx_node_dim(const dbx_graph *g, dbx_node x);
/* Loss nodes built so far (the terms of the total loss). */
int dbx_graph_num_losses(const dbx_graph *g);
/* Forward GEMM FLOPs of the affine nodes asked for, before deduplication. */
double dbx_graph_gemm_flops(const dbx_graph *g);
/* Marks x as an output: evaluation reads its value after the forward pass (dbx_exec_value).
 * Outputs are kept in call order until dbx_graph_clear. Returns x, or DBX_NONE (sticky
 * error) for a bad node. */
dbx_node dbx_graph_output(dbx_graph *g, dbx_node x);
int dbx_graph_num_outputs(const dbx_graph *g);
dbx_node dbx_graph_output_at(const dbx_graph *g, int i);  /* DBX_NONE out of range */

dbx_node dbx_input(dbx_graph *g, int dim, const float *data);  /* copies data */
dbx_node dbx_lookup(dbx_graph *g, dbx_param table, int32_t row);
dbx_node dbx_affine(dbx_graph *g, int dim, int nterms, const dbx_term *terms);
dbx_node dbx_matvec(dbx_graph *g, dbx_param w, dbx_node x);   /* W x */
dbx_node dbx_add(dbx_graph *g, dbx_node a, dbx_node b);
dbx_node dbx_cmult(dbx_graph *g, dbx_node a, dbx_node b);     /* elementwise product */
dbx_node dbx_tanh(dbx_graph *g, dbx_node x);
dbx_node dbx_sigmoid(dbx_graph *g, dbx_node x);
dbx_node dbx_relu(dbx_graph *g, dbx_node x);
dbx_node dbx_concat(dbx_graph *g, int n, const dbx_node *xs);
dbx_node dbx_sum(dbx_graph *g, int n, const dbx_node *xs);    /* x_1 + ... + x_n */
dbx_node dbx_slice(dbx_graph *g, dbx_node x, int begin, int end);
/* Fused LSTM cell update with k >= 0 predecessor cells c_1..c_k of size H. gates holds the
 * pre-activations of (3 + k) * H rows in the order [f_1, i, o, u, f_2, ..., f_k] (k >= 1)
 * or [i, o, u] (k = 0), so that a binary Tree-LSTM node's two stacked input terms each
 * cover one contiguous row range. c = sigmoid(i) * tanh(u) + sum_j sigmoid(f_j) * c_j. */
dbx_node dbx_lstm_c(dbx_graph *g, dbx_node gates, int k, const dbx_node *cs);
/* h = sigmoid(o) * tanh(c), o taken from the same gate layout. */
dbx_node dbx_lstm_h(dbx_graph *g, dbx_node gates, dbx_node c);
/* Softmax cross-entropy of logits against label: a scalar loss node, added to the graph's
 * total loss (the sum over all loss nodes). */
dbx_node dbx_softmax_xent(dbx_graph *g, dbx_node logits, int label);

/* ---- more ops ---------------------------------------------------------------------------
 * Shapes: D is dim(x). Every op runs batched over the nodes of one signature (op, shapes,
 * the floats and parameters named below); per-node integers (labels, indices) do not split
 * batches. Gradients flow to every node argument and parameter unless stated. */
dbx_node dbx_sub(dbx_graph *g, dbx_node a, dbx_node b);       /* a - b; dims equal */
/* a * x + b element-wise (D -> D); a and b are part of the signature. */
dbx_node dbx_scale_shift(dbx_graph *g, dbx_node x, float a, float b);
dbx_node dbx_scale(dbx_graph *g, dbx_node x, float a);        /* a * x */
dbx_node dbx_shift(dbx_graph *g, dbx_node x, float b);        /* x + b */
dbx_node dbx_exp(dbx_graph *g, dbx_node x);                   /* e^x, D -> D */
/* ln x, D -> D; x must be > 0 (ln of 0 is -inf, its gradient inf: clamp or shift first). */
dbx_node dbx_log(dbx_graph *g, dbx_node x);
dbx_node dbx_dot(dbx_graph *g, dbx_node a, dbx_node b);       /* sum_i a_i b_i: D, D -> 1 */
dbx_node dbx_sum_elems(dbx_graph *g, dbx_node x);             /* sum_i x_i: D -> 1 */
/* exp(x_i - m) / sum_j exp(x_j - m), m = max x (D -> D); log_softmax is its logarithm,
 * x_i - m - ln sum_j exp(x_j - m), computed without the softmax (no log of 0). */
dbx_node dbx_softmax(dbx_graph *g, dbx_node x);
dbx_node dbx_log_softmax(dbx_graph *g, dbx_node x);
/* x[index], 0 <= index < D: D -> 1 (the index is per node: it does not split batches). */
dbx_node dbx_pick(dbx_graph *g, dbx_node x, int index);
/* Element-wise maximum / mean of n >= 1 nodes of one dim D (D -> D): pooling over a
 * variable number of children; nodes with different n share a batch. The maximum's
 * gradient goes to the first argument holding it. */
dbx_node dbx_max(dbx_graph *g, int n, const dbx_node *xs);
dbx_node dbx_average(dbx_graph *g, int n, const dbx_node *xs);
/* Inverted dropout, D -> D: in a training graph each element is kept with probability
 * 1 - p and scaled by 1 / (1 - p), else zeroed; in an evaluation graph
 * (dbx_graph_set_training(g, 0)) it returns x itself. 0 <= p < 1. The mask is drawn from the
 * current sample's random stream (dbx_graph_set_rng): the same graph built twice draws the
 * same masks, whatever the batching, the scheduler or the number of workers. */
dbx_node dbx_dropout(dbx_graph *g, dbx_node x, float p);
/* Layer normalisation, D -> D: gain * (x - mean) / sqrt(var + 1e-5) + bias, mean and the
 * (biased) variance over x's D elements; gain and bias are dense (D, 1) parameters. */
dbx_node dbx_layer_norm(dbx_graph *g, dbx_node x, dbx_param gain, dbx_param bias);
/* A dense parameter as a node (its rows * cols values in storage order, row after row);
 * gradients flow into the parameter. With dedup it is one node per graph. */
dbx_node dbx_parameter(dbx_graph *g, dbx_param p);
/* Products of a node matrix and a node vector (attention over a sentence's states). M holds
 * the columns of a (rows, cols) matrix, concatenated (as dbx_concat of cols column nodes of
 * size rows makes it):
 *   dbx_mat_vec:   M x,   x of size cols -> rows   (rows = dim(M) / dim(x))
 *   dbx_mat_t_vec: M^T y, y of size rows -> cols   (cols = dim(M) / dim(y)) */
dbx_node dbx_mat_vec(dbx_graph *g, dbx_node M, dbx_node x);
dbx_node dbx_mat_t_vec(dbx_graph *g, dbx_node M, dbx_node y);
/* A node of dim values, all equal to value, without gradient (with dedup: one per graph). */
dbx_node dbx_constant(dbx_graph *g, int dim, float value);
/* Losses: scalar nodes added to the graph's total loss, like dbx_softmax_xent.
 *   dbx_nll:           -logp[label] (logp: log-probabilities, e.g. from dbx_log_softmax)
 *   dbx_logistic_loss: ln(1 + exp(-s)) for label 1, ln(1 + exp(s)) for label 0 (binary
 *                      logistic regression on one score s: dim 1)
 *   dbx_squared_error: sum_i (a_i - b_i)^2
 *   dbx_hinge:         sum_{j != label} max(0, margin - x[label] + x[j]) (multi-class) */
dbx_node dbx_nll(dbx_graph *g, dbx_node logp, int label);
dbx_node dbx_logistic_loss(dbx_graph *g, dbx_node s, int label);
dbx_node dbx_squared_error(dbx_graph *g, dbx_node a, dbx_node b);
dbx_node dbx_hinge(dbx_graph *g, dbx_node x, int label, float margin);
/* Any scalar node (dim 1) as a loss term weighted by weight: weight * x is added to the total
 * loss (an auxiliary loss, a regulariser built from the ops above, a loss's weight). */
dbx_node dbx_loss(dbx_graph *g, dbx_node x, float weight);

/* Training and evaluation graphs: a graph is a training graph until
 * dbx_graph_set_training(g, 0) (the trainer sets it for each graph it builds); only
 * dbx_dropout looks at it. */
void dbx_graph_set_training(dbx_graph *g, int training);
int dbx_graph_training(const dbx_graph *g);
/* Random streams: random ops draw from the current sample's stream, derived from key and
 * the number of samples begun (dbx_graph_begin_sample) since this call. The trainer sets
 * the key of each sample from the run's seed, the step and the sample's index in the
 * training set. Without a call, each dbx_graph_clear starts a fresh stream of its own. */
void dbx_graph_set_rng(dbx_graph *g, uint64_t key);

/* ---- signatures (what schedulers see of a graph) ---------------------------------------- */
/* Every node has a signature: its op, output and argument shapes, and the parameters it
 * shares; nodes of one signature can run as one batched kernel. A signature has two names:
 * - a dense id, 0 .. dbx_graph_num_sigs(g) - 1, handed out in first-seen order by this graph
 *   and kept across dbx_graph_clear(): for indexing arrays, valid for this graph only;
 * - a canonical 64-bit hash, computed from the op's name, the shapes, the arity rule and the
 *   shared parameters by name and shape (never handles, pointers or first-seen order): the
 *   same in every run, every process and on every rank for the same structure, so a learned
 *   scheduling policy or a cached plan keyed by it can be saved, loaded and broadcast.
 * The accessors below are O(1); an invalid sig or node gives 0, NULL or -1 as stated. */
int32_t dbx_graph_num_sigs(const dbx_graph *g);                 /* signatures interned */
uint64_t dbx_graph_sig_hash(const dbx_graph *g, int32_t sig);    /* canonical hash; 0: bad sig */
const char *dbx_graph_sig_op(const dbx_graph *g, int32_t sig);   /* op name ("affine"); NULL */
int dbx_graph_sig_is_gemm(const dbx_graph *g, int32_t sig);      /* 1: runs as GEMMs (affine) */
int32_t dbx_graph_sig_dim(const dbx_graph *g, int32_t sig);      /* output floats per node; -1 */
/* Nodes of this signature in the graph now (after deduplication), and their mean depth. */
int32_t dbx_graph_sig_nodes(const dbx_graph *g, int32_t sig);
double dbx_graph_sig_mean_depth(const dbx_graph *g, int32_t sig);
int32_t dbx_node_sig(const dbx_graph *g, dbx_node x);            /* dense signature id; -1 */
/* 0 for nodes without arguments, else 1 + the largest depth of its arguments; -1. */
int32_t dbx_node_depth(const dbx_graph *g, dbx_node x);

/* ---- execution ------------------------------------------------------------------------- */
typedef struct dbx_exec dbx_exec;

/* The arithmetic of the affine GEMMs (README "BLAS", Precision). FP32 (0, the default):
 * everything in float. BF16: on the CPU, every affine GEMM (forward W x, dx = W^T dy,
 * dW += dy x^T) reads bfloat16 operands (rounded to nearest even: the weights once per
 * update, when oneDNN packs them; the activations and dy in each GEMM call), accumulates in
 * float and writes float outputs: dW accumulates in f32 into the f32 gradient. Master
 * weights, gradients, optimizer state and every element-wise op stay FP32. Needs oneDNN
 * (DBX_ENOTSUP otherwise); on a CPU without AVX512-BF16 oneDNN emulates it, slower. The
 * CUDA backend runs FP32 only. */
typedef enum dbx_precision { DBX_PRECISION_FP32 = 0, DBX_PRECISION_BF16 = 1 } dbx_precision;
/* Parses "fp32" | "bf16". */
dbx_status dbx_precision_parse(const char *name, dbx_precision *out);
const char *dbx_precision_name(dbx_precision p); /* "fp32", "bf16"; "?" */

typedef struct dbx_exec_opts {
    /* The scheduler, by its registered name (include/dbx/sched.h): "none" (also NULL or "":
     * node by node, the unbatched baseline), "depth", "agenda", or one registered at run
     * time. Looked up once, by dbx_exec_new. */
    const char *scheduler;
    const char *device;  /* "cpu" (NULL) or "cuda": must be the model's device */
    int device_index;    /* GPU of this process */
    int fuse;            /* 1: run an lstm_c batch and the lstm_h batch right after it over
                            the same cells as one kernel (a signature chain) */
    dbx_precision precision; /* GEMM arithmetic (default FP32); BF16: CPU with oneDNN, or
                                dbx_exec_new fails with DBX_ENOTSUP saying why */
} dbx_exec_opts;

/* Per-call statistics; times in seconds. */
typedef struct dbx_exec_stats {
    double t_sched;      /* scheduling */
    double t_plan;       /* memory planning */
    double t_forward;    /* forward execution (on a device: until the losses are read) */
    double t_backward;   /* backward execution (on a device: enqueueing it; the work itself
                            runs on while the host goes on, see dbx_exec_backward) */
    int64_t nodes;       /* executed nodes */
    int64_t batches;     /* batched kernel launches (forward) */
    int64_t gemm_batches;
    int64_t fused_batches;   /* batches run inside a fused chain kernel */
    int64_t gathered_bytes;  /* bytes copied to make operands contiguous (fwd + bwd) */
    int64_t contiguous_operands; /* GEMM operands that needed no copy */
    int64_t gathered_operands;   /* GEMM operands that needed a copy */
    double flops_forward;    /* executed FLOPs, forward */
    double flops_backward;   /* executed FLOPs, backward */
    double gemm_flops;       /* executed GEMM FLOPs, forward + backward */
    size_t arena_bytes;      /* value + gradient arena in use */
    int64_t launches;        /* device backends: kernels (cuBLAS calls included) and copies
                                enqueued by forward + backward; 0 on the CPU */
} dbx_exec_stats;

/* Creates an executor on the backend named by opts->device with the scheduler named by
 * opts->scheduler, whose state the executor owns (NULL opts: CPU, unbatched). An unknown
 * scheduler fails with DBX_EINVAL naming the registered ones. */
dbx_status dbx_exec_new(const dbx_exec_opts *opts, dbx_exec **out);
void dbx_exec_free(dbx_exec *ex);
/* Schedules, plans and runs the forward pass of g; *loss receives the total loss. */
dbx_status dbx_exec_forward(dbx_exec *ex, dbx_graph *g, double *loss);
/* Runs the backward pass of the last forward (same graph), accumulating parameter
 * gradients (times loss_scale) into the model. On a device it returns once the work is
 * enqueued, so the host can build the next step meanwhile; reading gradients or values
 * (dbx_exec_grad, dbx_model_read_values, ...) waits for it. */
dbx_status dbx_exec_backward(dbx_exec *ex, dbx_graph *g, float loss_scale);
/* Copies the value of node x of the last forward into out (dim floats). */
dbx_status dbx_exec_value(dbx_exec *ex, const dbx_graph *g, dbx_node x, float *out);
/* Copies the gradient of node x of the last backward into out. */
dbx_status dbx_exec_grad(dbx_exec *ex, const dbx_graph *g, dbx_node x, float *out);
/* Statistics of the last forward/backward. */
const dbx_exec_stats *dbx_exec_last_stats(const dbx_exec *ex);
/* Visits the GEMM shapes of the last forward+backward (M, N, K per call), e.g. to time a
 * GEMM-only bound: three per weight term of a batch of n nodes, in this order: forward
 * (rows, n, cols), dx (cols, n, rows), dW (cols, rows, n). Returns the number of GEMM calls. */
int dbx_exec_gemm_shapes(const dbx_exec *ex, int (*shapes)[3], int max);

#ifdef __cplusplus
}
#endif
#endif /* DBX_DBX_H */
