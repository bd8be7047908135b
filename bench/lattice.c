/* bench_lattice: the benchmark of the Lattice-LSTM (ED-Batch's model; size 256, one epoch of
 * ../shared/data/lattice/train.txt, batch 64, every scheduler). The program is the same as
 * bench_treelstm (bench/treelstm.c) with the Lattice-LSTM as its default model; all options
 * are shared (see --help and bench/README.md). No DyNet reference numbers exist for it. */
#define BENCH_DEFAULT_MODEL "lattice-lstm"
#include "bench/treelstm.c"
