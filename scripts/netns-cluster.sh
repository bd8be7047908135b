#!/bin/bash
# netns-cluster.sh up N [--rate RATE [--burst BYTES]] | down | status | run MPIRUN_ARGS...
#
# A simulated N-host cluster on one machine, for running `dbx train` over TCP between
# "hosts" (needs root and `ip netns`):
#   * network namespaces dbx-h1..dbx-hN, each with eth0 = 10.78.0.K/24, attached by veth
#     pairs to a bridge br0 inside a switch namespace dbx-sw. Nothing is configured in the
#     root namespace; only addresses inside these namespaces are used.
#   * every process started on host K runs in dbx-hK under its own UTS namespace with the
#     hostname hK (`unshare --uts`): Open MPI's shared-memory transport keys on the host
#     name, and two "hosts" with one name would collide (ranks segfault).
#   * `run` starts mpirun inside h1 with a hostfile listing 10.78.0.1..N and an rsh agent
#     (plm_rsh_agent) that starts Open MPI's daemon in the namespace owning an address;
#     btl tcp,vader,self and oob restricted to 10.78.0.0/24, --bind-to none.
#   * link shaping (optional): `up N --rate 1gbit` (or DBX_NETNS_RATE=1gbit) puts a token
#     bucket filter (`tc qdisc ... tbf`) on both ends of every host's veth pair: on eth0 inside
#     hK (what the host sends) and on pK inside the switch (what it receives), so each host's
#     link is limited to RATE in each direction. RATE is anything tc accepts (100mbit, 1gbit,
#     10gbit). The bucket (--burst, DBX_NETNS_BURST, bytes) defaults to max(64 KiB, 0.1 ms at
#     RATE), the queue to 20 ms at RATE. `status` prints each link's qdisc.
#     Only bandwidth can be shaped: `tc netem` is not available in the kernels of these
#     machines, so added per-message delay cannot be emulated; the latency of a link is that
#     of the veth pair and the TCP stack (tens of microseconds), and a real fabric's latency
#     must be taken from a model (bench/allreduce_fit.py states what it assumes).
#
# State (hostfile, the generated rsh agent) lives in ${DBX_NETNS_DIR:-/tmp/dbx-netns}.
# Environment: DBX_NETNS_PREFIX (namespace name prefix, default "dbx-"),
#              DBX_NETNS_SLOTS (slots per host in the hostfile, default 2).
# Examples:
#   scripts/netns-cluster.sh up 3
#   scripts/netns-cluster.sh up 8 --rate 1gbit; scripts/netns-cluster.sh status
#   scripts/netns-cluster.sh run -np 3 --map-by node build/dbx train --steps 20
#   scripts/netns-cluster.sh down
set -euo pipefail

P=${DBX_NETNS_PREFIX:-dbx-}
D=${DBX_NETNS_DIR:-/tmp/dbx-netns}
NET=10.78.0
SLOTS=${DBX_NETNS_SLOTS:-2}

RATE=${DBX_NETNS_RATE:-}
BURST=${DBX_NETNS_BURST:-}

die() { echo "netns-cluster: $*" >&2; exit 1; }
usage() {
    echo "usage: $0 up N [--rate RATE [--burst BYTES]] | down | status | run MPIRUN_ARGS..." >&2
    exit 2
}

# RATE (tc syntax) in bits per second
rate_bps() {
    local r=${1,,} m=1
    case "$r" in
        *gbit) m=1000000000; r=${r%gbit} ;;
        *mbit) m=1000000; r=${r%mbit} ;;
        *kbit) m=1000; r=${r%kbit} ;;
        *bit) r=${r%bit} ;;
        *) die "--rate: '$1' is not a rate in bit/s (e.g. 100mbit, 1gbit, 10gbit)" ;;
    esac
    case "$r" in ''|*[!0-9.]*) die "--rate: '$1' is not a rate in bit/s (e.g. 1gbit)" ;; esac
    awk -v r="$r" -v m="$m" 'BEGIN { printf "%.0f", r * m }'
}

# shape DEV in namespace NS to RATE: tbf with a bucket of BURST bytes
shape() {
    local ns=$1 dev=$2 bps burst limit
    bps=$(rate_bps "$RATE")
    [ "$bps" -gt 0 ] || die "--rate must be positive (got $RATE)"
    burst=${BURST:-$(( bps / 8 / 10000 > 65536 ? bps / 8 / 10000 : 65536 ))}
    limit=$(( bps / 8 / 50 > 2 * burst ? bps / 8 / 50 : 2 * burst ))
    ip netns exec "$ns" tc qdisc replace dev "$dev" root tbf rate "$RATE" burst "$burst" \
        limit "$limit" || die "tc qdisc tbf on $dev in $ns failed (sch_tbf missing?)"
}

# the namespaces of this cluster (exact prefix match)
our_ns() { ip netns list 2>/dev/null | awk '{print $1}' | grep "^${P}" || true; }

down() {
    local ns pids
    for ns in $(our_ns); do
        # end whatever still runs in the namespace (left-over ranks, orted), then delete it
        pids=$(ip netns pids "$ns" 2>/dev/null || true)
        if [ -n "$pids" ]; then kill -9 $pids 2>/dev/null || true; fi
        ip netns del "$ns" 2>/dev/null || echo "netns-cluster: could not delete $ns" >&2
    done
    rm -f "$D/hostfile" "$D/nsrsh" "$D/hosts" "$D/rate"
}

