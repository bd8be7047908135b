# Shared helpers of the shell tests (sourced): pass/fail counting and the Open MPI
# environment for running real ranks as root on this machine (loopback TCP + shared memory,
# oversubscription allowed, idle ranks yield the CPU, one BLAS thread per rank).

passed=0 failed=0
ok() { echo "ok:   $*"; passed=$((passed + 1)); }
bad() { echo "FAIL: $*"; failed=$((failed + 1)); }

dbx_mpi_env() {
    export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
    export OMPI_MCA_btl=${OMPI_MCA_btl:-self,vader,tcp}
    export OMPI_MCA_btl_tcp_if_include=${OMPI_MCA_btl_tcp_if_include:-lo}
    export OMPI_MCA_oob_tcp_if_include=${OMPI_MCA_oob_tcp_if_include:-lo}
    export OMPI_MCA_mpi_yield_when_idle=1 OMPI_MCA_rmaps_base_oversubscribe=1
    export OPENBLAS_NUM_THREADS=1
}

# Helpers of the `dbx train` run tests; they write under $tmp and read $dbx.
# dbx_run NAME LIMIT CMD...: runs CMD under `timeout LIMIT`, stdout/stderr to $tmp/NAME.out/.err
# (stdin as the caller redirects it); sets $rc; shows stderr on failure.
rc=0
dbx_run() {
    local name=$1 limit=$2 t0 t1
    shift 2
    t0=$(date +%s%N)
    timeout -k 5 "$limit" "$@" >"$tmp/$name.out" 2>"$tmp/$name.err"
    rc=$?
    t1=$(( ($(date +%s%N) - t0) / 100000000 ))
    echo "  $name: exit $rc after $((t1 / 10)).$((t1 % 10)) s"
    if [ "$rc" -ne 0 ]; then
        [ "$rc" -eq 124 ] && echo "  $name: killed after $limit s (hung?)"
        sed 's/^/  | /' "$tmp/$name.err" | tail -20
    fi
    return 0
}
# dbx_summary NAME RANKS: the run succeeded and its summary line names RANKS rank(s)
dbx_summary() {
    local want="train: $2 rank"
    [ "$2" -gt 1 ] && want="train: $2 ranks"
    if [ "$rc" -eq 0 ] && grep -q "^$want," "$tmp/$1.out"; then return 0; fi
    bad "$1: exit $rc, summary '$(grep '^train:' "$tmp/$1.out" | head -1)' (want '$want, ...')"
    return 1
}
# dbx_agree A B RTOL WHAT: parameter files A and B agree within RTOL (dbx compare)
dbx_agree() {
    local msg
    if [ ! -s "$1" ] || [ ! -s "$2" ]; then bad "$4: parameter file missing"; return; fi
    if msg=$("$dbx" compare --rtol "$3" "$1" "$2" 2>&1); then ok "$4 ($msg)"
    else bad "$4 ($msg)"; fi
}

# dbx_tmpdir NAME: makes $tmp (/tmp/NAME.XXXXXX), removed on exit together with every process
# whose command line names it (the ranks of a failed run must not outlive the test).
dbx_tmpdir() {
    tmp=$(mktemp -d "/tmp/$1.XXXXXX")
    trap dbx_tmp_cleanup EXIT
    trap 'exit 130' INT TERM
}
dbx_tmp_cleanup() {
    local p
    for p in $(pgrep -f -- "$tmp" 2>/dev/null || true); do kill -9 "$p" 2>/dev/null || true; done
    rm -rf "$tmp"
}
