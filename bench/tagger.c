/* bench_tagger: the dbx-versus-DyNet benchmark for the BiLSTM tagger (size 256, one epoch
 * of ../shared/data/tags/dev.txt, batch 64, every scheduler). The program is the same as
 * bench_treelstm (bench/treelstm.c) with the tagger as its default model; all options are
 * shared (see --help and bench/README.md). */
#define BENCH_DEFAULT_MODEL "bilstm-tagger"
#include "bench/treelstm.c"