up() {
    local n=$1 i
    case "$n" in ''|*[!0-9]*) die "N must be a number (got '$n')" ;; esac
    [ "$n" -ge 1 ] && [ "$n" -le 250 ] || die "N must be 1..250 (got $n)"
    [ "$(id -u)" -eq 0 ] || die "needs root"
    command -v unshare >/dev/null || die "needs unshare (util-linux)"
    down
    mkdir -p "$D"
    ip netns add "${P}sw" || die "ip netns add failed (no network namespace support?)"
    ip -n "${P}sw" link set lo up
    ip -n "${P}sw" link add br0 type bridge
    ip -n "${P}sw" link set br0 up
    : > "$D/hostfile"
    : > "$D/hosts"
    for i in $(seq 1 "$n"); do
        ip netns add "${P}h$i"
        ip -n "${P}sw" link add "p$i" type veth peer name eth0 netns "${P}h$i"
        ip -n "${P}sw" link set "p$i" master br0 up
        ip -n "${P}h$i" link set lo up
        ip -n "${P}h$i" addr add "$NET.$i/24" dev eth0
        ip -n "${P}h$i" link set eth0 up
        if [ -n "$RATE" ]; then
            shape "${P}h$i" eth0
            shape "${P}sw" "p$i"
        fi
        echo "$NET.$i slots=$SLOTS" >> "$D/hostfile"
        echo "$NET.$i h$i" >> "$D/hosts"
    done
    # the rsh agent: "nsrsh HOST CMD..." runs CMD in the namespace owning HOST, as host hK.
    # mpirun calls it with the hostfile's addresses (and h1's own name for itself).
    cat > "$D/nsrsh" <<AGENT
#!/bin/sh
# generated by netns-cluster.sh: plm_rsh_agent for the dbx netns cluster
host=\$1; shift
case "\$host" in
    $NET.*) n=\${host##*.} ;;
    h[0-9]*) n=\${host#h} ;;
    *) echo "nsrsh: unknown host \$host" >&2; exit 255 ;;
esac
exec ip netns exec ${P}h\$n unshare --uts /bin/sh -c "hostname h\$n; \$*"
AGENT
    chmod +x "$D/nsrsh"
    # the bridge needs a moment before the first packets pass: wait until h1 reaches hN
    if [ "$n" -gt 1 ] && command -v ping >/dev/null; then
        for _ in $(seq 50); do
            ip netns exec "${P}h1" ping -c1 -W1 "$NET.$n" >/dev/null 2>&1 && break
            sleep 0.1
        done
    fi
    echo "${RATE:-none}" > "$D/rate"
    echo "netns-cluster: $n hosts up (h1..h$n = $NET.1..$NET.$n), links ${RATE:-not shaped}," \
        "state in $D"
}

run() {
    [ -x "$D/nsrsh" ] && [ -s "$D/hostfile" ] || die "not up (no $D/nsrsh); run '$0 up N' first"
    ip netns list | awk '{print $1}' | grep -qx "${P}h1" || die "namespace ${P}h1 missing; run '$0 up N'"
    export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
    # settings for the loopback machine must not leak in: the namespaces have their own net
    unset OMPI_MCA_btl OMPI_MCA_btl_tcp_if_include OMPI_MCA_oob_tcp_if_include \
          OMPI_MCA_btl_tcp_if_exclude OMPI_MCA_oob_tcp_if_exclude
    exec ip netns exec "${P}h1" unshare --uts /bin/sh -c 'hostname h1; exec "$@"' sh \
        mpirun --hostfile "$D/hostfile" --mca plm_rsh_agent "$D/nsrsh" \
            --mca btl tcp,vader,self --mca btl_tcp_if_include "$NET.0/24" \
            --mca oob_tcp_if_include "$NET.0/24" \
            --bind-to none --mca mpi_yield_when_idle 1 "$@"
}

status() {
    local ns
    our_ns
    [ -f "$D/hostfile" ] && cat "$D/hostfile"
    [ -f "$D/rate" ] && echo "link rate: $(cat "$D/rate")"
    for ns in $(our_ns); do
        case "$ns" in
            "${P}sw") ip netns exec "$ns" tc qdisc show 2>/dev/null | grep -E ' dev p[0-9]+ ' |
                          sed "s/^/$ns: /" ;;
            *) ip netns exec "$ns" tc qdisc show dev eth0 2>/dev/null | sed "s/^/$ns: /" ;;
        esac
    done
    return 0
}

case "${1:-}" in
    up)
        n=${2:-3}
        shift $(( $# < 2 ? $# : 2 ))
        while [ $# -gt 0 ]; do
            case "$1" in
                --rate) [ $# -ge 2 ] || usage; RATE=$2; shift 2 ;;
                --burst) [ $# -ge 2 ] || usage; BURST=$2; shift 2 ;;
                *) usage ;;
            esac
        done
        case "$BURST" in ''|*[0-9]) ;; *) die "--burst is in bytes (got $BURST)" ;; esac
        [ -z "$RATE" ] || rate_bps "$RATE" >/dev/null
        up "$n" ;;
    down) down ;;
    status) status ;;
    run) shift; run "$@" ;;
    *) usage ;;
esac
